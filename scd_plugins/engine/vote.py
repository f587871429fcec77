"""The single-vote training loop that `engine.group` replaced; kept as the reference the batched loop is
tested against (SCD01BNN bit-identical, SCD01 equal up to rounding) and timed against in
benchmarks/train_speed.py. Estimators train through `engine.group`.

All four families run this loop. They differ in two switches only:
- `loss`: "01" (moves scored by balanced accuracy, then accuracy + balanced accuracy) or "ce" (moves
  scored by mean binary cross-entropy of the output node);
- `binary_weights`: weights move by +/- a step (SCD01 renormalises to unit norm) or by sign flips.
The pocket (best parameters seen on the full training set) is always scored by accuracy + balanced
accuracy, for every family.

Model: a = [X W1 + b1 > 0], z = a w2 + b2, label [z > 0]. Internally a node is "on" when its
projection exceeds a threshold t = -b, which is what the threshold search returns.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from scd_plugins.engine.config import VoteConfig
from scd_plugins.engine.objective import CrossEntropy, ZeroOne
from scd_plugins.engine.moves import moved, search_moves
from scd_plugins.engine.threshold import argsort, below_smallest, full_search, suffix_sums


def _init_weights(shape, binary: bool, gen: torch.Generator) -> torch.Tensor:
    w = torch.randn(shape, generator=gen, dtype=torch.float64)
    if binary:
        return torch.where(w >= 0, 1.0, -1.0).to(torch.float64)
    return w / w.norm(dim=0, keepdim=True).clamp_min(1e-12)


def _median_threshold(p: torch.Tensor) -> torch.Tensor:
    """An admissible threshold at the median: just above the median value (or under all if all tie)."""
    ps = torch.sort(p).values
    median = ps[(len(ps) - 1) // 2]
    above = ps[ps > median]
    return (median + above[0]) / 2 if len(above) else below_smallest(ps)


def _ce_threshold(Q: torch.Tensor, y: torch.Tensor, t_start: torch.Tensor, newton_steps: int = 8):
    """Best admissible output threshold under mean BCE, per candidate column of Q (n, C).

    The mean BCE is convex in the bias, so a few Newton steps find the continuous optimum t*
    (started from the current threshold, Newton is at float64 resolution after about 4 steps and
    stops there). By convexity the best admissible threshold is the nearest admissible one below t*
    or the nearest above it, so only those two are scored. Tied values are handled by looking past
    their whole group.
    """
    n, C = Q.shape
    yf = y.to(Q.dtype)[:, None]
    t = t_start.expand(C).clone()
    for _ in range(newton_steps):
        s = torch.sigmoid(Q - t)
        grad = (s - yf).mean(0)  # d loss / d bias, bias = -t
        hess = (s * (1 - s)).mean(0).clamp_min(1e-9)
        step = (grad / hess).clamp(-5.0, 5.0)
        t = t + step
        if float(step.abs().max()) <= 1e-13 * (1.0 + float(t.abs().max())):
            break
    inf = torch.tensor(torch.inf, dtype=Q.dtype, device=Q.device)
    above = Q > t
    lo = torch.where(above, -inf, Q).amax(0)  # largest value at or below t* (-inf: none)
    hi = torch.where(above, Q, inf).amin(0)  # smallest value above t* (inf: none)
    lo_prev = torch.where(Q < lo, Q, -inf).amax(0)  # next distinct value down
    hi_next = torch.where(Q > hi, Q, inf).amin(0)  # next distinct value up
    has_lo, has_hi = torch.isfinite(lo), torch.isfinite(hi)
    has_prev, has_next = torch.isfinite(lo_prev), torch.isfinite(hi_next)
    lowest = torch.where(has_lo, torch.where(has_prev, inf, lo), hi)  # the smallest value (inf: not known here)
    above_lowest = torch.where(has_lo, hi, hi_next)  # the next distinct value above it
    under_lowest = lowest - torch.where(torch.isfinite(above_lowest), above_lowest - lowest, 1.0) / 2
    middle = (lo + hi) / 2  # the admissible threshold in t*'s gap
    down = torch.where(has_prev, (lo_prev + lo) / 2, under_lowest)  # next admissible below the gap
    up = torch.where(has_next, (hi + hi_next) / 2, inf)  # next admissible above the gap
    both = has_lo & has_hi
    low_option = torch.where(both, torch.where(middle <= t, middle, down), torch.where(has_lo, down, under_lowest))
    high_option = torch.where(both, torch.where(middle <= t, up, middle), torch.where(has_lo, inf, up))
    options = torch.stack([low_option, high_option])  # (2, C), lower first; inf: no such option
    valid = torch.isfinite(options)
    losses = torch.stack([CrossEntropy.losses(Q - torch.where(v, o, 0.0), y).mean(0) for o, v in zip(options, valid)])
    scores = torch.where(valid, -losses, torch.full_like(losses, -torch.inf))
    best = torch.argmax(scores, dim=0)  # the lower threshold among equals
    cols = torch.arange(C, device=Q.device)
    return options[best, cols], scores[best, cols]


class VoteTrainer:
    """State and moves of one vote; `train()` runs the whole of spec section 3."""

    def __init__(self, XT: torch.Tensor, y: torch.Tensor, cfg: VoteConfig, seed: int, XT32=None):
        self.XT, self.y, self.cfg = XT, y, cfg
        self.device = XT.device
        self.d, self.N = XT.shape
        self.gen = torch.Generator().manual_seed(int(seed))  # CPU stream: same draws on every device
        self.class_idx = [torch.nonzero(y == c).flatten() for c in (0, 1)]
        self.counts = [len(i) for i in self.class_idx]
        if min(self.counts) == 0:
            raise ValueError("a vote needs samples of both classes")
        self.n_features = min(cfg.n_features, self.d)
        self.XT32 = XT.to(torch.float32) if XT32 is None else XT32  # screening only; decisions use XT
        self._block = None  # (|F|, N) float32 rows of a step's features, reused: a fresh one costs page faults
        self.x_low, self.x_high = torch.aminmax(XT, dim=1)  # per-feature range: bounds what a move can do
        self.pocket_objective = ZeroOne(self.counts[0], self.counts[1], 1.0, 1.0)

    # ----- objectives -------------------------------------------------------------------------------
    def _zero_one(self, y: torch.Tensor, iteration: int) -> ZeroOne:
        n0, n1 = int((y == 0).sum()), int((y == 1).sum())
        balanced_only = iteration < self.cfg.b_ratio * self.cfg.iterations
        return ZeroOne(n0, n1, 0.0 if balanced_only else 1.0, 1.0)

    def _output_gains(self, y):
        pos = y == 1
        return torch.stack([-(~pos).to(torch.float32), pos.to(torch.float32)], 1), \
            torch.tensor([float((~pos).sum()), 0.0], dtype=torch.float64, device=self.device)

    def _hidden_gains(self, A, k, y):
        """Gains of turning hidden node k on, per sample, scored through the output layer."""
        z_off = A @ self.w2 - A[:, k] * self.w2[k]
        z_on = z_off + self.w2[k]
        if self.cfg.loss == "ce":
            return CrossEntropy.outcome_gains(y, z_on - self.t2, z_off - self.t2)
        return ZeroOne.outcome_gains(y, (z_on > self.t2) == (y == 1), (z_off > self.t2) == (y == 1))

    # ----- moves ------------------------------------------------------------------------------------
    def _steps(self, w: torch.Tensor, inc: float):
        """Candidate steps on the coordinates of w: sign flips, or +inc then -inc on each."""
        if self.cfg.binary_weights:
            return torch.arange(len(w), device=self.device), -2.0 * w
        idx = torch.arange(len(w), device=self.device).repeat(2)
        steps = torch.cat([torch.full_like(w, inc), torch.full_like(w, -inc)])
        return idx, steps

    def _norms(self, w: torch.Tensor, coords: torch.Tensor, steps: torch.Tensor):
        """Norm of w + step e_coord for each candidate (ones when the family does not renormalise)."""
        if not self.cfg.renormalise:
            return torch.ones_like(steps)
        return torch.sqrt((w @ w) + 2 * steps * w[coords] + steps ** 2)

    def _fit_output(self, q, y, iteration):
        """Re-fit the output threshold for output projections q = A @ w2."""
        if self.cfg.loss == "ce":
            t, s = _ce_threshold(q[:, None], y, self.t2)
            return t[0], s[0]
        gains, base = self._output_gains(y)
        return full_search(q, gains, base, self._zero_one(y, iteration))

    def _output_step(self, A, y, iteration):
        coords, steps = self._steps(self.w2, self.cfg.w_inc2)
        norms = self._norms(self.w2, coords, steps)
        q = A @ self.w2
        if self.cfg.loss == "ce":
            self.t2, current = self._fit_output(q, y, iteration)
            Q = torch.addcmul(q[None, :], A.T[coords], steps[:, None]) / norms[:, None]  # (C, n)
            thresholds, scores = _ce_threshold(Q.T.contiguous(), y, self.t2)  # contiguous: fast elementwise ops
        else:
            gains, base = self._output_gains(y)
            score = self._zero_one(y, iteration)
            order = argsort(q)
            suffix = suffix_sums(gains, order)
            self.t2, current = full_search(q, gains, base, score, order, suffix)  # the re-fit of _fit_output
            AT32 = A.T.to(torch.float32)
            zeros = torch.zeros_like(steps)
            scores, thresholds = search_moves(
                q, self.t2, lambda pos, idx: AT32.index_select(0, pos).index_select(1, idx),
                lambda pos, idx: A[idx, pos], coords, steps, norms,
                zeros, zeros + 1, gains, base, score, self.cfg.interval, order, suffix,
                guess_reach=not self.cfg.binary_weights)
        c = int(torch.argmax(scores))
        if scores[c] > current:
            self.w2 = self.w2.clone()
            self.w2[coords[c]] += steps[c]
            self.w2 /= norms[c]
            self.t2 = thresholds[c]

    def _score_hidden(self, y, iteration):
        return CrossEntropy(len(y)) if self.cfg.loss == "ce" else self._zero_one(y, iteration)

    def _hidden_step(self, batch, A, y, iteration):
        k = int(torch.randint(self.cfg.hidden_nodes, (1,), generator=self.gen))
        score = self._score_hidden(y, iteration)
        gains, base = self._hidden_gains(A, k, y)
        p = self.P[batch, k]
        order = argsort(p)
        suffix = suffix_sums(gains, order)
        self.t1[k], current = full_search(p, gains, base, score, order, suffix)
        features = torch.randperm(self.d, generator=self.gen)[: self.n_features].to(self.device)
        w = self.W1[:, k]
        positions, steps = self._steps(w[features], self.cfg.w_inc1)
        coords = features[positions]
        norms = self._norms(w, coords, steps)
        scores, thresholds = search_moves(
            p, self.t1[k], self._rows32(features, batch),
            lambda pos, idx: self._gather(self.XT, features[pos], batch[idx]), positions, steps, norms,
            self.x_low[coords], self.x_high[coords], gains, base, score, self.cfg.interval, order, suffix)
        c = int(torch.argmax(scores))
        if scores[c] > current:
            f = coords[c]
            self.W1[f, k] += steps[c]
            self.W1[:, k] /= norms[c]
            self.P[:, k] = moved(self.P[:, k], self.XT[f], steps[c], norms[c])
            self.t1[k] = thresholds[c]

    @staticmethod
    def _gather(M, rows, cols):
        """M[rows, cols] for broadcastable index tensors, as one flat index_select (cheaper than
        advanced indexing for the small scattered gathers of a step)."""
        flat = rows * M.stride(0) + cols * M.stride(1)
        return M.reshape(-1).index_select(0, flat.reshape(-1)).reshape(flat.shape)

    def _rows32(self, features, batch):
        """rows32(pos, idx) = XT32[features[pos]][:, batch[idx]] for `search_moves`.

        A narrow band is one flat gather; a wide one slices a (|F|, N) block copied once per step.
        """
        block = []

        def rows32(pos, idx):
            samples = batch[idx]
            if 7 * len(samples) < self.N:
                return self._gather(self.XT32, features[pos][:, None], samples[None, :])
            if not block:
                if self._block is None or self._block.shape[0] != len(features):
                    self._block = torch.empty((len(features), self.N), dtype=torch.float32, device=self.device)
                block.append(torch.index_select(self.XT32, 0, features, out=self._block))
            return block[0].index_select(1, samples).index_select(0, pos)

        return rows32

    # ----- pocket and loop --------------------------------------------------------------------------
    def _activations(self, rows=None):
        P = self.P if rows is None else self.P[rows]
        return (P > self.t1).to(torch.float64)

    def full_score(self) -> float:
        pred = (self._activations() @ self.w2) > self.t2
        correct = pred == (self.y == 1)
        neg = self.y == 0
        counters = torch.stack([(correct & neg).sum(), (correct & ~neg).sum()]).to(torch.float64)
        return float(self.pocket_objective(counters))

    def _sample(self) -> torch.Tensor:
        parts = []
        for idx, count in zip(self.class_idx, self.counts):
            m = max(1, int(round(self.cfg.nrows * count)))
            parts.append(idx[torch.randperm(count, generator=self.gen)[:m].to(self.device)])
        chosen = torch.zeros(self.N, dtype=torch.bool, device=self.device)
        chosen[torch.cat(parts)] = True
        return torch.nonzero(chosen).flatten()  # ascending rows (cache-friendly gathers), no sort needed

    def _initialise(self):
        h = self.cfg.hidden_nodes
        self.W1 = _init_weights((self.d, h), self.cfg.binary_weights, self.gen).to(self.device)
        self.w2 = _init_weights((h, 1), self.cfg.binary_weights, self.gen).flatten().to(self.device)
        self.P = self.XT.T @ self.W1
        self.t1 = torch.stack([_median_threshold(self.P[:, j]) for j in range(h)])
        self.t2 = torch.zeros((), dtype=torch.float64, device=self.device)
        if self.cfg.loss == "ce":
            self.t2 = (self._activations() @ self.w2).median()
        self.t2, _ = self._fit_output(self._activations() @ self.w2, self.y, 0)
        score = self._score_hidden(self.y, 0)
        for k in torch.randperm(h, generator=self.gen).tolist():
            A = self._activations()
            gains, base = self._hidden_gains(A, k, self.y)
            current = score(base + (self.P[:, k] > self.t1[k]).to(gains.dtype) @ gains)
            t, best = full_search(self.P[:, k], gains, base, score)
            if best > current:
                self.t1[k] = t
        self.t2, _ = self._fit_output(self._activations() @ self.w2, self.y, 0)

    def _snapshot(self):
        return self.W1.clone(), self.t1.clone(), self.w2.clone(), self.t2.clone()

    def train(self, progress=None) -> dict:
        self._initialise()
        best_score, best = self.full_score(), self._snapshot()
        for it in range(self.cfg.iterations):
            batch = self._sample()
            y = self.y[batch]
            A = self._activations(batch)
            self._output_step(A, y, it)
            self._hidden_step(batch, A, y, it)  # activations are unchanged by an output move
            if (it + 1) % self.cfg.refresh_every == 0:
                self.P = self.XT.T @ self.W1
            score = self.full_score()
            if score > best_score:
                best_score, best = score, self._snapshot()
            if progress is not None:
                progress(it)
        W1, t1, w2, t2 = (t.detach().cpu().numpy().astype(np.float64) for t in best)
        return {"W1": W1, "b1": -t1, "w2": w2, "b2": -np.asarray(t2).reshape(()), "train_score": best_score}


def train_vote(XT: np.ndarray, y: np.ndarray, cfg: VoteConfig, seed: int, device: str = "cpu",
               XT32: np.ndarray | None = None) -> dict:
    """Train one vote on feature-major data XT (d, N) float64 and y in {0, 1}; host float64 arrays out.

    XT (and its float32 copy, made here when not given) may be read-only memory maps shared by
    worker processes: the trainer never writes to them. Torch runs single-threaded here so that a
    vote's floating-point sums do not depend on the thread count: the same seed gives bit-identical
    votes whatever n_jobs is.
    """
    _keep_freed_memory()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            XT_t = torch.from_numpy(np.asarray(XT, dtype=np.float64)).to(device)
            XT32_t = None if XT32 is None else torch.from_numpy(np.asarray(XT32, dtype=np.float32)).to(device)
        yt = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)
        return VoteTrainer(XT_t, yt, cfg, seed, XT32=XT32_t).train()
    finally:
        torch.set_num_threads(threads)


def _keep_freed_memory() -> None:
    """Ask glibc to serve multi-megabyte buffers from its heap and keep freed ones.

    Each iteration allocates (C, n) temporaries of a few megabytes; by default glibc maps them fresh
    from the kernel and unmaps them on free, so every iteration pays page faults and page zeroing,
    which cost more than the arithmetic. Done once per training process; harmless elsewhere.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 512 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


_MALLOC_TUNED = False


def vote_seeds(seed: int, n_votes: int) -> list[int]:
    """One independent 63-bit seed per vote, spawned from the master seed (vote i's seed does not
    depend on how many votes are trained)."""
    return [int(s.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
            for s in np.random.SeedSequence(seed).spawn(n_votes)]


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available")
    return device


__all__ = ["VoteConfig", "VoteTrainer", "train_vote", "vote_seeds", "resolve_device"]
