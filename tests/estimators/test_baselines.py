"""Random-forest baseline: the paper's settings, soft vote, sub-ensembles, array persistence (the MLP's
tests are in test_mlp.py)."""
import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from scd_plugins import load
from scd_plugins.estimators import RandomForestBaseline
from scd_plugins.io import save
from scd_plugins.registry import estimator_class, model_class


def test_registered_by_name():
    assert model_class("rf") is RandomForestBaseline
    assert estimator_class("RandomForestBaseline") is RandomForestBaseline


def test_rf_has_paper_settings(digits38):
    X, y = digits38
    rf = RandomForestBaseline(random_state=0).fit(X[:250], y[:250])
    assert rf.n_estimators_ == 100
    tree = rf.forest_.estimators_[0]
    assert tree.min_samples_leaf == 10 and tree.max_features is None
    assert rf.score(X[250:], y[250:]) > 0.85
    # the single-threaded soft vote is exactly scikit-learn's forest average
    np.testing.assert_allclose(rf.predict_proba(X), rf.forest_.predict_proba(X), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("classes", [(3, 8), (3, 5, 8)])
@pytest.mark.parametrize("make", [lambda: RandomForestBaseline(n_estimators=7, random_state=1)], ids=["rf"])
def test_save_load_round_trip_is_exact(tmp_path, make, classes, load_pair):
    X, y = load_pair(classes)
    est = make().fit(X[:300], y[:300])
    path = save(est, tmp_path / "model")
    assert not list(tmp_path.glob("**/*.pkl")) and (path / "model.safetensors").is_file()
    again = load(path)
    assert type(again) is type(est)
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    np.testing.assert_array_equal(again.classes_, est.classes_)


def test_sub_ensembles(digits38):
    X, y = digits38
    rf = RandomForestBaseline(n_estimators=6, random_state=0).fit(X, y)
    one = rf.sub_ensemble([2])
    np.testing.assert_array_equal(one.predict_proba(X), rf.forest_.estimators_[2].predict_proba(X))
    np.testing.assert_allclose(rf.sub_ensemble(range(6)).predict_proba(X), rf.predict_proba(X))
    with pytest.raises(ValueError, match="indices"):
        rf.sub_ensemble([])


def test_bad_parameters_and_inputs(digits38):
    X, y = digits38
    with pytest.raises(ValueError, match="min_samples_leaf"):
        RandomForestBaseline(min_samples_leaf=0).fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        RandomForestBaseline(n_estimators=1).fit(X, np.zeros(len(X)))


@parametrize_with_checks([RandomForestBaseline(n_estimators=5)])
def test_sklearn_common_checks(estimator, check):
    check(estimator)
