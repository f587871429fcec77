"""The paper's MLP baseline: a soft vote over independently seeded MLPs of 20 logistic hidden units.

A member is scikit-learn's `MLPClassifier((20,), activation="logistic", solver="sgd",
learning_rate_init=0.01, momentum=0.9)` (batch 200, L2 1e-4, Nesterov momentum, shuffling, up to 200
epochs, stop after 10 epochs without a 1e-4 loss improvement). `solver="sklearn"` fits each member with
scikit-learn itself (exact fidelity, one fit after another); `solver="torch"` (default) runs the same
algorithm for all members at once as one batched tensor program over stacked weights (R, d, h), each
member with its own seed, initialisation, batch order and stopping epoch, drawn from the same NumPy
`RandomState(seed)` stream scikit-learn draws them from. In float64 it reproduces scikit-learn's members;
it trains in float32 (several times faster). Saved as plain arrays through `scd_plugins.io`: never pickle.

`standardize=True` trains on standardised features (scikit-learn's StandardScaler: mean 0, variance 1;
constant features left unscaled) and then folds that affine map into the hidden layer, so the fitted
model still takes raw inputs and saves, slices and attacks as before. The paper's MLP saw [0, 1] pixels
and needs none; on mean-of-unit-GloVe text features, whose coordinates vary by about 0.035, SGD at
lr 0.01 barely moves and the stopping rule ends it at the class prior (IMDB: 48%), so the text recipes
standardise.
"""
from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from scd_plugins._compat import Interval, StrOptions, validate_data
from scd_plugins.estimators._ensemble import DEVICE_CONSTRAINT, EnsembleClassifier, StackedMembers, member_seeds
from scd_plugins.io import decode_classes, expect_array

__all__ = ["MLPEnsembleClassifier"]


_WEIGHTS = ("coef_hidden_", "intercept_hidden_", "coef_out_", "intercept_out_")
_MLP_ARRAYS = ("member_seeds_", "n_iter_", "member_loss_") + _WEIGHTS


def _sklearn_mlp(seed, p):
    return MLPClassifier(hidden_layer_sizes=(p["hidden_units"],), activation="logistic", solver="sgd",
                         alpha=p["alpha"], batch_size=p["batch_size"], learning_rate_init=p["learning_rate_init"],
                         momentum=p["momentum"], nesterovs_momentum=True, max_iter=p["max_iter"], tol=p["tol"],
                         n_iter_no_change=p["n_iter_no_change"], shuffle=True, random_state=seed)


def _fit_one_sklearn(X, y, seed, p):
    mlp = _sklearn_mlp(seed, {**p, "batch_size": min(p["batch_size"], len(X))})   # sklearn's "auto": min(200, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # the paper trains a fixed budget, converged or not
        mlp.fit(X, y)
    return (mlp.coefs_[0], mlp.intercepts_[0], mlp.coefs_[1], mlp.intercepts_[1], mlp.n_iter_, mlp.loss_)


@contextmanager
def torch_threads(n_jobs):
    """Run torch with `n_jobs` threads (None: leave as is; -1: all cores), restored afterwards: on a busy
    machine fewer threads than cores can be many times faster for these small products."""
    import torch

    before = torch.get_num_threads()
    if n_jobs is not None:
        torch.set_num_threads((os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def glorot_logistic_init(rs: np.random.RandomState, d: int, h: int, o: int):
    """scikit-learn's MLP initialisation for logistic units, in its draw order: per layer the weights then
    the intercepts, uniform on +-sqrt(2 / (fan_in + fan_out))."""
    out = []
    for fan_in, fan_out in ((d, h), (h, o)):
        bound = np.sqrt(2.0 / (fan_in + fan_out))
        out += [rs.uniform(-bound, bound, (fan_in, fan_out)), rs.uniform(-bound, bound, fan_out)]
    return out


def train_sgd_mlps(X, Y, seeds, *, dtype=None, device="cpu", members_per_chunk=None, **sgd):
    """Train one MLP per seed, exactly as scikit-learn's `MLPClassifier(solver="sgd")` trains each (see
    `_train_chunk` for the algorithm and the `sgd` settings).

    X (n, d) features, Y (n, o) 0/1 targets (o = 1: one logistic output, else softmax). Returns float64
    arrays W1 (R, d, h), b1 (R, h), W2 (R, h, o), b2 (R, o), n_iter (R,), loss (R,).

    Members train in chunks of `members_per_chunk` (default: 25 on the CPU, all at once elsewhere), each
    chunk as one batched program: a chunk's minibatches stay in cache, which makes 100 members about 1.3x
    faster on 2 cores than one batch of 100. Members never interact, so the chunking changes no member.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    chunk = members_per_chunk or (25 if torch.device(device).type == "cpu" else len(seeds))
    Xt = torch.tensor(X, dtype=dtype, device=device)       # a copy: X may be a read-only memory map
    Yt = torch.tensor(Y, dtype=dtype, device=device)
    parts = [_train_chunk(Xt, Yt, seeds[i:i + chunk], **sgd) for i in range(0, len(seeds), chunk)]
    return tuple(np.concatenate([part[k] for part in parts]) for k in range(6))


def _train_chunk(Xt, Yt, seeds, *, hidden_units=20, learning_rate_init=0.01, momentum=0.9, alpha=1e-4,
                 batch_size=200, max_iter=200, tol=1e-4, n_iter_no_change=10, progress=False):
    """Train one MLP per seed as one batched program on tensors Xt (n, d), Yt (n, o): Glorot init,
    per-epoch shuffle (composed permutations, as `sklearn.utils.shuffle` does to the index array),
    minibatch backprop with the L2 term `alpha * W / batch`, Nesterov momentum, and the stopping rule on
    the training loss (more than `n_iter_no_change` epochs not `tol` below the best). A stopped member
    leaves the batch; the others go on. Returns what `train_sgd_mlps` returns, for these seeds."""
    import torch
    from tqdm.auto import tqdm

    dtype, device = Xt.dtype, Xt.device
    n, d = Xt.shape
    o = Yt.shape[1]
    R = len(seeds)
    B = int(np.clip(batch_size, 1, n))
    rngs = [np.random.RandomState(int(s)) for s in seeds]
    inits = [glorot_logistic_init(rs, d, hidden_units, o) for rs in rngs]
    params = [torch.as_tensor(np.stack([p[k] for p in inits]), dtype=dtype, device=device) for k in range(4)]
    velocity = [torch.zeros_like(p) for p in params]
    eps = torch.finfo(dtype).eps

    result = [np.empty((R,) + tuple(p.shape[1:])) for p in params]
    n_iter = np.zeros(R, dtype=np.int64)
    last_loss = np.zeros(R)
    best = np.full(R, np.inf)
    stale = np.zeros(R, dtype=np.int64)
    active = np.arange(R)                              # members still training, in the rows of `params`
    order = np.tile(np.arange(n), (R, 1))

    def retire(rows):
        for k, p in enumerate(params):
            result[k][active[rows]] = p[torch.as_tensor(rows, device=device)].double().cpu().numpy()

    with torch.no_grad():
        for _ in tqdm(range(max_iter), desc="MLP epochs", disable=not progress):
            for j, r in enumerate(active):
                order[j] = order[j][rngs[r].permutation(n)]
            r_act = len(active)
            idx = torch.as_tensor(order, device=device)
            total = torch.zeros(r_act, dtype=torch.float64, device=device)
            buf = torch.empty(r_act * B, d, dtype=dtype, device=device)  # reused: no fresh pages per step
            for start in range(0, n, B):
                # a minibatch's order does not matter to its sums; in ascending order its gather reads
                # memory forward, about 1.4x faster
                rows = idx[:, start:start + B].sort(dim=1).values
                b = rows.shape[1]
                Xb = torch.index_select(Xt, 0, rows.reshape(-1), out=buf[:r_act * b]).view(r_act, b, d)
                Yb = Yt[rows]                                                # (r, b, d), (r, b, o)
                W1, b1, W2, b2 = params
                A1 = torch.sigmoid(torch.baddbmm(b1[:, None, :], Xb, W1))
                Z2 = torch.baddbmm(b2[:, None, :], A1, W2)
                if o == 1:
                    A2 = torch.sigmoid(Z2)
                    P = A2.clamp(eps, 1 - eps)
                    nll = -(Yb * P.log() + (1 - Yb) * (1 - P).log()).sum(dim=(1, 2))
                else:
                    A2 = torch.softmax(Z2, dim=2)
                    nll = -(Yb * A2.clamp(eps, 1 - eps).log()).sum(dim=(1, 2))
                l2 = W1.square().sum(dim=(1, 2)) + W2.square().sum(dim=(1, 2))
                total += (nll + 0.5 * alpha * l2).double()          # batch loss x b, as scikit-learn adds it
                D2 = A2 - Yb
                D1 = torch.bmm(D2, W2.transpose(1, 2)).mul_(A1 * (1 - A1))
                # D1^T Xb, read back transposed: the (d, h) = Xb^T D1 product with Xb transposed in place
                # is about 2x slower in the CPU's batched GEMM than this (h, d) one
                grads = (torch.bmm(D1.transpose(1, 2), Xb).transpose(1, 2).add_(W1, alpha=alpha).div_(b),
                         D1.sum(dim=1).div_(b),
                         torch.baddbmm(W2, A1.transpose(1, 2), D2, beta=alpha).div_(b), D2.sum(dim=1).div_(b))
                for p, v, g in zip(params, velocity, grads):
                    v.mul_(momentum).sub_(g, alpha=learning_rate_init)
                    p.add_(v, alpha=momentum).sub_(g, alpha=learning_rate_init)
            loss = total.cpu().numpy() / n
            n_iter[active] += 1
            last_loss[active] = loss
            stale[active] = np.where(loss > best[active] - tol, stale[active] + 1, 0)
            best[active] = np.minimum(best[active], loss)
            stop = stale[active] > n_iter_no_change
            if stop.any():
                retire(np.flatnonzero(stop))
                keep = np.flatnonzero(~stop)
                kt = torch.as_tensor(keep, device=device)
                params = [p[kt] for p in params]
                velocity = [v[kt] for v in velocity]
                active, order = active[keep], order[keep]
            if not len(active):
                break
        if len(active):
            retire(np.arange(len(active)))
    return (*result, n_iter, last_loss)


def _expit(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))     # logistic without overflow warnings


class MLPEnsembleClassifier(StackedMembers, EnsembleClassifier):
    """Soft vote over `n_estimators` MLPs of `hidden_units` logistic units (the paper's MLP baseline, R = 100).

    The other parameters are scikit-learn's MLPClassifier ones at the paper's values. `solver`: "torch"
    trains all members as one batched program (float32, on `device`), "sklearn" fits one MLPClassifier per
    member (`n_jobs` processes; for "torch", `n_jobs` is torch's thread count while training, None: unchanged). Both draw member i's initialisation and batch order from
    `RandomState(member_seeds_[i])`. Prediction runs every member as one batched product (float64).
    """

    _member_arrays = _MLP_ARRAYS

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "hidden_units": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"torch", "sklearn"})],
        "standardize": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "device": DEVICE_CONSTRAINT,
        "verbose": ["boolean"],
    }

    def __init__(self, *, n_estimators=100, hidden_units=20, learning_rate_init=0.01, momentum=0.9, alpha=1e-4,
                 batch_size=200, max_iter=200, tol=1e-4, n_iter_no_change=10, solver="torch", standardize=False,
                 random_state=None, n_jobs=None, device="cpu", verbose=False):
        self.n_estimators = n_estimators
        self.hidden_units = hidden_units
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.solver = solver
        self.standardize = standardize
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.device = device
        self.verbose = verbose

    def _train_params(self):
        return {k: getattr(self, k) for k in ("hidden_units", "learning_rate_init", "momentum", "alpha",
                                               "batch_size", "max_iter", "tol", "n_iter_no_change")}

    def fit(self, X, y):
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two classes to fit, got {len(self.classes_)} class")
        seeds = member_seeds(self.random_state, self.n_estimators)
        p = self._train_params()
        if self.standardize:                # constant features keep scale 1 (StandardScaler's rule)
            scaler = StandardScaler().fit(X)
            mean, scale = scaler.mean_, scaler.scale_
            X = scaler.transform(X)
        if self.solver == "sklearn":
            parts = Parallel(n_jobs=self.n_jobs)(delayed(_fit_one_sklearn)(X, y, s, p) for s in seeds)
            arrays = [np.stack([q[k] for q in parts]) for k in range(4)]
            n_iter, loss = np.array([q[4] for q in parts]), np.array([q[5] for q in parts])
        else:
            from scd_plugins.engine.vote import resolve_device

            Y = LabelBinarizer().fit(self.classes_).transform(y).astype(np.float64)   # scikit-learn's targets
            with torch_threads(self.n_jobs):
                *arrays, n_iter, loss = train_sgd_mlps(X, Y, seeds, device=resolve_device(self.device),
                                                       progress=self.verbose, **p)
        self.member_seeds_ = np.asarray(seeds, dtype=np.int64)
        self.coef_hidden_, self.intercept_hidden_, self.coef_out_, self.intercept_out_ = arrays
        if self.standardize:            # ((x - mean) / scale) W + b  =  x (W / scale) + (b - mean (W / scale))
            self.coef_hidden_ = self.coef_hidden_ / scale[None, :, None]
            self.intercept_hidden_ = self.intercept_hidden_ - np.einsum("d,rdh->rh", mean, self.coef_hidden_)
        self.n_iter_ = np.asarray(n_iter, dtype=np.int64)          # SGD epochs run by each member
        self.member_loss_ = np.asarray(loss, dtype=np.float64)     # each member's last training loss
        return self

    @property
    def n_members_(self):
        check_is_fitted(self)
        return self.coef_hidden_.shape[0]

    n_estimators_ = n_members_

    def _member_proba(self, X):
        """(R, n, n_classes) class probabilities of every member, one batched product."""
        r, d, h = self.coef_hidden_.shape
        hidden = _expit(X @ self.coef_hidden_.transpose(1, 0, 2).reshape(d, r * h)
                        + self.intercept_hidden_.reshape(r * h)).reshape(len(X), r, h)
        out = np.einsum("nrh,rho->rno", hidden, self.coef_out_) + self.intercept_out_[:, None, :]
        if out.shape[2] == 1:
            p1 = _expit(out[:, :, 0])
            return np.stack([1.0 - p1, p1], axis=2)
        out = out - out.max(axis=2, keepdims=True)
        e = np.exp(out)
        return e / e.sum(axis=2, keepdims=True)

    @classmethod
    def _from_arrays(cls, arrays, state):
        est = cls(**state["params"])
        est.classes_ = decode_classes(state["classes"])
        est.n_features_in_ = d = int(state["n_features_in"])
        k = len(est.classes_)
        o = 1 if k == 2 else k
        W1 = expect_array(arrays, "coef_hidden_", dtype=np.float64, shape=(None, d, None))
        r, _, h = W1.shape
        est.coef_hidden_ = W1
        est.intercept_hidden_ = expect_array(arrays, "intercept_hidden_", dtype=np.float64, shape=(r, h))
        est.coef_out_ = expect_array(arrays, "coef_out_", dtype=np.float64, shape=(r, h, o))
        est.intercept_out_ = expect_array(arrays, "intercept_out_", dtype=np.float64, shape=(r, o))
        est.member_seeds_ = expect_array(arrays, "member_seeds_", dtype=np.int64, shape=(r,))
        est.n_iter_ = expect_array(arrays, "n_iter_", dtype=np.int64, shape=(r,), low=0)
        est.member_loss_ = expect_array(arrays, "member_loss_", dtype=np.float64, shape=(r,))
        return est
