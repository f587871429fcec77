"""Small real models for the ART tests, on sklearn's 8x8 digits (tests/conftest.py)."""
import pytest


@pytest.fixture(scope="session")
def scd01_38(digits38):
    from scd_plugins import SCD01Classifier

    X, y = digits38
    return SCD01Classifier(n_votes=5, hidden_nodes=20, iterations=40, n_features=64, random_state=0,
                           n_jobs=1).fit(X[:250], y[:250])
