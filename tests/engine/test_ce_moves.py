"""The CE output step's skipped searches (`engine.ce_moves`): the lower bounds hold against brute force,
and skipping the candidates they rule out leaves the move the full search chooses, bit for bit."""
import numpy as np
import pytest
import torch

from scd_plugins.engine import ce_moves, search
from scd_plugins.engine.host import accelerator_path


def output_node(seed, binary):
    """Activations A (G, n, h), projections q, labels y that q predicts with noise, and the candidate
    moves of real weights (+/- 0.2 on each) or sign weights (a flip each)."""
    rng = np.random.default_rng(seed)
    G, n, h = 3, int(rng.integers(60, 300)), 6
    A = (rng.random((G, n, h)) < 0.5).astype(float)
    w2 = rng.choice([-1.0, 1.0], size=(G, h)) if binary else rng.normal(size=(G, h))
    q = (A * w2[:, None, :]).sum(-1)
    y = (q + rng.normal(size=(G, n)) * rng.choice([0.3, 1.0, 3.0]) > rng.normal()).astype(np.int64)
    y[:, 0], y[:, -1] = 0, 1
    if binary:
        pos, steps = torch.arange(h), torch.tensor(-2.0 * w2)
    else:
        pos = torch.arange(h).repeat(2)
        steps = torch.tensor(np.concatenate([np.full((G, h), 0.2), np.full((G, h), -0.2)], 1))
    return torch.tensor(q), torch.tensor(A), torch.tensor(y), pos, steps, torch.tensor(rng.normal(size=G))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("binary", [False, True])
def test_lower_bounds_are_below_every_loss_a_candidate_reaches(seed, binary):
    q, A, y, pos, steps, t_start = output_node(40 + seed, binary)
    G, n = q.shape
    bins = search.output_bins(q, A, y)
    optimum = search.ce_threshold_counts(*search.value_terms(*bins[:2]), t_start, n)[0][:, 0]
    sign = (2.0 * y - 1).to(torch.float64)
    grid = torch.linspace(float(q.min()) - 8, float(q.max()) + 8, 4001, dtype=torch.float64)
    for t2 in (t_start, optimum):  # anywhere; where the step takes them from (the current weights' optimum)
        bound = ce_moves.lower_bounds(*bins, pos, steps, t2, n)
        _, scores = search.ce_threshold_counts(*search.output_candidates(*bins, pos, steps), t2, n)
        assert torch.all(bound <= -scores)  # below the loss the search reports
        for g in range(G):
            moved = A[g].T[pos] * steps[g][:, None] + q[g]  # (C, n)
            exact = search.bce(moved[:, None, :] - grid[None, :, None], sign[g]).mean(2)  # (C, grid)
            assert torch.all(bound[g] <= exact.amin(1))  # and below the loss at any threshold at all
    if not binary:  # small moves from the optimum: bounds, mostly, close enough to rule candidates out
        assert torch.isfinite(bound).float().mean() > 0.5
        assert float((-scores - bound).median()) < 1e-2


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("binary", [False, True])
def test_skipping_candidates_keeps_the_full_searchs_move_bit_for_bit(seed, binary, monkeypatch):
    monkeypatch.setattr(ce_moves, "BOUND_FROM", 0)  # bounds even for these few terms
    q, A, y, pos, steps, t_start = output_node(80 + seed, binary)
    n = q.shape[1]
    t2, current, thresholds, scores = ce_moves.output_search(q, A, y, pos, steps, t_start, n)
    with accelerator_path():  # every candidate searched
        full = ce_moves.output_search(q, A, y, pos, steps, t_start, n)
    assert torch.equal(t2, full[0]) and torch.equal(current, full[1])
    searched = torch.isfinite(scores)
    assert torch.equal(thresholds[searched], full[2][searched]) and torch.equal(scores[searched], full[3][searched])
    best = torch.maximum(current, scores.amax(1))
    assert torch.all(full[3][~searched] < best[:, None].expand_as(scores)[~searched])  # skipped: strictly worse
    c, c_full = scores.argmax(1), full[3].argmax(1)
    better = scores.gather(1, c[:, None])[:, 0] > current
    assert torch.equal(better, full[3].gather(1, c_full[:, None])[:, 0] > current)
    assert torch.equal(c[better], c_full[better])
    if not binary:
        assert (~searched).any()  # the bounds ruled some candidates out


def test_few_terms_are_searched_whole():
    q, A, y, pos, steps, t_start = output_node(7, True)  # sign weights: at most 2h + 1 values
    t2, current, thresholds, scores = ce_moves.output_search(q, A, y, pos, steps, t_start, q.shape[1])
    with accelerator_path():
        full = ce_moves.output_search(q, A, y, pos, steps, t_start, q.shape[1])
    assert torch.isfinite(scores).all() and torch.equal(scores, full[3]) and torch.equal(thresholds, full[2])
