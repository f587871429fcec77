"""The four families pass scikit-learn's common estimator checks (multi-class via one-vs-rest)."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from scd_plugins import SCD01BNNClassifier, SCD01Classifier, SCDCEBNNClassifier, SCDCEClassifier

SMALL = dict(n_votes=3, iterations=15, n_jobs=1)


@parametrize_with_checks([cls(**SMALL) for cls in (SCD01Classifier, SCDCEClassifier,
                                                    SCD01BNNClassifier, SCDCEBNNClassifier)])
def test_sklearn_common_checks(estimator, check):
    check(estimator)
