"""ART adapters: contract of the score-based and label-only classifiers, and ART's decision-based and
score-based attacks running briefly against small real models (SCD01 on digits)."""
import numpy as np
import pytest
from art.attacks.evasion import BoundaryAttack, GeoDA, HopSkipJump, SignOPTAttack, SquareAttack

from scd_plugins import SCD01Classifier
from scd_plugins.art import EnsembleArtClassifier, LabelOnlyClassifier, as_label_only, to_art
from scd_plugins.estimators import MLPEnsembleClassifier, RandomForestBaseline

SHAPE = (8, 8, 1)
CLIP = (0.0, 1.0)


def _images(X):
    return X.reshape((-1,) + SHAPE)


def test_to_art_contract(scd01_38, digits38):
    X, _ = digits38
    clf = to_art(scd01_38, input_shape=SHAPE, clip_values=CLIP)
    assert isinstance(clf, EnsembleArtClassifier)
    assert clf.nb_classes == 2 and clf.input_shape == SHAPE and tuple(clf.clip_values) == CLIP
    p = clf.predict(_images(X[:50]))
    assert p.shape == (50, 2) and p.dtype == np.float32
    np.testing.assert_allclose(p, scd01_38.predict_proba(X[:50]), atol=1e-6)
    # argmax agrees with the estimator's label, ties included
    np.testing.assert_array_equal(scd01_38.classes_[p.argmax(1)], scd01_38.predict(X[:50]))
    assert clf.n_queries == 50 and clf.n_calls == 1         # one batched call per batch


def test_label_only_answers_one_hot_labels(scd01_38, digits38):
    X, _ = digits38
    victim = as_label_only(scd01_38, input_shape=SHAPE, clip_values=CLIP)
    assert isinstance(victim, LabelOnlyClassifier)
    out = victim.predict(_images(X[:300]), batch_size=64)
    assert set(np.unique(out)) <= {0.0, 1.0} and np.all(out.sum(1) == 1)
    np.testing.assert_array_equal(scd01_38.classes_[out.argmax(1)], scd01_38.predict(X[:300]))
    assert victim.scores.n_calls == 1 and victim.scores.n_queries == 300


def test_flat_default_and_bad_shapes(scd01_38, digits38):
    X, _ = digits38
    assert to_art(scd01_38).input_shape == (64,)
    with pytest.raises(ValueError, match="input_shape"):
        to_art(scd01_38, input_shape=(7, 7, 1))
    with pytest.raises(ValueError, match="expected inputs of shape"):
        to_art(scd01_38, input_shape=SHAPE).predict(X[:3])
    with pytest.raises(ValueError, match="not fitted"):
        to_art(SCD01Classifier())


@pytest.mark.parametrize("make", [lambda: MLPEnsembleClassifier(n_estimators=3, max_iter=30, random_state=0),
                                  lambda: RandomForestBaseline(n_estimators=10, random_state=0)], ids=["mlp", "rf"])
def test_baselines_behind_the_same_interface(make, digits38):
    X, y = digits38
    est = make().fit(X, y)
    clf = to_art(est, input_shape=SHAPE, clip_values=CLIP)
    p = clf.predict(_images(X[:20]))
    assert p.shape == (20, 2)
    np.testing.assert_array_equal(est.classes_[p.argmax(1)], est.predict(X[:20]))


def _flipped(model, x, x_adv):
    flat = lambda a: a.reshape(len(a), -1)
    return np.mean(model.predict(flat(x_adv)) != model.predict(flat(x)))


def _check_box_and_shape(x, x_adv):
    assert x_adv.shape == x.shape
    assert x_adv.min() >= CLIP[0] - 1e-6 and x_adv.max() <= CLIP[1] + 1e-6


@pytest.mark.parametrize("name", ["hsj", "boundary", "geoda"])
def test_decision_based_attacks(name, scd01_38, digits38, tmp_path, monkeypatch):
    X, _ = digits38
    x = _images(X[260:266])
    victim = as_label_only(scd01_38, input_shape=SHAPE, clip_values=CLIP)
    if name == "hsj":
        attack = HopSkipJump(victim, targeted=False, max_iter=10, max_eval=500, init_eval=50, verbose=False)
    elif name == "boundary":
        attack = BoundaryAttack(victim, targeted=False, max_iter=100, num_trial=10, sample_size=10, verbose=False)
    else:
        # ART 1.20's GeoDA calls np.mat, which NumPy 2 removed, and writes its DCT basis into the working
        # directory: give it np.asmatrix and a scratch directory.
        monkeypatch.setattr(np, "mat", np.asmatrix, raising=False)
        monkeypatch.chdir(tmp_path)
        attack = GeoDA(victim, max_iter=500, sub_dim=4, verbose=False)
    np.random.seed(0)
    x_adv = attack.generate(x)
    _check_box_and_shape(x, x_adv)
    assert _flipped(scd01_38, x, x_adv) >= 0.5
    assert victim.scores.n_queries > len(x)


def test_signopt_on_three_classes(load_pair):
    # ART 1.20's SignOPT refuses every two-class classifier ("not yet been tested for binary
    # classification"), so it runs here against a three-class SCD01 (one-vs-rest over the binary core).
    X3, y3 = load_pair((3, 5, 8))
    model = SCD01Classifier(n_votes=3, iterations=30, n_features=64, random_state=0, n_jobs=1).fit(X3, y3)
    victim = as_label_only(model, input_shape=SHAPE, clip_values=CLIP)
    assert victim.nb_classes == 3
    x = _images(X3[:4])
    np.random.seed(0)
    x_adv = SignOPTAttack(victim, targeted=False, max_iter=10, query_limit=1500, num_trial=20,
                          verbose=False).generate(x)
    _check_box_and_shape(x, x_adv)
    assert _flipped(model, x, x_adv) >= 0.5


def test_square_attack_uses_vote_fractions(scd01_38, digits38):
    X, _ = digits38
    x = _images(X[260:270])
    clf = to_art(scd01_38, input_shape=SHAPE, clip_values=CLIP)
    np.random.seed(0)
    x_adv = SquareAttack(clf, norm=np.inf, eps=0.3, max_iter=50, verbose=False).generate(x)
    _check_box_and_shape(x, x_adv)
    assert np.abs(x_adv - x).max() <= 0.3 + 1e-6
    assert _flipped(scd01_38, x, x_adv) >= 0.3
