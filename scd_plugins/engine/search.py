"""Exact threshold searches over a group of G votes at once (a leading vote axis on every tensor).

A node is "on" when its projection p exceeds a threshold t. Splits are scored through additive
counters: `base` (G, K) holds the counters when every sample is off and `gains` (G, n, K) what each
sample adds when on. Counters are integers held in float64 (0-1 counts, and the cross-entropy gains
rounded to multiples of 2**-24, see `quantise`), so every sum is exact whatever the summation order
or the shape it is computed in: a vote's decisions do not depend on the other votes of its group,
on the band width a search uses, or on the device.

Admissible thresholds are one below the smallest projection and the midpoints between consecutive
*distinct* sorted projections: a threshold never falls inside a group of tied values, so the split
that is scored is the split that is stored. Ties between equal scores go to the lowest threshold;
between candidates, to the first. Nothing here reads a value back to the host, except the band
width on the CPU (`band_width`), where that is free.

On the CPU the hidden node's move search (every family) is screened in float32
(`_screened_block`, one compiled pass per candidate in `screen`): candidate projections are computed
in float32 with a rigorous rounding bound, and only the samples that bound cannot rule out of a
candidate's window (or whose side of t0 it cannot decide) are recomputed in float64, so the result
is bit for bit that of the float64 search.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from scd_plugins.engine import ce_sums
from scd_plugins.engine.host import host_path
from scd_plugins.engine.objective import ZeroOne
from scd_plugins.engine.screen import Scoring, screened_search

Score = Callable[[torch.Tensor], torch.Tensor]
QUANTUM = 2.0 ** -24  # cross-entropy gains are multiples of this: sums of up to 2**29 of them are exact


def quantise(x: torch.Tensor) -> torch.Tensor:
    """x rounded to a multiple of QUANTUM (exact float64 integers times QUANTUM: order-free sums)."""
    return torch.round(x / QUANTUM) * QUANTUM


def argsort(x: torch.Tensor) -> torch.Tensor:
    """Ascending order along the last dim: NumPy's vectorised sort on the CPU (several times faster than
    torch's there), torch's elsewhere. Ties may come in any order: no search splits a tied group."""
    if host_path(x):
        return torch.from_numpy(np.argsort(x.numpy(), axis=-1, kind="quicksort"))
    return torch.argsort(x, dim=-1)


def take_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x[g, index[g, i]] as (G, M, ...) for x (G, N, ...) and index (G, M): one `index_select` of the
    flattened rows (the same values as a gather with the index expanded over the trailing dims,
    several times faster on the CPU)."""
    G, N = x.shape[:2]
    flat = (index + torch.arange(G, device=x.device)[:, None] * N).reshape(-1)
    return x.reshape(G * N, *x.shape[2:]).index_select(0, flat).reshape(*index.shape, *x.shape[2:])


def suffix_sums(sorted_gains: torch.Tensor) -> torch.Tensor:
    """(G, n + 1, K): row j holds the gains of sorted samples j.. (on above a split before j); row n is 0."""
    tail = sorted_gains.flip(1).cumsum(1).flip(1)
    return torch.cat([tail, torch.zeros_like(tail[:, :1])], dim=1)


def below_smallest(ps: torch.Tensor) -> torch.Tensor:
    """(G,) the admissible threshold under every value of each sorted row ps (G, n): half a gap below."""
    lowest = ps[:, 0]
    higher = ps > lowest[:, None]
    first = torch.argmax(higher.to(torch.int8), dim=1)
    has = higher.any(dim=1)
    gap = torch.where(has, ps.gather(1, first[:, None])[:, 0] - lowest, torch.ones_like(lowest))
    return lowest - gap / 2


def full_search(ps: torch.Tensor, suffix: torch.Tensor, base: torch.Tensor, score: Score):
    """Best admissible threshold over all samples, per vote (O(n) after the sort).

    ps (G, n) sorted projections, suffix = suffix_sums of the gains in that order, base (G, K).
    Returns (threshold (G,), score (G,)).
    """
    scores = score(base[:, None, :] + suffix[:, :-1])
    admissible = torch.ones_like(ps, dtype=torch.bool)
    admissible[:, 1:] = ps[:, 1:] > ps[:, :-1]
    scores = torch.where(admissible, scores, torch.full_like(scores, -torch.inf))
    j = torch.argmax(scores, dim=1, keepdim=True)  # first maximum: the lowest threshold among equals
    middle = (ps.gather(1, (j - 1).clamp_min(0)) + ps.gather(1, j))[:, 0] / 2
    threshold = torch.where(j[:, 0] == 0, below_smallest(ps), middle)
    return threshold, scores.gather(1, j)[:, 0]


def kth_distance(sorted_p: torch.Tensor, t0: torch.Tensor, k: int) -> torch.Tensor:
    """(G,) the k-th smallest |p - t0| of each sorted row (G, n), k <= n, looking at 2k values only.

    Distances grow away from t0's insertion point on either side, so the k nearest values lie within
    k positions of it: the k-th smallest of those 2k is the k-th smallest of the whole row.
    """
    G, n = sorted_p.shape
    w = min(2 * k, n)
    at = torch.searchsorted(sorted_p, t0[:, None].contiguous())
    near = (at - k).clamp(0, n - w) + torch.arange(w, device=sorted_p.device)
    return torch.kthvalue((sorted_p.gather(1, near) - t0[:, None]).abs(), k, dim=1).values


def band(sorted_p, t0, steps, norms, x_low, x_high, radius):
    """Per vote, the block [a, b) of sorted projections that a rank-1 move can bring within `radius` of t0.

    A move turns p into (p + step * x) / norm with x in [x_low, x_high] (per candidate, (G, C)), so a
    sample outside the block stays farther than `radius` from t0 in every candidate, on its side:
    those below a stay off, those from b on stay on. The block also holds every value within radius
    of t0 before a move. Returns (a, b) as (G,) tensors.
    """
    tau = t0[:, None] * norms  # on iff p + step * x > tau
    shift_low = torch.minimum(steps * x_low, steps * x_high)
    shift_high = torch.maximum(steps * x_low, steps * x_high)
    low = torch.minimum((tau - shift_high - radius[:, None] * norms).amin(1), t0 - radius)
    high = torch.maximum((tau - shift_low + radius[:, None] * norms).amax(1), t0 + radius)
    a = torch.searchsorted(sorted_p, low[:, None].contiguous())[:, 0]
    b = torch.searchsorted(sorted_p, high[:, None].contiguous(), right=True)[:, 0]
    return a, b


def _radius(near, t0):
    """The band's certified radius around t0: 8 times the distance to the 2I-th nearest value."""
    return torch.maximum(8 * near, 1e-9 * (t0.abs() + 1.0))


def width_batches(sorted_p, t0, steps, norms, x_low, x_high, interval, near, waste=1 << 16):
    """Votes split into batches of similar band widths (CPU): index tensors, widest first.

    A batch searches on its widest vote's band, so a vote in it costs as if its band were that wide;
    a vote starts a new batch when the padding would exceed `waste` candidate-samples (C times the
    width difference: about a batch's own per-call overhead). One batch of every vote (None) when no
    vote needs one of its own. Results do not depend on the batching.
    """
    G, n = sorted_p.shape
    if G == 1 or not host_path(sorted_p):
        return [None]
    k = max(1, min(2 * interval, n))
    a, b = band(sorted_p, t0, steps, norms, x_low, x_high, _radius(near, t0))
    widths = (b - a).clamp(k, n)
    order = torch.argsort(widths, descending=True, stable=True)
    batches, current, top = [], [], None
    for g, w in zip(order.tolist(), widths[order].tolist()):
        if current and (top - w) * steps.shape[1] > waste:
            batches.append(current)
            current = []
        if not current:
            top = w
        current.append(g)
    batches.append(current)
    return [None] if len(batches) == 1 else [torch.tensor(sorted(c)) for c in batches]


def band_width(a: torch.Tensor, b: torch.Tensor, n: int, k: int) -> int:
    """The one block width a group's search uses: the widest vote's band on the CPU (reading it costs
    nothing there), every sample on other devices (no host synchronisation inside an iteration)."""
    if not host_path(a):
        return n
    return min(n, max(k, int((b - a).max())))


def window_search(values: torch.Tensor, t0: torch.Tensor, gains: torch.Tensor, current: torch.Tensor,
                  score: Score, interval: int, columns: torch.Tensor | None = None, window: int | None = None):
    """Best admissible threshold near t0 for each candidate row, from exact values.

    values (G, C, L): exact candidate projections (overwritten) of L samples (a block holding every sample that
    could come within the window); gains (G, L, K) of those samples; current (G, C, K): counters of
    the split at t0 over every sample. The window is the 2 * interval values nearest to t0; a value
    takes part in splits only if it is strictly nearer than the window's farthest, and the current
    split, always a candidate, is stored at t0 unless both its neighbours are such values. So the
    result never depends on which of the samples tied at the edge the selection kept: they sit at the
    window's ends (the rounded distance is monotone on each side of t0) and only shift every position
    by a count. Returns (scores (G, C), thresholds (G, C), edge (G, C): the window's reach, which the
    caller checks against its block's certified radius).
    `columns` (G, C, L), when given, names the sample (the position along gains' L) of each value: each
    candidate row then holds its own subset of a block (`_screened_block`); padding is +inf. `window`, when
    given, is the window's size (the default, 2 * interval, is clamped to L, here to the count of samples).
    """
    G, C, L = values.shape
    k = max(1, min(2 * interval, L)) if window is None else window
    # The window is chosen on distances rounded to float32 (rounding is monotone, so the values strictly
    # nearer than the k-th rounded distance are the same set whichever tied ones top-k keeps).
    distance = torch.empty(values.shape, dtype=torch.float32, device=values.device)
    torch.sub(values, t0[:, None, None], out=distance).abs_()  # rounded once to float32, in one pass
    nearest, idx = smallest(distance, k)
    edge = nearest.amax(2, keepdim=True)
    window = values.gather(2, idx)
    order = argsort(window).to(window.device)  # ties in any order: no split falls inside a tied group
    window = window.gather(2, order)
    idx = idx.gather(2, order)
    if columns is not None:
        idx = columns.gather(2, idx)
    K = gains.shape[2]
    g = take_rows(gains, idx.reshape(G, C * k)).reshape(G, C, k, K)
    on = window > t0[:, None, None]
    inside = nearest.gather(2, order) < edge
    prefix = torch.cat([torch.zeros_like(g[:, :, :1]), g.cumsum(2)], dim=2)  # (G, C, k + 1, K)
    j0 = (~on).sum(2, keepdim=True)  # the current split: window values j0.. are on
    at_j0 = prefix.gather(2, j0[..., None].expand(-1, -1, 1, K))
    scores = score(current[:, :, None, :] - (prefix - at_j0))  # (G, C, k + 1)
    admissible = torch.zeros_like(scores, dtype=torch.bool)
    admissible[:, :, 1:k] = (window[:, :, 1:] > window[:, :, :-1]) & inside[:, :, 1:] & inside[:, :, :-1]
    admissible.scatter_(2, j0, True)
    scores = torch.where(admissible, scores, torch.full_like(scores, -torch.inf))
    mid = t0[:, None, None].expand(G, C, k + 1).clone()
    mid[:, :, 1:k] = (window[:, :, 1:] + window[:, :, :-1]) / 2
    # The current split is stored at t0 unless both its neighbours are inside: an edge value there is
    # the selection's choice among samples tied at the edge, so its midpoint would make the result
    # depend on the selection (and with it on the device, the group, the block), not only on the data.
    flanked = inside.gather(2, (j0 - 1).clamp_min(0)) & inside.gather(2, j0.clamp_max(k - 1)) & (j0 > 0) & (j0 < k)
    mid.scatter_(2, j0, torch.where(flanked, mid.gather(2, j0), t0[:, None, None].expand(G, C, 1)))
    best = torch.argmax(scores, dim=2, keepdim=True)
    return scores.gather(2, best)[..., 0], mid.gather(2, best)[..., 0], edge[..., 0].to(values.dtype)


def output_gains(y: torch.Tensor):
    """0-1 gains (G, n, 2) and base (G, 2) of an output node being on, for labels y (G, n): counters are
    (correct negatives, correct positives); a negative turned on turns wrong, a positive turns right."""
    pos = (y == 1).to(torch.float64)
    gains = torch.stack([-(1 - pos), pos], dim=-1)
    return gains, torch.stack([(1 - pos).sum(-1), torch.zeros_like(pos[:, 0])], dim=-1)


def output_moves(qs: torch.Tensor, ys: torch.Tensor, t0: torch.Tensor, bits: torch.Tensor, pos: torch.Tensor,
                 steps: torch.Tensor, norms: torch.Tensor, score: Score, interval: int):
    """Best (score, threshold) near t0 of every candidate move of a 0-1 output node (`output_gains`), as
    `search_moves` over every sample finds them, looking at 8 * interval samples per candidate, not n.

    qs (G, n) sorted output projections, ys (G, n) their labels, bits (G, h, n) bool the hidden activations
    in that order; candidate c adds steps[:, c] to weight pos[c] and divides by norms[:, c]. A move shifts
    only the samples whose bit pos[c] is on, all by the same step, so a candidate's values form two lists
    (bit off, bit on), each in q's order (rounding is monotone). Each list's split at t0 is a binary
    search, its 2 * interval values nearest t0 on either side are found by rank (`_BitLists`), and the
    counters at t0 come from counts: those 4 x 2 * interval values hold every value of the window (its
    edge and all nearer), so `window_search` over them is the search over every sample. No host read on
    the accelerator path.
    """
    G, n = qs.shape
    C = pos.shape[0]
    k = max(1, min(2 * interval, n))
    dev = qs.device
    shift = torch.stack([torch.zeros_like(steps), torch.ones_like(steps)])  # list 0: bit off; list 1: bit on
    # split[l, g, c]: the first sorted position whose value in list l (as if every sample were in it) is
    # above t0, by a branchless binary search over qs padded with +inf to a power of two.
    size = 1 << n.bit_length()
    padded = torch.cat([qs, torch.full((G, size - n), torch.inf, dtype=qs.dtype, device=dev)], dim=1)[None]
    padded = padded.expand(2, G, size)
    moves = shift * steps  # (p + x * step) / norm, as `moved` computes it
    split = torch.zeros((2, G, C), dtype=torch.long, device=dev)  # every position before it is at or below t0
    step = size
    while step > 1:
        step //= 2
        probe = padded.gather(2, split + (step - 1))
        split = split + step * ((probe + moves) / norms <= t0[None, :, None])
    row = torch.arange(G, device=dev)[:, None] * bits.shape[1] + pos[None, :]  # (G, C): the (vote, bit) row
    positive = ys.to(torch.bool)
    lists = _BitLists(bits, positive)
    ones, ones_positive = lists.before(row, split)  # (2, G, C) each: bit-on samples (positives) before a split
    # On at t0: bit off from split[0] (every sample from there, less those with the bit on), bit on from split[1].
    gains, base = output_gains(ys)
    tail_positive = suffix_sums(positive.to(torch.float64)[..., None])[..., 0].gather(1, split[0])
    on = (n - split[0] + ones[0] - ones[1]).to(torch.float64)
    on_positive = tail_positive + (ones_positive[0] - ones_positive[1]).to(torch.float64)
    current = base[:, None, :] + torch.stack([on_positive - on, on_positive], dim=-1)
    # Each list's k values nearest t0 on either side, by rank in the list.
    rank = torch.stack([split[0] - ones[0], ones[1]])[..., None] + torch.arange(-k, k, device=dev)  # (2, G, C, 2k)
    valid = (rank >= 0) & (rank < lists.lengths(row)[..., None])
    positions = lists.positions(row, rank.clamp(0) * valid)
    at = qs[None].expand(2, G, n).gather(2, positions.reshape(2, G, -1)).reshape(rank.shape)
    values = moved(at, shift[..., None], steps[None, :, :, None], norms[None, :, :, None])
    values = torch.where(valid, values, torch.full_like(values, torch.inf)).permute(1, 2, 0, 3).reshape(G, C, 4 * k)
    columns = positions.permute(1, 2, 0, 3).reshape(G, C, 4 * k)
    scores, thresholds, _ = window_search(values, t0, gains, current, score, interval, columns, window=k)
    return scores, thresholds


class _BitLists:
    """The samples of each (vote, bit) row of bits (G, h, n), split into two lists by the bit (0: off, 1: on),
    each in sorted order: ranks to positions, and counts of set bits (of all samples, and of the samples
    `positive` (G, n) marks) before a position.

    Host path: the flat positions of the clear bits, the set ones and the set ones of positives (NumPy);
    a count is a binary search in them. Elsewhere: prefix counts along every row, and positions found by
    binary search in the counts (no host read).
    """

    def __init__(self, bits: torch.Tensor, positive: torch.Tensor):
        G, h, n = bits.shape
        self.n, self.rows, self.host = n, G * h, host_path(bits)
        if self.host:
            b = bits.numpy()
            on_positive = (b & positive.numpy()[:, None, :]).reshape(-1)
            b = b.reshape(-1)
            self.flat = [np.flatnonzero(~b), np.flatnonzero(b), np.flatnonzero(on_positive)]
            starts = np.arange(G * h + 1) * n
            self.start = [np.searchsorted(f, starts) for f in self.flat]
        else:
            prefix = torch.zeros((2, G * h, n + 1), dtype=torch.int32, device=bits.device)  # half the bytes of int64
            torch.cumsum(bits.reshape(G * h, n), dim=1, out=prefix[0, :, 1:])
            torch.cumsum((bits & positive[:, None, :]).reshape(G * h, n), dim=1, out=prefix[1, :, 1:])
            self.prefix = prefix
            ones = prefix[0, :, 1:]
            counts = torch.stack([torch.arange(1, n + 1, dtype=torch.int32, device=bits.device) - ones, ones])
            offsets = torch.arange(2 * G * h, dtype=torch.int32, device=bits.device).reshape(2, G * h, 1) * (n + 1)
            self.counts = (counts + offsets).reshape(-1)  # nondecreasing: list row r's counts offset by r (n + 1)

    def before(self, row, split):
        """(bit-on samples, bit-on positives) before split[l] (2, G, C) in row `row` (G, C), (2, G, C) each."""
        if self.host:
            r = row.numpy()[None]
            at = r * self.n + split.numpy()
            return tuple(torch.from_numpy(np.searchsorted(self.flat[i], at) - self.start[i][r]) for i in (1, 2))
        return self.prefix[0][row[None], split], self.prefix[1][row[None], split]

    def lengths(self, row):
        """(2, G, C) the lengths of row `row`'s two lists."""
        if self.host:
            r = row.numpy()
            ones = torch.from_numpy(self.start[1][r + 1] - self.start[1][r])
        else:
            ones = self.prefix[0][row, self.n]
        return torch.stack([self.n - ones, ones])

    def positions(self, row, rank):
        """(2, G, C, 2k) the sorted positions of ranks rank[l] in list l of row `row` (ranks in range)."""
        n = self.n
        if self.host:
            r = row.numpy()[..., None]
            found = [self.flat[l][np.minimum(self.start[l][r] + rank[l].numpy(), len(self.flat[l]) - 1)] - r * n
                     if len(self.flat[l]) else np.zeros(rank[l].shape, dtype=np.int64) for l in (0, 1)]
            return torch.from_numpy(np.stack(found)).clamp(0, n - 1)
        list_row = torch.arange(2, device=row.device)[:, None, None] * self.rows + row[None]  # (2, G, C)
        # The r-th member of a list sits at the first position whose count (members up to it) exceeds r.
        at = torch.searchsorted(self.counts, (rank + 1 + list_row[..., None] * (n + 1)).reshape(-1).to(torch.int32))
        return (at.reshape(rank.shape) - list_row[..., None] * n).clamp(0, n - 1)


def smallest(distance: torch.Tensor, k: int, reach: torch.Tensor | None = None):
    """The k smallest entries along the last dim of `distance` (G, C, L) and their positions, as a set
    (which of the entries tied with the k-th are kept is unspecified).

    On the CPU NumPy's introselect (`argpartition`, linear in L and about twice as fast as torch.topk
    there); elsewhere torch.topk. `reach`, a guess of the k-th smallest value, is not needed by either
    and is ignored.
    """
    if not host_path(distance):
        return torch.topk(distance, k, dim=2, largest=False, sorted=False)
    d = distance.numpy()
    idx = np.argpartition(d, k - 1, axis=-1)[..., :k]
    return torch.from_numpy(np.take_along_axis(d, idx, axis=-1)), torch.from_numpy(idx)


def moved(p, x, step, norm):
    """Projection after a move: one formula (separate roundings, no fused multiply-add) for windows and
    the cached projections, so both are bit-identical."""
    return (p + x * step) / norm


def search_moves(sorted_p: torch.Tensor, t0: torch.Tensor, inputs: Callable, steps: torch.Tensor,
                 norms: torch.Tensor, x_low: torch.Tensor, x_high: torch.Tensor, sorted_gains: torch.Tensor,
                 suffix: torch.Tensor, base: torch.Tensor, score: Score, interval: int,
                 sample_of: torch.Tensor | None = None, near: torch.Tensor | None = None,
                 screen_inputs: Callable | None = None):
    """Best (score, threshold) near t0 for every candidate move of every vote.

    sorted_p (G, n): exact projections sorted; sorted_gains (G, n, K) and suffix in that order.
    inputs(positions (G', L)) gives the moved weights' inputs (G', C, L) on those sorted positions
    (G' = G, or a subset `inputs.rows` of (vote, candidate) pairs when redoing, see below);
    candidate c moves its weight by steps[:, c] and divides by norms[:, c]; x_low / x_high (G, C)
    bound its inputs. Only a block of sorted positions that some move can bring near t0 is evaluated
    (`band`); a candidate whose window reaches the block's edge is redone over every sample, so the
    result is the search over every sample. `sample_of` (G, n), when given, names the data sample at
    each sorted position: a block is then visited in sample order (cache-friendly input gathers; the
    search does not depend on the order of a block).
    `near` (G,), when given, is `kth_distance(sorted_p, t0, min(2 * interval, n))`, already computed.
    `screen_inputs(positions)`, when given, describes the block's inputs as a `screen.Lookup` (CPU): a
    block of at least SCREEN_MIN candidate-samples is then screened in float32 and settled in float64
    where the screen cannot decide, in one compiled pass (`_screened_block`), for the scores the
    compiled search knows (`compiled_scoring`); the result is the same bit for bit (smaller blocks
    cost less in float64 than the screen's fixed overhead).
    """
    G, n = sorted_p.shape
    k = max(1, min(2 * interval, n))
    near = kth_distance(sorted_p, t0, k) if near is None else near
    radius = _radius(near, t0)
    a, b = band(sorted_p, t0, steps, norms, x_low, x_high, radius)
    L = band_width(a, b, n, k)
    start = torch.minimum(a, torch.full_like(a, n - L))
    positions = start[:, None] + torch.arange(L, device=sorted_p.device)
    if sample_of is not None:
        positions = positions.gather(1, argsort(sample_of.gather(1, positions)).to(positions.device))
    scoring = None if screen_inputs is None or steps.numel() * L < SCREEN_MIN else compiled_scoring(score)
    if scoring is None:
        scores, thresholds, edge = _search_block(sorted_p, t0, inputs(positions, None), steps, norms, sorted_gains,
                                                 suffix, base, score, interval, positions)
    else:
        x_abs = torch.maximum(x_low.abs(), x_high.abs())
        scores, thresholds, edge = _screened_block(sorted_p, t0, screen_inputs, positions, steps, norms, x_abs,
                                                   sorted_gains, suffix, base, scoring, interval)
    if L == n:
        return scores, thresholds
    truncated = edge >= radius[:, None] * (1 - 1e-6)  # samples left out might be in the window
    if bool(truncated.any()):  # CPU only (L < n happens only there): redo those candidates over every sample
        g, c = torch.nonzero(truncated, as_tuple=True)
        everything = torch.arange(n, device=sorted_p.device).expand(len(g), n)
        s, t, _ = _search_block(sorted_p[g], t0[g], inputs(everything, (g, c)), steps[g, c][:, None],
                                norms[g, c][:, None], sorted_gains[g], suffix[g], base[g], score, interval,
                                everything)
        scores[g, c], thresholds[g, c] = s[:, 0], t[:, 0]
    return scores, thresholds


def _search_block(sorted_p, t0, x, steps, norms, sorted_gains, suffix, base, score, interval, positions):
    """`window_search` over a block of sorted positions (G, L) of each vote; x (G, C, L) inputs."""
    K = sorted_gains.shape[2]
    values = x * steps[:, :, None]
    values += sorted_p.gather(1, positions)[:, None, :]
    values /= norms[:, :, None]  # = moved(p, x, step, norm), the same roundings
    gains = take_rows(sorted_gains, positions)
    # 0-1 gains are small integers: float32 products are exact and cheaper; quantised CE gains need float64.
    small = sorted_gains.dtype if score_is_ce(score) else torch.float32
    on = torch.empty(values.shape, dtype=small, device=values.device)
    torch.gt(values, t0[:, None, None], out=on)  # 0 / 1 written straight in the product's type
    end = positions.amax(1)[:, None, None].add(1).expand(-1, 1, K)
    inside = torch.bmm(on, gains.to(small)).to(gains.dtype)
    current = base[:, None, :] + suffix.gather(1, end) + inside  # on above the block, and in it
    return window_search(values, t0, gains, current, score, interval)


_U32 = float(torch.finfo(torch.float32).eps) / 2  # unit roundoff of float32
SCREEN_MIN = 1 << 14  # candidate-samples from which the float32 screen (one compiled pass) is cheaper


def _screened_block(sorted_p, t0, screen_inputs, positions, steps, norms, x_abs, sorted_gains, suffix, base,
                    scoring, interval):
    """`_search_block` screened in float32 (host path): the same (scores, thresholds, edge) bit for bit,
    with the float64 work done only on the few samples per candidate that can be in its window.

    screen_inputs(positions) gives the block's inputs as a `screen.Lookup`. E = p + step * x - t0 * norm
    (the move's signed distance to t0, times norm), computed in float32 (`screen.screened_search`), is
    within err = 16 u32 (|p| + |step| |x| + |t0 norm|) of norm times the exact float32-rounded distance
    `window_search` ranks on (a generous bound on the roundings of both). So with K' the k-th smallest
    |E| of a row, every sample of the exact window has |E| <= K' + 2 err, and every sample whose side
    of t0 the screen may get wrong has |E| <= err: that candidate set S' is redone exactly (its sides
    corrected, its window searched over S' alone). S' holds every sample at or inside the exact
    window's edge, so the window search over S' is the one over the whole block (`window_search` does
    not depend on which samples tied at the edge a selection keeps).
    """
    K = sorted_gains.shape[2]
    k = max(1, min(2 * interval, positions.shape[1]))
    p = sorted_p.gather(1, positions)
    gains = take_rows(sorted_gains, positions)
    unit = QUANTUM if scoring.kind == 1 else 1.0
    units = gains / unit  # every counter is an integer number of units (module docstring)
    if not torch.equal(units, torch.round(units)):
        raise ValueError("screened search: gains are not whole multiples of their unit")
    err = 16 * _U32 * (p.abs().amax(1)[:, None] + steps.abs() * x_abs + (t0[:, None] * norms).abs())  # (G, C)
    end = positions.amax(1)[:, None, None].add(1).expand(-1, 1, K)
    outside = (base[:, None, :] + suffix.gather(1, end))[:, 0]  # off below the block, on above it
    found = screened_search(screen_inputs(positions), p.numpy(), steps.numpy(), norms.numpy(), t0.numpy(),
                            units.to(torch.int64).transpose(1, 2).numpy(), outside.numpy(), unit, scoring, k,
                            err.numpy())
    return tuple(torch.from_numpy(t) for t in found)


def compiled_scoring(score) -> Scoring | None:
    """The score as `screen.Scoring` for the compiled search, or None for a score it does not know."""
    if score_is_ce(score):
        return Scoring(1, (score.n,))
    if isinstance(score, ZeroOne):
        return Scoring(0, (score.alpha, score.beta, score.n0 + score.n1, score.n0, score.n1))
    return None


def score_is_ce(score) -> bool:
    return getattr(score, "cross_entropy", False)

def bce(z: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """Per-sample binary cross-entropy of logits z against labels given as sign = 2y - 1."""
    return torch.nn.functional.softplus(-sign * z)


def softplus_pair(z1: torch.Tensor, z2: torch.Tensor, f: torch.Tensor):
    """softplus(z1) and softplus(z2) for the terms z = Q - o at two thresholds o1, o2, from one exp a
    term: softplus(z) = max(z, 0) + log(1 + exp(-|z|)), and exp(-|z|) at the farther option is the
    nearer one's times f = exp(-|o1 - o2|) (both on one side of the term) or f over it (the term
    between them). Within about 1e-16 of torch's softplus (a few units in 1e9 round to another
    QUANTUM); the host path (`ce_sums.pair_logs_args`) forms the same numbers."""
    a1, a2 = z1.abs(), z2.abs()
    first = a1 <= a2
    near = torch.minimum(a1, a2).neg_().exp_()
    far = torch.where((z1 > 0) == (z2 > 0), near * f, torch.where(near > 0, f / near, torch.zeros_like(near)))
    return tuple(z.clamp_min(0.0).add_((1.0 + e).log_())
                 for z, e in ((z1, torch.where(first, near, far)), (z2, torch.where(first, far, near))))


def ce_threshold_counts(Q: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, t_start: torch.Tensor, n: int,
                        newton_steps: int | None = None):
    """Best admissible output threshold under mean BCE, per candidate row of values Q (G, C, B).

    Value Q[g, c, b] is held by pos[g, c, b] positive and neg[g, c, b] negative samples (counts; a value
    held by none is absent), n samples in all: the same search as over the samples one by one, with
    one term per distinct value (`output_bins`), so its cost follows the number of distinct values.
    t_start (G,). The mean BCE is convex in the bias, so safeguarded Newton steps from the current
    threshold find the continuous optimum t* (a row stops moving once its step is at float64
    resolution; off the CPU a fixed number of steps, so nothing is read back to the host; on the CPU
    the loop ends once every row has stopped, which changes nothing). By convexity the best
    admissible threshold is the nearest admissible one below t* or the nearest above it, so only
    those two are scored; tied values are handled by looking past their whole group.
    Returns (thresholds (G, C), scores (G, C)): scores are minus the mean BCE, from per-sample losses
    within one QUANTUM of the exact ones and multiples of it, so that they sum exactly in any order.
    newton_steps: at most 64 on the CPU (rows stop at convergence, mostly within 6), 32 elsewhere.
    On the host path the passes over the terms other than the sigmoids, exps and logs are compiled
    (`ce_sums`: the same sums and comparisons), and where a group's terms pass CE_SPLIT the votes are
    searched one at a time, each over its own present terms: the group's tensors, padded to its widest
    vote, outgrow the caches (8 SCDCE votes at CIFAR scale took 1.7x the time of the same votes one by
    one); the same result bit for bit.
    """
    G, C, _ = Q.shape
    host = host_path(Q)
    if G > 1 and Q.numel() > CE_SPLIT and host:
        parts = [ce_threshold_counts(*_present_terms(Q, pos, neg, g), t_start[g:g + 1], n, newton_steps)
                 for g in range(G)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    if newton_steps is None:
        newton_steps = 64 if host else 32
    weight = pos + neg
    terms = _Terms(Q, weight, pos) if host else None
    present = None if host else weight > 0

    def held(mask):
        return mask & present

    # t* solves mean sigmoid(Q - t) = mean y, so it lies in [min Q - logit(ybar), max Q - logit(ybar)]:
    # a bracket that each step narrows; a Newton step leaving it is replaced by bisection (plain Newton
    # can cycle on this loss when it starts far from t*).
    big = torch.finfo(Q.dtype).max
    positives = pos.sum(2)
    ybar = (positives / n).clamp(1e-12, 1 - 1e-12)
    logit = torch.log(ybar) - torch.log1p(-ybar)
    if host:
        low, high = terms.rows(ce_sums.held_range(terms.Q.numpy(), terms.weight, terms.wrow, big), G, C)
    else:
        low, high = torch.where(present, Q, big).amin(2), torch.where(present, Q, -big).amax(2)
    low, high = low - logit, high - logit
    t = torch.minimum(torch.maximum(t_start[:, None].expand(G, C), low), high)
    t = _newton(Q, weight, positives.expand(G, C), n, t, low, high, newton_steps, terms)
    inf = torch.full((), torch.inf, dtype=Q.dtype, device=Q.device)  # a fill, not a host copy
    if host:
        lo, hi, lo_prev, hi_next = terms.rows(ce_sums.gaps(terms.Q.numpy(), terms.weight, terms.wrow,
                                                           t.reshape(-1).numpy()), G, C)
    else:
        above = Q > t[..., None]
        lo = torch.where(held(~above), Q, -inf).amax(2)  # largest value at or below t* (-inf: none)
        hi = torch.where(held(above), Q, inf).amin(2)  # smallest value above t* (inf: none)
        lo_prev = torch.where(held(Q < lo[..., None]), Q, -inf).amax(2)  # next distinct value down
        hi_next = torch.where(held(Q > hi[..., None]), Q, inf).amin(2)  # next distinct value up
    has_lo, has_hi = torch.isfinite(lo), torch.isfinite(hi)
    has_prev, has_next = torch.isfinite(lo_prev), torch.isfinite(hi_next)
    lowest = torch.where(has_lo, torch.where(has_prev, inf, lo), hi)  # the smallest value (inf: not known here)
    above_lowest = torch.where(has_lo, hi, hi_next)  # the next distinct value above it
    under_lowest = lowest - torch.where(torch.isfinite(above_lowest), above_lowest - lowest, 1.0) / 2
    middle = (lo + hi) / 2  # the admissible threshold in t*'s gap
    down = torch.where(has_prev, (lo_prev + lo) / 2, under_lowest)  # next admissible below the gap
    up = torch.where(has_next, (hi + hi_next) / 2, inf)  # next admissible above the gap
    both = has_lo & has_hi
    low_option = torch.where(both, torch.where(middle <= t, middle, down), torch.where(has_lo, down, under_lowest))
    high_option = torch.where(both, torch.where(middle <= t, up, middle), torch.where(has_lo, inf, up))
    options = torch.stack([low_option, high_option], dim=2)  # (G, C, 2), lower first; inf: no such option
    valid = torch.isfinite(options)
    safe = torch.where(valid, options, torch.zeros_like(options))

    if host:
        o1, o2 = (safe[..., k].reshape(-1).contiguous().numpy() for k in range(2))
        near = torch.from_numpy(ce_sums.nearer_exponents(terms.Q.numpy(), o1, o2)).exp_()
        f = torch.from_numpy(o1 - o2).abs_().neg_().exp_()
        logs = torch.from_numpy(ce_sums.pair_logs_args(terms.Q.numpy(), o1, o2, near.numpy(), f.numpy())).log_()
        units = torch.from_numpy(ce_sums.bce_pair_units(terms.Q.numpy(), o1, o2, logs.numpy(), terms.weight,
                                                        terms.positives, terms.wrow, QUANTUM)).reshape(G, C, 2)
    else:
        z1, z2 = Q - safe[..., :1], Q - safe[..., 1:]
        f = (safe[..., :1] - safe[..., 1:]).abs_().neg_().exp_()
        units = torch.stack([_count_sum(sp.div_(QUANTUM).round_(), weight) - _count_sum(z.div_(QUANTUM).round_(), pos)
                             for z, sp in zip((z1, z2), softplus_pair(z1, z2, f))], dim=2)
    losses = units * QUANTUM / n  # mean BCE at each option, from per-sample losses in QUANTUM units
    scores = torch.where(valid, -losses, torch.full_like(losses, -torch.inf))
    best = torch.argmax(scores, dim=2, keepdim=True)  # the lower threshold among equals
    return options.gather(2, best)[..., 0], scores.gather(2, best)[..., 0]


CE_SPLIT = 1 << 18  # terms of a group's CE output search above which its votes are searched one by one (CPU)


class _Terms:
    """The terms of `ce_threshold_counts` as the compiled passes read them (`ce_sums`): values Q (R, B)
    with R = G * C rows, and the counts (M, B) of row r at row wrow[r] (M = G when every candidate of a
    vote shares its counts)."""

    def __init__(self, Q, weight, positives):
        G, C, B = Q.shape
        self.Q = Q.reshape(G * C, B).contiguous()
        shared = weight.shape[1] == 1
        self.weight, self.positives = (np.ascontiguousarray(x.expand(G, -1, B).reshape(-1, B).numpy())
                                       for x in (weight, positives))
        self.wrow = np.arange(G * C) // C if shared else np.arange(G * C)

    @staticmethod
    def rows(arrays, G, C):
        """Per-row NumPy results as (G, C) tensors."""
        return tuple(torch.from_numpy(a).reshape(G, C) for a in arrays)


def _present_terms(Q, pos, neg, g):
    """Vote g's terms (1, C, B') without those no candidate holds a sample at (padding): they add nothing.
    Padding at the end only (`output_bins` pads each vote's values there) is cut off as a slice."""
    held = ((pos[g] + neg[g]) > 0).any(0)  # (B,)
    keep = torch.nonzero(held).flatten()
    if len(keep) == 0 or int(keep[-1]) == len(keep) - 1:
        return tuple(x[g:g + 1, :, :len(keep)] for x in (Q, pos, neg))
    return tuple(x[g:g + 1].index_select(2, keep) for x in (Q, pos, neg))


def _newton(Q, weight, positives, n, t, low, high, steps, terms=None):
    """The safeguarded Newton iteration of `ce_threshold_counts`: t (G, C) moved to the continuous optimum
    within the bracket [low, high] (G, C). On the host path (`terms`: the terms as `_Terms`) each step
    after the sigmoids is one compiled pass (`ce_sums.newton_step`, the same arithmetic), and only the
    rows still moving are computed once they are at most half of those computed (most stop within 4
    steps; the slowest take about 10): the same t bit for bit, since every row's sums are exact
    whatever the layout."""
    # Sums of count * integer are exact in any order: a value's bins may sit anywhere in a row padded
    # to its group's longest, and the result stays that of the vote alone.
    scale = 2.0 ** (52 - max(1, int(n)).bit_length())  # sigmoids in units of 1 / scale: n of them sum exactly
    if terms is not None:
        return _newton_host(terms, positives, n, t, low, high, steps, scale)
    still = torch.ones_like(t, dtype=torch.bool)
    for _ in range(steps):
        s = torch.sigmoid(Q - t[..., None])
        c = _count_sum(torch.addcmul(s, s, s, value=-1.0).mul_(scale).round_(), weight)  # s (1 - s), in units
        g = _count_sum(s.mul_(scale).round_(), weight)
        grad = (g / scale - positives) / n  # d loss / d bias (bias = -t)
        hess = (c / scale / n).clamp_min(1e-300)  # grad > 0: t* lies above t
        low = torch.where(grad > 0, t, low)
        high = torch.where(grad < 0, t, high)
        target = t + grad / hess
        target = torch.where((target > low) & (target < high), target, (low + high) / 2)
        target = torch.where(grad == 0, t, target)
        step = torch.where(still, target - t, torch.zeros_like(t))
        t = t + step
        still = still & (step.abs() > 1e-13 * (1.0 + t.abs()))
    return t


def _newton_host(terms, positives, n, t, low, high, steps, scale):
    """`_newton` on the host: flat rows, NumPy state updated in place by `ce_sums.newton_step`."""
    G, C = t.shape
    t, low, high, positives = (np.array(v.reshape(-1).numpy(), dtype=np.float64) for v in (t, low, high, positives))
    final = t  # every row's t; `rows` the rows of it still computed, `at` their values
    rows, at, values, wrow = None, t, terms.Q, terms.wrow
    still = np.ones(len(t), dtype=np.bool_)
    for _ in range(steps):
        moving = int(still.sum())
        if moving == 0:
            break  # every row has stopped: the remaining steps would be zeros
        if moving <= len(still) // 2:
            keep = np.flatnonzero(still)
            if rows is not None:
                final[rows] = at
            rows = keep if rows is None else rows[keep]
            values, wrow = values[torch.from_numpy(keep)], wrow[keep]
            at, low, high, positives = at[keep], low[keep], high[keep], positives[keep]
            still = np.ones(len(keep), dtype=np.bool_)
        s = torch.sub(values, torch.from_numpy(at)[:, None]).sigmoid_()
        ce_sums.newton_step(s.numpy(), terms.weight, wrow, scale, positives, float(n), at, low, high, still)
    if rows is not None:
        final[rows] = at
    return torch.from_numpy(final).reshape(G, C)


def _count_sum(values: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """sum over the last dim of values (G, C, B) * counts (G, C or 1, B), or of (R, B) * (R, B): one
    batched product when the counts are shared by every row (exact for the integer terms used here,
    whatever the order)."""
    if values.dim() == 3 and counts.shape[1] == 1 and values.shape[1] > 1:
        return torch.bmm(values, counts.transpose(1, 2))[..., 0]
    return (values * counts).sum(-1)


def output_bins(q: torch.Tensor, A: torch.Tensor | None, y: torch.Tensor):
    """The output node's samples merged by output projection.

    q (G, n), activations A (G, n, h) in {0, 1}, labels y (G, n). Returns values (G, U): the distinct q
    of each vote in ascending order, padded by repeating the largest; held (G, U, 2): samples at each
    value by class (padding holds none); and, when A is given, either pattern (G, U, h): the hidden
    bits of each value, when all its samples share them (the rule with real weights, where equal q
    means an equal activation pattern), or else ones (G, U, 2, h): of each value's samples by class, the
    ones with bit j on (the other is None). A candidate output move changes weight j only, so its
    projections are q + step * A[:, j]: samples with the same q and the same bit j keep equal values.
    With sign weights w2 in {-1, +1} q takes at most 2h + 1 values, so a search costs O(h) per
    candidate, not O(n). Host path only: it reads U back, and with A whether the patterns are shared.
    """
    G, n = q.shape
    order = argsort(q).to(q.device)
    qs = q.gather(1, order)
    new = torch.ones_like(qs, dtype=torch.long)
    new[:, 1:] = (qs[:, 1:] != qs[:, :-1]).long()
    rank = new.cumsum(1) - 1  # (G, n): the distinct value of each sorted sample
    U = int(rank[:, -1].max()) + 1
    values = qs[:, -1:].expand(G, U).clone().scatter_(1, rank, qs)  # padding: the largest value
    key = rank * 2 + y.gather(1, order)  # (G, n): u * 2 + c
    flat = key + (torch.arange(G, device=q.device) * (2 * U))[:, None]
    held = torch.bincount(flat.reshape(-1), minlength=G * U * 2).to(q.dtype).reshape(G, U, 2)
    if A is None:
        return values, held, None, None
    h = A.shape[2]
    same = new[:, 1:] == 0  # sorted sample i + 1 has i's value
    # Each sample's bits as exact integers (sums of distinct powers of two, 52 bits a number): equal
    # patterns, equal numbers.
    powers = 2.0 ** torch.arange(52, dtype=A.dtype, device=A.device)
    code = torch.stack([A[..., j:j + 52] @ powers[:min(52, h - j)] for j in range(0, h, 52)], dim=-1)
    code = take_rows(code, order)  # sorted by q: the samples of a value are consecutive
    if bool(torch.all((code[:, 1:] == code[:, :-1]).all(-1) | ~same)):
        total = held[..., 0] + held[..., 1]
        first = (total.cumsum(1) - total).to(torch.long).clamp_max(n - 1)  # each value's first sample
        return values, held, take_rows(A, order.gather(1, first)), None
    bits = take_rows(A, order)
    ones = torch.zeros((G, 2 * U, h), dtype=q.dtype, device=q.device).scatter_add_(1, key[..., None].expand(-1, -1, h),
                                                                                  bits)
    return values, held, None, ones.reshape(G, U, 2, h)


def value_terms(values: torch.Tensor, held: torch.Tensor):
    """The current weights' terms (values, positives, negatives), (G, 1, U) each, from `output_bins`."""
    return values[:, None, :], held[:, None, :, 1], held[:, None, :, 0]


def output_candidates(values: torch.Tensor, held: torch.Tensor, pattern: torch.Tensor | None,
                      ones: torch.Tensor | None, pos: torch.Tensor, steps: torch.Tensor,
                      votes: torch.Tensor | None = None):
    """The candidate output moves' terms for `ce_threshold_counts`, from `output_bins`.

    Candidate c moves weight pos[c] by steps[:, c] (pos (C,), or (G, C): each vote its own): samples
    at value q with bit a take the value q + a * step (the arithmetic of the sample-by-sample search;
    a * step is exact). Returns (Q, positives, negatives). With a pattern per value each value is one
    term: Q (G, C, U), counts (G, 1, U) shared by every candidate. Otherwise (sign weights) each value
    splits by bit: (G, C, 2U) each. votes (R,): the vote of each row of pos and steps, (R, C) then
    (default: row g is vote g), so that rows may repeat a vote or leave one out.
    """
    if votes is None:
        votes = torch.arange(len(values), device=values.device)
    positives, negatives, values = held[votes, :, 1], held[votes, :, 0], values[votes]  # (R, U)
    at, pos = votes[:, None], pos.expand(len(votes), -1)
    if pattern is not None:
        Q = torch.addcmul(values[:, None, :], pattern.transpose(1, 2)[at, pos].to(values.dtype), steps[..., None])
        return Q, positives[:, None, :], negatives[:, None, :]
    one = ones.permute(0, 3, 1, 2)[at, pos]  # (R, C, U, 2)
    pos1, neg1 = one[..., 1], one[..., 0]  # (R, C, U)
    Q = torch.cat([0.0 * steps[..., None] + values[:, None, :], 1.0 * steps[..., None] + values[:, None, :]], dim=2)
    return (Q, torch.cat([positives[:, None, :] - pos1, pos1], dim=2),
            torch.cat([negatives[:, None, :] - neg1, neg1], dim=2))


def ce_output_terms(q: torch.Tensor, A: torch.Tensor, y: torch.Tensor, pos=None, steps=None):
    """The terms (values, positives, negatives) that `ce_threshold_counts` searches for the output node:
    of the current weights, (G, 1, B) each, and of the candidate moves pos / steps, (G, C, B) or
    broadcastable to it (None when pos is None). q (G, n) output projections, A (G, n, h) activations,
    y (G, n) labels.

    On the CPU the samples are merged by value (`output_bins`, `output_candidates`); elsewhere each
    sample is its own term, which needs no host read. The results agree: the sums are exact either way.
    """
    if host_path(q):
        values, held, pattern, ones = output_bins(q, None if pos is None else A, y)
        return value_terms(values, held), None if pos is None else output_candidates(values, held, pattern, ones,
                                                                                     pos, steps)
    positives = y.to(q.dtype)[:, None, :]
    current = q[:, None, :], positives, 1 - positives
    if pos is None:
        return current, None
    Q = A.transpose(1, 2)[:, pos] * steps[..., None] + q[:, None, :]
    return current, (Q, positives, 1 - positives)
