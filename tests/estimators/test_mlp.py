"""MLP baseline: the batched torch path trains scikit-learn's MLPs (same init, batch order, updates and
stopping epoch), batching does not change a member, both solvers agree on real data, files round-trip."""
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.estimator_checks import parametrize_with_checks

from scd_plugins import load
from scd_plugins.estimators import MLPEnsembleClassifier
from scd_plugins.estimators._mlp import torch_threads, train_sgd_mlps
from scd_plugins.io import ModelFileError, save
from scd_plugins.registry import estimator_class, model_class

PAPER = dict(hidden_units=20, learning_rate_init=0.01, momentum=0.9, alpha=1e-4, batch_size=200, tol=1e-4,
             n_iter_no_change=10)


def _sklearn(seed, max_iter, **kw):
    p = {**PAPER, **kw}
    return MLPClassifier((p["hidden_units"],), activation="logistic", solver="sgd", alpha=p["alpha"],
                         batch_size=p["batch_size"], learning_rate_init=p["learning_rate_init"],
                         momentum=p["momentum"], max_iter=max_iter, tol=p["tol"],
                         n_iter_no_change=p["n_iter_no_change"], random_state=seed)


def test_registered_by_name():
    assert model_class("mlp") is MLPEnsembleClassifier
    assert estimator_class("MLPEnsembleClassifier") is MLPEnsembleClassifier


@pytest.mark.parametrize("classes", [(3, 8), (3, 5, 8)])
@pytest.mark.parametrize("stopping", [False, True], ids=["budget", "stopping-rule"])
def test_float64_torch_members_are_sklearns_members(classes, stopping, load_pair):
    """Same RandomState stream, same arithmetic: weights, epochs run and final loss equal scikit-learn's
    (with a loose tol the stopping rule ends members at different epochs, and each stops where sklearn's does)."""
    X, y = load_pair(classes)
    X = X.astype(np.float64)
    kw = dict(tol=1e-2, n_iter_no_change=3) if stopping else {}
    seeds, max_iter = [11, 12345, 7], (60 if stopping else 12)
    Y = LabelBinarizer().fit(np.unique(y)).transform(y).astype(np.float64)
    W1, b1, W2, b2, n_iter, loss = train_sgd_mlps(X, Y, seeds, dtype=torch.float64, max_iter=max_iter,
                                                  **{**PAPER, **kw})
    for i, seed in enumerate(seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = _sklearn(seed, max_iter, **kw).fit(X, y)
        assert n_iter[i] == ref.n_iter_
        for got, want in zip((W1[i], b1[i], W2[i], b2[i]), ref.coefs_[:1] + ref.intercepts_[:1] + ref.coefs_[1:] +
                             ref.intercepts_[1:]):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        assert loss[i] == pytest.approx(ref.loss_, abs=1e-12)
    if stopping:
        assert n_iter.max() < max_iter and len(set(n_iter.tolist())) > 1   # stopped, and not all at once


def test_batching_does_not_change_a_member(digits38):
    X, y = digits38
    ens = MLPEnsembleClassifier(n_estimators=4, max_iter=15, random_state=3, n_jobs=1).fit(X, y)
    Y = (y == ens.classes_[1]).astype(np.float64)[:, None]
    with torch_threads(1):                                            # as the ensemble trained
        alone = train_sgd_mlps(X.astype(np.float64), Y, [int(ens.member_seeds_[2])], max_iter=15)
    for got, want in zip((ens.coef_hidden_[2], ens.intercept_hidden_[2], ens.coef_out_[2], ens.intercept_out_[2]),
                         alone[:4]):
        np.testing.assert_allclose(got, want[0], rtol=0, atol=1e-6)     # float32 products, blocked differently
    assert ens.n_iter_[2] == alone[4][0]
    np.testing.assert_array_equal(ens.sub_ensemble([2]).predict(X), ens.member_labels(X)[2])


def test_member_chunks_train_the_same_members(digits38):
    """Chunks of members (the CPU default) and one batch of all give the same members, epochs and losses."""
    X, y = digits38
    Y = (y == y.max()).astype(np.float64)[:, None]
    seeds = [5, 6, 7, 8, 9]
    kw = dict(dtype=torch.float64, max_iter=8, tol=1e-2, n_iter_no_change=2)
    chunked = train_sgd_mlps(X.astype(np.float64), Y, seeds, members_per_chunk=2, **kw)
    together = train_sgd_mlps(X.astype(np.float64), Y, seeds, members_per_chunk=len(seeds), **kw)
    for got, want in zip(chunked, together):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_sklearn_solver_members_are_sklearn_mlps_and_vote_softly(digits38):
    X, y = digits38
    ens = MLPEnsembleClassifier(n_estimators=3, max_iter=30, solver="sklearn", random_state=0).fit(X[:250], y[:250])
    members = []
    for seed in ens.member_seeds_:
        with pytest.warns(ConvergenceWarning):      # 30 SGD epochs do not converge; the ensemble silences this
            members.append(_sklearn(int(seed), 30).fit(X[:250].astype(np.float64), y[:250]))
    expected = np.mean([m.predict_proba(X[250:]) for m in members], axis=0)
    np.testing.assert_allclose(ens.predict_proba(X[250:]), expected, rtol=0, atol=1e-10)
    assert ens.score(X[250:], y[250:]) > 0.8 and set(ens.classes_) == {3, 8}


def test_torch_and_sklearn_solvers_agree_on_fashion_mnist(fashion_pullover_coat):
    """Real data, 1500 training images, 5 members x 25 epochs: the float32 batched path and scikit-learn's
    float64 fits reach the same ensemble (accuracy within half a point, labels nearly all equal)."""
    Xtr, ytr, Xte, yte = fashion_pullover_coat
    Xtr, ytr, Xte, yte = Xtr[:1500], ytr[:1500], Xte[:1000], yte[:1000]
    kw = dict(n_estimators=5, max_iter=25, random_state=0, n_jobs=1)
    fast = MLPEnsembleClassifier(solver="torch", **kw).fit(Xtr, ytr)
    exact = MLPEnsembleClassifier(solver="sklearn", **kw).fit(Xtr, ytr)
    a, b = fast.score(Xte, yte), exact.score(Xte, yte)
    assert a > 0.75 and abs(a - b) <= 0.005
    assert np.mean(fast.predict(Xte) == exact.predict(Xte)) >= 0.99
    np.testing.assert_array_equal(fast.n_iter_, exact.n_iter_)


@pytest.mark.parametrize("classes", [(3, 8), (3, 5, 8)])
def test_save_load_round_trip_is_exact(tmp_path, classes, load_pair):
    X, y = load_pair(classes)
    est = MLPEnsembleClassifier(n_estimators=3, max_iter=10, random_state=1, n_jobs=1).fit(X[:300], y[:300])
    path = save(est, tmp_path / "model")
    assert not list(tmp_path.glob("**/*.pkl")) and (path / "model.safetensors").is_file()
    again = load(path)
    assert type(again) is type(est)
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(again.classes_, est.classes_)
    np.testing.assert_array_equal(again.n_iter_, est.n_iter_)


def test_from_arrays_checks_every_array(digits38):
    X, y = digits38
    arrays, state = MLPEnsembleClassifier(n_estimators=2, max_iter=3, random_state=0, n_jobs=1).fit(X, y)._to_arrays()
    bad = {**arrays, "coef_out_": arrays["coef_out_"].copy()}
    bad["coef_out_"][0, 0, 0] = np.nan
    with pytest.raises(ModelFileError, match="coef_out_"):
        MLPEnsembleClassifier._from_arrays(bad, state)
    with pytest.raises(ModelFileError, match="intercept_hidden_"):
        MLPEnsembleClassifier._from_arrays({**arrays, "intercept_hidden_": arrays["intercept_hidden_"][:1]}, state)
    with pytest.raises(ModelFileError, match="coef_hidden_"):
        MLPEnsembleClassifier._from_arrays({**arrays, "coef_hidden_": arrays["coef_hidden_"].astype(np.int64)}, state)


def test_sub_ensembles(digits38):
    X, y = digits38
    mlp = MLPEnsembleClassifier(n_estimators=4, max_iter=10, random_state=0, n_jobs=1).fit(X, y)
    pair = mlp.sub_ensemble([1, 3])
    assert pair.n_estimators_ == 2
    np.testing.assert_allclose(pair.predict_proba(X), mlp._member_proba(X.astype(np.float64))[[1, 3]].mean(0))


def test_bad_parameters_and_inputs(digits38):
    X, y = digits38
    with pytest.raises(ValueError, match="n_estimators"):
        MLPEnsembleClassifier(n_estimators=0).fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        MLPEnsembleClassifier(solver="adam").fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        MLPEnsembleClassifier(n_estimators=1).fit(X, np.zeros(len(X)))
    mlp = MLPEnsembleClassifier(n_estimators=1, max_iter=5, random_state=0, n_jobs=1).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        mlp.predict(X[:, :10])


def test_standardize_learns_small_variance_features_and_folds_into_the_hidden_layer(digits38):
    """Features that vary by a few hundredths (as mean-GloVe text features do) stall the paper's SGD at the
    class prior; standardize=True learns them, and the fitted model on raw inputs is exactly the MLP trained
    on standardised inputs (the affine map folded into the hidden layer)."""
    X, y = digits38
    X = 0.5 + 0.035 * (X.astype(np.float64) - 0.5)
    X[:, 0] = 0.25                                                     # a constant feature: left unscaled
    kw = dict(n_estimators=3, max_iter=30, random_state=0, n_jobs=1)
    raw = MLPEnsembleClassifier(**kw).fit(X[:250], y[:250])
    std = MLPEnsembleClassifier(standardize=True, **kw).fit(X[:250], y[:250])
    assert raw.score(X[250:], y[250:]) < 0.6 < 0.85 < std.score(X[250:], y[250:])
    mean, scale = X[:250].mean(0), X[:250].std(0)
    assert scale[0] < 1e-12 and (scale < 1e-12).sum() > 1                # digits have constant border pixels
    scale[scale < 1e-12] = 1.0
    by_hand = MLPEnsembleClassifier(**kw).fit((X[:250] - mean) / scale, y[:250])
    np.testing.assert_allclose(std.predict_proba(X), by_hand.predict_proba((X - mean) / scale), rtol=0, atol=1e-9)
    assert np.isfinite(std.coef_hidden_).all()


def test_same_seed_same_model(digits38):
    X, y = digits38
    a = MLPEnsembleClassifier(n_estimators=2, max_iter=10, random_state=5, n_jobs=1).fit(X, y)
    b = MLPEnsembleClassifier(n_estimators=2, max_iter=10, random_state=5, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = MLPEnsembleClassifier(n_estimators=2, max_iter=10, random_state=6, n_jobs=1).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_hopskipjump_runs_on_it_through_art(digits38):
    from art.attacks.evasion import HopSkipJump

    from scd_plugins.art import as_label_only

    X, y = digits38
    model = MLPEnsembleClassifier(n_estimators=5, max_iter=30, random_state=0, n_jobs=1).fit(X[:250], y[:250])
    x = X[260:264].reshape(-1, 8, 8, 1)
    attack = HopSkipJump(as_label_only(model, input_shape=(8, 8, 1), clip_values=(0.0, 1.0)), targeted=False,
                         max_iter=5, max_eval=200, init_eval=20, verbose=False)
    np.random.seed(0)
    x_adv = attack.generate(x)
    assert x_adv.shape == x.shape and x_adv.min() >= 0 and x_adv.max() <= 1
    assert np.mean(model.predict(x_adv.reshape(4, -1)) != model.predict(x.reshape(4, -1))) >= 0.75


@parametrize_with_checks([MLPEnsembleClassifier(n_estimators=2, max_iter=20, n_jobs=1),
                          MLPEnsembleClassifier(n_estimators=2, max_iter=20, solver="sklearn")])
def test_sklearn_common_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
