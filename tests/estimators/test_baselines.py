"""MLP and random-forest baselines: the paper's settings, soft vote, sub-ensembles, array persistence."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from scd_plugins import load
from scd_plugins.estimators import MLPEnsembleClassifier, RandomForestBaseline
from scd_plugins.io import save
from scd_plugins.registry import estimator_class, model_class


def test_registered_by_name():
    assert model_class("mlp") is MLPEnsembleClassifier
    assert model_class("rf") is RandomForestBaseline
    assert estimator_class("MLPEnsembleClassifier") is MLPEnsembleClassifier
    assert estimator_class("RandomForestBaseline") is RandomForestBaseline


def test_mlp_members_are_sklearn_mlps_and_vote_softly(digits38):
    X, y = digits38
    ens = MLPEnsembleClassifier(n_estimators=3, max_iter=30, random_state=0).fit(X[:250], y[:250])
    members = []
    for seed in ens.member_seeds_:
        m = MLPClassifier((20,), activation="logistic", solver="sgd", learning_rate_init=0.01, momentum=0.9,
                          max_iter=30, random_state=int(seed))
        with pytest.warns(Warning):      # 30 SGD epochs do not converge; the ensemble silences this
            members.append(m.fit(X[:250].astype(np.float64), y[:250]))   # the ensemble trains in float64
    expected = np.mean([m.predict_proba(X[250:]) for m in members], axis=0)
    np.testing.assert_allclose(ens.predict_proba(X[250:]), expected, rtol=0, atol=1e-10)
    assert ens.score(X[250:], y[250:]) > 0.8
    assert set(ens.classes_) == {3, 8}


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
@pytest.mark.parametrize("make", [lambda: MLPEnsembleClassifier(n_estimators=3, max_iter=30, random_state=1),
                                  lambda: RandomForestBaseline(n_estimators=7, random_state=1)],
                         ids=["mlp", "rf"])
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
    mlp = MLPEnsembleClassifier(n_estimators=4, max_iter=20, random_state=0).fit(X, y)
    pair = mlp.sub_ensemble([1, 3])
    assert pair.n_estimators_ == 2
    np.testing.assert_allclose(pair.predict_proba(X), mlp._member_proba(X.astype(np.float64))[[1, 3]].mean(0))
    with pytest.raises(ValueError, match="indices"):
        mlp.sub_ensemble([4])
    with pytest.raises(ValueError, match="indices"):
        rf.sub_ensemble([])


def test_bad_parameters_and_inputs(digits38):
    X, y = digits38
    with pytest.raises(ValueError, match="n_estimators"):
        MLPEnsembleClassifier(n_estimators=0).fit(X, y)
    with pytest.raises(ValueError, match="min_samples_leaf"):
        RandomForestBaseline(min_samples_leaf=0).fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        MLPEnsembleClassifier(n_estimators=1).fit(X, np.zeros(len(X)))
    mlp = MLPEnsembleClassifier(n_estimators=1, max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        mlp.predict(X[:, :10])


def test_same_seed_same_model(digits38):
    X, y = digits38
    a = MLPEnsembleClassifier(n_estimators=2, max_iter=10, random_state=5).fit(X, y)
    b = MLPEnsembleClassifier(n_estimators=2, max_iter=10, random_state=5).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@parametrize_with_checks([MLPEnsembleClassifier(n_estimators=2, max_iter=20), RandomForestBaseline(n_estimators=5)])
def test_sklearn_common_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
