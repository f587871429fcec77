"""The batched searches against brute force, and the group loop against votes trained alone."""
import contextlib

import numpy as np
import pytest
import torch

from scd_plugins.engine import search
from scd_plugins.engine.config import VoteConfig
from scd_plugins.engine.group import CrossEntropyScore, train_group
from scd_plugins.engine.objective import ZeroOne
from scd_plugins.engine.screen import Lookup, kth_smallest, screened_search


def admissible(values):
    v = np.unique(values)
    below = v[0] - ((v[1] - v[0]) / 2 if len(v) > 1 else 0.5)
    return [below] + [(a + b) / 2 for a, b in zip(v[:-1], v[1:])]


def counters(values, gains, base, t):
    return base + gains[values > t].sum(0)


def problem(rng, G, n, ties=True):
    """Projections (small integers when `ties`) and 0-1 gains of G votes sharing batch labels."""
    p = rng.integers(-4, 5, size=(G, n)).astype(float) if ties else rng.normal(size=(G, n))
    y = rng.integers(0, 2, size=n)
    y[0], y[1] = 0, 1
    gains, base = [], []
    for _ in range(G):
        on, off = rng.random(n) < 0.6, rng.random(n) < 0.5
        delta = on.astype(float) - off
        gains.append(np.stack([delta * (y == 0), delta * (y == 1)], 1))
        base.append([np.sum(off & (y == 0)), np.sum(off & (y == 1))])
    return p, np.array(gains), np.array(base, dtype=float), ZeroOne(int((y == 0).sum()), int((y == 1).sum()), 1.0, 1.0)


def sorted_problem(p, gains):
    pt, gt = torch.tensor(p), torch.tensor(gains)
    order = torch.argsort(pt, dim=1)
    sg = gt.gather(1, order[..., None].expand(-1, -1, gt.shape[2]))
    return pt.gather(1, order), sg, search.suffix_sums(sg), order


@pytest.mark.parametrize("seed", range(20))
def test_full_search_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    G, n = 5, int(rng.integers(2, 50))
    p, gains, base, score = problem(rng, G, n)
    ps, _, suffix, _ = sorted_problem(p, gains)
    thresholds, scores = search.full_search(ps, suffix, torch.tensor(base), score)
    for g in range(G):
        cands = admissible(p[g])
        brute = [float(score(torch.tensor(counters(p[g], gains[g], base[g], t)))) for t in cands]
        assert float(scores[g]) == max(brute)
        assert float(thresholds[g]) == cands[int(np.argmax(brute))]  # the lowest threshold among equals
        assert not np.any(p[g] == float(thresholds[g]))


def brute_window(values, gains, base, score, t0, interval):
    """Best split among the window's thresholds: values nearer t0 than the 2I-th nearest (float32
    distances), split between distinct ones, or the current split at t0."""
    k = min(2 * interval, len(values))
    dist = np.abs(values - t0).astype(np.float32)
    edge = np.sort(dist)[k - 1]
    near = np.sort(values[dist < edge])
    cands = [t0] + [(a + b) / 2 for a, b in zip(near[:-1], near[1:]) if a < b]
    return max(float(score(torch.tensor(counters(values, gains, base, t)))) for t in cands)


@pytest.mark.parametrize("seed", range(12))
def test_band_search_matches_brute_force_and_the_search_over_every_sample(seed):
    """search_moves (band, redone where a window reaches its edge) equals brute force over every
    sample; values a hair (1e-12) from t0 inside a batch are settled in float64."""
    rng = np.random.default_rng(100 + seed)
    G, F, n, interval = 3, 6, 400, 4
    p, gains, base, score = problem(rng, G, n, ties=False)
    p *= 0.3
    X = rng.random((G, F, n))
    X[:, :, :50] = np.round(X[:, :, :50] * 4) / 4
    t0 = np.median(p, axis=1) + 1e-3
    # A few samples of vote 1 sit 1e-12 on either side of t0 after the +step move of feature 0.
    X[1, 0, :6] = 0.5
    p[1, :6] = t0[1] * np.sqrt(1.0) - 0.5 * 0.17 + np.array([-2, -1, 1, 2, -3, 3]) * 1e-12
    steps = np.concatenate([np.full((G, F), 0.17), np.full((G, F), -0.17)], 1)
    norms = np.ones_like(steps)
    norms[0] = rng.uniform(0.9, 1.1, size=2 * F)
    if seed % 5 == 4:  # sign flips of weights in {-1, +1}, as the BNN families move: steps -2 w, no norm
        steps, norms = -2 * rng.choice([-1.0, 1.0], size=(G, 2 * F)), np.ones_like(steps)
    ps, sg, suffix, order = sorted_problem(p, gains)
    Xs = torch.tensor(X).gather(2, order[:, None, :].expand(-1, F, -1))
    pos = np.concatenate([np.arange(F), np.arange(F)])

    def inputs(positions, rows):
        if rows is None:
            full = torch.cat([Xs, Xs], dim=1)
            return full.gather(2, positions[:, None, :].expand(-1, 2 * F, -1))
        g, c = rows
        return Xs[g, torch.tensor(pos)[c]][:, None, :].gather(2, positions[:, None, :])

    T0 = torch.tensor(t0)
    st, nt = torch.tensor(steps), torch.tensor(norms)
    xl, xh = torch.tensor(X.min(2)[:, pos]), torch.tensor(X.max(2)[:, pos])
    scores, thresholds = search.search_moves(ps, T0, inputs, st, nt, xl, xh, sg, suffix, torch.tensor(base),
                                             score, interval)
    for g in range(G):
        for c in range(2 * F):
            values = (p[g] + X[g, pos[c]] * steps[g, c]) / norms[g, c]
            expected = brute_window(values, gains[g], base[g], score, t0[g], interval)
            assert float(scores[g, c]) == expected
            realised = float(score(torch.tensor(counters(values, gains[g], base[g], float(thresholds[g, c])))))
            assert realised == float(scores[g, c])  # the threshold stored is the split scored


@pytest.mark.parametrize("seed", range(15))
def test_the_float32_screen_gives_the_float64_search_bit_for_bit(seed, monkeypatch):
    """search_moves screened in float32 (screen_inputs given) equals the float64 search and brute force: with
    values a hair (1e-12) from t0 that float32 cannot tell apart, and many exact ties at the window's
    edge (small-integer projections, quarter-valued inputs, also given as byte codes), 0-1 and
    cross-entropy gains."""
    rng = np.random.default_rng(900 + seed)
    G, F, n, interval = 3, 5, 300, 4
    p, gains, base, score = problem(rng, G, n, ties=seed % 2 == 0)
    if seed % 3 == 2:  # quantised cross-entropy gains, one counter
        gains = search.quantise(torch.tensor(rng.normal(size=(G, n, 1)))).numpy()
        base, score = search.quantise(torch.tensor(rng.normal(size=(G, 1)))).numpy(), CrossEntropyScore(n)
    p *= 0.25
    X = np.round(rng.random((G, F, n)) * 4) / 4 if seed % 2 == 0 else rng.random((G, F, n))
    t0 = np.median(p, axis=1) + 0.125 / 3
    X[1, 0, :6] = 0.5  # vote 1: six samples 1e-12 either side of t0 after the +step move of feature 0
    p[1, :6] = t0[1] - 0.5 * 0.17 + np.array([-2, -1, 1, 2, -3, 3]) * 1e-12
    steps = np.concatenate([np.full((G, F), 0.17), np.full((G, F), -0.17)], 1)
    norms = np.ones_like(steps)
    norms[0] = rng.uniform(0.9, 1.1, size=2 * F)
    if seed % 5 == 4:  # sign flips of weights in {-1, +1}, as the BNN families move: steps -2 w, no norm
        steps, norms = -2 * rng.choice([-1.0, 1.0], size=(G, 2 * F)), np.ones_like(steps)
    ps, sg, suffix, order = sorted_problem(p, gains)
    Xs = torch.tensor(X).gather(2, order[:, None, :].expand(-1, F, -1))
    pos = torch.tensor(np.concatenate([np.arange(F), np.arange(F)]))

    def inputs(positions, rows):
        if rows is None:
            return torch.cat([Xs, Xs], dim=1).gather(2, positions[:, None, :].expand(-1, 2 * F, -1))
        g, c = rows
        return Xs[g, pos[c]][:, None, :].gather(2, positions[:, None, :])

    args = (ps, torch.tensor(t0), None, torch.tensor(steps), torch.tensor(norms),
            torch.tensor(X.min(2)[:, pos]), torch.tensor(X.max(2)[:, pos]), sg, suffix, torch.tensor(base), score,
            interval)
    plain = search.search_moves(*args[:2], inputs, *args[3:])
    monkeypatch.setattr(search, "SCREEN_MIN", 0)  # screen even these small blocks
    matrix, table, exact = Xs.reshape(G * F, n).numpy(), None, None  # row g * F + f: vote g's feature f
    if seed % 4 == 0:  # quarter values as byte codes
        matrix, table, exact = np.round(matrix * 4).astype(np.uint8), np.arange(5, dtype=np.float32) / 4, np.arange(5) / 4
    features = (np.arange(G)[:, None] * F + pos.numpy()[None, :])

    def lookup(positions):
        return Lookup(matrix, table, exact, features, positions.numpy())

    screened = search.search_moves(*args[:2], inputs, *args[3:], screen_inputs=lookup)
    assert torch.equal(plain[0], screened[0]) and torch.equal(plain[1], screened[1])
    for g in range(G):
        for c in range(2 * F):
            values = (p[g] + X[g, pos[c]] * steps[g, c]) / norms[g, c]
            assert float(screened[0][g, c]) == brute_window(values, gains[g], base[g], score, t0[g], interval)


@pytest.mark.parametrize("seed", range(6))
def test_window_search_does_not_depend_on_which_samples_tied_at_the_edge_are_kept(seed):
    """With more samples tied at the window's edge than it holds, which of them a selection keeps (here
    changed by reordering the block) moves no result: neither scores nor stored thresholds, also in rows
    where a side of t0 has no value inside the edge, so that a kept edge value neighbours the current
    split (such rows are checked to occur: there a midpoint with that value would move)."""
    rng = np.random.default_rng(1000 + seed)
    G, C, L, interval = 2, 60, 90, 4
    k = 2 * interval
    t0 = torch.tensor([0.125, -0.375])
    # Distances in eighths on either side of t0 (symmetric values tie), some a hair (1e-12) off: the same
    # float32 distance, different values. A few values nearer (1/16), on both sides of t0 or, for half
    # the candidates, above it only.
    sides = np.where(rng.random((G, C, L)) < 0.5, -1, 1)
    levels = sides * np.where(rng.random((G, C, L)) < 0.05, 0.5, rng.integers(2, 4, size=(G, C, L))) / 8.0
    levels[:, : C // 2] = np.where(levels[:, : C // 2] == -1 / 16, 1 / 16, levels[:, : C // 2])
    values = t0.numpy()[:, None, None] + levels + (rng.random((G, C, L)) < 0.3) * 1e-12
    _, gains, base, score = problem(rng, G, L)
    gains = torch.tensor(gains)

    def search_in(order):
        v = torch.tensor(values[:, :, order])
        g = gains[:, order]
        current = torch.tensor(base)[:, None, :] + torch.einsum("gcl,glk->gck", (v > t0[:, None, None]).double(), g)
        return search.window_search(v, t0, g, current, score, interval)[:2]

    v = torch.tensor(values)
    distance = (v - t0[:, None, None]).to(torch.float32).abs()
    edge = torch.kthvalue(distance, k, dim=2, keepdim=True).values
    inside, off = distance < edge, v <= t0[:, None, None]
    one_sided = (distance <= edge).sum(2) > k
    one_sided &= ~((inside & off).any(2) & (inside & ~off).any(2))
    assert int(one_sided.sum()) >= 5
    s0, th0 = search_in(np.arange(L))
    for _ in range(6):
        s1, th1 = search_in(rng.permutation(L))
        assert torch.equal(s0, s1) and torch.equal(th0, th1)


@pytest.mark.parametrize("seed", range(48))
@pytest.mark.parametrize("accelerator", [False, True])
def test_output_moves_are_the_window_search_over_every_sample(seed, accelerator):
    """`output_moves` (two lists by bit, binary searches, ranks) against brute force and against
    `search_moves` over every sample, bit for bit: sign weights (q small integers: many samples tied at the
    window's edge), real renormalised ones, real ones on a grid (ties); batches from 2 samples (window
    wider than a list, empty lists) to 3000; t0 at a midpoint or between values; on both code paths."""
    from scd_plugins.engine.host import accelerator_path

    rng = np.random.default_rng(1100 + seed)
    G = 3
    h, n, interval = (20, int(rng.integers(500, 3000)), 20) if seed % 4 == 3 else \
        (int(rng.integers(1, 7)), int(rng.integers(2, 120)), int(rng.integers(1, 30)))
    binary = seed % 2 == 0
    A = (rng.random((G, n, h)) < rng.uniform(0.05, 0.95)).astype(float)
    A[:, :, 0] = seed % 8 >= 6  # one list empty, and t0 below every value below: one list's side holds the window
    w2 = rng.choice([-1.0, 1.0], size=(G, h)) if binary else rng.normal(size=(G, h))
    if not binary:
        w2 /= np.linalg.norm(w2, axis=1, keepdims=True)
        if seed % 3 == 1:
            w2 = np.round(w2 * 4) / 4
    q = (A * w2[:, None, :]).sum(-1)
    y = rng.integers(0, 2, size=n)
    y[0], y[1] = 0, 1
    score = ZeroOne(int((y == 0).sum()), int((y == 1).sum()), float(seed % 3 > 0), 1.0)
    qt = torch.tensor(q)
    order = torch.argsort(qt, dim=1)
    qs, ys = qt.gather(1, order), torch.tensor(y).expand(G, n).gather(1, order)
    gains, base = search.output_gains(torch.tensor(y).expand(G, n))
    sg = gains.gather(1, order[..., None].expand(-1, -1, 2))
    suffix = search.suffix_sums(sg)
    bits = torch.tensor(A).gather(1, order[..., None].expand(-1, -1, h))  # (G, n, h) in q's order
    t0 = search.full_search(qs, suffix, base, score)[0] + (1e-3 if seed % 5 == 1 else 0.0)
    if seed % 8 >= 6:
        t0 = qs[:, 0] - 0.5
    if binary:
        pos, steps = torch.arange(h), -2 * torch.tensor(w2)
        norms = torch.ones_like(steps)
    else:
        pos = torch.arange(h).repeat(2)
        steps = torch.cat([torch.full((G, h), 0.2), torch.full((G, h), -0.2)], 1)
        norms = torch.sqrt(1 + 2 * steps * torch.tensor(w2)[:, pos] + steps ** 2)
    with accelerator_path() if accelerator else contextlib.nullcontext():
        scores, thresholds = search.output_moves(qs, ys, t0, bits.transpose(1, 2).to(torch.bool).contiguous(), pos,
                                                 steps, norms, score, interval)
    columns = bits.transpose(1, 2)[:, pos]  # (G, C, n)

    def inputs(positions, rows):
        if rows is None:
            return columns.gather(2, positions[:, None, :].expand(-1, len(pos), -1))
        g, c = rows
        return columns[g, c][:, None, :].gather(2, positions[:, None, :])

    zeros = torch.zeros_like(steps)
    every = search.search_moves(qs, t0, inputs, steps, norms, zeros, zeros + 1, sg, suffix, base, score, interval)
    assert torch.equal(scores, every[0]) and torch.equal(thresholds, every[1])
    for g in range(G):
        for c in range(len(pos)):
            values = (q[g] + A[g, :, int(pos[c])] * float(steps[g, c])) / float(norms[g, c])
            expected = brute_window(values, gains[g].numpy(), base[g].numpy(), score, float(t0[g]), interval)
            assert float(scores[g, c]) == expected
            realised = counters(values, gains[g].numpy(), base[g].numpy(), float(thresholds[g, c]))
            assert float(score(torch.tensor(realised))) == expected  # the threshold stored is the split scored


@pytest.mark.parametrize("seed", range(24))
def test_the_compiled_screen_gives_the_window_search_over_the_whole_block(seed):
    """`screen.screened_search` against `search.window_search` over every sample of the block in float64:
    scores, thresholds and window edges bit for bit; on rows long enough for the bound on the k-th
    smallest and rows too short for it, with many ties (also at the window's edge and at t0), a row in
    sorted order, inputs as byte codes into a table or as float64 values, 0-1 and cross-entropy scores,
    and a screen far less precise than float32 (a coarse table: S' then reaches past the guessed bound)."""
    rng = np.random.default_rng(seed)
    G, C, d, N = 2, 6, 5, 400
    ce = seed % 4 == 3
    k = int(rng.integers(1, 12))
    L = int(rng.choice([k, 3 * k, 4 * k + int(rng.integers(0, 9)), 200]))
    levels = int(rng.choice([3, 50, 1 << 20]))
    codes = rng.integers(0, 256, size=(d, N)).astype(np.uint8)
    exact = rng.integers(0, levels, size=256) / levels
    inputs = Lookup(codes, exact.astype(np.float32), exact, rng.integers(0, d, size=(G, C)),
                    rng.integers(0, N, size=(G, L)))
    if seed % 2:
        inputs = inputs._replace(matrix=exact[codes], table=None, exact=None)
    coarse = 0.05 if seed % 6 == 4 else 0.0  # a float32 table this far off the values (err covers it)
    if coarse:
        inputs = inputs._replace(table=(exact + rng.uniform(-coarse, coarse, size=256)).astype(np.float32))
    p = rng.integers(0, levels, size=(G, L)) / levels
    steps = rng.choice([-0.5, 0.25, 1.0], size=(G, C))
    norms = rng.choice([1.0, 1.1, 0.95], size=(G, C))
    t0 = rng.integers(0, levels, size=G) / levels
    if seed % 3 == 0:  # one row in order of its values: its blocks' minima are its smallest entries
        p[0] = 0.0
        inputs.samples[0] = inputs.samples[0][np.argsort(exact[codes[inputs.features[0, 0], inputs.samples[0]]],
                                                         kind="stable")]
    K, unit = (1, search.QUANTUM) if ce else (2, 1.0)
    gains = rng.integers(-3, 4, size=(G, K, L))
    outside = rng.integers(0, 50, size=(G, K)) * unit
    score = CrossEntropyScore(L) if ce else ZeroOne(120, 80, float(seed % 2), 1.0)
    x = exact[codes[inputs.features[:, :, None], inputs.samples[:, None, :]]]
    err = 16 * 2.0 ** -24 * (np.abs(p).max(1)[:, None] + np.abs(steps) * np.abs(x).max(2) + np.abs(t0[:, None] * norms))
    err = err * rng.choice([1.0, 1e5, 1e9], size=(G, C)) + 1.01 * coarse * np.abs(steps)  # any bound holds
    found = screened_search(inputs, p, steps, norms, t0, gains, outside, unit, search.compiled_scoring(score), k, err)
    values = torch.tensor((p[:, None, :] + x * steps[:, :, None]) / norms[:, :, None])
    g64 = torch.tensor(gains.transpose(0, 2, 1) * unit)
    current = torch.tensor(outside)[:, None, :] + ((values > torch.tensor(t0)[:, None, None]).to(g64.dtype) @ g64)
    expected = search.window_search(values.clone(), torch.tensor(t0), g64, current, score, k // 2 if k % 2 == 0 else k,
                                    window=k)
    for got, want in zip(found, expected):
        assert torch.equal(torch.from_numpy(got), want)


@pytest.mark.parametrize("seed", range(40))
def test_kth_smallest_selects_as_a_sort_does(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 60))
    values = (rng.integers(0, int(rng.choice([1, 3, 1000])), size=m + 5) / 7).astype(np.float32)
    for k in range(1, m + 1):
        assert kth_smallest(values, m, k, np.empty(m, np.float32)) == np.sort(values[:m])[k - 1]


def assert_best_ce(cands, losses, threshold, score):
    """The search's threshold is admissible and best to within the per-sample losses' quantum (they are
    rounded to multiples of search.QUANTUM so that sums are exact), and its score is its mean loss."""
    i = int(np.argmin(np.abs(np.array(cands) - threshold)))
    assert threshold == pytest.approx(cands[i], abs=1e-12)
    assert losses[i] <= min(losses) + search.QUANTUM
    assert score == pytest.approx(-losses[i], abs=search.QUANTUM)


@pytest.mark.parametrize("seed", range(12))
def test_cross_entropy_output_threshold_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(400 + seed)
    G, C, n = 2, 4, int(rng.integers(3, 40))
    levels = rng.normal(size=int(rng.integers(1, 6))) * rng.choice([0.3, 3.0])
    Q = rng.choice(levels, size=(G, C, n))
    y = rng.integers(0, 2, size=n)
    y[0], y[-1] = 0, 1
    sign = torch.tensor(2.0 * y - 1).expand(G, 1, n)
    positives = (sign > 0).to(torch.float64).expand(G, C, n)
    thresholds, scores = search.ce_threshold_counts(torch.tensor(Q), positives, 1 - positives,
                                                    torch.tensor(rng.normal(size=G)), n)
    for g in range(G):
        for c in range(C):
            cands = admissible(Q[g, c])
            losses = [float(search.bce(torch.tensor(Q[g, c] - t), sign[0, 0]).mean()) for t in cands]
            assert_best_ce(cands, losses, float(thresholds[g, c]), float(scores[g, c]))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("binary", [False, True])
def test_binned_cross_entropy_output_search_is_the_search_over_every_sample(seed, binary):
    """`output_bins` + `output_candidates` + `ce_threshold_counts` against brute force over the samples
    one by one: sign weights (q takes few values, bins hold both bits), real ones (each value one bin, or,
    with a zero weight, bins holding both bits)."""
    rng = np.random.default_rng(500 + seed)
    G, n, h = 3, int(rng.integers(5, 60)), 4
    A = (rng.random((G, n, h)) < 0.5).astype(float)
    w2 = rng.choice([-1.0, 1.0], size=(G, h)) if binary else rng.normal(size=(G, h))
    if not binary and seed % 2:
        w2[1, 2] = 0.0  # real weights, but samples differing in bit 2 alone share a value: bins hold both bits
    mixed = binary or bool(seed % 2)
    q = (A * w2[:, None, :]).sum(-1)
    y = rng.integers(0, 2, size=(G, n))
    y[:, 0], y[:, -1] = 0, 1
    if binary:
        pos, steps = torch.arange(h), torch.tensor(-2.0 * w2)
    else:
        pos, steps = torch.arange(h).repeat(2), torch.tensor(np.concatenate([np.full((G, h), 0.2), np.full((G, h), -0.2)], 1))
    values, held, pattern, ones = search.output_bins(torch.tensor(q), torch.tensor(A), torch.tensor(y))
    t_start = torch.tensor(rng.normal(size=G))
    Q, positives, negatives = search.output_candidates(values, held, pattern, ones, pos, steps)
    assert (pattern is None) == mixed and (ones is None) != mixed
    assert Q.shape[2] == (2 if mixed else 1) * values.shape[1]
    for counts, labels in ((positives, y), (negatives, 1 - y)):
        assert torch.equal(counts.sum(2).expand(G, len(pos)), torch.tensor(labels.sum(1), dtype=torch.float64)[:, None].expand(G, len(pos)))
    thresholds, scores = search.ce_threshold_counts(Q, positives, negatives, t_start, n)
    # One term per sample (the layout off the CPU) gives the same bits: the sums are exact.
    per_sample = torch.tensor(A).transpose(1, 2)[:, pos] * steps[..., None] + torch.tensor(q)[:, None, :]
    labels = torch.tensor(y, dtype=torch.float64)[:, None, :].expand_as(per_sample)
    apart = search.ce_threshold_counts(per_sample, labels, 1 - labels, t_start, n)
    assert torch.equal(apart[0], thresholds) and torch.equal(apart[1], scores)
    for g in range(G):
        sign = torch.tensor(2.0 * y[g] - 1)
        for c in range(len(pos)):
            moved = A[g, :, int(pos[c])] * float(steps[g, c]) + q[g]
            cands = admissible(moved)
            losses = [float(search.bce(torch.tensor(moved - t), sign).mean()) for t in cands]
            assert_best_ce(cands, losses, float(thresholds[g, c]), float(scores[g, c]))


def test_quantised_cross_entropy_sums_do_not_depend_on_order():
    rng = np.random.default_rng(0)
    g = search.quantise(torch.tensor(rng.normal(size=5000)))
    assert float(g.sum()) == float(g.flip(0).sum()) == float(g[torch.randperm(5000)].cumsum(0)[-1])
    assert CrossEntropyScore(10)(torch.tensor([[-3.0]], dtype=torch.float64)).item() == -0.3


FAMILIES = [("01", False), ("ce", False), ("01", True), ("ce", True)]


@pytest.fixture(scope="module")
def fmnist_like():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = (y == 3) | (y == 8)
    return np.ascontiguousarray(X[keep].T / 16.0), (y[keep] == 8).astype(np.int64)


@pytest.mark.parametrize("loss,binary", FAMILIES)
def test_a_vote_is_the_same_alone_or_in_any_group(fmnist_like, loss, binary):
    XT, y = fmnist_like
    cfg = VoteConfig(iterations=25, loss=loss, binary_weights=binary, n_features=16, refresh_every=10)
    seeds = [11, 12, 13, 14, 15]
    together = train_group(XT, y, cfg, seeds)
    alone = [train_group(XT, y, cfg, [s]) for s in seeds]
    split = [train_group(XT, y, cfg, seeds[:2]), train_group(XT, y, cfg, seeds[2:])]
    for key in ("W1", "b1", "w2", "b2", "train_score"):
        assert np.array_equal(together[key], np.concatenate([a[key] for a in alone]))
        assert np.array_equal(together[key], np.concatenate([s[key] for s in split]))
    assert len({together["W1"][i].tobytes() for i in range(5)}) == 5  # different seeds, different votes
    assert float(together["train_score"].min()) > 1.6  # acc + balanced acc, well above chance (1.0)


@pytest.mark.parametrize("loss,binary", FAMILIES)
def test_votes_trained_through_the_float32_screen_are_the_float64_votes(fmnist_like, loss, binary, monkeypatch):
    XT, y = fmnist_like  # digits: 17 evenly spaced values, so the screen multiplies byte codes
    cfg = VoteConfig(iterations=20, loss=loss, binary_weights=binary, n_features=16)
    monkeypatch.setattr(search, "SCREEN_MIN", 1 << 62)
    plain = train_group(XT, y, cfg, [5, 6])
    monkeypatch.setattr(search, "SCREEN_MIN", 0)
    calls = []
    screened_block = search._screened_block
    monkeypatch.setattr(search, "_screened_block", lambda *a: calls.append(1) or screened_block(*a))
    screened = train_group(XT, y, cfg, [5, 6])
    assert len(calls) >= 20 * (1 if binary else 2)  # every hidden move search (each sign's half) was screened
    for key in ("W1", "b1", "w2", "b2", "train_score"):
        assert np.array_equal(plain[key], screened[key])


@pytest.mark.parametrize("binary", [False, True])
def test_cross_entropy_output_searches_split_by_vote_give_the_same_votes(fmnist_like, binary, monkeypatch):
    XT, y = fmnist_like
    cfg = VoteConfig(iterations=20, loss="ce", binary_weights=binary, n_features=16)
    monkeypatch.setattr(search, "CE_SPLIT", 1 << 62)
    whole = train_group(XT, y, cfg, [7, 8, 9])
    calls = []
    present_terms = search._present_terms
    monkeypatch.setattr(search, "_present_terms", lambda *a: calls.append(1) or present_terms(*a))
    monkeypatch.setattr(search, "CE_SPLIT", 0)
    split = train_group(XT, y, cfg, [7, 8, 9])
    assert len(calls) >= 3 * 2 * 20  # every vote's current and candidate searches of every iteration
    for key in ("W1", "b1", "w2", "b2", "train_score"):
        assert np.array_equal(whole[key], split[key])


def test_votes_do_not_depend_on_n_jobs_or_group_size(fmnist_like):
    from scd_plugins import SCD01Classifier

    XT, y = fmnist_like
    fits = [SCD01Classifier(n_votes=5, iterations=15, n_features=16, random_state=3, n_jobs=jobs,
                            votes_per_group=group, device="cpu").fit(XT.T, y)
            for jobs, group in ((1, None), (2, 2), (1, 3))]
    for other in fits[1:]:
        assert np.array_equal(fits[0].W1_, other.W1_) and np.array_equal(fits[0].b2_, other.b2_)


@pytest.mark.parametrize("loss,binary", [("01", False), ("01", True)])
def test_the_batched_loop_makes_the_single_vote_loops_decisions(fmnist_like, loss, binary):
    """Against the single-vote loop it replaced (engine.vote): SCD01BNN bit-identical, SCD01 equal up to
    rounding (the same moves accepted; norms are summed in another order)."""
    from scd_plugins.engine.vote import train_vote

    XT, y = fmnist_like
    cfg = VoteConfig(iterations=30, loss=loss, binary_weights=binary, n_features=16)
    for seed in (1,):
        old, new = train_vote(XT, y, cfg, seed), train_group(XT, y, cfg, [seed])
        assert old["train_score"] == new["train_score"][0]
        for key in ("W1", "b1", "w2", "b2"):
            if binary:
                assert np.array_equal(old[key], new[key][0])
            else:
                assert np.allclose(old[key], new[key][0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_smallest_is_top_k_whatever_the_guess(seed):
    rng = np.random.default_rng(700 + seed)
    G, C, L = 3, 5, int(rng.integers(45, 200))
    k = int(rng.integers(1, 41))
    distance = torch.tensor(rng.integers(0, 30, size=(G, C, L)) / 7.0, dtype=torch.float32)  # many ties
    expected = torch.topk(distance, k, dim=2, largest=False).values
    for reach in (torch.zeros(G), torch.full((G,), 1.5), torch.full((G,), 100.0), torch.tensor(rng.random(G) * 4)):
        nearest, idx = search.smallest(distance, k, reach)
        assert torch.equal(torch.sort(nearest, dim=2).values, expected)
        assert torch.equal(distance.gather(2, idx), nearest)
        assert all(len(set(row.tolist())) == k for row in idx.reshape(G * C, k))


@pytest.mark.parametrize("seed", range(6))
def test_kth_distance_is_the_kth_smallest_distance_of_the_whole_row(seed):
    rng = np.random.default_rng(800 + seed)
    G, n = 6, int(rng.integers(1, 120))
    p = torch.sort(torch.tensor(rng.integers(-6, 7, size=(G, n)) / 3.0), dim=1).values  # ties
    t0 = torch.tensor(np.concatenate([rng.normal(size=G - 2) * 2, [-10.0, 10.0]]))  # also outside every value
    t0[0] = p[0, n // 2]  # exactly on a value
    for k in {1, n, int(rng.integers(1, n + 1))}:
        expected = torch.kthvalue((p - t0[:, None]).abs(), k, dim=1).values
        assert torch.equal(search.kth_distance(p, t0, k), expected)


def test_byte_codes_are_the_values_bit_for_bit_or_none():
    from scd_plugins.engine.codes import byte_codes

    rng = np.random.default_rng(5)
    XT = rng.integers(0, 200, size=(40, 3000)) / 255.0
    XT[7, 11] = 0.5 / 255  # values a strided sample of 2 misses: the table grows, earlier rows are coded again
    for chunk in (3000, 1 << 22):  # a row per chunk, then every row in one
        table, codes = byte_codes(XT, sample=2, chunk=chunk)
        assert codes.dtype == np.uint8 and len(table) == len(np.unique(XT)) == 201
        assert np.array_equal(table[codes].view(np.int64), XT.view(np.int64))
    assert byte_codes(rng.random((4, 100))) is None  # 400 distinct values
    signed = np.zeros((2, 50))
    signed[1, 3] = -0.0
    assert byte_codes(signed) is None  # -0.0 beside 0.0 cannot share a code
    assert byte_codes(np.full((2, 5), np.nan)) is None


def test_a_group_trains_the_same_with_or_without_byte_codes(fmnist_like):
    XT, y = fmnist_like  # digits: 17 distinct values
    cfg = VoteConfig(iterations=12, n_features=16)
    coded, plain = train_group(XT, y, cfg, [3, 4]), train_group(XT, y, cfg, [3, 4], codes=None)
    for key in ("W1", "b1", "w2", "b2", "train_score"):
        assert np.array_equal(coded[key], plain[key])


def test_votes_searched_in_width_batches_are_the_same(fmnist_like, monkeypatch):
    XT, y = fmnist_like
    cfg = VoteConfig(iterations=12, n_features=16)
    together = train_group(XT, y, cfg, [21, 22, 23])
    split = search.width_batches
    monkeypatch.setattr(search, "width_batches", lambda *a, **k: split(*a, waste=0))  # a batch per width
    apart = train_group(XT, y, cfg, [21, 22, 23])
    for key in ("W1", "b1", "w2", "b2", "train_score"):
        assert np.array_equal(together[key], apart[key])
    widths = search.width_batches(torch.tensor([[0.0, 1, 2, 3]]).repeat(3, 1), torch.zeros(3),
                                  torch.ones(3, 2), torch.ones(3, 2), torch.zeros(3, 2), torch.ones(3, 2), 1,
                                  torch.full((3,), 0.1), waste=0)
    assert widths == [None]  # equal widths: one batch


@pytest.mark.parametrize("n_votes, n_jobs, largest", [(100, 2, 8), (24, 2, 6), (8, 2, 4), (1, 2, 1), (3, None, 3),
                                                      (16, 4, 4), (100, 1, 8), (101, 2, 8), (17, 3, 6)])
def test_default_cpu_groups_hold_at_most_8_votes_and_give_every_process_the_same_work(n_votes, n_jobs, largest):
    from scd_plugins.engine.ensemble import group_sizes

    sizes = group_sizes(n_votes, "cpu", n_jobs)
    assert sum(sizes) == n_votes and max(sizes) == largest <= 8 and max(sizes) - min(sizes) <= 1
    jobs = 1 if n_jobs is None else n_jobs
    assert len(sizes) % jobs == 0 or len(sizes) == n_votes     # every process gets as many groups
    assert group_sizes(n_votes, "cuda", n_jobs) == [n_votes]      # the whole ensemble (up to 128) on a GPU
    assert group_sizes(n_votes, "cpu", n_jobs, votes_per_group=3)[:-1] == [3] * ((n_votes - 1) // 3)
