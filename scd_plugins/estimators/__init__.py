"""scikit-learn estimators for the four SCD families."""
from scd_plugins.estimators._base import SCDClassifierBase
from scd_plugins.estimators._scd import (
    SCD01BNNClassifier,
    SCD01Classifier,
    SCDCEBNNClassifier,
    SCDCEClassifier,
)

__all__ = ["SCDClassifierBase", "SCD01Classifier", "SCDCEClassifier", "SCD01BNNClassifier", "SCDCEBNNClassifier"]
