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
}


@pytest.fixture(scope="module")
def digits38_split():
    X, y = load_digits(return_X_y=True)
    keep = (y == 3) | (y == 8)
    X, y = X[keep] / 16.0, np.where(y[keep] == 3, "three", "eight")
    return X[:250], y[:250], X[250:], y[250:]


@pytest.fixture(scope="module")
def fitted(digits38_split):
    Xtr, ytr, _, _ = digits38_split
    return {name: model_class(name)(random_state=0, **FAST[name]).fit(Xtr, ytr) for name in FAST}


def test_every_registered_family_has_fast_settings():
    assert set(MODELS) <= set(FAST), f"add fast test settings for {sorted(set(MODELS) - set(FAST))}"


@pytest.mark.parametrize("name", sorted(FAST))
def test_contract(name, fitted, digits38_split, tmp_path):
    _, _, Xte, yte = digits38_split
    model = fitted[name]
    assert isinstance(model, EnsembleClassifier)
    r = model.n_members_
    assert r == FAST[name].get("n_votes", FAST[name].get("n_estimators"))
    proba = model.predict_proba(Xte)
    assert proba.shape == (len(Xte), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(Xte)) <= set(model.classes_)
    assert np.array_equal(model.decision_function(Xte) > 0, model.predict(Xte) == model.classes_[1])
    assert model.score(Xte, yte) > 0.8                     # 3 vs 8 is easy; every family learns it

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
def test_sub_ensemble_takes_integer_indices_only(name, bad, error, fitted):
    with pytest.raises(error, match="member indices"):
        fitted[name].sub_ensemble(bad)


def test_member_seeds_do_not_depend_on_the_member_count():
    from scd_plugins.estimators import member_seeds

    assert member_seeds(7, 3) == member_seeds(7, 10)[:3]
    assert member_seeds(7, 3) != member_seeds(8, 3)
