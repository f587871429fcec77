"""scikit-learn estimators: the four SCD families and the paper's baselines, all on one ensemble
contract (`EnsembleClassifier`, see `_ensemble.py`)."""
from scd_plugins.estimators._base import SCDClassifierBase
from scd_plugins.estimators._bnn import BNNEnsembleClassifier
from scd_plugins.estimators._ensemble import EnsembleClassifier, member_indices, member_seeds
from scd_plugins.estimators._forest import RandomForestBaseline
from scd_plugins.estimators._mlp import MLPEnsembleClassifier
from scd_plugins.estimators._cnn1d import CNN1DEnsembleClassifier
from scd_plugins.estimators._lenet import LeNetEnsembleClassifier
from scd_plugins.estimators._resnet import ResNet50EnsembleClassifier
from scd_plugins.estimators._wordcnn import WordCNNClassifier
from scd_plugins.estimators._scd import (
    SCD01BNNClassifier,
    SCD01Classifier,
    SCDCEBNNClassifier,
    SCDCEClassifier,
)

__all__ = ["EnsembleClassifier", "member_indices", "member_seeds", "SCDClassifierBase", "SCD01Classifier",
           "SCDCEClassifier", "SCD01BNNClassifier", "SCDCEBNNClassifier", "MLPEnsembleClassifier",
           "BNNEnsembleClassifier", "RandomForestBaseline", "LeNetEnsembleClassifier", "ResNet50EnsembleClassifier",
           "CNN1DEnsembleClassifier", "WordCNNClassifier"]
