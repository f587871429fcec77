"""The objectives one vote optimises, expressed as additive counters for the threshold search.

0-1 family: counters are (correct negatives, correct positives); the score is
`alpha * accuracy + beta * balanced accuracy` (balanced accuracy alone for the first `b_ratio` of
the iterations, then both). Cross-entropy family: one counter, minus the summed BCE, scored as minus
the mean BCE.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ZeroOne:
    """alpha * accuracy + beta * balanced accuracy on a sample with n0 negatives and n1 positives."""

    n0: int
    n1: int
    alpha: float
    beta: float

    def __call__(self, counters: torch.Tensor) -> torch.Tensor:
        c0, c1 = counters[..., 0], counters[..., 1]
        n = self.n0 + self.n1
        return self.alpha * (c0 + c1) / n + self.beta * 0.5 * (c1 / self.n1 + c0 / self.n0)

    @staticmethod
    def outcome_gains(y: torch.Tensor, correct_on: torch.Tensor, correct_off: torch.Tensor):
        """Counters if every sample is off, and what each adds when on, from per-sample correctness."""
        neg, pos = (y == 0), (y == 1)
        # Small integers held in float32: sums stay exact (below 2**24) and matrix products are cheap.
        delta = correct_on.to(torch.float32) - correct_off.to(torch.float32)
        gains = torch.stack([delta * neg, delta * pos], dim=1)
        base = torch.stack([(correct_off & neg).sum(), (correct_off & pos).sum()]).to(torch.float64)
        return gains, base


@dataclass(frozen=True)
class CrossEntropy:
    """Minus the mean binary cross-entropy of sigmoid(z) (higher is better)."""

    n: int

    def __call__(self, counters: torch.Tensor) -> torch.Tensor:
        return counters[..., 0] / self.n

    @staticmethod
    def losses(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample BCE of logits z against 0/1 labels y (broadcasts over candidate columns)."""
        sign = (2 * y - 1).to(z.dtype)
        if z.dim() == 2:
            sign = sign[:, None]
        return F.softplus(-sign * z)

    @classmethod
    def outcome_gains(cls, y: torch.Tensor, z_on: torch.Tensor, z_off: torch.Tensor):
        loss_on, loss_off = cls.losses(z_on, y), cls.losses(z_off, y)
        return (loss_off - loss_on)[:, None], -loss_off.sum()[None]
