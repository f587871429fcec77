"""Hyperparameters of one vote (kept free of torch so estimators import light)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VoteConfig:
    """Hyperparameters of one vote (names as in the spec; paper defaults)."""

    hidden_nodes: int = 20
    iterations: int = 1000
    nrows: float = 0.75
    n_features: int = 128
    w_inc1: float = 0.17
    w_inc2: float = 0.2
    interval: int = 20
    b_ratio: float = 0.2
    loss: str = "01"  # "01" or "ce"
    binary_weights: bool = False
    refresh_every: int = 2000  # recompute cached projections from scratch to bound float drift

    @property
    def renormalise(self) -> bool:
        return self.loss == "01" and not self.binary_weights
