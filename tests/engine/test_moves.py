"""The band prefilter and cheap top-k behind the move search, against brute force and the unfiltered search."""
import numpy as np
import pytest
import torch

from scd_plugins.engine.moves import moved, search_moves
from scd_plugins.engine.objective import CrossEntropy, ZeroOne
from scd_plugins.engine.threshold import move_band, screened_window_search, smallest

U32 = float(torch.finfo(torch.float32).eps) / 2


@pytest.mark.parametrize("seed", range(12))
def test_smallest_equals_topk_whatever_the_guess(seed):
    rng = np.random.default_rng(seed)
    C, n, k = 9, int(rng.integers(5, 300)), int(rng.integers(1, 45))
    k = min(k, n)
    distance = torch.tensor(rng.integers(0, 30, size=(C, n)) / 7.0, dtype=torch.float32)  # many ties
    expected = torch.topk(distance, k, dim=1, largest=False).values
    for reach in (torch.zeros(C), torch.full((C,), 1.5), torch.full((C,), 100.0),
                  torch.tensor(rng.random(C) * 4, dtype=torch.float32)):
        nearest, idx = smallest(distance, k, reach)
        assert torch.equal(torch.sort(nearest, dim=1).values, expected)
        assert torch.equal(distance.gather(1, idx), nearest)
        assert all(len(set(row.tolist())) == k for row in idx)  # k distinct samples per row


@pytest.mark.parametrize("seed", range(12))
def test_samples_outside_the_band_stay_far_and_on_their_side(seed):
    rng = np.random.default_rng(50 + seed)
    n, C = 300, 12
    p = torch.tensor(rng.normal(size=n), dtype=torch.float64)
    if seed % 3 == 0:
        p = torch.round(p * 3)  # ties
    X = torch.tensor(rng.uniform(-0.5, 1.0, size=(C, n)), dtype=torch.float64)
    sign = 1.0 if seed % 2 else -1.0
    steps = sign * torch.tensor(rng.uniform(0.05, 0.4, size=C), dtype=torch.float64)
    norms = torch.tensor(rng.uniform(0.8, 1.2, size=C), dtype=torch.float64)
    t0 = torch.tensor(float(rng.normal() * 0.3), dtype=torch.float64)
    radius = float(rng.uniform(0.01, 0.3))
    order = torch.argsort(p, stable=True)
    a, b = move_band(p[order], t0, steps, norms, X.min(1).values, X.max(1).values, radius)
    values = moved(p[None, :], X, steps[:, None], norms[:, None])
    below, above = order[:a], order[b:]
    assert bool(((values[:, below] - t0) < -radius).all())
    assert bool(((values[:, above] - t0) > radius).all())
    # The band is tight up to its bounds: its end samples could come near t0 for some x in range.
    assert 0 <= a <= b <= n


def _search_problem(rng, loss):
    n, F = 600, 24
    y = torch.tensor(rng.integers(0, 2, size=n))
    p = torch.tensor(rng.normal(size=n) * 0.4, dtype=torch.float64)
    X = torch.tensor(rng.random((F, n)), dtype=torch.float64)  # pixel-like inputs in [0, 1]
    X[:, :40] = torch.round(X[:, :40] * 4) / 4  # ties among the inputs
    w = torch.tensor(rng.normal(size=F), dtype=torch.float64)
    w /= w.norm()
    positions = torch.arange(F).repeat(2)
    steps = torch.cat([torch.full((F,), 0.17), torch.full((F,), -0.17)]).to(torch.float64)
    norms = torch.sqrt(1 + 2 * steps * w[positions] + steps ** 2)
    if loss == "01":
        correct_on, correct_off = torch.tensor(rng.random(n) < 0.6), torch.tensor(rng.random(n) < 0.5)
        gains, base = ZeroOne.outcome_gains(y, correct_on, correct_off)
        score = ZeroOne(int((y == 0).sum()), int((y == 1).sum()), 1.0, 1.0)
    else:
        gains, base = CrossEntropy.outcome_gains(y, torch.tensor(rng.normal(size=n)), torch.tensor(rng.normal(size=n)))
        score = CrossEntropy(n)
    t0 = torch.tensor(float(np.median(p.numpy())) + 1e-3, dtype=torch.float64)
    return p, X, positions, steps, norms, gains, base, score, t0


@pytest.mark.parametrize("loss", ["01", "ce"])
@pytest.mark.parametrize("seed", range(8))
def test_band_search_equals_the_search_over_every_sample(seed, loss):
    """Restricting the screen to the band changes nothing: same scores, same thresholds as screening
    every sample (for CE up to the summation order of the base)."""
    rng = np.random.default_rng(100 + seed)
    p, X, positions, steps, norms, gains, base, score, t0 = _search_problem(rng, loss)
    X32 = X.to(torch.float32)
    scores, thresholds = search_moves(
        p, t0, lambda pos, idx: X32[pos][:, idx], lambda pos, idx: X[pos, idx], positions, steps, norms,
        X.min(1).values[positions], X.max(1).values[positions], gains, base, score, interval=20)
    P = moved(p[None, :], X[positions], steps[:, None], norms[:, None])  # (C, n) exact
    E = ((p[None, :] - t0 * norms[:, None]) + steps[:, None] * X[positions]).to(torch.float32)
    err = 8 * U32 * (p.abs().max() + steps.abs() + (t0 * norms).abs()) / norms
    full_scores, full_thresholds = screened_window_search(E, err, lambda rows, idx: P[rows[:, None], idx], t0, gains,
                                                          base, score, 20, row_scale=norms)
    if loss == "01":
        assert torch.equal(scores, full_scores) and torch.equal(thresholds, full_thresholds)
    else:
        assert torch.allclose(scores, full_scores, rtol=0, atol=1e-12)
        assert torch.equal(thresholds, full_thresholds)
    # Each returned threshold realises its score on the exact candidate values.
    for c in range(len(steps)):
        on = (P[c] > thresholds[c]).to(gains.dtype)
        assert float(score(base + on @ gains)) == pytest.approx(float(scores[c]), abs=1e-12)
