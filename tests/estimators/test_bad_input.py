"""Bad input gets a clear error naming the problem."""
import numpy as np
import pytest

from scd_plugins import SCD01Classifier


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    X = rng.random((40, 5))
    return X, (X[:, 0] > 0.5).astype(int)


def test_nan_and_inf(small):
    X, y = small
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 2] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            SCD01Classifier(n_votes=1, iterations=5).fit(Xb, y)


def test_shapes_and_labels(small):
    X, y = small
    with pytest.raises(ValueError, match="2D array"):
        SCD01Classifier(n_votes=1, iterations=5).fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SCD01Classifier(n_votes=1, iterations=5).fit(X, y[:-1])
    with pytest.raises(ValueError, match="one class"):
        SCD01Classifier(n_votes=1, iterations=5).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="continuous|Unknown label type"):
        SCD01Classifier(n_votes=1, iterations=5).fit(X, X[:, 0])


def test_non_numeric_features(small):
    X, y = small
    Xs = X.astype(object)
    Xs[0, 0] = "pixel"
    with pytest.raises(ValueError, match="could not convert string to float"):
        SCD01Classifier(n_votes=1, iterations=5).fit(Xs, y)


def test_wrong_feature_count_at_predict(small):
    X, y = small
    clf = SCD01Classifier(n_votes=1, iterations=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but SCD01Classifier is expecting 5"):
        clf.predict(X[:, :4])


def test_bad_hyperparameters(small):
    X, y = small
    with pytest.raises(ValueError, match="'n_votes' parameter"):
        SCD01Classifier(n_votes=0).fit(X, y)
    with pytest.raises(ValueError, match="'nrows' parameter"):
        SCD01Classifier(nrows=1.5).fit(X, y)
