"""TextAttack model wrapper over any fitted scd-plugins text model (raw strings -> featurizer -> estimator)."""
from __future__ import annotations

import numpy as np
from textattack.models.wrappers import ModelWrapper


class SCDModelWrapper(ModelWrapper):
    """Callable from `list[str]` to `(n, n_classes)` float64 class scores, columns in `model.classes_` order.

    `featurizer` maps raw documents to the estimator's features (pipelines.text.GloveFeaturizer: mean of
    L2-normalised word vectors); `model` is any fitted estimator with `predict_proba` (SCD01/SCDCE/BNN
    ensembles give vote fractions, the baselines their soft vote). One `transform` and one `predict_proba`
    per call, so a TextAttack batch of B candidates costs one ensemble product. Rows already sum to 1,
    so TextAttack's goal function uses them as they are (it softmaxes rows that do not).
    """

    def __init__(self, model, featurizer):
        for attr in ("predict_proba", "classes_"):
            if not hasattr(model, attr):
                raise TypeError(f"model must be a fitted classifier with `{attr}`, got {type(model).__name__}")
        if not hasattr(featurizer, "transform"):
            raise TypeError(f"featurizer must have `transform(list[str])`, got {type(featurizer).__name__}")
        self.model = model                 # TextAttack's goal function reads `.model`
        self.featurizer = featurizer

    def __call__(self, text_input_list, **kwargs):
        if isinstance(text_input_list, str) or not all(isinstance(t, str) for t in text_input_list):
            raise TypeError("SCDModelWrapper takes a list of strings")
        texts = list(text_input_list)
        n_classes = len(self.model.classes_)
        if not texts:
            return np.empty((0, n_classes), dtype=np.float64)
        features = self.featurizer.transform(texts)
        scores = np.asarray(self.model.predict_proba(features), dtype=np.float64)
        if scores.shape != (len(texts), n_classes):
            raise ValueError(f"predict_proba returned shape {scores.shape}; expected {(len(texts), n_classes)}")
        return scores

    def _tokenize(self, inputs):
        """The featurizer's own tokens (what the model sees), for TextAttack helpers that ask."""
        return [list(self.featurizer.tokenize(text)) for text in inputs]

    def __repr__(self) -> str:
        return f"SCDModelWrapper(model={type(self.model).__name__}, featurizer={type(self.featurizer).__name__})"
