"""The CE output step: the current weights' best threshold, then every candidate output move's.

A candidate (weight pos[c] by steps[:, c]) is searched by `search.ce_threshold_counts` over its
terms, a Newton solve and two scored options over every distinct projection. On the CPU most of
those searches are skipped: the mean BCE is convex in the threshold, so a candidate's value L,
slope g and curvature H at the current threshold t2 bound from below the loss of every threshold
it can reach (`lower_bounds`), and all three follow for every candidate at once from passes over
the distinct projections at the few distinct steps, since a move shifts a projection by its step
or not at all. A candidate whose bound exceeds the loss of the current weights, or of the most
promising candidate once that one is searched, cannot be chosen; it is not searched and scores
-inf. The move chosen (argmax, the first among equals, and only if it beats the current weights)
is the one the full search chooses, threshold and score bit for bit. The accelerator path searches
every candidate: skipping would need host reads.
"""
from __future__ import annotations

import torch

from scd_plugins.engine import search
from scd_plugins.engine.host import host_path

_EPS = torch.finfo(torch.float64).eps


def lower_bounds(values, held, pattern, ones, pos, steps, t2, n):
    """A lower bound (G, C) on the mean BCE that `search.ce_threshold_counts` can report for each
    candidate move, from `search.output_bins`' values (G, U), held (G, U, 2) and pattern or ones.

    With x = |g| / H, the convex loss is at least L - H (x + (1 - x) log(1 - x)) at every threshold
    (its curvature at distance d from t2 is at least H e^-|d|, since |d/dz log sigmoid'(z)| =
    |1 - 2 sigmoid(z)| < 1; no bound where x >= 1); reported losses are within one QUANTUM of the
    exact ones, and the float sums here within `margin`."""
    G, U = values.shape
    shifts = torch.unique(steps)  # the distinct steps: two for every family
    K = len(shifts)
    z = values[:, None, :] - t2[:, None, None] + torch.cat([shifts.new_zeros(1), shifts])[None, :, None]
    sp, s = torch.nn.functional.softplus(z), torch.sigmoid(z)  # (G, K + 1, U): at shift 0, then each step
    curvature = s * (1 - s)
    weight, positive = (held[..., 0] + held[..., 1])[:, None], held[..., 1][:, None]

    def per_value(loss, w):  # a value's samples' loss, sigmoid and sigmoid' sums (G, K + 1, U, 3)
        return torch.stack([loss, s * w, curvature * w], dim=-1)

    def moved(f):  # what the samples add when their value shifts by each step (G, K * 3, U)
        return (f[:, 1:] - f[:, :1]).transpose(2, 3).reshape(G, K * 3, U)

    f = per_value(sp * weight - z * positive, weight)
    base = f[:, 0].sum(1)  # every sample at shift 0 (G, 3)
    if pattern is not None:  # (G, K * 3, U) @ (G, U, h): both operands contiguous
        on = torch.bmm(moved(f), pattern)
    else:  # by class: the samples with the bit on (ones (G, U, 2, h))
        on = sum(torch.bmm(moved(per_value(sp - z * c, 1.0)), ones[:, :, c]) for c in (0, 1))
    on = on.reshape(G, K, 3, -1).transpose(2, 3)  # (G, K, h, 3)
    k = torch.searchsorted(shifts, steps.contiguous())  # (G, C): each candidate's shift
    terms = base[:, None, :] + on[torch.arange(G)[:, None], k, pos.expand(G, -1)]  # (G, C, 3)
    magnitude = (weight * (sp + z.abs())).sum((1, 2)) / n  # summed |terms| of the loss, per vote
    margin = (64 * (U + 1) * _EPS * (2 + magnitude))[:, None]
    L, g, H = terms[..., 0] / n, (terms[..., 1] - held[..., 1].sum(1)[:, None]) / n, terms[..., 2] / n
    slope, curve = g.abs() + margin, H - margin
    x = slope / curve.clamp_min(1e-300)
    bounded = (curve > 0) & (x < 1)
    x = torch.where(bounded, x, torch.zeros_like(x))
    drop = slope + (curve - slope) * torch.log1p(-x)
    bound = L - margin - drop - 1.01 * search.QUANTUM - 1e-15
    return torch.where(bounded, bound, torch.full_like(bound, -torch.inf))


BOUND_FROM = 1 << 14  # a vote's candidate terms from which bounds pay (below, one search of every candidate)


def output_search(q, A, y, pos, steps, t_start, n):
    """The CE output step's searches. q (G, n) output projections, A (G, n, h) activations, y (G, n)
    labels, candidates pos (C,) / steps (G, C), t_start (G,) the current threshold. Returns t2 and
    current (G,), the current weights' best threshold and its score, and thresholds and scores (G, C),
    the candidates' (-inf: a candidate that cannot be chosen, CPU only, where a vote's candidates hold
    BOUND_FROM terms or more: SCDCE's real weights, not SCDCEBNN's sign weights, whose output
    projection takes at most 2h + 1 values)."""
    if not host_path(q):
        now, moves = search.ce_output_terms(q, A, y, pos, steps)
        t2, current = (x[:, 0] for x in search.ce_threshold_counts(*now, t_start, n))
        return t2, current, *search.ce_threshold_counts(*moves, t2, n)
    bins = search.output_bins(q, A, y)
    t2, current = (x[:, 0] for x in search.ce_threshold_counts(*search.value_terms(*bins[:2]), t_start, n))
    if len(pos) * bins[0].shape[1] * (1 if bins[2] is not None else 2) < BOUND_FROM:
        return t2, current, *search.ce_threshold_counts(*search.output_candidates(*bins, pos, steps), t2, n)
    bound = lower_bounds(*bins, pos, steps, t2, n)
    thresholds = t2[:, None].expand_as(bound).clone()
    scores = torch.full_like(bound, -torch.inf)
    # The most promising candidate of each vote first; then every other one that might still beat it.
    first = bound.argmin(1)
    votes = torch.nonzero(bound.gather(1, first[:, None])[:, 0] <= -current).flatten()
    if len(votes):
        thresholds[votes, first[votes]], scores[votes, first[votes]] = _search(bins, pos, steps, t2, n, votes,
                                                                               first[votes])
    best = torch.minimum(-current, -scores.amax(1))  # the loss to beat, per vote
    votes, cands = torch.nonzero((bound <= best[:, None]) & (scores == -torch.inf), as_tuple=True)
    if len(votes):
        thresholds[votes, cands], scores[votes, cands] = _search(bins, pos, steps, t2, n, votes, cands)
    return t2, current, thresholds, scores


def _search(bins, pos, steps, t2, n, votes, cands):
    """`search.ce_threshold_counts` over candidate cands[i] of vote votes[i], each a row of its own: (R,) each."""
    terms = search.output_candidates(*bins, pos[cands, None], steps[votes, cands, None], votes)
    thresholds, scores = search.ce_threshold_counts(*terms, t2[votes], n)
    return thresholds[:, 0], scores[:, 0]
