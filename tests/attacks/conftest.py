"""Models with known decision boundaries, and a small real SCD01 model on sklearn's digits."""
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_digits


class LinearModel(ClassifierMixin, BaseEstimator):
    """sign(w.x + b) as a scikit-learn classifier: its minimum adversarial distances are known in closed form
    (|w.x + b| / ||w||_1 in L-inf, |w.x + b| / ||w||_2 in L2, as long as the box does not interfere)."""

    def __init__(self, w=None, b=0.0):
        self.w = w
        self.b = b

    def fit(self, X=None, y=None):
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = len(self.w)
        return self

    def decision_function(self, X):
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1) @ self.w + self.b

    def predict_proba(self, X):
        p = (self.decision_function(X) > 0).astype(np.float64)
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(np.int64)


class RecordingLinear(LinearModel):
    """A linear model that keeps every batch it is asked to label (an attack's queries, in order)."""

    def fit(self, X=None, y=None):
        self.seen_ = []
        return super().fit()

    def predict_proba(self, X):
        self.seen_.append(np.array(X, dtype=np.float64).reshape(len(X), -1))
        return super().predict_proba(X)


@pytest.fixture
def recording_linear():
    """Factory: a fitted `RecordingLinear(w, b)`."""
    return lambda w, b: RecordingLinear(np.asarray(w, dtype=np.float64), b).fit()


@pytest.fixture(scope="session")
def linear_case():
    """A 32-d linear model and 3 points well inside [0, 1]^32 at different distances from the boundary."""
    rng = np.random.default_rng(0)
    d = 32
    w = rng.normal(size=d)
    x = 0.5 + rng.uniform(-0.05, 0.05, size=(3, d))
    x += np.array([0.04, -0.06, 0.08])[:, None] * np.sign(w)
    model = LinearModel(w, -0.5 * w.sum()).fit()
    margin = np.abs(x @ w + model.b)
    return model, x.astype(np.float32), margin / np.abs(w).sum(), margin / np.linalg.norm(w)


@pytest.fixture(scope="session")
def digits38():
    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, (3, 8))
    return (X[keep] / 16.0).astype(np.float32), y[keep]


@pytest.fixture(scope="session")
def scd01_small(digits38):
    from scd_plugins import SCD01Classifier

    X, y = digits38
    return SCD01Classifier(n_votes=4, hidden_nodes=20, iterations=40, n_features=64, random_state=0,
                           n_jobs=1).fit(X[:250], y[:250])
