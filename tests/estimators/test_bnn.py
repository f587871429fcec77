"""BNN baseline: larq's sign gradients against their formulas, binary weights at predict, batching does not
change a member, files round-trip and are checked, HopSkipJump runs on it through ART."""
import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from scd_plugins import load
from scd_plugins.estimators import BNNEnsembleClassifier
from scd_plugins.estimators._bnn import (ADAM_EPSILON, BN_EPSILON, _adam_step, _autograd_signs, bnn_forward, sign,
                                        train_bnns)
from scd_plugins.estimators._mlp import torch_threads
from scd_plugins.io import ModelFileError
from scd_plugins.registry import estimator_class, model_class


@pytest.fixture(scope="module")
def bnn38(digits38):
    X, y = digits38
    return BNNEnsembleClassifier(n_estimators=4, max_iter=30, random_state=0, n_jobs=1).fit(X[:250], y[:250])


def test_registered_by_name():
    assert model_class("bnn") is BNNEnsembleClassifier
    assert estimator_class("BNNEnsembleClassifier") is BNNEnsembleClassifier


def test_sign_gradients_are_larqs():
    """ApproxSign: forward sign with sign(0) = +1, backward 2 - 2|x| on |x| <= 1; ste_sign: 1 on |w| <= 1."""
    approx_sign, ste_sign = _autograd_signs()
    x = torch.tensor([-2.0, -1.0, -0.75, -0.25, 0.0, 0.1, 0.5, 1.0, 1.5], dtype=torch.float64, requires_grad=True)
    c = torch.arange(1.0, 10.0, dtype=torch.float64)                    # distinct upstream gradients
    out = approx_sign(x)
    assert out.tolist() == [-1, -1, -1, -1, 1, 1, 1, 1, 1]
    (g,) = torch.autograd.grad((out * c).sum(), x)
    expected = [c_ * (2 - 2 * abs(v)) if abs(v) <= 1 else 0.0 for v, c_ in zip(x.tolist(), c.tolist())]
    np.testing.assert_allclose(g.numpy(), expected, rtol=0, atol=1e-15)
    (g,) = torch.autograd.grad((ste_sign(x) * c).sum(), x)
    np.testing.assert_allclose(g.numpy(), [c_ if abs(v) <= 1 else 0.0 for v, c_ in zip(x.tolist(), c.tolist())])
    inside = x.detach()[2:8].clone().requires_grad_(True)          # training's variant, for weights in [-1, 1]
    (g_in,) = torch.autograd.grad((_autograd_signs(clipped=True)[1](inside) * c[2:8]).sum(), inside)
    np.testing.assert_array_equal(g_in.numpy(), c[2:8].numpy())


def test_sign_of_zero_and_minus_zero_is_plus_one():
    x = torch.tensor([-0.0, 0.0, -1e-30, 1e-30, -3.0, float("inf")])
    assert sign(x).tolist() == [1, 1, -1, 1, -1, 1]
    assert sign(x.double()).dtype == torch.float64 and sign(x.numpy()).tolist() == sign(x).tolist()


def test_adam_step_is_keras_adam():
    """The fused kernel with eps / sqrt(1 - b2^t) takes Keras' steps: lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)."""
    rs = np.random.RandomState(0)
    p = torch.tensor(rs.uniform(-1, 1, (3, 7, 5)))
    want, m, v = p.clone(), torch.zeros_like(p), torch.zeros_like(p)
    moments, steps = [(torch.zeros_like(p), torch.zeros_like(p))], [torch.zeros((), dtype=torch.float64)]
    for t in range(1, 40):
        g = torch.tensor(rs.normal(0, 10.0 ** rs.uniform(-9, 0), p.shape))      # down to eps-sized gradients
        _adam_step([p], [g.transpose(1, 2).contiguous().transpose(1, 2)], moments, steps, 1e-3)
        m.lerp_(g, 0.1)
        v.mul_(0.999).addcmul_(g, g, value=0.001)
        want -= 1e-3 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (v.sqrt() + ADAM_EPSILON)
    np.testing.assert_allclose(p.numpy(), want.numpy(), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="contiguous"):
        _adam_step([p.transpose(1, 2)], [g.transpose(1, 2)], moments, steps, 1e-3)


def test_network_gradient_matches_the_chain_rule(digits38):
    """The gradient that reaches the BatchNorm shift is, by hand, sum_b dL/da * (2 - 2|u|) 1{|u| <= 1} with
    u the normalised pre-activation and dL/da = (softmax - onehot) sign(W2)^T / b."""
    X, y = digits38
    rs = np.random.RandomState(0)
    R, b, d, h, k = 2, 16, X.shape[1], 5, 2
    Xb = torch.tensor(X[:R * b].reshape(R, b, d), dtype=torch.float64)
    yb = torch.tensor((y[:R * b] == 8).astype(np.int64).reshape(R, b))
    W1 = torch.tensor(rs.uniform(-1, 1, (R, d, h)), requires_grad=True)
    W2 = torch.tensor(rs.uniform(-1, 1, (R, h, k)), requires_grad=True)
    beta = torch.tensor(rs.uniform(-0.5, 0.5, (R, 1, h)), requires_grad=True)
    logits, mu, v = bnn_forward(Xb, W1, W2, beta, *_autograd_signs())
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, k), yb.reshape(-1), reduction="sum") / b
    g_beta, g_W2, g_W1 = torch.autograd.grad(loss, (beta, W2, W1))
    # the hidden weights' gradient (a custom product backward) against plain autograd through torch.bmm
    approx_sign, ste_sign = _autograd_signs()
    z = torch.bmm(Xb, ste_sign(W1))
    u = (z - z.mean(1, keepdim=True)) / torch.sqrt(z.var(1, unbiased=False, keepdim=True) + BN_EPSILON) + beta
    ref = torch.nn.functional.cross_entropy(torch.bmm(approx_sign(u), ste_sign(W2)).reshape(-1, k), yb.reshape(-1),
                                            reduction="sum") / b
    (want_W1,) = torch.autograd.grad(ref, (W1,))
    np.testing.assert_allclose(g_W1.numpy(), want_W1.numpy(), rtol=1e-10, atol=1e-12)
    assert np.abs(want_W1.numpy()).max() > 0
    with torch.no_grad():
        z = torch.bmm(Xb, torch.where(W1 >= 0, 1.0, -1.0).double())
        u = (z - z.mean(1, keepdim=True)) / torch.sqrt(z.var(1, unbiased=False, keepdim=True) + BN_EPSILON) + beta
        a = torch.where(u >= 0, 1.0, -1.0).double()
        dlogits = (torch.softmax(logits, 2) - torch.nn.functional.one_hot(yb, k)) / b
        da = torch.bmm(dlogits, torch.where(W2 >= 0, 1.0, -1.0).double().transpose(1, 2))
        want_beta = (da * (2 - 2 * u.abs()) * (u.abs() <= 1)).sum(1, keepdim=True)
        want_W2 = torch.bmm(a.transpose(1, 2), dlogits)                 # ste: identity on |w| <= 1
    np.testing.assert_allclose(g_beta.numpy(), want_beta.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g_W2.numpy(), want_W2.numpy(), rtol=1e-10, atol=1e-12)
    assert np.abs(want_beta.numpy()).max() > 0


def test_weights_are_binary_at_predict(bnn38, digits38):
    X, _ = digits38
    m = bnn38
    for w in (m.hidden_sign_, m.out_sign_):
        assert w.dtype == np.int8 and set(np.unique(w)) == {-1, 1}
    # a member's prediction from its binary weights and BatchNorm statistics, written out by hand
    j = 2
    z = X.astype(np.float64) @ m.hidden_sign_[j]
    a = np.where((z - m.bn_mean_[j]) / np.sqrt(m.bn_var_[j] + BN_EPSILON) + m.bn_beta_[j] >= 0, 1, -1)
    logits = a @ m.out_sign_[j]
    assert np.all(np.abs(logits) <= m.hidden_units) and np.all(logits % 2 == m.hidden_units % 2)
    np.testing.assert_array_equal(m.member_labels(X)[j], m.classes_[np.argmax(logits, axis=1)])
    e = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(m.sub_ensemble([j]).predict_proba(X), e / e.sum(1, keepdims=True), atol=1e-12)


def test_learns_and_batching_does_not_change_a_member(bnn38, digits38):
    X, y = digits38
    assert bnn38.score(X[250:], y[250:]) > 0.85
    codes = (y[:250] == bnn38.classes_[1]).astype(np.int64)
    with torch_threads(1):                                            # as the fixture trained
        W1, W2, beta, mean, var = train_bnns(X[:250].astype(np.float64), codes, 2, [int(bnn38.member_seeds_[1])],
                                             max_iter=30)
    np.testing.assert_array_equal(np.where(W1[0] >= 0, 1, -1), bnn38.hidden_sign_[1])
    np.testing.assert_array_equal(np.where(W2[0] >= 0, 1, -1), bnn38.out_sign_[1])
    np.testing.assert_allclose(mean[0], bnn38.bn_mean_[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(beta[0], bnn38.bn_beta_[1], rtol=1e-5, atol=1e-6)
    assert np.abs(W1).max() <= 1 and np.abs(W2).max() <= 1            # latent weights stay clipped


def test_save_load_round_trip_is_exact(bnn38, digits38, tmp_path):
    X, _ = digits38
    again = load(bnn38.save(tmp_path / "bnn"))
    assert type(again) is BNNEnsembleClassifier and again.n_members_ == 4
    np.testing.assert_array_equal(again.predict_proba(X), bnn38.predict_proba(X))
    np.testing.assert_array_equal(again.hidden_sign_, bnn38.hidden_sign_)


def test_from_arrays_refuses_non_binary_or_bad_arrays(bnn38):
    arrays, state = bnn38._to_arrays()
    bad = {**arrays, "out_sign_": arrays["out_sign_"].copy()}
    bad["out_sign_"][0, 0, 0] = 0
    with pytest.raises(ModelFileError, match="out_sign_"):
        BNNEnsembleClassifier._from_arrays(bad, state)
    with pytest.raises(ModelFileError, match="bn_var_"):
        BNNEnsembleClassifier._from_arrays({**arrays, "bn_var_": -arrays["bn_var_"]}, state)
    with pytest.raises(ModelFileError, match="hidden_sign_"):
        BNNEnsembleClassifier._from_arrays({**arrays, "hidden_sign_": arrays["hidden_sign_"].astype(np.float64)},
                                           state)


def test_three_classes(load_pair):
    X, y = load_pair((3, 5, 8))
    m = BNNEnsembleClassifier(n_estimators=3, max_iter=30, random_state=0, n_jobs=1).fit(X[:300], y[:300])
    assert m.predict_proba(X[300:]).shape == (len(X) - 300, 3) and m.out_sign_.shape[2] == 3
    assert m.score(X[300:], y[300:]) > 0.7


def test_hopskipjump_runs_on_it_through_art(bnn38, digits38):
    from art.attacks.evasion import HopSkipJump

    from scd_plugins.art import as_label_only

    X, _ = digits38
    x = X[260:264].reshape(-1, 8, 8, 1)
    attack = HopSkipJump(as_label_only(bnn38, input_shape=(8, 8, 1), clip_values=(0.0, 1.0)), targeted=False,
                         max_iter=5, max_eval=200, init_eval=20, verbose=False)
    np.random.seed(0)
    x_adv = attack.generate(x)
    assert x_adv.shape == x.shape and x_adv.min() >= 0 and x_adv.max() <= 1
    assert np.mean(bnn38.predict(x_adv.reshape(4, -1)) != bnn38.predict(x.reshape(4, -1))) >= 0.75


@parametrize_with_checks([BNNEnsembleClassifier(n_estimators=3, max_iter=50, n_jobs=1)])
def test_sklearn_common_checks(estimator, check):
    check(estimator)
