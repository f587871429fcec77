"""Ensembles of torch networks trained together: the shared machinery of the LeNet, ResNet50, 1-D CNN and
WordCNN baselines.

A 100-member ensemble of small networks is 100 tiny training runs. Here the members' weights are stacked
(`torch.func.stack_module_state`, leading axis = member) and one step of all members is one program: the
families' `_stacked_forward` runs every member's convolutions as one grouped convolution (members side by
side as channel groups, channels-last) and their dense layers as one batched product, then one backward
and one Adam over the stacked tensors. (`vmap(functional_call)` is the generic fallback; on CPU its
grouped-convolution rule ran slower than a plain member loop, the channels-last grouped form 1.5x faster.
The 1-D CNN's 16-wide kernels are the exception: there plain per-member convolutions over slices of the
stacked weights were 1.5x faster per step than the grouped form, so its program runs those.)
Adam is elementwise, so Adam on a stacked tensor is exactly every member's own Adam; each member keeps its
own initialisation (torch seeded by its `member_seeds` seed), its own batch order and its own dropout
masks (both from generators seeded by that seed), so a member trained in a batch equals the member
trained alone (tests: to float rounding, 1e-5).

Networks with BatchNorm (ResNet50) cannot update running statistics in a stacked program; their members
train one after the other (`batched_members = False`) with the same seeds, batch orders and stored layout.

Weights are kept and saved as flat stacked arrays named by state-dict keys ("param.<key>", "buffer.<key>"),
through `scd_plugins.io` (every array read back through `expect_array`, key by key and shape by shape
against a freshly built member): never pickle.
"""
from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from scd_plugins._compat import Interval, StrOptions
from scd_plugins.estimators._ensemble import DEVICE_CONSTRAINT, EnsembleClassifier, member_seeds
from scd_plugins.io import decode_classes, encode_classes, expect_array, json_params

__all__ = ["TorchEnsembleClassifier", "resolve_device", "train_members", "predict_members"]

PREDICT_ROWS = 8192          # member-rows per forward pass when predicting (bounds memory for 100 members)


def resolve_device(device):
    """"auto" -> CUDA when available, else CPU; "cpu" / "cuda" as given (an error if CUDA is absent)."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA GPU; use device='cpu' or 'auto'")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    return torch.device(device)


def _init_member(make_member, seed: int):
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make_member()


def _dropout_masks(net, gens, batch: int, device):
    """(R, batch, *net.noise_shape) inverted-dropout keep masks, one generator per member, or None."""
    import torch

    shape = getattr(net, "noise_shape", None)
    if not shape:
        return None
    keep = 1.0 - net.dropout
    masks = [(torch.rand((batch, *shape), generator=g) < keep).float() / keep for g in gens]
    return torch.stack(masks).to(device)


def vmapped_forward(make_member):
    """forward(params, buffers, x (R, B, ...), masks) of any member network by vmap(functional_call)."""
    from torch.func import functional_call, vmap

    base = make_member().to("meta")

    def one(p, b, xb, mask):
        return functional_call(base, (p, b), (xb,) if mask is None else (xb, mask))

    def forward(params, buffers, x, masks=None, train=True):
        base.train(train)
        return vmap(one, in_dims=(0, 0, 0, None if masks is None else 0))(params, buffers, x, masks)

    return forward


def members_to_channels(x):
    """(R, B, C, *spatial) -> (B, R*C, *spatial): members side by side as channel groups, channels-last
    in memory (grouped convolutions in that layout ran 1.5-2.5x faster than a member loop on CPU)."""
    r, b = x.shape[:2]
    h = x.transpose(0, 1).reshape(b, r * x.shape[2], *x.shape[3:])
    if h.dim() == 3:                                       # 1-D signals run as images of height 1
        h = h.unsqueeze(2)
    import torch

    return h.contiguous(memory_format=torch.channels_last)


def channels_to_members(h, r: int):
    """(B, R*C, *spatial) -> (R, B, C * prod(spatial)), flattened per member in C, H, W order."""
    b = h.shape[0]
    return h.reshape(b, r, -1).transpose(0, 1)


def grouped_conv(h, weight, bias, padding):
    """All members' convolutions as one grouped convolution: h (B, R*C, H, W); weight (R, O, C, *k) stacked
    from nn.Conv2d / nn.Conv1d weights (a 1-D kernel runs as 1 x k)."""
    import torch.nn.functional as F

    r, o, c = weight.shape[:3]
    k = weight.shape[3:] if weight.dim() == 5 else (1, weight.shape[3])
    if padding == "same":            # torch's and Keras' "same": the odd extra column of padding on the right
        pads = [(kk - 1) // 2 for kk in k]
        h = F.pad(h, (pads[1], k[1] - 1 - pads[1], pads[0], k[0] - 1 - pads[0]))
        padding = 0
    if weight.dim() == 4 and isinstance(padding, int):
        padding = (0, padding)
    return F.conv2d(h, weight.reshape(r * o, c, *k), bias.reshape(r * o), padding=padding, groups=r)


def stacked_linear(h, weight, bias):
    """h (R, B, I) through each member's nn.Linear (weight (R, O, I), bias (R, O)) as one batched product."""
    import torch

    return torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))


def _recalibrate_bn(net, X, batch_size, embed):
    """Running statistics = the exact mean over training batches (momentum None), final weights."""
    import torch

    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            net(embed(X[start:start + batch_size]))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum


def train_members(make_member, seeds, X, y, *, epochs: int, batch_size: int, lr: float, device,
                  forward=None, embed=None, verbose: bool = False, desc: str = "train",
                  recalibrate_bn: bool = False):
    """Train one network per seed on (X, y) with Adam; returns (params, buffers, loss_curve).

    make_member(): a fresh network (its init drawn from torch's global RNG, seeded per member here).
    forward(params, buffers, x, masks, train): all members at once on x (R, B, ...) -> (R, B, n_outputs)
    (default `vmapped_forward`); None -> members train one after the other (BatchNorm networks).
    X: a tensor (n, ...) on `device` (float inputs, or token ids that `embed` maps to inputs).
    y: int64 tensor (n,) of class indices. Member r shuffles with np.random.default_rng(seeds[r]) each epoch
    and draws dropout masks from torch.Generator seeded by seeds[r]. params / buffers: dicts of stacked CPU
    tensors (R, ...) keyed like the member's state dict; loss_curve: (R, epochs) mean training loss.
    recalibrate_bn (members one after the other only): after training, BatchNorm running statistics are
    recomputed as exact averages over one pass of the training data with the final weights.
    """
    import torch
    from torch.func import stack_module_state
    from tqdm.auto import tqdm

    seeds = [int(s) for s in seeds]
    n = len(X)
    rngs = [np.random.default_rng(s) for s in seeds]
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    embed = embed if embed is not None else (lambda rows: rows)
    losses = np.zeros((len(seeds), epochs), dtype=np.float64)
    n_batches = -(-n // batch_size)
    loss_fn = torch.nn.functional.cross_entropy

    if forward is None:                                 # one member after the other (BatchNorm networks)
        states = []
        for r, seed in enumerate(seeds):
            net = _init_member(make_member, seed).to(device)
            net.train()
            opt = torch.optim.Adam(net.parameters(), lr=lr)
            for epoch in tqdm(range(epochs), desc=f"{desc} member {r}", disable=not verbose, leave=False):
                order = torch.as_tensor(rngs[r].permutation(n), device=device)
                for b in range(n_batches):
                    idx = order[b * batch_size:(b + 1) * batch_size]
                    masks = _dropout_masks(net, gens[r:r + 1], len(idx), device)
                    out = net(embed(X[idx])) if masks is None else net(embed(X[idx]), masks[0])
                    loss = loss_fn(out, y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    losses[r, epoch] += loss.item() * len(idx) / n
            if recalibrate_bn:
                _recalibrate_bn(net, X, batch_size, embed)
            states.append({k: v.detach().cpu() for k, v in net.state_dict().items()})
        params = {k: torch.stack([s[k] for s in states]) for k, _ in net.named_parameters()}
        buffers = {k: torch.stack([s[k] for s in states]) for k, _ in net.named_buffers()}
        return params, buffers, losses

    members = [_init_member(make_member, s).to(device) for s in seeds]
    template = members[0]
    params, buffers = stack_module_state(members)
    del members
    opt = torch.optim.Adam(list(params.values()), lr=lr)
    for epoch in tqdm(range(epochs), desc=desc, disable=not verbose, leave=False):
        orders = torch.as_tensor(np.stack([g.permutation(n) for g in rngs]), device=device)   # (R, n)
        for b in range(n_batches):
            idx = orders[:, b * batch_size:(b + 1) * batch_size]                             # (R, B)
            r, bsz = idx.shape
            masks = _dropout_masks(template, gens, bsz, device)
            out = forward(params, buffers, embed(X[idx]), masks, True)                       # (R, B, o)
            per_member = loss_fn(out.reshape(r * bsz, -1), y[idx].reshape(-1), reduction="none")
            per_member = per_member.reshape(r, bsz).mean(dim=1)
            opt.zero_grad(set_to_none=True)
            per_member.sum().backward()        # member r's gradient lands in slice r only
            opt.step()
            losses[:, epoch] += per_member.detach().cpu().numpy() * bsz / n
    return ({k: v.detach().cpu() for k, v in params.items()},
            {k: v.detach().cpu() for k, v in buffers.items()}, losses)


def predict_members(make_member, params, buffers, X, *, device, forward=None, embed=None, chunk_rows=PREDICT_ROWS):
    """(R, n, n_outputs) softmax outputs of every member, in eval mode, `chunk_rows` // R rows at a time."""
    import torch

    embed = embed if embed is not None else (lambda rows: rows)
    p = {k: v.to(device) for k, v in params.items()}
    b = {k: v.to(device) for k, v in buffers.items()}
    r = int(next(iter(p.values())).shape[0])
    chunk = max(8, chunk_rows // r)
    outs = []
    with torch.no_grad():
        if forward is not None:
            for start in range(0, len(X), chunk):
                xb = embed(X[start:start + chunk])
                xb = xb.unsqueeze(0).expand(r, *xb.shape)
                outs.append(torch.softmax(forward(p, b, xb, None, False), dim=-1).cpu())
            return torch.cat(outs, dim=1).numpy()
        net = make_member().to(device)
        net.eval()
        for j in range(r):
            net.load_state_dict({**{k: v[j] for k, v in p.items()}, **{k: v[j] for k, v in b.items()}})
            rows = [torch.softmax(net(embed(X[s:s + 256])), dim=-1).cpu() for s in range(0, len(X), 256)]
            outs.append(torch.cat(rows))
        return torch.stack(outs).numpy()


class TorchEnsembleClassifier(EnsembleClassifier):
    """Base of the torch-network ensembles: soft or majority vote over independently seeded members.

    A family sets `batched_members`, implements `_make_member(n_outputs)` (one network, built from its
    constructor parameters and the fitted `_net_spec_`), `_inputs(X, reset)` (validated rows -> a tensor in
    the network's layout, setting `_net_spec_` when `reset`) and, for inputs other than float tensors,
    `_embed`. Training settings are the shared constructor parameters: n_estimators, max_iter (epochs),
    batch_size, learning_rate, validation_fraction (0.2 = skorch's default 80:20 split, the members then
    see 80% of the training set; 0.0 = all of it), voting, random_state, device, verbose.
    """

    batched_members = True
    predict_rows = PREDICT_ROWS      # member-rows per batched prediction pass (families with big activations: fewer)

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "voting": [StrOptions({"soft", "hard"})],
        "random_state": ["random_state"],
        "device": DEVICE_CONSTRAINT,
        "verbose": ["boolean"],
        "bn_recalibration": ["boolean"],
    }

    # ----- family hooks --------------------------------------------------------------------------------
    def _make_member(self, n_outputs: int):
        raise NotImplementedError

    def _inputs(self, X, reset: bool):
        raise NotImplementedError

    def _embed(self):
        return None

    def _stacked_forward(self):
        """forward(params, buffers, x (R, B, ...), masks, train) of all members at once, or None to train
        and predict members one by one. Default: vmap over the member network; families override it with
        grouped convolutions where those are faster."""
        return vmapped_forward(self._builder()) if self.batched_members else None

    def _spec_state(self) -> dict:
        """JSON-able extra state of the fitted network shape (besides `_net_spec_`)."""
        return {}

    # ----- training ------------------------------------------------------------------------------------
    def _builder(self):
        n_out = len(self.classes_)
        return lambda: self._make_member(n_out)

    def fit(self, X, y):
        self._validate_params()
        device = resolve_device(self.device)
        Xa = self._inputs(X, reset=True)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(Xa):
            raise ValueError(f"y must be one label per sample: got shape {y.shape} for {len(Xa)} samples")
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two classes to fit, got {len(self.classes_)} class")
        seeds = member_seeds(self.random_state, self.n_estimators)
        train, valid = np.arange(len(y_idx)), None
        if self.validation_fraction > 0:
            # skorch's default: one fixed stratified 80:20 split shared by all members (here seeded).
            train, valid = train_test_split(np.arange(len(y_idx)), test_size=self.validation_fraction,
                                            stratify=y_idx, random_state=seeds[0])
            train, valid = np.sort(train), np.sort(valid)
        params, buffers, curve = self._train(Xa[train], y_idx[train], seeds, device)
        self.member_seeds_ = np.asarray(seeds, dtype=np.int64)
        self.params_, self.buffers_, self.loss_curve_ = params, buffers, curve
        if valid is not None:
            proba = self._member_proba_inputs(Xa[valid])
            self.validation_accuracy_ = (proba.argmax(axis=2) == y_idx[valid]).mean(axis=1)
        return self

    def _train(self, Xa, y_idx, seeds, device):
        """Train members with the given seeds on prepared inputs (the test of batched == alone calls this)."""
        import torch

        X_t = torch.as_tensor(Xa).to(device)
        y_t = torch.as_tensor(np.asarray(y_idx, dtype=np.int64)).to(device)
        return train_members(self._builder(), seeds, X_t, y_t, epochs=self.max_iter,
                             batch_size=self.batch_size, lr=self.learning_rate, device=device,
                             forward=self._stacked_forward(), embed=self._embed(), verbose=self.verbose,
                             desc=type(self).__name__,
                             recalibrate_bn=bool(getattr(self, "bn_recalibration", False)))

    # ----- prediction ----------------------------------------------------------------------------------
    def _member_proba_inputs(self, Xa):
        import torch

        device = resolve_device("auto" if self.device == "cuda" else self.device)   # a CUDA model loads on CPU
        return predict_members(self._builder(), self.params_, self.buffers_, torch.as_tensor(Xa).to(device),
                               device=device, forward=self._stacked_forward(), embed=self._embed(),
                               chunk_rows=self.predict_rows).astype(np.float64)

    def member_proba(self, X) -> np.ndarray:
        """(n_members, n, n_classes) class probabilities of every member (one batched pass)."""
        check_is_fitted(self, "params_")
        return self._member_proba_inputs(self._inputs(X, reset=False))

    def predict_proba(self, X):
        """Soft vote: the mean of the members' softmax outputs; hard: the fraction of member votes."""
        proba = self.member_proba(X)
        if self.voting == "hard":
            votes = proba.argmax(axis=2)
            return np.stack([(votes == c).mean(axis=0) for c in range(proba.shape[2])], axis=1)
        return proba.mean(axis=0)

    def member_labels(self, X):
        return self.classes_[self.member_proba(X).argmax(axis=2)]

    # ----- members -------------------------------------------------------------------------------------
    @property
    def n_members_(self):
        check_is_fitted(self, "params_")
        return int(self.member_seeds_.shape[0])

    def _select_members(self, idx):
        import torch

        new = copy.copy(self)
        new.n_estimators = int(idx.size)
        t = torch.as_tensor(idx)
        new.params_ = {k: v[t].clone() for k, v in self.params_.items()}
        new.buffers_ = {k: v[t].clone() for k, v in self.buffers_.items()}
        new.member_seeds_ = self.member_seeds_[idx].copy()
        new.loss_curve_ = self.loss_curve_[idx].copy()
        if hasattr(self, "validation_accuracy_"):
            new.validation_accuracy_ = self.validation_accuracy_[idx].copy()
        return new

    # ----- model files ---------------------------------------------------------------------------------
    def _to_arrays(self):
        check_is_fitted(self, "params_")
        arrays = {"member_seeds": self.member_seeds_, "loss_curve": self.loss_curve_}
        arrays.update({f"param.{k}": v.numpy() for k, v in self.params_.items()})
        arrays.update({f"buffer.{k}": v.numpy() for k, v in self.buffers_.items()})
        if hasattr(self, "validation_accuracy_"):
            arrays["validation_accuracy"] = self.validation_accuracy_
        arrays.update(self._extra_arrays())
        state = {"params": json_params(self), "classes": encode_classes(self.classes_),
                 "n_features_in": int(self.n_features_in_), "net_spec": self._net_spec_,
                 "validation": hasattr(self, "validation_accuracy_"), **self._spec_state()}
        return arrays, state

    def _extra_arrays(self) -> dict:
        return {}

    def _load_extra(self, arrays, state) -> None:
        pass

    @classmethod
    def _from_arrays(cls, arrays, state):
        import torch

        params = dict(state["params"])
        if params.get("input_shape") is not None:
            params["input_shape"] = tuple(params["input_shape"])
        est = cls(**params)
        est.classes_ = decode_classes(state["classes"])
        est.n_features_in_ = int(state["n_features_in"])
        est._net_spec_ = state["net_spec"]
        est._load_extra(arrays, state)
        seeds = expect_array(arrays, "member_seeds", dtype=np.int64, shape=(None,))
        r = len(seeds)
        est.member_seeds_ = seeds
        est.loss_curve_ = expect_array(arrays, "loss_curve", dtype=np.float64, shape=(r, None))
        if state.get("validation"):
            est.validation_accuracy_ = expect_array(arrays, "validation_accuracy", dtype=np.float64, shape=(r,),
                                                    low=0.0, high=1.0)
        template = est._builder()()           # the network the file must fit, key by key and shape by shape
        est.params_ = {k: torch.as_tensor(expect_array(arrays, f"param.{k}", dtype=np.float32, shape=(r, *v.shape)))
                       for k, v in template.named_parameters()}
        est.buffers_ = {}
        for k, v in template.named_buffers():
            kind = np.int64 if v.dtype == torch.int64 else np.float32
            est.buffers_[k] = torch.as_tensor(expect_array(arrays, f"buffer.{k}", dtype=kind, shape=(r, *v.shape)))
        return est


def image_shape(input_shape, n_features: int) -> tuple[int, int, int]:
    """The (H, W, C) sample shape: `input_shape` checked against the row length, or None -> a square
    single-channel image when the row length is a perfect square."""
    if input_shape is None:
        side = int(round(np.sqrt(n_features)))
        if side * side != n_features:
            raise ValueError(f"rows of {n_features} features are not a square image: pass input_shape=(H, W, C)")
        return side, side, 1
    shape = tuple(input_shape)
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape):
        raise ValueError(f"input_shape must be (H, W, C) positive integers, got {input_shape!r}")
    if int(np.prod(shape)) != n_features:
        raise ValueError(f"input_shape {shape} holds {int(np.prod(shape))} values but the rows have {n_features}")
    return tuple(int(s) for s in shape)


class ImageInputs:
    """Flattened HWC rows (what every other estimator takes) -> float32 NCHW arrays for the network."""

    def _inputs(self, X, reset):
        from scd_plugins._compat import validate_data

        shape = None
        if getattr(X, "ndim", 2) == 4:                     # (n, H, W, C) images: flattened HWC rows
            shape = tuple(int(s) for s in X.shape[1:])
            X = np.asarray(X).reshape(len(X), -1)
        if reset:
            X = validate_data(self, X, dtype=np.float32)
            h, w, c = image_shape(self.input_shape if self.input_shape is not None else shape, X.shape[1])
            self._net_spec_ = {"height": h, "width": w, "channels": c}
        else:
            check_is_fitted(self, "params_")
            X = validate_data(self, X, reset=False, dtype=np.float32)
        s = self._net_spec_
        return np.ascontiguousarray(X.reshape(len(X), s["height"], s["width"], s["channels"]).transpose(0, 3, 1, 2))
