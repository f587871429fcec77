"""Exact threshold search for a node that is "on" when its projection p exceeds a threshold t.

Both searches score a split through additive counters: `base` holds the counters when every sample is
off and `gains[i]` what sample i adds when it is on, so the counters of any split are `base` plus the
gains of the samples above it. For the 0-1 objectives the counters are integer counts held in float64,
so every sum is exact whatever the summation order; `score` turns counters into the objective (higher
is better).

Admissible thresholds are one below the smallest projection and the midpoints between consecutive
*distinct* sorted projections: a threshold never falls inside a group of tied values, so the split
that is scored is the split that is stored (the reference code's tie bug).

Ties between equally good thresholds go to the lowest threshold; between candidates, to the first.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

Score = Callable[[torch.Tensor], torch.Tensor]


def argsort(x: torch.Tensor) -> torch.Tensor:
    """Ascending order along the last dim: NumPy's vectorised sort on the CPU (several times faster
    than torch's there), torch's on other devices.

    Ties may come in any (deterministic) order: the searches never split a group of tied values, so
    the counters of every admissible split are the same sums (exactly, for the integer 0-1 counters).
    """
    if x.device.type == "cpu":
        return torch.from_numpy(np.argsort(x.numpy(), axis=-1, kind="quicksort"))
    return torch.argsort(x, dim=-1)


def below_smallest(sorted_p: torch.Tensor) -> torch.Tensor:
    """The admissible threshold under every sample: half a gap below the smallest value."""
    lowest = sorted_p[0]
    above = sorted_p[sorted_p > lowest]
    gap = above[0] - lowest if len(above) else torch.ones((), dtype=sorted_p.dtype, device=sorted_p.device)
    return lowest - gap / 2


def suffix_sums(gains: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """(n + 1, K): row j holds the gains of sorted samples j.. (all on above a split before j); row n is 0."""
    return torch.cat([gains[order].flip(0).cumsum(0).flip(0), torch.zeros_like(gains[:1])])


def full_search(p: torch.Tensor, gains: torch.Tensor, base: torch.Tensor, score: Score,
                order: torch.Tensor | None = None, suffix: torch.Tensor | None = None):
    """Best admissible threshold over all n samples: one sort, then suffix sums (O(n log n)).

    p: (n,) projections; gains: (n, K); base: (K,); order = argsort(p) and suffix =
    suffix_sums(gains, order) when the caller has them. Returns (threshold, best score) as 0-d tensors.
    """
    if order is None:
        order = argsort(p)
    if suffix is None:
        suffix = suffix_sums(gains, order)
    ps = p[order]
    scores = score(base + suffix[:-1])
    admissible = torch.ones_like(ps, dtype=torch.bool)
    admissible[1:] = ps[1:] > ps[:-1]
    scores = torch.where(admissible, scores, torch.full_like(scores, -torch.inf))
    j = int(torch.argmax(scores))  # first maximum: the lowest threshold among equals
    threshold = below_smallest(ps) if j == 0 else (ps[j - 1] + ps[j]) / 2
    return threshold, scores[j]


def window_search(P: torch.Tensor, t0: torch.Tensor, gains: torch.Tensor, base: torch.Tensor,
                  score: Score, interval: int):
    """Best admissible threshold near t0 for each candidate row of P (C, n), exact float64 throughout."""
    zero = torch.zeros(P.shape[0], dtype=P.dtype, device=P.device)
    return screened_window_search(P - t0, zero, lambda rows, idx: P[rows[:, None], idx], t0, gains, base,
                                  score, interval)


def screened_window_search(E: torch.Tensor, err: torch.Tensor, exact_values: Callable, t0: torch.Tensor,
                           gains: torch.Tensor, base: torch.Tensor, score: Score, interval: int,
                           row_scale: torch.Tensor | None = None, outside: torch.Tensor | None = None,
                           reach: torch.Tensor | None = None):
    """Best admissible threshold near t0 for each candidate, screening with approximate distances.

    E (C, n): approximate signed distances (P - t0) * row_scale (float32 is enough; overwritten;
    a positive per-row scale changes neither signs nor ranks), with |E / row_scale - (P - t0)| <= err.
    `exact_values(rows, idx)` returns the exact projections P at rows (C',) and per-row sample
    indices (C', k). The window is the 2 * interval values nearest to t0 (a block of ranks around
    t0; top-k, O(n) per candidate instead of a sort). Only values provably nearer than everything left out
    of the window take part in splits, and signs near t0 are settled with the exact values, so the
    result is exact whatever the precision of E. The current split is always a candidate (stored
    at t0 unless both its neighbours are provably inside the window, so the result does not depend on
    which values tied at the window's edge top-k kept). All candidates share the per-sample
    gains (n, K). Returns (scores (C,), thresholds (C,)); among equal scores the lowest threshold.

    `outside` (C,), when given, says E holds only some of the samples: every sample left out is
    farther than outside[c] from t0 in every candidate, and its side is already counted in `base`
    ((K,) or per candidate (C, K)). A third result then marks the rows whose window may reach past
    outside[c] (it cannot be proven to be the same window as over all samples): the caller redoes
    those with every sample.
    `reach` (C,), when given, is a guess of each window's reach in units of E: it only makes the
    top-k cheaper (`smallest`), the result is the same whatever it is.
    """
    C, n = E.shape
    k = max(1, min(2 * interval, n))
    on_approx = (E > 0).to(gains.dtype)
    # (C, K) counters of the split at t0, up to signs near t0; one matrix-vector product per counter
    # (much faster than a skinny matrix product).
    current = base + torch.stack([on_approx @ gains[:, j] for j in range(gains.shape[1])], dim=1)
    distance = E.abs_()
    nearest, idx = smallest(distance, k, reach)
    rows = torch.arange(C, device=E.device)
    values = exact_values(rows, idx).to(torch.float64)
    order = argsort(values)
    values, idx = values.gather(1, order), idx.gather(1, order)
    g = gains[idx]  # (C, k, K)
    on = values > t0
    fix = on.to(g.dtype) - on_approx.gather(1, idx)  # window signs settled exactly
    current = current + (fix[:, :, None] * g).sum(1)
    # A value takes part in splits only if it is provably nearer than every value left out.
    edge = nearest.max(dim=1).values.to(torch.float64)
    if row_scale is not None:
        edge = edge / row_scale
    inside = (values - t0).abs() < (edge - 2 * err)[:, None]
    reliable = (edge > 2 * err) | (err == 0) | (k == n)
    # prefix[j]: gains of the j lowest window values; split j puts window values j.. on.
    prefix = torch.cat([torch.zeros_like(gains[:1]).expand(C, 1, -1), g.cumsum(1)], dim=1)
    j0 = (~on).sum(1)  # the current split
    at_j0 = prefix.gather(1, j0[:, None, None].expand(-1, 1, prefix.shape[2]))
    scores = score(current[:, None, :] - (prefix - at_j0))  # (C, k + 1)
    admissible = torch.zeros_like(scores, dtype=torch.bool)
    admissible[:, 1:k] = (values[:, 1:] > values[:, :-1]) & inside[:, 1:] & inside[:, :-1]
    admissible[rows, j0] = True
    scores = torch.where(admissible, scores, torch.full_like(scores, -torch.inf))
    mid = torch.full_like(scores, float(t0))  # at a window edge the current split stays at t0
    mid[:, 1:k] = (values[:, 1:] + values[:, :-1]) / 2
    # ... and also unless both its neighbours are inside: an edge value there is top-k's choice among ties.
    flanked = (inside.gather(1, (j0 - 1).clamp_min(0)[:, None])[:, 0] & inside.gather(1, j0.clamp_max(k - 1)[:, None])[:, 0]
               & (j0 > 0) & (j0 < k))
    mid[rows, j0] = torch.where(flanked, mid[rows, j0], mid[:, 0])
    best = torch.argmax(scores, dim=1)
    best_scores, thresholds = scores[rows, best], mid[rows, best]
    if not bool(reliable.all()):  # values too close to t0 for the screen: redo those rows exactly
        redo = torch.nonzero(~reliable).flatten()
        every = torch.arange(n, device=E.device).expand(len(redo), n)
        exact = exact_values(redo, every).to(torch.float64)
        best_scores[redo], thresholds[redo] = screened_window_search(
            exact - t0, torch.zeros(len(redo), dtype=torch.float64, device=E.device),
            lambda r, i: exact_values(redo[r], i), t0, gains, base if base.dim() == 1 else base[redo], score,
            interval)
        reliable[redo] = True
        edge[redo] = (exact - t0).abs().topk(k, dim=1, largest=False).values.max(dim=1).values
        err = torch.where(reliable, err, torch.zeros_like(err))
    if outside is None:
        return best_scores, thresholds
    truncated = ~(edge + 2 * err < outside)  # samples left out might be nearer than the window's edge
    return best_scores, thresholds, truncated


def smallest(distance: torch.Tensor, k: int, reach: torch.Tensor | None = None):
    """The k smallest entries of each row of `distance` (C, n) and their columns, like torch.topk.

    torch.topk costs about as much for a short row as for a long one; with a guess `reach` (C,)
    of each row's k-th smallest value, the entries below the guess (a few times k) are gathered
    first and only they go through top-k. Rows with fewer than k entries below the guess take the
    plain top-k, so the answer never depends on the guess.
    """
    if reach is None or k >= distance.shape[1]:
        return torch.topk(distance, k, dim=1, largest=False, sorted=False)
    below = distance < reach[:, None]
    counts = below.sum(1)
    short = counts < k
    rows, cols = below.nonzero(as_tuple=True)  # grouped by row, in row order
    width = max(k, int(counts.max()))
    slot = torch.arange(len(rows), device=distance.device) - (counts.cumsum(0) - counts)[rows]
    packed = torch.full((distance.shape[0], width), torch.inf, dtype=distance.dtype, device=distance.device)
    packed[rows, slot] = distance[rows, cols]
    columns = torch.zeros(packed.shape, dtype=torch.long, device=distance.device)
    columns[rows, slot] = cols
    nearest, pick = torch.topk(packed, k, dim=1, largest=False, sorted=False)
    idx = columns.gather(1, pick)
    if bool(short.any()):
        redo = torch.nonzero(short).flatten()
        nearest[redo], idx[redo] = torch.topk(distance[redo], k, dim=1, largest=False, sorted=False)
    return nearest, idx


def move_band(sorted_p: torch.Tensor, t0: torch.Tensor, steps: torch.Tensor, norms: torch.Tensor,
              x_low: torch.Tensor, x_high: torch.Tensor, radius: float):
    """The block [a, b) of sorted projections that rank-1 moves can bring within `radius` of t0.

    A move turns projection p into (p + step * x) / norm with x in [x_low, x_high] (per candidate),
    so a sample whose p lies outside the band stays farther than `radius` from t0 in every
    candidate, and on the same side as now: those below a stay off, those from b on stay on. The
    window search then only needs the samples inside the band: for pixel data that is the samples
    within about one step of t0, often a small part of the batch.
    """
    tau = t0 * norms  # on iff p + step * x > tau
    shift_low = torch.minimum(steps * x_low, steps * x_high)
    shift_high = torch.maximum(steps * x_low, steps * x_high)
    low = (tau - shift_high - radius * norms).min().reshape(1)
    high = (tau - shift_low + radius * norms).max().reshape(1)
    a = int(torch.searchsorted(sorted_p, low))
    b = int(torch.searchsorted(sorted_p, high, right=True))
    return a, b
