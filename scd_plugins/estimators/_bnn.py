"""The paper's BNN baseline: a soft vote over independently seeded binary networks, as larq trains them.

A member: input (real) -> dense layer with binary weights (20 units, no bias) -> BatchNorm without a learned
scale (learned shift, batch statistics in training, moving statistics at predict; Keras' momentum 0.99 and
epsilon 1e-3) -> sign activation -> output layer with binary weights and no bias (one unit per class) ->
softmax. Binary weights are the sign of latent float weights, which are clipped to [-1, 1] after every step.
The hidden sign is larq's "approx" sign (ApproxSign: forward sign(x) with sign(0) = +1, backward
2 - 2|x| on |x| <= 1, else 0); the weight sign is larq's ste_sign (gradient passed on |w| <= 1, which the
clip keeps true). Adam (lr 1e-3, Keras' epsilon 1e-7) on the categorical cross-entropy, batch 64,
100 epochs, a fresh shuffle per epoch. All members train at once as one batched tensor program over
stacked weights (R, d, h); Adam is elementwise and each member's loss is its own batch mean, so
batching does not couple members. Saved as plain arrays through `scd_plugins.io`: never pickle.
"""
from __future__ import annotations

import functools
from numbers import Integral, Real

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from scd_plugins._compat import Interval, validate_data
from scd_plugins.estimators._ensemble import DEVICE_CONSTRAINT, EnsembleClassifier, StackedMembers, member_seeds
from scd_plugins.estimators._mlp import torch_threads
from scd_plugins.io import ModelFileError, decode_classes, expect_array

__all__ = ["BNNEnsembleClassifier", "sign", "approx_sign_grad"]

BN_MOMENTUM = 0.99       # Keras BatchNormalization defaults (larq models use them)
BN_EPSILON = 1e-3
ADAM_EPSILON = 1e-7      # Keras Adam default

_BNN_ARRAYS = ("member_seeds_", "n_iter_", "hidden_sign_", "bn_mean_", "bn_var_", "bn_beta_", "out_sign_")


def sign(x):
    """Sign with sign(0) = +1 (larq's convention), as +-1 of x's dtype (NumPy or torch)."""
    if isinstance(x, np.ndarray):
        return (x >= 0) * 2.0 - 1.0
    import torch

    # copysign(1, x + 0): the + 0 turns -0 into +0, so sign(+-0) = +1; about 10x faster on the CPU than
    # where(x >= 0, 1, -1), and a training step takes the sign of every latent weight
    return torch.copysign(x.new_ones(()).expand_as(x), x + 0.0)


def approx_sign_grad(x):
    """d ApproxSign / dx as larq defines it: 2 - 2|x| on |x| <= 1, else 0."""
    return (2 - 2 * x.abs()) * (x.abs() <= 1)


def _autograd_signs(clipped=False):
    """The two sign functions with their larq gradients, as torch autograd functions. `clipped`: the weights
    are known to lie in [-1, 1] (training clips them after every step, and the initialisation is inside), so
    ste_sign's mask is all ones and is skipped."""
    import torch

    class ApproxSign(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return sign(x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * approx_sign_grad(x)

    class SteSign(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w):
            ctx.save_for_backward(w)
            return sign(w)

        @staticmethod
        def backward(ctx, grad):
            if clipped:
                return grad
            (w,) = ctx.saved_tensors
            return grad * (w.abs() <= 1)

    return ApproxSign.apply, SteSign.apply


@functools.lru_cache(maxsize=None)
def _input_product():
    """z = Xb @ W for stacked members (R, b, d) @ (R, d, h), with the gradient for W only, computed as
    (dz^T Xb)^T: the CPU's batched GEMM runs that (h, d) product about 2x faster than Xb^T dz. Built once
    (cached): the forward pass of every training step uses it."""
    import torch

    class InputProduct(torch.autograd.Function):
        @staticmethod
        def forward(ctx, Xb, W):
            ctx.save_for_backward(Xb)
            return torch.bmm(Xb, W)

        @staticmethod
        def backward(ctx, grad):
            (Xb,) = ctx.saved_tensors
            return None, torch.bmm(grad.transpose(1, 2), Xb).transpose(1, 2)

    return InputProduct.apply


def glorot_uniform(rs: np.random.RandomState, fan_in: int, fan_out: int) -> np.ndarray:
    """Keras' default kernel initialiser: uniform on +-sqrt(6 / (fan_in + fan_out))."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rs.uniform(-bound, bound, (fan_in, fan_out))


def bnn_forward(Xb, W1, W2, beta, approx_sign, ste_sign):
    """Training-mode forward pass of stacked members: Xb (R, b, d) -> logits (R, b, k), and the batch
    mean and variance (R, 1, h) that BatchNorm normalised with."""
    import torch

    z = _input_product()(Xb, ste_sign(W1)) if W1.requires_grad else torch.bmm(Xb, ste_sign(W1))   # (R, b, h)
    mu, v = z.mean(dim=1, keepdim=True), z.var(dim=1, unbiased=False, keepdim=True)
    a = approx_sign((z - mu) / torch.sqrt(v + BN_EPSILON) + beta)
    return torch.bmm(a, ste_sign(W2)), mu, v


def _adam_step(params, grads, moments, steps, lr, b1=0.9, b2=0.999):
    """One Adam step in Keras' form: p -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps). Elementwise,
    so stacked members stay independent. It runs as torch's fused Adam kernel (one pass, about 4x faster
    than separate in-place ops), which puts eps beside sqrt(v / (1 - b2^t)): Keras' eps divided by
    sqrt(1 - b2^t) is the same step. `steps`: one float tensor per parameter, the step count, advanced
    here. (torch.optim is avoided: it imports the compiler stack, seconds per process.)"""
    import torch

    torch._foreach_add_(steps, 1)
    t = float(steps[0])
    if not all(p.is_contiguous() for p in params):          # the fused kernel reads memory in order
        raise ValueError("Adam's parameters must be contiguous tensors")
    grads = [g.contiguous() for g in grads]
    torch._fused_adam_(list(params), grads, [m for m, _ in moments], [v for _, v in moments], [], steps,
                       lr=lr, beta1=b1, beta2=b2, weight_decay=0.0, eps=ADAM_EPSILON / np.sqrt(1 - b2 ** t),
                       amsgrad=False, maximize=False)


def train_bnns(X, y, n_classes, seeds, *, hidden_units=20, learning_rate=1e-3, batch_size=64, max_iter=100,
               dtype=None, device="cpu", progress=False):
    """Train one BNN per seed, all at once (see the module docstring). y holds class indices 0..k-1.

    Member i draws its initial weights, then one permutation of the training set per epoch, from
    `RandomState(seeds[i])`. Returns float64 arrays: latent W1 (R, d, h), W2 (R, h, k), BN shift beta
    (R, h), moving mean and variance (R, h).
    """
    import torch
    from tqdm.auto import tqdm

    approx_sign, ste_sign = _autograd_signs(clipped=True)
    dtype = torch.float32 if dtype is None else dtype
    n, d = X.shape
    R, h, k = len(seeds), hidden_units, n_classes
    B = int(np.clip(batch_size, 1, n))
    rngs = [np.random.RandomState(int(s)) for s in seeds]
    inits = [(glorot_uniform(rs, d, h), glorot_uniform(rs, h, k)) for rs in rngs]
    # the latent hidden weights live as (R, h, d): the forward product reads them transposed and the gradient
    # (dz^T Xb) lands in that layout, which the CPU's batched GEMM runs fastest, with no transposing copy
    W1T = torch.tensor(np.ascontiguousarray(np.stack([w.T for w, _ in inits])), dtype=dtype, device=device,
                       requires_grad=True)
    W2 = torch.tensor(np.stack([w for _, w in inits]), dtype=dtype, device=device, requires_grad=True)
    beta = torch.zeros(R, 1, h, dtype=dtype, device=device, requires_grad=True)
    mean = torch.zeros(R, 1, h, dtype=dtype, device=device)
    var = torch.ones(R, 1, h, dtype=dtype, device=device)
    params = (W1T, W2, beta)
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    steps = [torch.zeros((), dtype=dtype) for _ in params]
    Xt = torch.tensor(X, dtype=dtype, device=device)       # a copy: X may be a read-only memory map
    yt = torch.tensor(y, dtype=torch.int64, device=device)
    buf = torch.empty(R * B, d, dtype=dtype, device=device)

    for _ in tqdm(range(max_iter), desc="BNN epochs", disable=not progress):
        idx = torch.as_tensor(np.stack([rs.permutation(n) for rs in rngs]), device=device)
        for start in range(0, n, B):
            rows = idx[:, start:start + B].sort(dim=1).values     # ascending: a faster gather, same sums
            b = rows.shape[1]
            Xb = torch.index_select(Xt, 0, rows.reshape(-1), out=buf[:R * b]).view(R, b, d)
            logits, mu, v = bnn_forward(Xb, W1T.transpose(1, 2), W2, beta, approx_sign, ste_sign)
            loss = torch.nn.functional.cross_entropy(logits.reshape(R * b, k), yt[rows].reshape(-1),
                                                     reduction="sum") / b    # sum over members of batch means
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                _adam_step(params, grads, moments, steps, learning_rate)
                W1T.clamp_(-1, 1)
                W2.clamp_(-1, 1)
                mean.mul_(BN_MOMENTUM).add_(mu, alpha=1 - BN_MOMENTUM)
                var.mul_(BN_MOMENTUM).add_(v, alpha=1 - BN_MOMENTUM)
    out = [t.detach().double().cpu().numpy() for t in (W1T.transpose(1, 2), W2, beta[:, 0], mean[:, 0], var[:, 0])]
    return tuple(out)


class BNNEnsembleClassifier(StackedMembers, EnsembleClassifier):
    """Soft vote over `n_estimators` binary networks of `hidden_units` sign units (the paper's BNN baseline;
    R = 100, 10 for ECG), trained batched in torch (`device`; `n_jobs` torch threads while training, None:
    unchanged), `max_iter` epochs of Adam.

    Only the binary weights (+-1, int8) and the BatchNorm statistics are kept after training; a member's
    class probabilities are the softmax of its integer-valued output sums.
    """

    _member_arrays = _BNN_ARRAYS

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "hidden_units": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "device": DEVICE_CONSTRAINT,
        "verbose": ["boolean"],
    }

    def __init__(self, *, n_estimators=100, hidden_units=20, learning_rate=1e-3, batch_size=64, max_iter=100,
                 random_state=None, n_jobs=None, device="cpu", verbose=False):
        self.n_estimators = n_estimators
        self.hidden_units = hidden_units
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.device = device
        self.verbose = verbose

    def fit(self, X, y):
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two classes to fit, got {len(self.classes_)} class")
        from scd_plugins.engine.vote import resolve_device

        seeds = member_seeds(self.random_state, self.n_estimators)
        with torch_threads(self.n_jobs):
            W1, W2, beta, mean, var = train_bnns(X, codes, len(self.classes_), seeds, hidden_units=self.hidden_units,
                                                 learning_rate=self.learning_rate, batch_size=self.batch_size,
                                                 max_iter=self.max_iter, device=resolve_device(self.device),
                                                 progress=self.verbose)
        self.member_seeds_ = np.asarray(seeds, dtype=np.int64)
        self.n_iter_ = np.full(len(seeds), self.max_iter, dtype=np.int64)   # epochs run (a fixed budget)
        self.hidden_sign_ = sign(W1).astype(np.int8)          # (R, d, h) binary weights
        self.out_sign_ = sign(W2).astype(np.int8)             # (R, h, k)
        self.bn_beta_, self.bn_mean_, self.bn_var_ = beta, mean, var
        return self

    @property
    def n_members_(self):
        check_is_fitted(self)
        return self.hidden_sign_.shape[0]

    n_estimators_ = n_members_

    def _member_logits(self, X):
        """(R, n, k) integer-valued output sums of every member, one batched product."""
        r, d, h = self.hidden_sign_.shape
        z = (X @ self.hidden_sign_.transpose(1, 0, 2).reshape(d, r * h).astype(np.float64)).reshape(len(X), r, h)
        a = sign((z - self.bn_mean_) / np.sqrt(self.bn_var_ + BN_EPSILON) + self.bn_beta_)
        return np.einsum("nrh,rhk->rnk", a, self.out_sign_.astype(np.float64))

    def _member_proba(self, X):
        out = self._member_logits(X)
        e = np.exp(out - out.max(axis=2, keepdims=True))
        return e / e.sum(axis=2, keepdims=True)

    @classmethod
    def _from_arrays(cls, arrays, state):
        est = cls(**state["params"])
        est.classes_ = decode_classes(state["classes"])
        est.n_features_in_ = d = int(state["n_features_in"])
        k = len(est.classes_)
        est.hidden_sign_ = expect_array(arrays, "hidden_sign_", dtype=np.int8, shape=(None, d, None), low=-1, high=1)
        r, _, h = est.hidden_sign_.shape
        est.out_sign_ = expect_array(arrays, "out_sign_", dtype=np.int8, shape=(r, h, k), low=-1, high=1)
        for name in ("hidden_sign_", "out_sign_"):
            if not np.all(np.abs(getattr(est, name)) == 1):
                raise ModelFileError(f"array {name!r} holds values other than -1 and +1")
        est.bn_mean_ = expect_array(arrays, "bn_mean_", dtype=np.float64, shape=(r, h))
        est.bn_var_ = expect_array(arrays, "bn_var_", dtype=np.float64, shape=(r, h), low=0)
        est.bn_beta_ = expect_array(arrays, "bn_beta_", dtype=np.float64, shape=(r, h))
        est.member_seeds_ = expect_array(arrays, "member_seeds_", dtype=np.int64, shape=(r,))
        est.n_iter_ = expect_array(arrays, "n_iter_", dtype=np.int64, shape=(r,), low=0)
        return est
