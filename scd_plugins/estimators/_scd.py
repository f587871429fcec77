"""The four SCD families: each is the shared estimator with its loss and weight type."""
from scd_plugins.estimators._base import SCDClassifierBase


class SCD01Classifier(SCDClassifierBase):
    """Sign network trained on the 0-1 loss (balanced accuracy, then accuracy + balanced accuracy);
    real weights moved by +/- w_inc and renormalised to unit norm."""


class SCDCEClassifier(SCDClassifierBase):
    """Sign hidden layer with a cross-entropy output node: moves are scored by mean BCE of sigmoid(z)."""

    _loss = "ce"


class SCD01BNNClassifier(SCDClassifierBase):
    """SCD01 with binary weights (+/-1, moved by sign flips) in both layers; biases stay real."""

    _binary_weights = True
    _default_iterations = 10000


class SCDCEBNNClassifier(SCDClassifierBase):
    """SCDCE with binary weights (+/-1, moved by sign flips) in both layers; biases stay real."""

    _loss = "ce"
    _binary_weights = True
    _default_iterations = 10000
