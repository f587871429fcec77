"""Transferability inside an ensemble (T6): the R x R matrix and the paper's probability."""
import numpy as np
import pytest

from scd_plugins.attacks import transfer_matrix, transfer_probability, transfer_row


def test_probability_counts_off_diagonal_pairs():
    m = np.zeros((3, 3), dtype=bool)
    m[0, 0] = m[1, 1] = True            # diagonal entries (a vote fooled by its own adversary) do not count
    m[0, 2] = m[2, 1] = True
    assert transfer_probability(m) == pytest.approx(2 / 6)
    assert transfer_probability(np.stack([m, np.zeros_like(m)])) == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="R >= 2"):
        transfer_probability(np.zeros((1, 1)))


def test_matrix_on_an_scd01_ensemble(scd01_small, digits38):
    X, _ = digits38
    x = X[262:264]
    out = transfer_matrix(scd01_small, x, attack="hsj", settings={"max_iter": 5, "max_eval": 200}, restarts=1,
                          input_shape=(8, 8, 1), clip_values=(0.0, 1.0), seed=0, verbose=False)
    m = out["matrix"]
    assert m.shape == (2, 4, 4)
    rows = out["rows"]
    assert len(rows) == 8
    for row in rows:
        # the diagonal is the attack on the vote itself: it succeeded exactly when the row says so
        assert m[row.index, row.vote, row.vote] == row.success
        assert row.success                                     # a single sign network is easy to fool
    # recompute one row by hand: the adversary against vote 0 evaluated on every vote
    row = transfer_row(scd01_small, x[0], 0, index=0, attack="hsj", settings={"max_iter": 5, "max_eval": 200},
                       restarts=1, input_shape=(8, 8, 1), clip_values=(0.0, 1.0), seed=0)
    np.testing.assert_array_equal(row.fooled, m[0, 0])
    assert out["probability"] == pytest.approx(transfer_probability(m))
    assert 0.0 <= out["probability"] <= 1.0
