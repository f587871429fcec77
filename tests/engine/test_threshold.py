"""The threshold searches against a brute-force evaluation of every admissible threshold."""
import numpy as np
import pytest
import torch

from scd_plugins.engine.objective import CrossEntropy, ZeroOne
from scd_plugins.engine.threshold import full_search, window_search


def brute_counters(p, gains, base, t):
    """Counters of the split 'on iff p > t', summed sample by sample."""
    out = base.clone()
    for value, g in zip(p.tolist(), gains):
        if value > t:
            out = out + g
    return out


def admissible(p):
    """Every admissible threshold: one below the smallest value and the midpoints of distinct values."""
    values = np.unique(p.numpy())
    below = values[0] - ((values[1] - values[0]) / 2 if len(values) > 1 else 0.5)
    return [below] + [(a + b) / 2 for a, b in zip(values[:-1], values[1:])]


def tied_problem(rng, n):
    """Projections with many ties (small integers, as in the BNN variants) and 0-1 gains."""
    p = torch.tensor(rng.integers(-4, 5, size=n), dtype=torch.float64)
    y = torch.tensor(rng.integers(0, 2, size=n))
    if y.sum() in (0, n):
        y[0] = 1 - y[0]
    correct_on = torch.tensor(rng.random(n) < 0.6)
    correct_off = torch.tensor(rng.random(n) < 0.5)
    gains, base = ZeroOne.outcome_gains(y, correct_on, correct_off)
    objective = ZeroOne(int((y == 0).sum()), int((y == 1).sum()), 1.0, 1.0)
    return p, gains, base, objective


@pytest.mark.parametrize("seed", range(30))
def test_full_search_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    p, gains, base, objective = tied_problem(rng, int(rng.integers(2, 60)))
    threshold, score = full_search(p, gains, base, objective)
    scores = [float(objective(brute_counters(p, gains, base, t))) for t in admissible(p)]
    assert float(score) == max(scores)
    assert float(threshold) == admissible(p)[int(np.argmax(scores))]  # lowest threshold among equals
    # The threshold is admissible: the split it stores is the split that was scored.
    assert float(objective(brute_counters(p, gains, base, float(threshold)))) == float(score)
    assert not bool((p == threshold).any())


@pytest.mark.parametrize("seed", range(10))
def test_full_search_cross_entropy_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    n = 40
    p = torch.tensor(rng.integers(-3, 4, size=n), dtype=torch.float64)
    y = torch.tensor(rng.integers(0, 2, size=n))
    z_on, z_off = torch.tensor(rng.normal(size=n)), torch.tensor(rng.normal(size=n))
    gains, base = CrossEntropy.outcome_gains(y, z_on, z_off)
    objective = CrossEntropy(n)
    threshold, score = full_search(p, gains, base, objective)
    best = max(-float(CrossEntropy.losses(torch.where(p > t, z_on, z_off), y).mean()) for t in admissible(p))
    assert float(score) == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_window_search_matches_brute_force_over_its_window(seed):
    rng = np.random.default_rng(200 + seed)
    n, C, interval = int(rng.integers(5, 80)), 7, int(rng.integers(1, 6))
    p, gains, base, objective = tied_problem(rng, n)
    P = torch.stack([p + torch.tensor(rng.integers(-2, 3, size=n), dtype=torch.float64) for _ in range(C)])
    t0 = torch.tensor(0.5, dtype=torch.float64)
    scores, thresholds = window_search(P.clone(), t0, gains, base, objective, interval)
    k = min(2 * interval, n)
    for c in range(C):
        row = P[c]
        # The window: values strictly nearer to t0 than the k-th nearest distance.
        distance = np.abs(row.numpy() - 0.5)
        nearest = np.sort(row.numpy()[distance < np.sort(distance)[k - 1]])
        cands = [0.5] + [(a + b) / 2 for a, b in zip(nearest[:-1], nearest[1:]) if a < b]
        best = max(float(objective(brute_counters(row, gains, base, t))) for t in cands)
        assert float(scores[c]) == best
        # The returned threshold realises the returned score.
        assert float(objective(brute_counters(row, gains, base, float(thresholds[c])))) == float(scores[c])


@pytest.mark.parametrize("seed", range(10))
def test_float32_screening_is_exact(seed):
    """Screening candidates in float32 gives the exact float64 answer, also where float32 cannot tell
    the values near t0 apart (those rows are redone exactly)."""
    from scd_plugins.engine.threshold import screened_window_search

    rng = np.random.default_rng(300 + seed)
    n, C, interval = 400, 16, 5
    p, gains, base, objective = tied_problem(rng, n)
    # Real-valued projections with near-ties far below float32 resolution around t0.
    P = torch.tensor(rng.normal(size=(C, n)) * 0.05, dtype=torch.float64)
    P[:, :30] = 1e-9 * torch.tensor(rng.integers(-3, 4, size=(C, 30)), dtype=torch.float64)
    t0 = torch.tensor(0.0, dtype=torch.float64)
    E = (P - t0).to(torch.float32)
    err = torch.full((C,), 4 * float(torch.finfo(torch.float32).eps) * float(P.abs().max()), dtype=torch.float64)
    scores, thresholds = screened_window_search(E, err, lambda rows, idx: P[rows[:, None], idx], t0, gains, base,
                                                objective, interval)
    exact_scores, exact_thresholds = window_search(P.clone(), t0, gains, base, objective, interval)
    current = objective(base + (P > t0).to(gains.dtype) @ gains)
    assert torch.equal(scores, exact_scores) and torch.equal(thresholds, exact_thresholds)
    for c in range(C):
        assert float(objective(brute_counters(P[c], gains, base, float(thresholds[c])))) == float(scores[c])
        assert float(scores[c]) >= float(current[c])


@pytest.mark.parametrize("seed", range(20))
def test_cross_entropy_output_threshold_matches_brute_force_with_ties(seed):
    """SCDCE's output bias: Newton on the convex mean BCE, then the admissible thresholds beside the
    optimum, equals scoring every admissible threshold (values tied in groups, as A @ w2 is)."""
    from scd_plugins.engine.vote import _ce_threshold

    rng = np.random.default_rng(400 + seed)
    n, C = int(rng.integers(3, 40)), 6
    levels = rng.normal(size=int(rng.integers(1, 6))) * rng.choice([0.3, 3.0])  # a few distinct values
    Q = torch.tensor(rng.choice(levels, size=(n, C)), dtype=torch.float64)
    y = torch.tensor(rng.integers(0, 2, size=n))
    y[0], y[-1] = 0, 1
    thresholds, scores = _ce_threshold(Q, y, torch.tensor(float(rng.normal()), dtype=torch.float64))
    for c in range(C):
        candidates = admissible(Q[:, c])
        losses = [float(CrossEntropy.losses(Q[:, c] - t, y).mean()) for t in candidates]
        best = int(np.argmin(losses))
        assert float(scores[c]) == pytest.approx(-losses[best], abs=1e-12)
        assert float(thresholds[c]) == pytest.approx(candidates[best], abs=1e-12)
