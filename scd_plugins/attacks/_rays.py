"""RayS: hard-label adversarial attack by ray searching (Chen & Gu, KDD 2020), with the rules of the authors'
`RayS_Single.py` (github.com/uclaml/RayS), because those rules change the numbers the paper reports.

The attack looks for the sign direction s in {-1, +1}^n whose decision-boundary distance along the unit ray
s / ||s||_2 is smallest. It never estimates gradients: starting from all +1, it flips blocks of signs
hierarchically (1 block, 2, 4, ... down to single coordinates, which then keep cycling until the budget
ends). A flipped direction is only searched when one query at the current best distance already
misclassifies ("fast check"), and it is adopted only when its binary search ends strictly closer.
Distances along the ray are L2 lengths: the binary search stops at `tol` (times the input range) in those
units, sqrt(n) times finer than the same number on the L-infinity radius.
"""
from __future__ import annotations

import logging

import numpy as np
from art.attacks.attack import EvasionAttack
from art.estimators.classification.classifier import ClassifierMixin
from art.estimators.estimator import BaseEstimator
from art.utils import check_and_transform_label_format
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

__all__ = ["RayS", "block_schedule", "block_order"]

_LIN_SEARCH_STEPS = 10          # the reference's linear search: L-inf radius 1, 2, ..., 10 (times the range)


def block_schedule(n: int, restart: bool = False):
    """The (start, end) blocks RayS flips, in order, forever: level l cuts n into 2**l blocks of
    ceil(n / 2**l); once blocks are single coordinates they keep cycling (the reference), or with
    `restart` the schedule starts again from one block."""
    level, block = 0, 0
    while True:
        size = -(-n // 2 ** level)
        start, end = block * size, min(n, (block + 1) * size)
        yield start, end
        block += 1
        if end >= n:
            block = 0
            if size > 1:
                level += 1
            elif restart:
                level = 0


def block_order(sample_shape, channels_first: bool) -> np.ndarray:
    """Positions in a flattened sample, listed in the order blocks are cut: channels first (NCHW, as the
    reference's PyTorch models see images), so an (H, W, C) sample is read channel by channel."""
    shape = tuple(int(s) for s in sample_shape)
    n = int(np.prod(shape))
    if len(shape) == 3 and not channels_first:
        return np.arange(n).reshape(shape).transpose(2, 0, 1).ravel()
    return np.arange(n)


class RayS(EvasionAttack):
    """Untargeted hard-label ray search (Chen & Gu, KDD 2020). Reads predicted labels only.

    max_queries: query budget per sample (the paper's evaluation and our T2: 40000 for CIFAR-10); unlike
        the reference, whose last binary search may run past it, it is never exceeded.
    epsilon: stop early once the distance of the current adversarial example, clipped to the box and
        measured in `norm`, is <= epsilon; success then means that distance is <= epsilon (None: spend the
        whole budget; success = an adversarial ray was found).
    norm: np.inf (the reference's default) or 2, the norm of that distance.
    tol: binary-search precision on the ray's L2 length, relative to the input range (the reference: 1e-3).
    random_init: start from a random sign vector (seeded by random_state) instead of all +1 (the paper).
    block_order: "channels_first" (the reference: (H, W, C) samples are cut channel by channel) or "flat"
        (the samples' own flattened order).
    restart_blocks: after the single-coordinate level start again from one block (the reference: no).
    After `generate`, `queries_`, `linf_`, `l2_`, `success_` and `history_` (per sample, the
    (queries, ray length) of every adopted direction) hold per-sample results; `linf_` and `l2_` are the
    distances of the returned adversarial example (inf where no adversarial ray was found).
    """

    attack_params = EvasionAttack.attack_params + ["max_queries", "epsilon", "norm", "tol", "random_init",
                                                   "random_state", "block_order", "restart_blocks", "verbose"]
    _estimator_requirements = (BaseEstimator, ClassifierMixin)

    def __init__(self, estimator, max_queries: int = 10_000, epsilon: float | None = None, norm=np.inf,
                 tol: float = 1e-3, random_init: bool = False, random_state: int | None = None,
                 block_order: str = "channels_first", restart_blocks: bool = False, verbose: bool = True) -> None:
        super().__init__(estimator=estimator)
        self.max_queries = max_queries
        self.epsilon = epsilon
        self.norm = norm
        self.tol = tol
        self.random_init = random_init
        self.random_state = random_state
        self.block_order = block_order
        self.restart_blocks = restart_blocks
        self.verbose = verbose
        self._check_params()

    def _check_params(self) -> None:
        if not isinstance(self.max_queries, (int, np.integer)) or isinstance(self.max_queries, bool) \
                or self.max_queries <= 0:
            raise ValueError("`max_queries` must be a positive integer.")
        if self.epsilon is not None and not (isinstance(self.epsilon, (int, float)) and self.epsilon >= 0):
            raise ValueError("`epsilon` must be None or a non-negative number.")
        if self.norm not in (np.inf, 2, "inf"):
            raise ValueError("`norm` must be np.inf or 2.")
        if not isinstance(self.tol, (int, float)) or not 0 < self.tol < 1:
            raise ValueError("`tol` must be a number in (0, 1).")
        if not isinstance(self.random_init, bool):
            raise ValueError("`random_init` must be a boolean.")
        if self.block_order not in ("channels_first", "flat"):
            raise ValueError("`block_order` must be 'channels_first' or 'flat'.")
        if not isinstance(self.restart_blocks, bool):
            raise ValueError("`restart_blocks` must be a boolean.")
        if not isinstance(self.verbose, bool):
            raise ValueError("`verbose` must be a boolean.")

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """Adversarial examples for `x` (shape `(n, *input_shape)`); y: labels to move away from
        (indices or one-hot), default the model's own predictions. Samples with no adversarial ray come back
        unchanged."""
        x = np.asarray(x, dtype=np.float32)
        if y is None:
            labels = np.argmax(self.estimator.predict(x), axis=1)
        else:
            labels = check_and_transform_label_format(np.asarray(y), nb_classes=self.estimator.nb_classes,
                                                      return_one_hot=True).argmax(axis=1)
        if self.estimator.clip_values is not None:
            lo, hi = (np.asarray(v, dtype=np.float32) for v in self.estimator.clip_values)
        else:
            lo, hi = np.float32(-np.inf), np.float32(np.inf)
        scale = float(np.max(hi - lo)) if np.all(np.isfinite(hi - lo)) else max(1.0, float(np.ptp(x)))
        order = block_order(x.shape[1:], bool(getattr(self.estimator, "channels_first", False))) \
            if self.block_order == "channels_first" else np.arange(int(np.prod(x.shape[1:])))
        streams = np.random.SeedSequence(self.random_state).spawn(len(x))
        x_adv = x.copy()
        self.queries_ = np.zeros(len(x), dtype=np.int64)
        self.success_ = np.zeros(len(x), dtype=bool)
        found = np.zeros(len(x), dtype=bool)
        self.history_ = []
        for i in tqdm(range(len(x)), desc="RayS", disable=not self.verbose):
            x_adv[i], self.queries_[i], found[i], self.success_[i], history = self._attack_one(
                x[i], labels[i], lo, hi, scale, order, np.random.default_rng(streams[i]))
            self.history_.append(history)
        diff = (x_adv - x).reshape(len(x), -1).astype(np.float64)
        self.linf_ = np.where(found, np.abs(diff).max(axis=1), np.inf)
        self.l2_ = np.where(found, np.linalg.norm(diff, axis=1), np.inf)
        logger.info("Success rate of RayS attack: %.2f%%", 100 * self.success_.mean() if len(x) else 0.0)
        return x_adv

    def _distance(self, delta):
        flat = delta.astype(np.float64).ravel()
        return float(np.abs(flat).max()) if self.norm in (np.inf, "inf") else float(np.linalg.norm(flat))

    def _attack_one(self, x, label, lo, hi, scale, order, rng):
        n = x.size
        root_n = np.sqrt(n)
        queries = 0

        def point(length, sign):                     # the ray x + length * sign / ||sign||_2, clipped
            return np.clip(x + np.float32(length / root_n) * sign.reshape(x.shape), lo, hi).astype(np.float32)

        def adversarial(length, sign):
            nonlocal queries
            queries += 1
            return int(np.argmax(self.estimator.predict(point(length, sign)[None])[0])) != label

        sign = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=n) if self.random_init \
            else np.ones(n, dtype=np.float32)
        best = np.inf                                 # L2 length of the best ray so far
        history = []
        for start, end in block_schedule(n, self.restart_blocks):
            if queries >= self.max_queries:
                break
            trial = sign.copy()
            trial[order[start:end]] *= -1.0
            if np.isfinite(best):
                if not adversarial(best, trial):      # the fast check: only rays at least as short pass
                    continue
                r_hi = best
            else:                                     # no adversarial ray yet: linear search from scratch
                r_hi = np.inf
                for k in range(1, _LIN_SEARCH_STEPS + 1):
                    if queries >= self.max_queries:
                        break
                    if adversarial(k * scale * root_n, trial):
                        r_hi = k * scale * root_n
                        break
                if not np.isfinite(r_hi):
                    continue
            r_lo = 0.0
            while r_hi - r_lo > self.tol * scale and queries < self.max_queries:
                mid = 0.5 * (r_lo + r_hi)
                if adversarial(mid, trial):
                    r_hi = mid
                else:
                    r_lo = mid
            if r_hi < best:                           # adopt only a strictly shorter ray
                best, sign = r_hi, trial
                history.append((queries, float(best)))
                if self.epsilon is not None and self._distance(point(best, sign) - x) <= self.epsilon:
                    break
        if not np.isfinite(best):
            return x, queries, False, False, history
        x_adv = point(best, sign)
        success = self.epsilon is None or self._distance(x_adv - x) <= self.epsilon
        return x_adv, queries, True, success, history
