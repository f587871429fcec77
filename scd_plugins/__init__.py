"""scd-plugins: sign-activation networks trained by stochastic coordinate descent (SCD), as
scikit-learn estimators that ART and TextAttack can attack.

Importing this package loads neither torch, ART nor TextAttack: the engine imports torch when a
model is trained.
"""
from scd_plugins.estimators import (
    SCD01BNNClassifier,
    SCD01Classifier,
    SCDCEBNNClassifier,
    SCDCEClassifier,
)
from scd_plugins.io import load

from scd_plugins._version import __version__

__all__ = [
    "SCD01Classifier",
    "SCDCEClassifier",
    "SCD01BNNClassifier",
    "SCDCEBNNClassifier",
    "load",
    "__version__",
]
