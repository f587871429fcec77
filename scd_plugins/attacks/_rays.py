"""RayS: hard-label adversarial attack by ray searching (Chen & Gu, KDD 2020), written from the paper.

The attack looks for the sign direction d in {-1, +1}^n whose decision-boundary radius
g(d) = min{r > 0 : f(clip(x + r d)) != y} is smallest; r is the L-infinity size of the perturbation.
It never estimates gradients: it starts from one direction, finds its radius by a linear then binary
search, and then flips blocks of signs hierarchically (1 block, 2, 4, ... down to single coordinates,
then again from 1 block). A flipped direction is only searched when one query at the current best
radius already misclassifies ("fast check"), so most candidates cost a single query.
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

__all__ = ["RayS"]


class RayS(EvasionAttack):
    """Untargeted hard-label ray search (Chen & Gu, KDD 2020). Reads predicted labels only.

    max_queries: query budget per sample (the paper's evaluation and our T2: 40000 for CIFAR-10).
    epsilon: stop early once the L-inf distortion is <= epsilon (None: spend the whole budget).
    tol: binary-search precision on the L-inf radius, relative to the input range (clip_values).
    random_init: start from a random sign vector (seeded by random_state) instead of all +1 (the paper).
    After `generate`, `queries_`, `linf_`, `l2_` and `success_` hold per-sample results; the paper this
    project reproduces reports L2, so `l2_` is what the min-L2 protocol reads.
    """

    attack_params = EvasionAttack.attack_params + ["max_queries", "epsilon", "tol", "random_init", "random_state",
                                                   "verbose"]
    _estimator_requirements = (BaseEstimator, ClassifierMixin)

    def __init__(self, estimator, max_queries: int = 10_000, epsilon: float | None = None, tol: float = 1e-3,
                 random_init: bool = False, random_state: int | None = None, verbose: bool = True) -> None:
        super().__init__(estimator=estimator)
        self.max_queries = max_queries
        self.epsilon = epsilon
        self.tol = tol
        self.random_init = random_init
        self.random_state = random_state
        self.verbose = verbose
        self._check_params()

    def _check_params(self) -> None:
        if not isinstance(self.max_queries, (int, np.integer)) or isinstance(self.max_queries, bool) \
                or self.max_queries <= 0:
            raise ValueError("`max_queries` must be a positive integer.")
        if self.epsilon is not None and not (isinstance(self.epsilon, (int, float)) and self.epsilon >= 0):
            raise ValueError("`epsilon` must be None or a non-negative number.")
        if not isinstance(self.tol, (int, float)) or not 0 < self.tol < 1:
            raise ValueError("`tol` must be a number in (0, 1).")
        if not isinstance(self.random_init, bool):
            raise ValueError("`random_init` must be a boolean.")
        if not isinstance(self.verbose, bool):
            raise ValueError("`verbose` must be a boolean.")

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """Adversarial examples for `x` (shape `(n, *input_shape)`); y: labels to move away from
        (indices or one-hot), default the model's own predictions. Unsuccessful samples come back unchanged."""
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
        streams = np.random.SeedSequence(self.random_state).spawn(len(x))
        x_adv = x.copy()
        self.queries_ = np.zeros(len(x), dtype=np.int64)
        self.success_ = np.zeros(len(x), dtype=bool)
        for i in tqdm(range(len(x)), desc="RayS", disable=not self.verbose):
            x_adv[i], self.queries_[i], self.success_[i] = self._attack_one(
                x[i], labels[i], lo, hi, scale, np.random.default_rng(streams[i]))
        diff = (x_adv - x).reshape(len(x), -1).astype(np.float64)
        self.linf_ = np.where(self.success_, np.abs(diff).max(axis=1), np.inf)
        self.l2_ = np.where(self.success_, np.linalg.norm(diff, axis=1), np.inf)
        logger.info("Success rate of RayS attack: %.2f%%", 100 * self.success_.mean() if len(x) else 0.0)
        return x_adv

    def _attack_one(self, x, label, lo, hi, scale, rng):
        n = x.size
        self._queries = 0

        def adversarial(r, d):
            self._queries += 1
            candidate = np.clip(x + np.float32(r) * d.reshape(x.shape), lo, hi).astype(np.float32)
            return int(np.argmax(self.estimator.predict(candidate[None])[0])) != label

        d = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=n) if self.random_init \
            else np.ones(n, dtype=np.float32)
        best = self._first_radius(adversarial, d, scale)
        level, block = 0, 0
        while self._queries < self.max_queries:
            if self.epsilon is not None and best <= self.epsilon:
                break
            n_blocks = 2 ** level
            size = -(-n // n_blocks)
            start, end = block * size, min(n, (block + 1) * size)
            trial = d.copy()
            trial[start:end] *= -1.0
            if np.isfinite(best):
                if adversarial(best, trial):          # the fast check: only better rays pass
                    best = self._binary_search(adversarial, trial, 0.0, best, scale)
                    d = trial
            else:                                     # no adversarial ray yet: search this one from scratch
                r = self._first_radius(adversarial, trial, scale)
                if np.isfinite(r):
                    best, d = r, trial
            block += 1
            if end >= n:                              # this level is done: halve the block size
                level, block = level + 1, 0
                if size == 1:                         # finest level done: start again from one block
                    level = 0
        if not np.isfinite(best):
            return x, self._queries, False
        x_adv = np.clip(x + np.float32(best) * d.reshape(x.shape), lo, hi).astype(np.float32)
        return x_adv, self._queries, True

    def _first_radius(self, adversarial, d, scale):
        """Boundary radius of ray d with no bound yet: grow r geometrically (scale/16 .. 16 scale) until
        the ray is adversarial, then binary-search; inf if it never is."""
        r_lo = 0.0
        for r in scale * 2.0 ** np.arange(-4, 5):
            if self._queries >= self.max_queries:
                break
            if adversarial(r, d):
                return self._binary_search(adversarial, d, r_lo, r, scale)
            r_lo = r
        return np.inf

    def _binary_search(self, adversarial, d, r_lo, r_hi, scale):
        """Smallest adversarial radius on ray d, between a benign r_lo and an adversarial r_hi (stops early
        when the query budget is spent: r_hi stays adversarial either way)."""
        while r_hi - r_lo > self.tol * scale and self._queries < self.max_queries:
            mid = 0.5 * (r_lo + r_hi)
            if adversarial(mid, d):
                r_hi = mid
            else:
                r_lo = mid
        return r_hi
