"""Training outcomes on real data, reproducibility, and the pocket's consistency with predict."""
import numpy as np
import pytest
from sklearn.base import clone

from scd_plugins import SCD01BNNClassifier, SCD01Classifier, SCDCEBNNClassifier, SCDCEClassifier

FAMILIES = (SCD01Classifier, SCDCEClassifier, SCD01BNNClassifier, SCDCEBNNClassifier)


def balanced_plus_accuracy(y, pred):
    return (pred == y).mean() + 0.5 * ((pred[y == 1] == 1).mean() + (pred[y == 0] == 0).mean())


@pytest.mark.parametrize("cls", FAMILIES)
def test_learns_breast_cancer(cls, breast_cancer):
    Xtr, ytr, Xte, yte = breast_cancer
    clf = cls(n_votes=5, iterations=150, random_state=0, n_jobs=1).fit(Xtr, ytr)
    assert clf.score(Xte, yte) >= 0.90
    # Each vote's pocket score (accuracy + balanced accuracy on the training set) is what it predicts.
    for i in range(clf.n_votes_):
        pred = clf.sub_ensemble([i]).predict(Xtr)
        assert balanced_plus_accuracy(ytr, pred) == pytest.approx(clf.vote_train_scores_[i], abs=1e-12)


def test_fashion_mnist_pullover_vs_coat(fashion_pullover_coat):
    """A real image pair of CIFAR-like difficulty: short training already separates the classes on held-out data."""
    Xtr, ytr, Xte, yte = fashion_pullover_coat
    rng = np.random.default_rng(0)
    keep = rng.choice(len(Xtr), 3000, replace=False)
    clf = SCD01Classifier(n_votes=4, iterations=200, random_state=0, n_jobs=2).fit(Xtr[keep], ytr[keep])
    single = clf.sub_ensemble([0]).score(Xte, yte)
    ensemble = clf.score(Xte, yte)
    assert single >= 0.75
    assert ensemble >= 0.78


def test_binary_weights_stay_binary(breast_cancer):
    Xtr, ytr, _, _ = breast_cancer
    clf = SCDCEBNNClassifier(n_votes=2, iterations=100, random_state=1, n_jobs=1).fit(Xtr, ytr)
    assert set(np.unique(clf.W1_)) <= {-1.0, 1.0}
    assert set(np.unique(clf.w2_)) <= {-1.0, 1.0}
    unit = SCD01Classifier(n_votes=2, iterations=100, random_state=1, n_jobs=1).fit(Xtr, ytr)
    np.testing.assert_allclose(np.linalg.norm(unit.W1_, axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(unit.w2_, axis=1), 1.0, rtol=1e-9)


def test_same_seed_bit_identical_whatever_n_jobs(breast_cancer):
    Xtr, ytr, _, _ = breast_cancer
    base = SCD01Classifier(n_votes=4, iterations=60, random_state=7)
    a = clone(base).set_params(n_jobs=1).fit(Xtr, ytr)
    b = clone(base).set_params(n_jobs=2).fit(Xtr, ytr)
    for name in ("W1_", "b1_", "w2_", "b2_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # A vote does not depend on how many votes are trained with it.
    alone = clone(base).set_params(n_votes=1, n_jobs=1).fit(Xtr, ytr)
    np.testing.assert_array_equal(alone.W1_[0], a.W1_[0])
    # Another seed gives another model.
    other = clone(base).set_params(random_state=8, n_jobs=1).fit(Xtr, ytr)
    assert not np.array_equal(other.W1_, a.W1_)


def test_ensemble_vote_is_majority_with_ties_to_class_zero(breast_cancer):
    Xtr, ytr, Xte, _ = breast_cancer
    clf = SCD01Classifier(n_votes=4, iterations=40, random_state=3, n_jobs=1).fit(Xtr, ytr * 2 + 5)
    votes = clf.vote_labels(Xte)
    fraction = votes.mean(axis=1)
    np.testing.assert_array_equal(clf.predict_proba(Xte)[:, 1], fraction)
    expected = np.where(fraction > 0.5, 7, 5)  # 2 of 4 votes is a tie: the first class
    np.testing.assert_array_equal(clf.predict(Xte), expected)
    assert ((clf.decision_function(Xte) > 0) == (expected == 7)).all()


def test_float32_queries_decide_like_float64(breast_cancer):
    """ART queries in float32; hidden signs are decided in float64 either way."""
    Xtr, ytr, Xte, _ = breast_cancer
    clf = SCD01Classifier(n_votes=3, iterations=40, random_state=0, n_jobs=1).fit(Xtr, ytr)
    # Test points plus points moved onto a hidden unit's hyperplane (pre-activation ~ 0), where the
    # float32 product cannot tell the sign and the float64 re-check decides.
    w, b = clf.W1_[1][:, 4], clf.b1_[1][4]
    on_plane = Xte[:20] - ((Xte[:20] @ w + b) / (w @ w))[:, None] * w
    X32 = np.concatenate([Xte, on_plane]).astype(np.float32)
    exact = (np.einsum("nd,rdh->nrh", X32.astype(np.float64), clf.W1_) + clf.b1_) > 0
    assert np.abs(X32[-20:].astype(np.float64) @ w + b).max() < 1e-3  # the hard cases are really there
    np.testing.assert_array_equal(clf._packed.hidden(X32.astype(np.float64)), exact)
    np.testing.assert_array_equal(clf._packed.hidden(X32), exact)  # float32 in, no float64 copy
    np.testing.assert_array_equal(clf.predict_proba(X32), clf.predict_proba(X32.astype(np.float64)))


def test_multiclass_one_vs_rest(breast_cancer):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    keep = y < 3
    clf = SCD01Classifier(n_votes=3, iterations=60, random_state=0, n_jobs=1).fit(X[keep][:400], y[keep][:400])
    assert len(clf.estimators_) == 3
    assert clf.score(X[keep][400:], y[keep][400:]) >= 0.9
    with pytest.raises(ValueError, match="binary ensemble"):
        clf.sub_ensemble([0])


def test_n_features_larger_than_d_is_clamped(breast_cancer):
    Xtr, ytr, _, _ = breast_cancer
    clf = SCD01Classifier(n_votes=1, iterations=20, n_features=10_000, random_state=0).fit(Xtr, ytr)
    assert clf.n_features_in_ == Xtr.shape[1]
