"""Window search over rank-1 weight moves, for hidden and output nodes alike (spec section 5).

A node's projections over the batch are p (n,). Moving weight j by `step` (then dividing by `norm`,
1 when the family does not renormalise) turns them into (p + step * x_j) / norm, where x_j is the
input row of that weight (a pixel column for a hidden node, a hidden activation for the output).
Each candidate move is scored at the thresholds near the current one, t0, by `screened_window_search`.

What makes this cheap: samples are sorted by p once, and per sign of the step only the band of
samples that some move can bring near t0 is screened (`move_band`); the rest keep their side and
enter the counters as one suffix sum. The screen is float32 and every window is settled in float64,
so the result is the same as screening every sample.
"""
from __future__ import annotations

from typing import Callable

import torch

from scd_plugins.engine.threshold import Score, argsort, move_band, screened_window_search, suffix_sums

_U32 = float(torch.finfo(torch.float32).eps) / 2  # unit roundoff of float32


def moved(p, x, step, norm):
    """Projection after a move: one formula for windows and caches, so both are bit-identical."""
    return (p + step * x) / norm


def search_moves(p: torch.Tensor, t0: torch.Tensor, rows32: Callable, rows_exact: Callable,
                 positions: torch.Tensor, steps: torch.Tensor, norms: torch.Tensor, x_low: torch.Tensor,
                 x_high: torch.Tensor, gains: torch.Tensor, base: torch.Tensor, score: Score, interval: int,
                 order: torch.Tensor | None = None, suffix: torch.Tensor | None = None, guess_reach: bool = True):
    """Best (score, threshold) near t0 for every candidate move.

    p (n,) float64 exact projections (order = argsort(p) and suffix = suffix_sums(gains, order),
    when the caller has them from its own full search).
    rows32(pos (C',), idx (L,)) gives the (C', L) float32 inputs of the weights at `pos` on batch
    samples idx, and rows_exact(pos (C', k), idx (C', k)) the exact float64 ones. Candidate c moves
    weight positions[c] by steps[c] and renormalises by norms[c]; x_low / x_high (C,) bound that
    weight's inputs. gains (n, K) / base (K,) as in `screened_window_search`. `guess_reach` speeds
    up the top-k unless projections are small integers (massive ties make the guess useless).
    """
    n = len(p)
    window = max(1, min(2 * interval, n))
    if order is None:
        order = argsort(p)
    if suffix is None:
        suffix = suffix_sums(gains, order)
    sorted_p = p[order]
    # The band reaches well beyond a window: about 2I values lie within `near` of t0 before a move.
    near = torch.kthvalue((p - t0).abs(), window).values
    radius = max(8 * float(near), 1e-9 * (float(t0.abs()) + 1.0))
    scale = p.abs().max() + steps.abs() * torch.maximum(x_low.abs(), x_high.abs()) + (t0 * norms).abs()
    err = 8 * _U32 * scale / norms  # bound on |E / norm - (candidate - t0)| from float32 rounding
    scores = torch.empty(len(steps), dtype=torch.float64, device=p.device)
    thresholds = torch.empty_like(scores)

    def search(rows, banded):
        """Fill in rows' results (on the band when `banded`); returns the rows to redo over every sample."""
        r_pos, r_steps, r_norms = positions[rows], steps[rows], norms[rows]
        a, b = 0, n
        if banded:
            a, b = move_band(sorted_p, t0, r_steps, r_norms, x_low[rows], x_high[rows], radius)
            a = min(a, int(torch.searchsorted(sorted_p, (t0 - radius).reshape(1))))  # the window before a move
            b = max(b, int(torch.searchsorted(sorted_p, (t0 + radius).reshape(1), right=True)))
        band = order[a:b]
        offsets = (t0 * r_norms).to(torch.float32)  # on iff p + step * x > t0 * norm
        E = torch.addcmul(sorted_p[a:b].to(torch.float32)[None, :] - offsets[:, None], rows32(r_pos, band),
                          r_steps[:, None].to(torch.float32))

        def exact_values(sub, idx):
            samples = band[idx]
            return moved(p[samples], rows_exact(r_pos[sub, None].expand_as(idx), samples), r_steps[sub, None],
                         r_norms[sub, None])

        everything = a == 0 and b == n
        outside = torch.full((len(rows),), radius * (1 - 1e-6), dtype=torch.float64, device=p.device)
        found = screened_window_search(
            E, err[rows], exact_values, t0, gains[band], base + suffix[b], score, interval, row_scale=r_norms,
            outside=None if everything else outside,
            reach=(2 * near * r_norms).to(torch.float32) if guess_reach else None)
        scores[rows], thresholds[rows] = found[0], found[1]
        return rows[:0] if everything else rows[found[2]]  # a window reached the band's edge

    redo = [search(rows, True) for rows in (torch.nonzero(steps > 0).flatten(), torch.nonzero(steps <= 0).flatten())
            if len(rows)]
    redo = torch.cat(redo) if redo else steps.new_empty(0, dtype=torch.long)
    if len(redo):
        search(redo, False)
    return scores, thresholds
