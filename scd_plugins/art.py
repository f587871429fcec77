"""Adversarial Robustness Toolbox (ART) adapters for any fitted scd-plugins estimator.

`to_art(est, input_shape=(28, 28, 1), clip_values=(0, 1))` gives an ART classifier whose `predict`
returns the ensemble's class probabilities (vote fractions): the score-based view used by SquareAttack
and the one the decision-based attacks (HopSkipJump, Boundary, SignOPT, GeoDA) take the argmax of.
`as_label_only(...)` gives the strict decision-based threat model: an ART black-box classifier returning
one-hot labels only. Samples keep their original shape (images stay images); the estimator sees them
flattened. Every classifier counts the queries it answers (`n_queries`, `n_calls`).

Importing `scd_plugins` does not import this module (it imports ART).
"""
from __future__ import annotations

import numpy as np
from art.estimators.classification import BlackBoxClassifierNeuralNetwork
from art.estimators.classification.scikitlearn import ScikitlearnClassifier
from art.estimators.estimator import NeuralNetworkMixin

__all__ = ["EnsembleArtClassifier", "LabelOnlyClassifier", "to_art", "as_label_only"]


def _input_shape(estimator, input_shape):
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is None:
        raise ValueError("the estimator is not fitted (it has no `n_features_in_`); fit it before wrapping it for ART")
    if input_shape is None:
        return (int(n_features),)
    shape = tuple(int(s) for s in np.atleast_1d(input_shape))
    if int(np.prod(shape)) != int(n_features):
        raise ValueError(f"input_shape {shape} holds {int(np.prod(shape))} values but the estimator takes "
                         f"{n_features} features")
    return shape


class EnsembleArtClassifier(NeuralNetworkMixin, ScikitlearnClassifier):
    """ART classifier over a fitted ensemble (SCD, MLP or random-forest baseline).

    `predict(x)` flattens `x` (shape `(n, *input_shape)`) and answers all `n` rows with one
    `predict_proba` call: a batch of B queries costs one batched ensemble product. Columns follow the
    estimator's `classes_` (two for a binary problem, which HopSkipJump requires). `argmax` of a row
    equals `estimator.predict` including ties, because both send a tie to `classes_[0]`.

    It is also a `NeuralNetworkMixin` so that ART's SquareAttack accepts it; layer activations are not
    part of the black-box threat model and are not exposed.
    """

    estimator_params = ScikitlearnClassifier.estimator_params + ["channels_first"]

    def __init__(self, model, input_shape=None, clip_values=None, channels_first=False, preprocessing_defences=None,
                 postprocessing_defences=None, preprocessing=(0.0, 1.0)):
        shape = _input_shape(model, input_shape)
        if not callable(getattr(model, "predict_proba", None)):
            raise TypeError(f"{type(model).__name__} has no predict_proba; ART needs class scores")
        super().__init__(model=model, clip_values=clip_values, channels_first=channels_first,
                         preprocessing_defences=preprocessing_defences,
                         postprocessing_defences=postprocessing_defences, preprocessing=preprocessing)
        self._input_shape = shape
        self.n_queries = 0
        self.n_calls = 0

    def reset_counts(self):
        """Set the query counters to zero (the min-L2 protocol does it before each attack run)."""
        self.n_queries = 0
        self.n_calls = 0

    def predict(self, x, batch_size=128, **kwargs):
        """Class probabilities (vote fractions) for `x` of shape `(n, *input_shape)`, float32."""
        x = np.asarray(x)
        if x.shape[1:] != self._input_shape:
            if x.ndim == 1 and x.shape == self._input_shape:
                raise ValueError(f"predict takes a batch: shape (n, *{self._input_shape}), got one sample {x.shape}")
            raise ValueError(f"expected inputs of shape (n, *{self._input_shape}), got {x.shape}")
        x_pre, _ = self._apply_preprocessing(x, y=None, fit=False)
        self.n_queries += len(x_pre)
        self.n_calls += 1
        proba = np.asarray(self.model.predict_proba(np.asarray(x_pre).reshape(len(x_pre), -1)))
        return self._apply_postprocessing(preds=proba.astype(np.float32), fit=False)

    def fit(self, x, y, **kwargs):
        """Fit the wrapped estimator on `x` of shape `(n, *input_shape)` and one-hot or index labels `y`."""
        y = np.asarray(y)
        labels = np.argmax(y, axis=1) if y.ndim == 2 else y
        x_pre, _ = self._apply_preprocessing(np.asarray(x), None, fit=True)
        self.model.fit(np.asarray(x_pre).reshape(len(x_pre), -1), labels, **kwargs)
        self.nb_classes = len(self.model.classes_)

    def get_activations(self, x, layer, batch_size=128, framework=False):
        raise NotImplementedError("hidden activations are outside the black-box threat model of these ensembles")


class LabelOnlyClassifier(BlackBoxClassifierNeuralNetwork):
    """ART's black-box classifier (one-hot labels only) answering a whole batch with one model call.

    ART's own `BlackBoxClassifier.predict` splits a batch into chunks of `batch_size`; here the batch
    goes to the ensemble in one product, as the score-based wrapper does.
    """

    def predict(self, x, batch_size=128, **kwargs):
        x_pre, _ = self._apply_preprocessing(np.asarray(x), y=None, fit=False)
        preds = np.asarray(self._predict_fn(x_pre), dtype=np.float32)
        return self._apply_postprocessing(preds=preds, fit=False)


def to_art(estimator, *, input_shape=None, clip_values=None, channels_first=False):
    """Wrap a fitted estimator as an ART classifier (class probabilities = vote fractions).

    input_shape: one sample's shape as the attack should see it, e.g. (28, 28, 1); default flat.
    clip_values: (min, max) of valid inputs, e.g. (0.0, 1.0); attacks keep adversarial examples inside.
    """
    return EnsembleArtClassifier(estimator, input_shape=input_shape, clip_values=clip_values,
                                 channels_first=channels_first)


def as_label_only(estimator, *, input_shape=None, clip_values=None, channels_first=False):
    """The decision-based threat model: an ART black-box classifier that answers one-hot labels only.

    It is an ART `BlackBoxClassifierNeuralNetwork` (a `BlackBoxClassifier` that also knows its channel
    order, which GeoDA reads). Queries are counted on the returned object's `scores` attribute (an `EnsembleArtClassifier`), which
    is also how it computes labels: argmax of the vote fractions, ties to `classes_[0]`.
    """
    scores = to_art(estimator, input_shape=input_shape, clip_values=clip_values, channels_first=channels_first)
    nb_classes = scores.nb_classes

    def predict_fn(x):
        return np.eye(nb_classes, dtype=np.float32)[np.argmax(scores.predict(x), axis=1)]

    victim = LabelOnlyClassifier(predict_fn, scores.input_shape, nb_classes, channels_first=channels_first,
                                 clip_values=clip_values)
    victim.scores = scores
    return victim
