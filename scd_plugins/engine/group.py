"""The one training loop, run for a group of G votes at once as batched tensors (CPU or CUDA alike).

Every tensor has a leading vote axis: weights W1 (G, d, h), w2 (G, h), thresholds t1 (G, h), t2 (G,),
cached projections P (G, N, h) and activations A_full (G, N, h) of the whole training set. Each
operation works on the whole group, so its overhead is paid once per group. Decisions (argmax,
accept or reject, the pocket) stay on the device as masks and `where`s; nothing is read back to the
host inside an iteration except on the host path (`engine.host`: the CPU), where that is free: band
widths (`search.band_width`, and the batches of similar widths the votes' move searches run in) and
NumPy's sorts, selections and gathers. The accelerator path is tested on CPU tensors
(tests/engine/test_device_path.py): the same models, and no host read inside `iterate`.
The hidden node's move search of every family is screened in float32 on the CPU and settled in
float64 (`search._screened_block`): the same models bit for bit, with less float64 work.

All four families run this loop; they differ in two switches only:
- `loss`: "01" (moves scored by balanced accuracy, then accuracy + balanced accuracy) or "ce" (moves
  scored by mean binary cross-entropy of the output node);
- `binary_weights`: weights move by +/- a step (SCD01 renormalises to unit norm) or by sign flips.
The pocket (best parameters seen on the full training set) is scored by accuracy + balanced accuracy.

Each vote draws from its own generator (seeded from its own seed, on the CPU, so the same draws on
every device), and every counter is an exact integer sum (`search`), so a vote's result does not
depend on which other votes share its group.

Model: a = [X W1 + b1 > 0], z = a w2 + b2, label [z > 0]; a node is "on" when its projection
exceeds a threshold t = -b, which is what the searches return.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from scd_plugins.engine import ce_moves, search
from scd_plugins.engine.codes import byte_codes
from scd_plugins.engine.config import VoteConfig
from scd_plugins.engine.host import host_path
from scd_plugins.engine.objective import ZeroOne
from scd_plugins.engine.screen import Lookup


class CrossEntropyScore:
    """Minus the mean BCE from the one (summed, quantised) counter."""

    cross_entropy = True

    def __init__(self, n: int):
        self.n = n

    def __call__(self, counters):
        return counters[..., 0] / self.n


def _init_weights(shape, binary: bool, gen: torch.Generator) -> torch.Tensor:
    w = torch.randn(shape, generator=gen, dtype=torch.float64)
    if binary:
        return torch.where(w >= 0, 1.0, -1.0).to(torch.float64)
    return w / w.norm(dim=0, keepdim=True).clamp_min(1e-12)


class GroupTrainer:
    """State and moves of a group of votes; `train()` runs spec section 3 for all of them."""

    def __init__(self, XT: torch.Tensor, y: torch.Tensor, cfg: VoteConfig, seeds, x_range=None, codes="auto"):
        """codes: `codes.byte_codes` of XT (CPU only; "auto": computed here, None: none used)."""
        self.XT, self.y, self.cfg = XT, y, cfg
        self.device = dev = XT.device
        self.d, self.N = XT.shape
        self.G = len(seeds)
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]  # CPU streams: same draws everywhere
        self.class_idx = [torch.nonzero(y == c).flatten().cpu() for c in (0, 1)]
        self.counts = [len(i) for i in self.class_idx]
        if min(self.counts) == 0:
            raise ValueError("a vote needs samples of both classes")
        self.m = [max(1, int(round(cfg.nrows * c))) for c in self.counts]  # batch size per class, every vote
        self.n = sum(self.m)
        self.n_features = min(cfg.n_features, self.d)
        low, high = torch.aminmax(XT, dim=1) if x_range is None else x_range
        self.x_low, self.x_high = low, high  # per-feature range: bounds what a move can do
        self.ar = torch.arange(self.G, device=dev)
        self._drawer = self._ahead = None  # off the host path: the thread drawing one iteration ahead
        self.XT_flat = XT.reshape(-1)
        self.host = host_path(dev)  # host reads are free (engine.host): NumPy, band widths, byte codes
        self.XT_np = self.XT_flat.numpy() if self.host else None
        if not self.host:
            codes = None
        self.codes = byte_codes(XT.numpy()) if isinstance(codes, str) else codes
        self.table32 = None if self.codes is None else self.codes[0].astype(np.float32)  # screening only
        # Every batch holds m[0] negatives then m[1] positives: the same labels for every vote and iteration.
        self.yb = torch.cat([torch.zeros(self.m[0]), torch.ones(self.m[1])]).to(dev, torch.int64)
        self.sign_b = (2 * self.yb - 1).to(torch.float64)
        self.sign_full = (2 * y - 1).to(torch.float64)
        self.pocket = ZeroOne(self.counts[0], self.counts[1], 1.0, 1.0)

    # ----- random draws (per vote, its own generator) -----------------------------------------------
    def _draw(self):
        """Batch rows (G, n), the hidden node k (G,) and its features (G, |F|) of one iteration, on the host
        (pinned for an accelerator)."""
        picks, nodes, feats = ([], []), [], []
        for gen in self.gens:  # each vote's draws in its own order: class 0, class 1, node, features
            for c in (0, 1):
                picks[c].append(torch.randperm(self.counts[c], generator=gen)[: self.m[c]])
            nodes.append(torch.randint(self.cfg.hidden_nodes, (1,), generator=gen))
            feats.append(torch.randperm(self.d, generator=gen)[: self.n_features])
        rows = torch.cat([idx[torch.stack(p)] for idx, p in zip(self.class_idx, picks)], dim=1)  # one look-up a class
        drawn = rows, torch.cat(nodes), torch.stack(feats)
        return drawn if self.device.type == "cpu" else tuple(t.pin_memory() for t in drawn)

    def _next_draw(self):
        """This iteration's draws, on the device. Off the host path the next iteration's are drawn meanwhile
        by one thread (the host draws while the device computes: 100 votes cost about 13 ms of host time
        an iteration); each generator is still drawn from in order, so the draws are the same."""
        if self.host:
            return self._draw()
        if self._ahead is None:
            self._drawer = ThreadPoolExecutor(1, thread_name_prefix="scd-draws")
            self._ahead = self._drawer.submit(self._draw)
        drawn = self._ahead.result()
        self._ahead = self._drawer.submit(self._draw)
        return tuple(t.to(self.device, non_blocking=True) for t in drawn)  # no host wait

    def _stop_drawing(self):
        if self._drawer is not None:
            self._drawer.shutdown(wait=True)  # the one draw ahead finishes; nothing uses it
            self._drawer = self._ahead = None

    # ----- objectives -------------------------------------------------------------------------------
    def _zero_one(self, iteration: int, full: bool = False) -> ZeroOne:
        n0, n1 = self.counts if full else self.m
        balanced_only = iteration < self.cfg.b_ratio * self.cfg.iterations
        return ZeroOne(n0, n1, 0.0 if balanced_only else 1.0, 1.0)

    def _score(self, iteration, full=False):
        if self.cfg.loss == "ce":
            return CrossEntropyScore(self.N if full else self.n)
        return self._zero_one(iteration, full)

    @staticmethod
    def _outcome_gains(y, correct_on, correct_off):
        """0-1 counters (correct negatives, correct positives): all off, and what each sample adds on."""
        neg = (y == 0).to(torch.float64)
        pos = 1.0 - neg
        delta = correct_on.to(torch.float64) - correct_off.to(torch.float64)
        off = correct_off.to(torch.float64)
        gains = torch.stack([delta * neg, delta * pos], dim=-1)
        base = torch.stack([(off * neg).sum(-1), (off * pos).sum(-1)], dim=-1)
        return gains, base

    def _hidden_gains(self, A, k, y, sign, z=None):
        """Gains (G, n, K) / base (G, K) of turning hidden node k on, scored through the output layer
        (z: `_out(A)` when known)."""
        w2k = self.w2.gather(1, k[:, None])  # (G, 1)
        ak = A.gather(2, k[:, None, None].expand(-1, A.shape[1], 1))[..., 0]
        z_off = (self._out(A) if z is None else z) - ak * w2k
        z_on = z_off + w2k
        t2 = self.t2[:, None]
        if self.cfg.loss == "ce":
            loss_on = search.quantise(search.bce(z_on - t2, sign))
            loss_off = search.quantise(search.bce(z_off - t2, sign))
            return (loss_off - loss_on)[..., None], -loss_off.sum(-1, keepdim=True)
        yes = y == 1
        return self._outcome_gains(y, (z_on > t2) == yes, (z_off > t2) == yes)

    # ----- moves ------------------------------------------------------------------------------------
    def _candidates(self, w_at: torch.Tensor, w_sq: torch.Tensor, inc: float):
        """Candidate steps on F coordinates (values w_at (G, F); w_sq (G,) = |w|^2): positions (C,) into
        the F coordinates, steps (G, C), norms (G, C) (ones when the family does not renormalise)."""
        G, F = w_at.shape
        if self.cfg.binary_weights:
            return torch.arange(F, device=self.device), -2.0 * w_at, torch.ones_like(w_at)
        pos = torch.arange(F, device=self.device).repeat(2)
        steps = torch.cat([torch.full_like(w_at, inc), torch.full_like(w_at, -inc)], dim=1)
        if not self.cfg.renormalise:
            return pos, steps, torch.ones_like(steps)
        w = w_at[:, pos]
        return pos, steps, torch.sqrt(w_sq[:, None] + 2 * steps * w + steps ** 2)

    def _moves(self, ps, t0, column_inputs, pos, steps, norms, x_low, x_high, sg, suffix, base, score,
               sample_of=None, screened=False):
        """`search.search_moves` for every candidate; +step and -step candidates searched apart (each
        sign's band is about half as wide as both together), on the CPU in batches of votes with
        similar band widths (`search.width_batches`: no vote pays for a much wider vote's band).

        column_inputs(positions (G', L), coords (G', F'), g) gives the inputs (G', F', L) of coordinates
        `coords` at sorted positions, for the votes g (None: every vote); with `screen=True` it describes
        them as a `screen.Lookup`, which `screened` searches (CPU only) screen in float32 and settle in
        float64 (`search._screened_block`).
        """
        F = steps.shape[1] if self.cfg.binary_weights else steps.shape[1] // 2
        halves = [slice(0, F)] if self.cfg.binary_weights else [slice(0, F), slice(F, 2 * F)]
        found = []
        near = search.kth_distance(ps, t0, max(1, min(2 * self.cfg.interval, ps.shape[1])))  # shared by the halves
        for half in halves:
            hp = pos[half]
            args = (steps[:, half], norms[:, half], x_low[:, half], x_high[:, half])
            batches = search.width_batches(ps, t0, *args, self.cfg.interval, near)
            if batches == [None]:
                found.append(self._search_votes(None, hp, column_inputs, ps, t0, args, sg, suffix, base, score,
                                                sample_of, near, screened))
                continue
            scores = torch.empty(args[0].shape, dtype=torch.float64, device=self.device)
            thresholds = torch.empty_like(scores)
            for votes in batches:
                scores[votes], thresholds[votes] = self._search_votes(votes, hp, column_inputs, ps, t0, args, sg,
                                                                      suffix, base, score, sample_of, near,
                                                                      screened)
            found.append((scores, thresholds))
        return torch.cat([f[0] for f in found], dim=1), torch.cat([f[1] for f in found], dim=1)

    def _search_votes(self, votes, hp, column_inputs, ps, t0, args, sg, suffix, base, score, sample_of, near,
                      screened=False):
        """`search.search_moves` for the votes `votes` (None: every vote) of one half's candidates."""
        def pick(t):
            return t if votes is None or t is None else t[votes]

        count = self.G if votes is None else len(votes)

        def inputs(positions, rows):
            if rows is None:
                return column_inputs(positions, hp.expand(count, -1), votes)
            g, c = rows
            return column_inputs(positions, hp[c][:, None], g if votes is None else votes[g])

        def screen_inputs(positions):
            return column_inputs(positions, hp.expand(count, -1), votes, True)

        return search.search_moves(pick(ps), pick(t0), inputs, *(pick(a) for a in args), pick(sg), pick(suffix),
                                   pick(base), score, self.cfg.interval, pick(sample_of), near=pick(near),
                                   screen_inputs=screen_inputs if screened else None)

    def _sorted(self, p, gains):
        order = search.argsort(p).to(p.device)
        ps = p.gather(1, order)
        sg = search.take_rows(gains, order)
        return order, ps, sg, search.suffix_sums(sg)

    def _output_step(self, A, iteration, q):
        """q: the output projections `_out(A)` (taken from the last full score's)."""
        G, n, h = A.shape
        pos, steps, norms = self._candidates(self.w2, (self.w2 * self.w2).sum(1), self.cfg.w_inc2)
        if self.cfg.loss == "ce":
            t2, current, thresholds, scores = ce_moves.output_search(q, A, self.yb.expand(G, n), pos, steps, self.t2, n)
        else:
            gains, base = search.output_gains(self.yb.expand(G, n))
            order, qs, sg, suffix = self._sorted(q, gains)
            score = self._zero_one(iteration)
            t2, current = search.full_search(qs, suffix, base, score)
            bits = search.take_rows(A > 0, order).transpose(1, 2).contiguous()  # (G, h, n), a byte per bit
            ys = self.yb.expand(G, n).gather(1, order)
            scores, thresholds = search.output_moves(qs, ys, t2, bits, pos, steps, norms, score, self.cfg.interval)
        c = torch.argmax(scores, dim=1, keepdim=True)
        better = scores.gather(1, c)[:, 0] > current
        j = pos[c[:, 0]]
        step = torch.where(better, steps.gather(1, c)[:, 0], torch.zeros_like(current))
        norm = torch.where(better, norms.gather(1, c)[:, 0], torch.ones_like(current))
        w2 = self.w2.clone()
        w2[self.ar, j] += step
        self.w2 = w2 / norm[:, None]
        self.t2 = torch.where(better, thresholds.gather(1, c)[:, 0], t2)
        return self._out_moved(A, q, better)

    def _out_moved(self, A, q, moved):
        """`_out(A)` after an output step: q, the projections before it, recomputed for the votes whose
        weights moved (on the host only those: each vote's rows are summed alike in any group)."""
        if not self.host:
            return torch.where(moved[:, None], self._out(A), q)
        idx = torch.nonzero(moved).flatten()
        if len(idx) == 0:
            return q
        q = q.clone()
        q[idx] = self._out(A[idx], self.w2[idx])
        return q

    def _hidden_step(self, rows, A, k, features, iteration, z=None):
        G, n, h = A.shape
        gains, base = self._hidden_gains(A, k, self.yb.expand(G, n), self.sign_b.expand(G, n), z)
        Pk = self.P.gather(2, k[:, None, None].expand(-1, self.N, 1))[..., 0]  # (G, N)
        p = Pk.gather(1, rows)
        order, ps, sg, suffix = self._sorted(p, gains)
        score = self._score(iteration)
        t1k, current = search.full_search(ps, suffix, base, score)
        w = self.W1.gather(2, k[:, None, None].expand(-1, self.d, 1))[..., 0]  # (G, d)
        pos, steps, norms = self._candidates(w.gather(1, features), (w * w).sum(1), self.cfg.w_inc1)
        coords = features[:, pos]  # (G, C)
        sorted_rows = rows.gather(1, order)

        def column_inputs(positions, coords, g, screen=False):
            samples = (sorted_rows if g is None else sorted_rows[g]).gather(1, positions)
            return self._inputs((features if g is None else features[g]).gather(1, coords), samples, screen)

        scores, thresholds = self._moves(ps, t1k, column_inputs, pos, steps, norms, self.x_low[coords],
                                         self.x_high[coords], sg, suffix, base, score, sorted_rows, self.host)
        c = torch.argmax(scores, dim=1, keepdim=True)
        better = scores.gather(1, c)[:, 0] > current
        f = coords.gather(1, c)[:, 0]
        step = torch.where(better, steps.gather(1, c)[:, 0], torch.zeros_like(current))
        norm = torch.where(better, norms.gather(1, c)[:, 0], torch.ones_like(current))
        w = w.clone()
        w[self.ar, f] += step
        w = w / norm[:, None]
        self.W1[self.ar, :, k] = w
        new = search.moved(Pk, self.XT[f], step[:, None], norm[:, None])
        Pk = torch.where(better[:, None], new, Pk)
        t1k = torch.where(better, thresholds.gather(1, c)[:, 0], t1k)
        self.P[self.ar, :, k] = Pk
        self.t1[self.ar, k] = t1k
        self.A_full[self.ar, :, k] = (Pk > t1k[:, None]).to(torch.float64)  # node k's column, the only one changed

    def _inputs(self, f: torch.Tensor, samples: torch.Tensor, screen: bool = False):
        """XT[f[g, i], samples[g, j]] as (G', F', L) float64: features f (G', F'), samples (G', L); with
        `screen` (CPU), the same inputs described as a `screen.Lookup` for the float32 screen to read.

        On the CPU, with byte codes, each vote's F' code rows are copied whole (contiguous, an eighth
        of their float64 size) and the band's samples taken from that copy, then looked up; without
        codes, one NumPy take of the band's entries (cheaper than copying float64 rows whole).
        """
        if screen:
            matrix = self.XT_np.reshape(self.d, self.N) if self.codes is None else self.codes[1]
            return Lookup(matrix, self.table32, None if self.codes is None else self.codes[0], f.numpy(),
                          samples.numpy())
        if not self.host:
            return self.XT_flat[f[:, :, None] * self.N + samples[:, None, :]]
        if self.codes is None:
            return torch.from_numpy(np.take(self.XT_np, (f[:, :, None] * self.N + samples[:, None, :]).numpy()))
        table, codes = self.codes
        fs, ss = f.numpy(), samples.numpy()
        picked = np.stack([np.take(np.take(codes, fs[g], axis=0), ss[g], axis=1) for g in range(len(fs))])
        return torch.from_numpy(np.take(table, picked))

    # ----- pocket and loop --------------------------------------------------------------------------
    def _out(self, A, w2=None):
        """Output projections A @ w2 per vote (w2: self.w2, or the rows of it A's votes have), as an
        elementwise product summed over the last axis (a batched matrix product rounds differently with
        the group size)."""
        return (A * (self.w2 if w2 is None else w2)[:, None, :]).sum(-1)

    def _activations(self, P):
        return (P > self.t1[:, None, :]).to(torch.float64)

    def _project(self):
        """P from scratch, one product per vote (the same arithmetic whatever the group)."""
        XTT = self.XT.T
        return torch.stack([XTT @ self.W1[g] for g in range(self.G)])

    def full_score(self) -> torch.Tensor:
        """The pocket's score of every vote on the whole training set. Keeps its output projections,
        `z_full` (G, N): the next iteration's batch takes its own from them (the same numbers as `_out`
        on the batch's rows: each row is summed alike)."""
        self.z_full = z = self._out(self.A_full)
        correct = (z > self.t2[:, None]) == (self.y == 1)
        neg = (self.y == 0).to(torch.float64)
        c = correct.to(torch.float64)
        return self.pocket(torch.stack([(c * neg).sum(1), (c * (1 - neg)).sum(1)], dim=-1))

    def _fit_output_full(self):
        """Exact full search of the output threshold on the whole training set (initialisation)."""
        A = self._activations(self.P)
        q = self._out(A)
        if self.cfg.loss == "ce":
            now, _ = search.ce_output_terms(q, A, self.y.expand(self.G, self.N))
            return search.ce_threshold_counts(*now, self.t2, self.N)[0][:, 0]
        gains, base = search.output_gains(self.y.expand(self.G, self.N))
        _, qs, _, suffix = self._sorted(q, gains)
        return search.full_search(qs, suffix, base, self._zero_one(0, full=True))[0]

    def _initialise(self):
        h, G, dev = self.cfg.hidden_nodes, self.G, self.device
        W1, w2, perms = [], [], []
        for gen in self.gens:
            W1.append(_init_weights((self.d, h), self.cfg.binary_weights, gen))
            w2.append(_init_weights((h, 1), self.cfg.binary_weights, gen).flatten())
        self.W1 = torch.stack(W1).to(dev)
        self.w2 = torch.stack(w2).to(dev)
        self.P = self._project()
        # Hidden thresholds at the median: just above the median value (under all if all tie).
        ps = torch.sort(self.P.transpose(1, 2).reshape(G * h, self.N), dim=1).values
        median = ps[:, (self.N - 1) // 2]
        ps = ps.contiguous()
        nxt = torch.searchsorted(ps, median[:, None].contiguous(), right=True)[:, 0]
        has = nxt < self.N
        above = ps.gather(1, nxt.clamp_max(self.N - 1)[:, None])[:, 0]
        self.t1 = torch.where(has, (median + above) / 2, search.below_smallest(ps)).reshape(G, h)
        self.t2 = torch.zeros(G, dtype=torch.float64, device=dev)
        if self.cfg.loss == "ce":
            q = self._out(self._activations(self.P))
            self.t2 = torch.sort(q, dim=1).values[:, (self.N - 1) // 2]
        self.t2 = self._fit_output_full()
        for gen in self.gens:
            perms.append(torch.randperm(h, generator=gen))
        perms = torch.stack(perms).to(dev)
        score = self._score(0, full=True)
        yfull, sign = self.y.expand(G, self.N), self.sign_full.expand(G, self.N)
        for i in range(h):  # node perms[:, i] of every vote, through the output
            k = perms[:, i]
            A = self._activations(self.P)
            gains, base = self._hidden_gains(A, k, yfull, sign)
            pk = self.P.gather(2, k[:, None, None].expand(-1, self.N, 1))[..., 0]
            tk = self.t1.gather(1, k[:, None])
            current = score(base + ((pk > tk).to(gains.dtype)[..., None] * gains).sum(1))
            _, ps_k, _, suffix = self._sorted(pk, gains)
            t, best = search.full_search(ps_k, suffix, base, score)
            self.t1[self.ar, k] = torch.where(best > current, t, tk[:, 0])
        self.t2 = self._fit_output_full()
        self.A_full = self._activations(self.P)  # kept current: (P > t1) of the whole training set

    def _keep(self, better, best):
        """Pocket copy of the improved votes (a `where` off the CPU; an index copy on it)."""
        state = (self.W1, self.t1, self.w2, self.t2)
        if self.host:
            idx = torch.nonzero(better).flatten()
            if len(idx):
                for dst, src in zip(best, state):
                    dst[idx] = src[idx]
            return best
        return tuple(torch.where(better.view(-1, *([1] * (s.dim() - 1))), s, b) for s, b in zip(state, best))

    def train(self, progress=None) -> dict:
        try:
            self.start()
            for it in range(self.cfg.iterations):
                self.iterate(it)
                if progress is not None:
                    progress(it)
            return self.result()
        finally:
            self._stop_drawing()

    def start(self):
        """Initialisation (spec 3.1) and the pocket's first copy."""
        self._initialise()
        self.best_score = self.full_score()
        self.best = tuple(t.clone() for t in (self.W1, self.t1, self.w2, self.t2))

    def iterate(self, it: int):
        """Iteration `it` of every vote (spec 3.2), pocket included; off the host path nothing in it reads a
        value back to the host."""
        rows, k, features = self._next_draw()
        A = search.take_rows(self.A_full, rows)
        z = self._output_step(A, it, self.z_full.gather(1, rows))  # the output projections after it
        self._hidden_step(rows, A, k, features, it, z)  # activations are unchanged by an output move
        if (it + 1) % self.cfg.refresh_every == 0:
            self.P = self._project()
            self.A_full = self._activations(self.P)
        score = self.full_score()
        better = score > self.best_score
        self.best_score = torch.where(better, score, self.best_score)
        self.best = self._keep(better, self.best)

    def result(self) -> dict:
        """The pocket parameters as host float64 arrays (leading vote axis) and their full-training score."""
        self._stop_drawing()
        W1, t1, w2, t2 = (t.detach().cpu().to(torch.float64).numpy() for t in self.best)
        return {"W1": W1, "b1": -t1, "w2": w2, "b2": -t2, "train_score": self.best_score.cpu().numpy()}


def train_group(XT, y, cfg: VoteConfig, seeds, device: str = "cpu", codes="auto") -> dict:
    """Train the votes of `seeds` as one group on feature-major data XT (d, N) float64, y in {0, 1}.

    Returns host float64 arrays with a leading vote axis. XT may be a read-only memory map shared by
    worker processes (never written). Torch runs single-threaded here: one process per core, and
    sums that do not depend on a thread count. `codes`: `codes.byte_codes(XT)` when the caller has it
    (shared by every group), "auto" to compute it here; the result is the same either way.
    """
    import warnings

    from scd_plugins.engine.vote import _keep_freed_memory

    _keep_freed_memory()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            XT_t = torch.from_numpy(np.asarray(XT, dtype=np.float64)).to(device)
        yt = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)
        return GroupTrainer(XT_t, yt, cfg, seeds, codes=codes).train()
    finally:
        torch.set_num_threads(threads)
