"""TextAttack model wrapper over any fitted scd-plugins text model (raw strings -> featurizer -> estimator)."""
from __future__ import annotations

import numpy as np
from textattack.models.wrappers import ModelWrapper


class SCDModelWrapper(ModelWrapper):
    """Callable from `list[str]` to `(n, n_classes)` float64 class scores, columns in `model.classes_` order.

    `featurizer` maps raw documents to the estimator's features (pipelines.text.GloveFeaturizer: mean of
    L2-normalised word vectors); `model` is any fitted estimator with `predict_proba` (SCD01/SCDCE/BNN
    ensembles give vote fractions, the baselines their soft vote). `featurizer=None` hands the strings to
    the model itself (a raw-text model such as WordCNN). One featurization and one `predict_proba` per
    call, so a TextAttack batch of B candidates costs one ensemble product. Rows already sum to 1, so
    TextAttack's goal function uses them as they are (it softmaxes rows that do not).

    `fast` (default) computes GloVe mean features with `GloveSums` (bit-identical to the featurizer's
    `transform`, without its per-call vocabulary and sparse-matrix set-up); `fast=False` calls `transform`.
    """

    def __init__(self, model, featurizer=None, fast=True):
        for attr in ("predict_proba", "classes_"):
            if not hasattr(model, attr):
                raise TypeError(f"model must be a fitted classifier with `{attr}`, got {type(model).__name__}")
        if featurizer is not None and not hasattr(featurizer, "transform"):
            raise TypeError(f"featurizer must have `transform(list[str])`, got {type(featurizer).__name__}")
        self.model = model                 # TextAttack's goal function reads `.model`
        self.featurizer = featurizer
        self.fast = fast
        self._features = GloveSums(featurizer) if fast and GloveSums.supports(featurizer) else None

    def __call__(self, text_input_list, **kwargs):
        if isinstance(text_input_list, str) or not all(isinstance(t, str) for t in text_input_list):
            raise TypeError("SCDModelWrapper takes a list of strings")
        texts = list(text_input_list)
        n_classes = len(self.model.classes_)
        if not texts:
            return np.empty((0, n_classes), dtype=np.float64)
        if self.featurizer is None:
            features = texts
        elif self._features is not None:
            features = self._features.transform(texts)
        else:
            features = self.featurizer.transform(texts)
        scores = np.asarray(self.model.predict_proba(features), dtype=np.float64)
        if scores.shape != (len(texts), n_classes):
            raise ValueError(f"predict_proba returned shape {scores.shape}; expected {(len(texts), n_classes)}")
        return scores

    def _tokenize(self, inputs):
        """The featurizer's own tokens (what the model sees), for TextAttack helpers that ask."""
        if self.featurizer is None:
            return [text.split() for text in inputs]
        return [list(self.featurizer.tokenize(text)) for text in inputs]

    def __repr__(self) -> str:
        return f"SCDModelWrapper(model={type(self.model).__name__}, featurizer={type(self.featurizer).__name__})"


class GloveSums:
    """Mean-GloVe features equal, bit for bit, to `GloveFeaturizer.transform`, for many small calls.

    `transform` sums a document's unit word vectors in token order in float32 (a sparse count matrix times
    the vector table) and divides by the number of used tokens. An attack calls it for batches of
    near-identical documents, so here the token rows are looked up once per process in a growing table and
    the same left-to-right float32 sum runs over a zero-padded (docs, tokens) id block, one vectorised
    addition per token position: same additions in the same order, so the same features and decisions.

    Tokens are found chunk by chunk (the text's whitespace-separated pieces, each tokenized once per
    process) where `pipelines.text.tokenizes_by_chunk` says that gives the text's tokens (ASCII text
    without `<br>`). A candidate differs from its parent in one chunk, so this skips re-reading the
    other few hundred. Other texts are tokenized whole.
    """

    def __init__(self, featurizer):
        self.featurizer = featurizer
        self._index: dict[str, int] = {}
        self._table = np.zeros((1024, featurizer.dim), dtype=np.float32)   # row 0: zeros; grows by doubling
        self._n = 1
        self._chunks: dict[str, tuple] = {}           # whitespace-free chunk -> its tokens' rows
        from pipelines import text

        self._chunked = getattr(type(featurizer), "tokenize", None) is text.GloveFeaturizer.tokenize
        self._by_chunk = text.tokenizes_by_chunk
        self._tokenize = text.tokenize

    @staticmethod
    def supports(featurizer) -> bool:
        return type(featurizer).__name__ == "GloveFeaturizer" and getattr(featurizer, "oov", None) in ("random",
                                                                                                      "ignore")

    def _row(self, token: str) -> int:
        """Row of `token` in the table (0 = the zero row of padding and ignored unknown words)."""
        vector = self.featurizer.token_vector(token)
        if vector is None:
            self._index[token] = 0
            return 0
        if self._n == len(self._table):
            grown = np.zeros((2 * len(self._table), self._table.shape[1]), dtype=np.float32)
            grown[:self._n] = self._table
            self._table = grown
        self._table[self._n] = np.asarray(vector, dtype=np.float32)
        self._index[token] = self._n
        self._n += 1
        return self._n - 1

    def _ids(self, text) -> list[int]:
        """Table rows of the featurizer's tokens of `text`, in order."""
        index, row = self._index, self._row
        if not (self._chunked and self._by_chunk(text)):
            return [index[t] if t in index else row(t) for t in self.featurizer.tokenize(text)]
        chunks, out = self._chunks, []
        if len(chunks) > 500_000:
            chunks.clear()
        for chunk in text.split():
            rows = chunks.get(chunk)
            if rows is None:
                rows = chunks[chunk] = tuple(index[t] if t in index else row(t) for t in self._tokenize(chunk))
            out.extend(rows)
        return out

    def transform(self, texts) -> np.ndarray:
        dim = self.featurizer.dim
        ids = [self._ids(text) for text in texts]
        table = self._table
        width = max(map(len, ids), default=0)
        padded = np.zeros((len(ids), max(width, 1)), dtype=np.int64)
        for b, doc in enumerate(ids):
            padded[b, :len(doc)] = doc
        counts = np.count_nonzero(padded, axis=1).astype(np.float32)
        sums = np.zeros((len(ids), dim), dtype=np.float32)
        for column in padded.T:                    # token by token, left to right: the featurizer's order
            sums += table[column]
        return np.divide(sums, counts[:, None], out=np.zeros_like(sums), where=counts[:, None] > 0)
