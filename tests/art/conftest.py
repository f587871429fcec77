"""Small real models for the ART tests: sklearn's 8x8 digits (embedded, no download)."""
import numpy as np
import pytest
from sklearn.datasets import load_digits


def digits(classes):
    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, classes)
    return (X[keep] / 16.0).astype(np.float32), y[keep]


@pytest.fixture(scope="session")
def load_pair():
    """The loader itself, for tests that need other digit classes."""
    return digits


@pytest.fixture(scope="session")
def digits38():
    """Digits 3 vs 8, pixels in [0, 1], 8x8x1 images flattened to 64 features."""
    return digits((3, 8))


@pytest.fixture(scope="session")
def scd01_38(digits38):
    from scd_plugins import SCD01Classifier

    X, y = digits38
    return SCD01Classifier(n_votes=5, hidden_nodes=20, iterations=40, n_features=64, random_state=0,
                           n_jobs=1).fit(X[:250], y[:250])
