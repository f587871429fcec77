"""The substitute-model attack (Papernot et al. 2017, the paper's F2): on small real victims its transferred FGSM
examples cut accuracy far more than Gaussian noise of the same L2; the Jacobian augmentation, the set's growth
and the query count checked by hand; seeded; bad input refused."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from scd_plugins.art import as_label_only
from scd_plugins.attacks import SubstituteAttack, gaussian_like, substitute_curve

FAST = dict(rounds=4, epochs=5, learning_rate=1e-3, hidden=(50, 50), max_growth=100)


@pytest.fixture(scope="module")
def victims(digits38):
    X, y = digits38
    return {"linear": LogisticRegression(max_iter=1000).fit(X[:150], y[:150]),
            "mlp": MLPClassifier((20,), max_iter=500, random_state=0).fit(X[:150], y[:150])}


@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_substitute_examples_beat_noise_of_the_same_l2(victims, digits38, name):
    X, y = digits38
    records = substitute_curve(victims[name], X[150:200], X[200:], y[200:], input_shape=(8, 8, 1),
                               epsilons=(0.25, 0.05), random_state=0, **FAST)
    assert [(r["round"], r["epsilon"]) for r in records] == [(k, e) for k in range(4) for e in (0.25, 0.05)]
    assert [r["substitute_size"] for r in records[::2]] == [50, 100, 200, 200]   # doubles up to >100, then stays
    assert [r["queries"] for r in records[::2]] == [50, 100, 200, 400]           # each new point labelled once
    clean = float(np.mean(victims[name].predict(X[200:]) == y[200:]))
    last = records[-2]                                                            # last round, eps 0.25
    assert last["clean_accuracy"] == pytest.approx(clean) and clean > 0.85
    assert last["accuracy"] <= clean - 0.3, last                                 # the transfer attack works
    assert last["noise_accuracy"] >= clean - 0.05, last                          # noise of the same L2 does not
    for r in records:
        assert r["noise_distortion"] == pytest.approx(r["distortion"], rel=1e-4)
        assert 0 < r["linf"] <= r["epsilon"] + 1e-6 and r["distortion"] <= r["epsilon"] * 8 + 1e-4
    small = records[-1]
    assert small["distortion"] < last["distortion"] and small["accuracy"] >= last["accuracy"]


def test_augmentation_growth_and_queries_by_hand(victims, digits38):
    import torch

    X, y = digits38
    victim = as_label_only(victims["mlp"], input_shape=(8, 8, 1), clip_values=(0.0, 1.0))
    attack = SubstituteAttack(victim, rounds=5, epochs=2, learning_rate=1e-3, hidden=(16,), max_growth=20,
                              random_state=3)
    seen = []
    attack.fit_substitute(X[:10].reshape(-1, 8, 8, 1), callback=lambda rho, size: seen.append((rho, size)))
    assert seen == [(0, 10), (1, 20), (2, 40), (3, 40), (4, 40)] and attack.sizes_ == [10, 20, 40, 40, 40]
    assert attack.queries_ == 10 + 10 + 20 + 40 + 40 == victim.scores.n_queries
    assert len(attack.signs_) == 4 and set(attack.signs_) <= {-1.0, 1.0}
    # the Jacobian row of the victim's label, computed again with torch autograd on the substitute network
    x = X[20:30].reshape(-1, 8, 8, 1)
    labels = np.argmax(victim.predict(x), axis=1)
    new = attack.augment(x, labels, -0.1)
    xt = torch.tensor(x, requires_grad=True)
    logits = attack.substitute_.model(xt)
    logits[torch.arange(len(x)), torch.tensor(labels)].sum().backward()
    np.testing.assert_array_equal(new, x - np.float32(0.1) * np.sign(xt.grad.numpy()))
    assert new.min() < 0.0 or new.max() > 1.0                       # augmented points are not clipped
    x_adv = attack.generate(x, (y[20:30] == 8).astype(int), eps=0.3)     # label indices, as ART takes them
    assert 0.0 <= x_adv.min() and x_adv.max() <= 1.0                # FGSM examples are
    assert np.abs(x_adv - x).max() <= 0.3 + 1e-6


def test_substitute_curve_is_seeded(victims, digits38):
    X, y = digits38
    kw = dict(input_shape=(64,), epsilons=(0.2,), rounds=2, epochs=2, learning_rate=1e-3, hidden=(16,),
              max_growth=100)
    a = substitute_curve(victims["linear"], X[150:180], X[200:260], y[200:260], random_state=5, **kw)
    b = substitute_curve(victims["linear"], X[150:180], X[200:260], y[200:260], random_state=5, **kw)
    c = substitute_curve(victims["linear"], X[150:180], X[200:260], y[200:260], random_state=6, **kw)
    assert a == b and a != c


def test_gaussian_control_has_the_requested_l2_after_clipping():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(5, 40)).astype(np.float32)
    x[:, :20] = 0.0                                                   # half the coordinates on the box edge
    l2 = np.array([0.1, 0.5, 1.0, 2.0, 3.0])
    noisy = gaussian_like(x, l2, np.random.default_rng(1), (0.0, 1.0))
    assert noisy.min() >= 0 and noisy.max() <= 1
    np.testing.assert_allclose(np.linalg.norm(noisy - x, axis=1), l2, rtol=1e-5)
    free = gaussian_like(x, l2, np.random.default_rng(1), None)
    np.testing.assert_allclose(np.linalg.norm(free - x, axis=1), l2, rtol=1e-5)
    again = gaussian_like(x, l2, np.random.default_rng(1), (0.0, 1.0))
    np.testing.assert_array_equal(noisy, again)
    # more than the box allows: every coordinate saturates, the largest reachable distance
    far = gaussian_like(x[:1], np.array([100.0]), np.random.default_rng(2), (0.0, 1.0))
    assert set(np.unique(far)) <= {0.0, 1.0} and np.linalg.norm(far - x[:1]) < 100


@pytest.mark.parametrize("kwargs, match", [({"rounds": 0}, "rounds"), ({"epochs": 1.5}, "epochs"),
                                           ({"lmbda": -0.1}, "lmbda"), ({"learning_rate": 0}, "learning_rate"),
                                           ({"hidden": ()}, "hidden"), ({"hidden": (20, 0)}, "hidden"),
                                           ({"max_growth": 0}, "max_growth"), ({"device": "tpu"}, "device"),
                                           ({"verbose": 1}, "verbose"), ({"random_state": 1.5}, "random_state")])
def test_bad_parameters(victims, kwargs, match):
    victim = as_label_only(victims["linear"], clip_values=(0.0, 1.0))
    with pytest.raises(ValueError, match=match):
        SubstituteAttack(victim, **kwargs)
    attack = SubstituteAttack(victim)
    with pytest.raises(ValueError, match="rounds"):
        attack.set_params(rounds=-1)
    with pytest.raises(RuntimeError, match="fit_substitute"):
        attack.generate(np.zeros((1, 64), dtype=np.float32))


def test_bad_curve_arguments(victims, digits38):
    X, y = digits38
    kw = dict(input_shape=(64,), rounds=1, epochs=1)
    with pytest.raises(ValueError, match="does not know"):
        substitute_curve(victims["linear"], X[:10], X[10:20], np.full(10, 5), **kw)
    with pytest.raises(ValueError, match="epsilons"):
        substitute_curve(victims["linear"], X[:10], X[10:20], y[10:20], epsilons=(0.1, -1.0), **kw)
    with pytest.raises(ValueError, match="same"):
        substitute_curve(victims["linear"], X[:10], X[10:20], y[10:19], **kw)
    with pytest.raises(ValueError, match="shape"):
        SubstituteAttack(as_label_only(victims["linear"], clip_values=(0.0, 1.0))).fit_substitute(X[:5, :10])
