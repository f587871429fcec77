"""The hidden node's move search over a block, screened in float32 and settled in float64, as one
compiled pass per candidate (CPU).

For each candidate move c of vote g, over a block of L samples l, the screen computes the signed
distance E = p[l] + step * x[l] - t0 * norm in float32, and from it the counters of the samples it
puts on and S': the samples within 2 err of the k-th smallest |E| (err bounds E's rounding), which
hold every sample of the candidate's window and every sample whose side of t0 E may get wrong. S'
(about 1.2 k samples) is then settled exactly: float64 values as `search.moved` computes them, the
counters corrected where E's side was wrong, and `search.window_search` over S' alone, with its
arithmetic operation for operation. So the result is that of the float64 search over the whole
block bit for bit, and the float64 work is done on about 1.2 k samples a candidate, not L. As tensor
operations that was a gather of the inputs, ten passes over G x C x L numbers and a window search
over G x C x |S'| more; here it is one loop over a row that stays in the cache (numba).

The k-th smallest |E| of a row is found among few entries: the k-th smallest of the minima of 4k
interleaved blocks of the row bounds it from above (each of those k minima is an entry under it), and
about 1.15 k entries lie under that bound on rows in random order.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class Lookup(NamedTuple):
    """A block's inputs, described rather than gathered: x[g, c, l] = exact[matrix[features[g, c],
    samples[g, l]]], rounded to float32 as table[...] (table and exact None: the matrix's own values)."""

    matrix: np.ndarray  # (d, N): uint8 codes, or float64 values
    table: np.ndarray | None  # float32 (V,): the codes' values rounded
    exact: np.ndarray | None  # float64 (V,): the codes' values
    features: np.ndarray  # (G, C) int64
    samples: np.ndarray  # (G, L) int64


class Scoring(NamedTuple):
    """A score the compiled search evaluates: kind 0, `objective.ZeroOne` with terms (alpha, beta, n, n0,
    n1); kind 1, minus the mean of a cross-entropy counter, terms (n,)."""

    kind: int
    terms: tuple


def screened_search(inputs: Lookup, p: np.ndarray, steps: np.ndarray, norms: np.ndarray, t0: np.ndarray,
                    gains: np.ndarray, outside: np.ndarray, unit: float, scoring: Scoring, k: int,
                    err: np.ndarray):
    """The best (score, threshold) near t0 of every candidate move over the block, and its window's edge.

    p (G, L) float64 projections of the block's samples; candidate c of vote g moves them to
    (p + x * steps[g, c]) / norms[g, c] (G, C); t0 (G,). gains (G, K, L) int64: what each sample adds to
    the counters when on, in units of `unit`; outside (G, K) float64: the counters of every sample
    outside the block (off below it, on above). k <= L the window's size; err (G, C) a bound on the
    rounding of E in float32 (see `search._screened_block`). Returns (scores, thresholds, edges), (G, C)
    float64 each, as `search.window_search` gives them over the block's exact values.
    """
    G, C = inputs.features.shape
    if (inputs.samples.shape != p.shape or steps.shape != (G, C) or norms.shape != (G, C) or
            gains.shape[::2] != p.shape or outside.shape != (G, gains.shape[1]) or t0.shape != (G,)):
        raise ValueError("screened_search: inconsistent shapes")
    if not 1 <= k <= p.shape[1]:
        raise ValueError(f"screened_search: k = {k} outside [1, {p.shape[1]}]")
    if (inputs.table is None) != (inputs.exact is None):
        raise ValueError("screened_search: a code table needs both its float32 and its float64 values")
    offset = t0[:, None] * norms  # on iff p + step * x > t0 * norm
    arrays = (inputs.matrix, inputs.table, inputs.exact, inputs.features, inputs.samples, p.astype(np.float32),
              steps.astype(np.float32), offset.astype(np.float32), gains, err, p, steps, norms, t0, outside)
    return _screen(*(None if a is None else np.ascontiguousarray(a) for a in arrays[:10]), k,
                   *(np.ascontiguousarray(a, dtype=np.float64) for a in arrays[10:]), float(unit),
                   int(scoring.kind), np.asarray(scoring.terms, dtype=np.float64))


@njit(cache=True, nogil=True)
def kth_smallest(values, m, k, scratch):
    """The k-th smallest (1-based) of values[:m], k <= m, by Hoare's selection on a copy in scratch."""
    for i in range(m):
        scratch[i] = values[i]
    lo, hi, want = 0, m - 1, k - 1
    while lo < hi:
        pivot = scratch[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while scratch[i] < pivot:
                i += 1
            while scratch[j] > pivot:
                j -= 1
            if i <= j:
                scratch[i], scratch[j] = scratch[j], scratch[i]
                i += 1
                j -= 1
        if want <= j:
            hi = j
        elif want >= i:
            lo = i
        else:
            break
    return scratch[want]


@njit(cache=True, nogil=True)
def _gather_near(E, bound, near, near_at):
    """The entries of E with |E| <= bound (into near / near_at, in column order); returns their count."""
    m = 0
    for i in range(len(E)):
        distance = abs(E[i])
        if distance <= bound:
            near[m] = distance
            near_at[m] = i
            m += 1
    return m


@njit(cache=True, nogil=True)
def _block_bound(E, blocks, k, minima, scratch):
    """The k-th smallest of the minima of `blocks` interleaved blocks of |E| (blocks >= k, len(E) >= blocks):
    at least k entries of E lie at or under it."""
    L = len(E)
    for b in range(blocks):
        minima[b] = abs(E[b])
    for start in range(blocks, L - blocks + 1, blocks):
        for b in range(blocks):
            minima[b] = min(minima[b], abs(E[start + b]))
    tail = L - L % blocks
    for i in range(tail, L):
        minima[i - tail] = min(minima[i - tail], abs(E[i]))
    return kth_smallest(minima, blocks, k, scratch)


@njit(cache=True, nogil=True)
def _score(c0, c1, kind, terms):
    """The score of counters (c0, c1) with the arithmetic of `objective.ZeroOne` (kind 0: terms alpha,
    beta, n, n0, n1) or of the cross-entropy score (kind 1: c0 / terms[0]), operation for operation."""
    if kind == 0:
        return terms[0] * (c0 + c1) / terms[2] + terms[1] * 0.5 * (c1 / terms[4] + c0 / terms[3])
    return c0 / terms[0]


@njit(cache=True, nogil=True)
def _settle(m, values, distance, member_gains, counters, outside, unit, k, t0, kind, terms, window, prefix,
            scratch, c):
    """`search.window_search` of one candidate over its S' (m samples, exact values[:m], float32
    distances[:m], gains member_gains[:, :m]); counters (K,) its exact counters at t0 in units, besides
    outside (K,); c (2,) scratch for the counters of a split. Returns (score, threshold, edge).

    The window holds every sample at or inside the edge (the k-th smallest distance), in order of value:
    the samples tied at the edge shift every position alike, so the result is the one over any k of them.
    """
    edge = kth_smallest(distance, m, k, scratch)
    q = 0
    for j in range(m):  # insertion sort by value of the samples at or inside the edge (about 2k)
        if distance[j] <= edge:
            at = q
            while at > 0 and values[window[at - 1]] > values[j]:
                window[at] = window[at - 1]
                at -= 1
            window[at] = j
            q += 1
    K = len(counters)
    j0 = 0  # the current split: window values j0.. are on
    for j in range(q):
        if not values[window[j]] > t0:
            j0 = j + 1
    for r in range(K):
        prefix[r, 0] = 0
        for j in range(q):
            prefix[r, j + 1] = prefix[r, j] + member_gains[r, window[j]]
    best, best_at = -np.inf, -1
    c[:] = 0.0
    for j in range(q + 1):
        if j != j0:
            if j == 0 or j == q:
                continue
            lower, upper = window[j - 1], window[j]
            if not (values[upper] > values[lower] and distance[lower] < edge and distance[upper] < edge):
                continue
        for r in range(K):
            c[r] = outside[r] + (counters[r] - (prefix[r, j] - prefix[r, j0])) * unit
        s = _score(c[0], c[1], kind, terms)
        if s > best:  # the first maximum: the lowest threshold among equals
            best, best_at = s, j
    if best_at == j0:
        flanked = 0 < j0 < q and distance[window[j0 - 1]] < edge and distance[window[j0]] < edge
        threshold = (values[window[j0]] + values[window[j0 - 1]]) / 2 if flanked else t0
    else:
        threshold = (values[window[best_at]] + values[window[best_at - 1]]) / 2
    return best, threshold, np.float64(edge)


@njit(cache=True, nogil=True)
def _screen(matrix, table, exact, features, samples, p, steps, offset, gains, err, k, p64, steps64, norms64, t0,
            outside, unit, kind, terms):
    G, C = features.shape
    L = samples.shape[1]
    K = gains.shape[1]
    blocks = 4 * k
    E = np.empty(L, np.float32)
    minima = np.empty(blocks, np.float32)
    near = np.empty(L, np.float32)
    near_at = np.empty(L, np.int64)
    scratch = np.empty(L, np.float32)
    values = np.empty(L, np.float64)
    distance = np.empty(L, np.float32)
    member_gains = np.empty((K, L), np.int64)
    window = np.empty(L, np.int64)
    prefix = np.empty((K, L + 1), np.int64)
    counters = np.empty(K, np.int64)
    split = np.zeros(2, np.float64)  # a split's counters (the second stays 0 for one counter)
    scores = np.empty((G, C), np.float64)
    thresholds = np.empty((G, C), np.float64)
    edges = np.empty((G, C), np.float64)
    for g in range(G):
        pg, sg, gg, pe, tg = p[g], samples[g], gains[g], p64[g], t0[g]
        reach = np.float32(np.inf)  # the previous candidate's: a guess at this one's
        for c in range(C):
            row, s, o = matrix[features[g, c]], steps[g, c], offset[g, c]
            for i in range(L):
                if table is None:
                    x = np.float32(row[sg[i]])
                else:
                    x = table[row[sg[i]]]
                E[i] = pg[i] + x * s - o
            for j in range(K):
                total = 0
                gj = gg[j]
                for i in range(L):
                    total += gj[i] * (E[i] > 0)  # integers: exact, and vectorised
                counters[j] = total
            # A bound on the k-th smallest |E|: twice the previous candidate's (checked: at least k entries
            # under it, and few enough to select from), else the blocks' bound.
            bound = np.float32(2) * reach
            m = _gather_near(E, bound, near, near_at)
            if m < k or m > 8 * k:
                bound = _block_bound(E, blocks, k, minima, scratch) if L >= blocks else np.float32(np.inf)
                m = _gather_near(E, bound, near, near_at)
                if m < k:
                    raise ValueError("screen: distances that are not numbers (NaN inputs?)")
            reach = kth_smallest(near, m, k, scratch)
            cut = np.nextafter(np.float32(np.float64(reach) + 2 * err[g, c]), np.float32(np.inf))  # rounded up
            if cut > bound:  # S' reaches past the entries under the bound: gather it again
                m = _gather_near(E, cut, near, near_at)
            # S' settled exactly: its float64 values, their distances as window_search rounds them, and the
            # counters corrected where the screen put a sample on the wrong side of t0.
            step, norm = steps64[g, c], norms64[g, c]
            size = 0
            for j in range(m):
                if near[j] <= cut:
                    i = near_at[j]
                    x64 = np.float64(row[sg[i]]) if exact is None else exact[row[sg[i]]]
                    v = (pe[i] + x64 * step) / norm  # search.moved: separate roundings
                    values[size] = v
                    distance[size] = abs(np.float32(v - tg))
                    fix = np.int64(v > tg) - np.int64(E[i] > 0)
                    for r in range(K):
                        member_gains[r, size] = gg[r, i]
                        counters[r] += fix * gg[r, i]
                    size += 1
            scores[g, c], thresholds[g, c], edges[g, c] = _settle(
                size, values, distance, member_gains, counters, outside[g], unit, k, tg, kind, terms, window,
                prefix, scratch, split)
    return scores, thresholds, edges
