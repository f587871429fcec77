"""The compiled passes of the CE output search (`engine.ce_sums`): the host path of
`search.ce_threshold_counts` must give the accelerator path's thresholds and scores bit for bit, and
`search.output_bins` must find shared activation patterns exactly, whatever the number of hidden nodes."""
import numpy as np
import pytest
import torch

from scd_plugins.engine import search
from scd_plugins.engine.host import accelerator_path


def random_terms(rng, shared: bool, pad: str):
    """Terms (Q, positives, negatives) of G votes and C candidates: tied values, zero counts (absent
    terms), padding at the end of a row or inside it."""
    G, C, B = 3, 5, int(rng.integers(2, 40))
    levels = rng.normal(size=int(rng.integers(2, 12))) * rng.choice([0.05, 1.0, 4.0])
    Q = torch.tensor(rng.choice(levels, size=(G, C, B)))
    counts = torch.tensor(rng.integers(0, 4, size=(G, 1 if shared else C, B, 2)), dtype=torch.float64)
    if pad == "end":
        counts[:, :, B // 2:] = 0
    elif pad == "inside":
        counts[:, :, 1:B // 2] = 0
    counts[:, :, 0, :] = 1  # every row holds samples of both classes
    pos, neg = counts[..., 1].contiguous(), counts[..., 0].contiguous()
    totals = (pos + neg).sum(2)
    n = int(totals.max())
    neg[:, :, 0] += n - totals  # n samples in every row
    return Q, pos, neg, n, torch.tensor(rng.normal(size=G) * 3)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("pad", ["none", "end", "inside"])
def test_compiled_host_search_is_the_tensor_search_bit_for_bit(seed, shared, pad, monkeypatch):
    rng = np.random.default_rng(900 + seed)
    Q, pos, neg, n, t_start = random_terms(rng, shared, pad)
    with accelerator_path():
        reference = search.ce_threshold_counts(Q, pos, neg, t_start, n, newton_steps=64)
    for split in (1 << 62, 0):  # the group at once; each vote over its own present terms
        monkeypatch.setattr(search, "CE_SPLIT", split)
        found = search.ce_threshold_counts(Q, pos, neg, t_start, n)
        assert torch.equal(found[0], reference[0]) and torch.equal(found[1], reference[1])


def test_present_terms_drop_what_no_candidate_holds_wherever_it_sits():
    rng = np.random.default_rng(3)
    for pad in ("end", "inside"):
        Q, pos, neg, n, _ = random_terms(rng, False, pad)
        for g in range(Q.shape[0]):
            held = ((pos[g] + neg[g]) > 0).any(0)
            kept = search._present_terms(Q, pos, neg, g)
            for x, full in zip(kept, (Q, pos, neg)):
                assert torch.equal(x[0], full[g][:, held])


@pytest.mark.parametrize("h", [3, 52, 60, 110])
def test_output_bins_find_shared_patterns_with_any_number_of_hidden_nodes(h):
    rng = np.random.default_rng(h)
    G, n = 2, 50
    A = (rng.random((G, n, h)) < 0.5).astype(float)
    A[:, 25:] = A[:, :25]  # every pattern twice
    w2 = rng.normal(size=(G, h))
    q = torch.tensor((A * w2[:, None, :]).sum(-1))
    y = torch.tensor(rng.integers(0, 2, size=(G, n)))
    values, held, pattern, ones = search.output_bins(q, torch.tensor(A), y)
    assert ones is None and pattern.shape == (G, values.shape[1], h)
    for g in range(G):
        for u in range(int((held[g].sum(1) > 0).sum())):
            at = np.flatnonzero(q[g].numpy() == float(values[g, u]))
            assert np.array_equal(pattern[g, u].numpy(), A[g, at[0]])
    A[0, 30, h - 1] = 1 - A[0, 5, h - 1]  # two samples of one value now differ in the last bit only
    q = torch.tensor(np.where(np.arange(n) == 30, q[0].numpy()[5], q.numpy()))
    _, _, pattern, ones = search.output_bins(q, torch.tensor(A), y)
    assert pattern is None and ones is not None


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shared", [True, False])
def test_compiled_newton_steps_are_the_tensor_steps_bit_for_bit(seed, shared):
    """The continuous optimum itself, not only the thresholds chosen from it (those would survive a
    different but converging path): the same t from the compiled steps as from the tensor ones."""
    rng = np.random.default_rng(700 + seed)
    Q, pos, neg, n, t_start = random_terms(rng, shared, "end")
    weight = pos + neg
    G, C = Q.shape[:2]
    positives = pos.sum(2).expand(G, C)
    low = torch.full((G, C), float(Q.min()) - 20.0, dtype=torch.float64)
    high = torch.full((G, C), float(Q.max()) + 20.0, dtype=torch.float64)
    t = torch.minimum(torch.maximum(t_start[:, None].expand(G, C), low), high)
    with accelerator_path():
        reference = search._newton(Q, weight, positives, n, t, low, high, 64)
    found = search._newton(Q, weight, positives, n, t, low, high, 64, search._Terms(Q, weight, pos))
    assert torch.equal(found, reference)
