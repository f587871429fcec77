"""The float32 screen of the hidden node's move search, as one compiled pass per candidate (CPU).

For each candidate move c of vote g the screen needs, over a block of L samples l, the signed distance
E = p[l] + step * x[l] - t0 * norm in float32, and from it: the counters of the samples it puts on, the
samples near enough to t0 that they may be in the candidate's window (S': within 2 err of the k-th
smallest |E|), and E's side of t0 at those. As separate tensor operations that is a gather of the
inputs and some ten passes over G x C x L numbers; here it is one loop over a row that stays in the
cache (numba). With it the screened search went from 1.19x to 2.34x the speed of the float64 search
(`benchmarks/screen_speed.py`, SCD01 in groups of 8 at CIFAR scale). `search._screened_block`
settles S' in float64.

The k-th smallest |E| of a row is found among few entries: the k-th smallest of the minima of 4k
interleaved blocks of the row bounds it from above (each of those k minima is an entry under it), and
about 1.15 k entries lie under that bound on rows in random order.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class Lookup(NamedTuple):
    """A block's inputs, described rather than gathered: x[g, c, l] = table[matrix[features[g, c],
    samples[g, l]]] (table None: the matrix's own values, rounded to float32)."""

    matrix: np.ndarray  # (d, N): uint8 codes, or float64 values
    table: np.ndarray | None  # float32 (V,): the codes' values rounded
    features: np.ndarray  # (G, C) int64
    samples: np.ndarray  # (G, L) int64


def screen_rows(inputs: Lookup, p: np.ndarray, steps: np.ndarray, offset: np.ndarray, gains: np.ndarray,
                err: np.ndarray, k: int):
    """The screen of every candidate of every vote.

    p (G, L) float32 projections of the block's samples, steps / offset (G, C) float32 (offset = t0 *
    norm), gains (G, K, L) int64 (counters in integer units), err (G, C) float64 the rounding bound on E,
    k <= L the window's size. Returns (inside (G, C, K) int64: the gains of the samples E puts on;
    columns (R,) int64 and sides (R,) bool: S' of each row (vote-major, then candidate), in column order,
    and E > 0 there; counts (G, C) int64, the size of each row's S', at least k).
    """
    G, C = inputs.features.shape
    if inputs.samples.shape != p.shape or steps.shape != (G, C) or gains.shape[::2] != p.shape:
        raise ValueError("screen_rows: inconsistent shapes")
    if not 1 <= k <= p.shape[1]:
        raise ValueError(f"screen_rows: k = {k} outside [1, {p.shape[1]}]")
    arrays = (inputs.matrix, inputs.table, inputs.features, inputs.samples, p, steps, offset, gains, err)
    return _screen(*(None if a is None else np.ascontiguousarray(a) for a in arrays), k)


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
def _screen(matrix, table, features, samples, p, steps, offset, gains, err, k):
    G, C = features.shape
    L = samples.shape[1]
    K = gains.shape[1]
    blocks = 4 * k
    E = np.empty(L, np.float32)
    minima = np.empty(blocks, np.float32)
    near = np.empty(L, np.float32)
    near_at = np.empty(L, np.int64)
    scratch = np.empty(L, np.float32)
    inside = np.zeros((G, C, K), np.int64)
    counts = np.zeros((G, C), np.int64)
    columns = np.empty(G * C * 2 * k + L, np.int64)  # grown when full
    sides = np.empty(len(columns), np.bool_)
    used = 0
    for g in range(G):
        pg, sg, gg = p[g], samples[g], gains[g]
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
                inside[g, c, j] = total
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
            if used + L > len(columns):
                grown = np.empty(2 * len(columns) + L, np.int64)
                grown[:used] = columns[:used]
                columns = grown
                grown_sides = np.empty(len(columns), np.bool_)
                grown_sides[:used] = sides[:used]
                sides = grown_sides
            start = used
            if cut <= bound:  # S' lies among the entries under the bound
                for j in range(m):
                    if near[j] <= cut:
                        columns[used] = near_at[j]
                        sides[used] = E[near_at[j]] > 0
                        used += 1
            else:
                for i in range(L):
                    if abs(E[i]) <= cut:
                        columns[used] = i
                        sides[used] = E[i] > 0
                        used += 1
            counts[g, c] = used - start
    return inside, columns[:used], sides[:used], counts
