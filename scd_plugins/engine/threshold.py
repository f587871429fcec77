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

import torch

Score = Callable[[torch.Tensor], torch.Tensor]


def below_smallest(sorted_p: torch.Tensor) -> torch.Tensor:
    """The admissible threshold under every sample: half a gap below the smallest value."""
    lowest = sorted_p[0]
    above = sorted_p[sorted_p > lowest]
    gap = above[0] - lowest if len(above) else torch.ones((), dtype=sorted_p.dtype, device=sorted_p.device)
    return lowest - gap / 2


def full_search(p: torch.Tensor, gains: torch.Tensor, base: torch.Tensor, score: Score):
    """Best admissible threshold over all n samples: one sort, then suffix sums (O(n log n)).

    p: (n,) projections; gains: (n, K); base: (K,). Returns (threshold, best score) as 0-d tensors.
    """
    ps, order = torch.sort(p, stable=True)
    suffix = gains[order].flip(0).cumsum(0).flip(0)  # suffix[j]: gains of sorted samples j.. (on above a split before j)
    scores = score(base + suffix)
    admissible = torch.ones_like(ps, dtype=torch.bool)
    admissible[1:] = ps[1:] > ps[:-1]
    scores = torch.where(admissible, scores, torch.full_like(scores, -torch.inf))
    j = int(torch.argmax(scores))  # first maximum: the lowest threshold among equals
    threshold = below_smallest(ps) if j == 0 else (ps[j - 1] + ps[j]) / 2
    return threshold, scores[j]


def window_search(P: torch.Tensor, t0: torch.Tensor, gains: torch.Tensor, base: torch.Tensor,
                  score: Score, interval: int):
    """Best admissible threshold near t0 for each candidate row of P (C, n).

    The window is the 2 * interval projections nearest to t0 (a block of ranks around t0; top-k,
    O(n) per candidate instead of a sort), less those at its outer distance. Splits between distinct values inside it are
    scored by accumulating gains outward from the current split, which is itself always a candidate
    (at t0 when the block has no neighbour on one side). All candidates share the per-sample gains
    (n, K). Returns (scores (C,), thresholds (C,)); argmax over the window picks the lowest
    threshold among equals.
    """
    C, n = P.shape
    k = max(1, min(2 * interval, n))
    D = P - t0
    on = D > 0
    current = base + on.to(gains.dtype) @ gains  # (C, K): the split at t0
    distance = D.abs_()
    nearest, idx = torch.topk(distance, k, dim=1, largest=False, sorted=False)
    values, order = torch.sort(P.gather(1, idx), dim=1, stable=True)
    idx = idx.gather(1, order)
    # Values at the window's outer distance may be only partly gathered (ties): no split touches them,
    # so the result does not depend on which tied values top-k returned.
    inside = distance.gather(1, idx) < nearest.max(dim=1, keepdim=True).values
    # prefix[j]: gains of the j lowest window values; split j puts window values j.. on.
    prefix = torch.cat([torch.zeros_like(gains[:1]).expand(C, 1, -1), gains[idx].cumsum(1)], dim=1)
    j0 = (values <= t0).sum(1)  # the current split
    at_j0 = prefix.gather(1, j0[:, None, None].expand(-1, 1, prefix.shape[2]))
    scores = score(current[:, None, :] - (prefix - at_j0))  # (C, k + 1)
    admissible = torch.zeros_like(scores, dtype=torch.bool)
    admissible[:, 1:k] = (values[:, 1:] > values[:, :-1]) & inside[:, 1:] & inside[:, :-1]
    rows = torch.arange(C, device=P.device)
    admissible[rows, j0] = True
    scores = torch.where(admissible, scores, torch.full_like(scores, -torch.inf))
    mid = torch.full_like(scores, float(t0))  # at a window edge the current split stays at t0
    mid[:, 1:k] = (values[:, 1:] + values[:, :-1]) / 2
    best = torch.argmax(scores, dim=1)
    return scores[rows, best], mid[rows, best]
