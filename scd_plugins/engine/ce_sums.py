"""The passes of the CE output search (`search.ce_threshold_counts`) over its terms, compiled (CPU).

Each is one loop over a row of terms that does what several tensor passes did (a product, a
rounding, a sum each), with the same arithmetic: every sum is of integer multiples, exact in any
order, and the comparisons are exact. The transcendental functions (sigmoid, exp, log) stay with
torch, whose vectorised versions are several times faster than scalar ones.

Rows r of values Q (R, B) read their counts from row wrow[r] of a counts matrix (M, B): candidates
that share their counts (the rule with real weights) share one row of it, and compacting the rows
still moving in a Newton iteration moves an index, not a copy of the counts.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (LLVM's fma): what torch's `addcmul` computes on the CPU."""
    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return types.float64(types.float64, types.float64, types.float64), codegen


@njit(cache=True, nogil=True)
def newton_step(s, weight, wrow, scale, positives, n, t, low, high, still):
    """One safeguarded Newton step of `search._newton` for every row, in place on t, low, high and still
    (R,): s (R, B) the sigmoids at t, weight (M, B) the counts. The gradient's and the curvature's
    sigmoid sums are taken in units of 1 / scale (sum w * rint(s * scale), sum w * rint(s (1 - s) *
    scale), s (1 - s) rounded once as `addcmul` does), then the step is `_newton`'s, operation for
    operation."""
    R, B = s.shape
    for r in range(R):
        w = weight[wrow[r]]
        g = 0.0
        c = 0.0
        for b in range(B):
            v = s[r, b]
            g += w[b] * np.rint(v * scale)
            c += w[b] * np.rint(_fma(-v, v, v) * scale)
        grad = (g / scale - positives[r]) / n
        hess = max(c / scale / n, 1e-300)
        if grad > 0:
            low[r] = t[r]
        if grad < 0:
            high[r] = t[r]
        target = t[r] + grad / hess
        if not (target > low[r] and target < high[r]):
            target = (low[r] + high[r]) / 2
        if grad == 0:
            target = t[r]
        step = target - t[r] if still[r] else 0.0
        t[r] = t[r] + step
        still[r] = still[r] and abs(step) > 1e-13 * (1.0 + abs(t[r]))


@njit(cache=True, nogil=True)
def nearer_exponents(Q, o1, o2):
    """-min(|Q - o1|, |Q - o2|) per term, rows r at the options o1[r] and o2[r]: exp of it is the exp
    that `search.softplus_pair` shares between the two options."""
    R, B = Q.shape
    out = np.empty((R, B))
    for r in range(R):
        for b in range(B):
            out[r, b] = -min(abs(Q[r, b] - o1[r]), abs(Q[r, b] - o2[r]))
    return out


@njit(cache=True, nogil=True)
def pair_logs_args(Q, o1, o2, near, f):
    """1 + exp(-|z|) at both options (2, R, B) from near = exp(-min |z|) (R, B) and f = exp(-|o1 - o2|)
    (R,), as `search.softplus_pair` forms them (its logs are taken by torch)."""
    R, B = Q.shape
    out = np.empty((2, R, B))
    for r in range(R):
        for b in range(B):
            z1, z2, e = Q[r, b] - o1[r], Q[r, b] - o2[r], near[r, b]
            if (z1 > 0) == (z2 > 0):
                far = e * f[r]
            elif e > 0:
                far = f[r] / e
            else:
                far = 0.0
            first = abs(z1) <= abs(z2)
            out[0, r, b] = 1.0 + (e if first else far)
            out[1, r, b] = 1.0 + (far if first else e)
    return out


@njit(cache=True, nogil=True)
def bce_pair_units(Q, o1, o2, logs, weight, positives, wrow, quantum):
    """Per row and option, sum w * rint(softplus(z) / quantum) - sum positives * rint(z / quantum) with
    softplus(z) = max(z, 0) + logs[k] (`pair_logs_args`' logs): the summed BCE in units (a
    negative's loss is softplus(z), a positive's softplus(z) - z). Returns (R, 2)."""
    R, B = Q.shape
    out = np.zeros((R, 2))
    for r in range(R):
        w, p = weight[wrow[r]], positives[wrow[r]]
        total1 = 0.0
        total2 = 0.0
        for b in range(B):
            z1, z2 = Q[r, b] - o1[r], Q[r, b] - o2[r]
            total1 += w[b] * np.rint((max(z1, 0.0) + logs[0, r, b]) / quantum) - p[b] * np.rint(z1 / quantum)
            total2 += w[b] * np.rint((max(z2, 0.0) + logs[1, r, b]) / quantum) - p[b] * np.rint(z2 / quantum)
        out[r, 0] = total1
        out[r, 1] = total2
    return out


@njit(cache=True, nogil=True)
def gaps(Q, weight, wrow, t):
    """Per row, of the values held by samples (count > 0): the largest at or below t (-inf: none), the
    smallest above it (inf: none), and the next distinct value below the one and above the other."""
    R, B = Q.shape
    lo = np.full(R, -np.inf)
    hi = np.full(R, np.inf)
    lo_prev = np.full(R, -np.inf)
    hi_next = np.full(R, np.inf)
    for r in range(R):
        w = weight[wrow[r]]
        a, b_ = -np.inf, np.inf
        for b in range(B):
            v = Q[r, b]
            if w[b] > 0:
                if v > t[r]:
                    b_ = min(b_, v)
                else:
                    a = max(a, v)
        pa, nb = -np.inf, np.inf
        for b in range(B):
            v = Q[r, b]
            if w[b] > 0:
                if v < a:
                    pa = max(pa, v)
                if v > b_:
                    nb = min(nb, v)
        lo[r], hi[r], lo_prev[r], hi_next[r] = a, b_, pa, nb
    return lo, hi, lo_prev, hi_next


@njit(cache=True, nogil=True)
def held_range(Q, weight, wrow, big):
    """(smallest, largest) value held by samples, per row (big, -big: none)."""
    R, B = Q.shape
    low = np.full(R, big)
    high = np.full(R, -big)
    for r in range(R):
        w = weight[wrow[r]]
        for b in range(B):
            if w[b] > 0:
                low[r] = min(low[r], Q[r, b])
                high[r] = max(high[r], Q[r, b])
    return low, high
