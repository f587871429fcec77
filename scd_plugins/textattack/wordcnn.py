"""TextAttack model wrapper for raw-text models (`input_kind = "text"`, e.g. WordCNNClassifier).

Unlike `SCDModelWrapper`, which turns documents into averaged word vectors before the estimator, a
raw-text model tokenizes and embeds word sequences itself: strings go straight to `predict_proba`.
"""
from __future__ import annotations

import numpy as np
from textattack.models.wrappers import ModelWrapper

__all__ = ["WordCNNModelWrapper", "is_text_model"]


def is_text_model(model) -> bool:
    """True for estimators that take raw documents (`input_kind = "text"`)."""
    return getattr(model, "input_kind", None) == "text"


class WordCNNModelWrapper(ModelWrapper):
    """Callable from `list[str]` to `(n, n_classes)` float64 class probabilities (the ensemble's soft or
    hard vote), columns in `model.classes_` order; one `predict_proba` per TextAttack batch."""

    def __init__(self, model):
        if not is_text_model(model):
            raise TypeError(f"WordCNNModelWrapper needs a raw-text model (input_kind = 'text'), "
                            f"got {type(model).__name__}; use SCDModelWrapper with a featurizer")
        if not hasattr(model, "classes_"):
            raise TypeError(f"model must be fitted, got an unfitted {type(model).__name__}")
        self.model = model                 # TextAttack's goal function reads `.model`

    def __call__(self, text_input_list, **kwargs):
        if isinstance(text_input_list, str) or not all(isinstance(t, str) for t in text_input_list):
            raise TypeError("WordCNNModelWrapper takes a list of strings")
        texts = list(text_input_list)
        n_classes = len(self.model.classes_)
        if not texts:
            return np.empty((0, n_classes), dtype=np.float64)
        scores = np.asarray(self.model.predict_proba(texts), dtype=np.float64)
        if scores.shape != (len(texts), n_classes):
            raise ValueError(f"predict_proba returned shape {scores.shape}; expected {(len(texts), n_classes)}")
        return scores

    def _tokenize(self, inputs):
        """The tokens the model reads (after its length cut), for TextAttack helpers that ask."""
        return [self.model.tokens(text) for text in inputs]

    def __repr__(self) -> str:
        return f"WordCNNModelWrapper(model={type(self.model).__name__})"
