"""Many votes: seeded training in groups, and prediction as one batched product over all votes.

Training: votes are trained in groups (`group_sizes`), each group as one batched tensor program
(`scd_plugins.engine.group`); groups are spread over `n_jobs` processes on the CPU (joblib) and run one
after another on CUDA. Vote i always gets seed i spawned from the master seed (`vote_seeds`), and its
result depends neither on the other votes of its group nor on n_jobs (every counter is an exact sum).

Prediction: hidden pre-activations of every vote come from one float32 matrix product (d x R*h
stacked weights). Entries whose float32 value lies within the rounding margin of zero are
recomputed in float64, so signs are float64 signs and a vote predicts the same whatever the batch
it is queried in.
"""
from __future__ import annotations

import math
import time

import numpy as np
from joblib import effective_n_jobs

from scd_plugins.engine.codes import byte_codes
from scd_plugins.engine.config import VoteConfig

_U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32


def group_sizes(n_votes: int, device: str, n_jobs=None, votes_per_group: int | None = None) -> list[int]:
    """How many votes each group trains, in vote order. Given votes_per_group g: groups of g (the last
    one smaller); on a GPU by default, the whole ensemble (up to 128 votes a group). On the CPU by
    default, a multiple of `n_jobs` groups of at most 8 votes whose sizes differ by one at most, so that
    every process gets the same work (100 votes on 2 processes: 14 groups of 7 or 8, 50 votes a
    process, where groups of 8 gave one process 56). A group is one process's work; groups of 8 cost
    within about 6% per vote of groups of 50 at CIFAR scale."""
    if votes_per_group is None and device == "cpu":
        jobs = max(1, effective_n_jobs(n_jobs))         # joblib's reading of n_jobs (None: 1, -1: all cores)
        groups = min(n_votes, jobs * math.ceil(n_votes / (jobs * 8)))
        return [len(part) for part in np.array_split(np.arange(n_votes), groups)]
    g = min(n_votes, 128) if votes_per_group is None else int(votes_per_group)
    return [min(g, n_votes - start) for start in range(0, n_votes, g)]


def _train_group(XT, y, cfg, seeds, device, codes):
    from scd_plugins.engine.group import train_group

    start = time.perf_counter()
    out = train_group(XT, y, cfg, seeds, device, codes=codes)
    out["seconds"] = np.full(len(seeds), (time.perf_counter() - start) / len(seeds))
    return out


def fit_votes(X: np.ndarray, y: np.ndarray, cfg: VoteConfig, seeds: list[int], *, n_jobs=None,
              device: str = "cpu", progress: bool = False, votes_per_group: int | None = None
              ) -> dict[str, np.ndarray]:
    """Train len(seeds) votes on X (N, d) float64, y in {0, 1}; returns stacked arrays.

    Votes train in consecutive groups (`group_sizes`), each as one batched program. Keys: W1 (R, d, h),
    b1 (R, h), w2 (R, h), b2 (R,), train_score (R,), seconds (R,: the group's wall time per vote).
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    jobs = 1 if device != "cpu" else n_jobs
    sizes = group_sizes(len(seeds), device, jobs, votes_per_group)
    # The feature-major copy is made once and shared (joblib memory-maps large arrays for workers).
    XT = np.ascontiguousarray(X.T, dtype=np.float64)
    codes = byte_codes(XT) if device == "cpu" else None  # once for every group (8-bit images: a byte a value)
    starts = np.cumsum([0, *sizes]).tolist()
    groups = [seeds[start:start + size] for start, size in zip(starts, sizes)]
    tasks = (delayed(_train_group)(XT, y, cfg, group, device, codes) for group in groups)
    results = Parallel(n_jobs=jobs, return_as="generator")(tasks)
    bar = tqdm(total=len(seeds), desc="SCD votes", unit="vote", disable=not progress)
    parts = []
    for part in results:
        parts.append(part)
        bar.update(len(part["train_score"]))
    bar.close()
    return {key: np.concatenate([np.asarray(p[key], dtype=np.float64) for p in parts]) for key in parts[0]}


class PackedVotes:
    """The votes of one binary ensemble laid out for batched prediction (built once, host NumPy)."""

    def __init__(self, W1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray):
        R, d, h = W1.shape
        self.R, self.d, self.h = R, d, h
        W64 = W1.transpose(1, 0, 2).reshape(d, R * h)
        self.W32 = np.ascontiguousarray(W64, dtype=np.float32)
        self.W64T = np.ascontiguousarray(W64.T, dtype=np.float64)  # a unit's weights contiguous: cheap re-checks
        self.b64 = b1.reshape(R * h).astype(np.float64)
        self._b32 = self.b64.astype(np.float32)
        self._margin_w = 8 * np.sqrt(d + 3) * _U32 * np.linalg.norm(self.W64T, axis=1)
        self._margin_b = 4 * _U32 * np.abs(self.b64)
        self._margin_w_max = float(self._margin_w.max()) if self._margin_w.size else 0.0
        self._margin_b_max = float(self._margin_b.max()) if self._margin_b.size else 0.0
        self.w2 = w2.astype(np.float64)
        self.b2 = b2.astype(np.float64)

    def hidden(self, X: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """Hidden activations (n, R, h) as bool: one float32 product, signs near zero settled in float64.

        float32 rounding errors of a length-d dot product behave like a sum of d independent
        roundings: their size stays below 8 sqrt(d) u ||x|| ||w|| (u: unit roundoff) except with
        vanishing probability, so entries within that margin of zero (about 0.1% at d = 3072) are
        recomputed in float64 and every other sign is already the float64 sign. X may be float32
        (as attacks send it: no float64 copy of the batch is made) or float64.
        """
        out = np.empty((len(X), self.R * self.h), dtype=bool)
        for start in range(0, len(X), chunk):
            x = X[start:start + chunk]
            x32 = x if x.dtype == np.float32 else x.astype(np.float32)
            pre = x32 @ self.W32
            pre += self._b32
            np.greater(pre, 0, out=out[start:start + chunk])
            # Cheap screen with each row's widest margin, then the exact margin on the few left.
            norms = np.linalg.norm(x32, axis=1).astype(np.float64) * (1 + 1e-5)  # float32 norm, rounded up
            widest = norms * self._margin_w_max + self._margin_b_max
            np.abs(pre, out=pre)
            rows, cols = np.nonzero(pre <= widest[:, None].astype(np.float32) * np.float32(1 + 1e-6))
            near = pre[rows, cols] <= norms[rows] * self._margin_w[cols] + self._margin_b[cols]
            rows, cols = rows[near], cols[near]
            for s in range(0, len(rows), 2048):  # bounded memory for the float64 re-check
                r, c = rows[s:s + 2048], cols[s:s + 2048]
                exact = np.einsum("ij,ij->i", x[r].astype(np.float64), self.W64T[c]) + self.b64[c] > 0
                out[start + r, c] = exact
        return out.reshape(len(X), self.R, self.h)

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Output pre-activation z (n, R) of every vote."""
        A = self.hidden(X)
        return np.einsum("nrh,rh->nr", A, self.w2) + self.b2

    def vote_fraction(self, X: np.ndarray) -> np.ndarray:
        """Fraction of votes saying class 1, per sample."""
        return (self.logits(X) > 0).mean(axis=1)
