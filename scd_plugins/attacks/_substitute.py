"""The substitute-model black-box attack (Papernot et al., AsiaCCS 2017), the paper's Figure 2.

An attacker who sees only the target's labels trains a local substitute network on a few seed points
labelled by the target, grows that training set by Jacobian-based augmentation (each point moves by
lambda * sign of the substitute's gradient for the target's label, so new points probe where the
substitute's decision changes), and transfers FGSM examples made on the substitute to the target.
ART has no such attack (CopycatCNN and KnockoffNets do not augment by the Jacobian); this one is built
from ART parts: a `PyTorchClassifier` substitute, its `class_gradient` for the Jacobian rows, and
`FastGradientMethod` for FGSM. `substitute_curve` measures the target's accuracy against distortion
after every round, next to the control of Gaussian noise with the same per-example L2.
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

__all__ = ["SubstituteAttack", "substitute_curve", "gaussian_like"]


def _mlp(n_features, hidden, n_classes, seed):
    """The authors' substitute: d -> 200 -> 200 -> classes, ReLU, Xavier-uniform weights, zero biases."""
    import torch
    from torch import nn

    sizes = [int(n_features), *[int(h) for h in hidden], int(n_classes)]
    layers = [nn.Flatten()]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    module = nn.Sequential(*layers)
    gen = torch.Generator().manual_seed(int(seed))
    for layer in module:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight, generator=gen)
            nn.init.zeros_(layer.bias)
    return module


def _seed_int(seq) -> int:
    return int(seq.generate_state(1)[0])


class SubstituteAttack(EvasionAttack):
    """Black-box transfer attack through a Jacobian-augmented substitute (Papernot et al. 2017).

    estimator: the victim, any ART classifier; only its predicted labels are read (e.g. `as_label_only`).
    rounds: substitute trainings; between two of them the training set is augmented once (round 0 trains
        on the seed set), so `rounds` = 20 gives 19 augmentations.
    lmbda: augmentation step; each augmentation draws one random sign for it (seeded).
    epochs, batch_size, learning_rate: Adam training per round; the network and its optimizer are kept
        across rounds (the authors: 20, 128, 1e-4).
    hidden: hidden layer widths of the ReLU MLP substitute (the authors: (200, 200)).
    max_growth: the set doubles while it holds at most this many points; after that the new points replace
        the old ones, so with 200 seeds and 3200 it grows to 6400 and stays there.
    eps: FGSM (L-infinity) step used by `generate` unless one is passed there.
    After `fit_substitute`: `substitute_` (an ART `PyTorchClassifier`), `queries_` (victim labels asked so
    far: each training point is labelled once, when it is made), `sizes_` (training-set size per round).
    Randomness: the substitute's initialisation, the per-round signs and the batch order all come from
    `random_state` (the batch order through a forked, seeded torch RNG; the global state is left as it was).
    """

    attack_params = EvasionAttack.attack_params + ["rounds", "lmbda", "epochs", "batch_size", "learning_rate",
                                                   "hidden", "max_growth", "eps", "random_state", "verbose",
                                                   "device"]
    _estimator_requirements = (BaseEstimator, ClassifierMixin)

    def __init__(self, estimator, rounds: int = 20, lmbda: float = 0.1, epochs: int = 20, batch_size: int = 128,
                 learning_rate: float = 1e-4, hidden=(200, 200), max_growth: int = 3200, eps: float = 0.0625,
                 random_state: int | None = 0, verbose: bool = False, device: str = "cpu") -> None:
        super().__init__(estimator=estimator)
        self.rounds = rounds
        self.lmbda = lmbda
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.hidden = hidden
        self.max_growth = max_growth
        self.eps = eps
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self._check_params()

    def _check_params(self) -> None:
        def positive_int(name):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {v!r}.")

        for name in ("rounds", "epochs", "batch_size", "max_growth"):
            positive_int(name)
        for name in ("lmbda", "learning_rate", "eps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not v > 0:
                raise ValueError(f"`{name}` must be a positive number, got {v!r}.")
        hidden = tuple(self.hidden) if isinstance(self.hidden, (list, tuple)) else None
        if not hidden or not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h > 0
                                 for h in hidden):
            raise ValueError(f"`hidden` must be a non-empty sequence of positive layer widths, got {self.hidden!r}.")
        if self.random_state is not None and (isinstance(self.random_state, bool)
                                              or not isinstance(self.random_state, (int, np.integer))):
            raise ValueError("`random_state` must be None or an integer.")
        if not isinstance(self.verbose, bool):
            raise ValueError("`verbose` must be a boolean.")
        if self.device not in ("cpu", "cuda", "gpu"):
            raise ValueError(f"`device` must be 'cpu' or 'cuda', got {self.device!r}.")

    # -- the attacker's view of the victim ---------------------------------------------------------------
    def _oracle(self, x):
        """The victim's label indices for `x`, counted as queries."""
        self.queries_ += len(x)
        return np.argmax(self.estimator.predict(x), axis=1).astype(np.int64)

    def _shape(self, x):
        x = np.asarray(x, dtype=np.float32)
        shape = tuple(self.estimator.input_shape)
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != int(np.prod(shape)):
            raise ValueError(f"expected samples of shape {shape} (or flat), got an array of shape {x.shape}")
        return x.reshape((len(x),) + shape)

    def _new_substitute(self, seed):
        import torch
        from art.estimators.classification import PyTorchClassifier

        shape = tuple(self.estimator.input_shape)
        module = _mlp(int(np.prod(shape)), self.hidden, self.estimator.nb_classes, seed)
        optimizer = torch.optim.Adam(module.parameters(), lr=float(self.learning_rate))
        return PyTorchClassifier(module, torch.nn.CrossEntropyLoss(), input_shape=shape,
                                 nb_classes=self.estimator.nb_classes, optimizer=optimizer,
                                 clip_values=self.estimator.clip_values, channels_first=False,
                                 device_type="cpu" if self.device == "cpu" else "gpu")

    def _train(self, x, labels, seed):
        import torch

        onehot = np.eye(self.estimator.nb_classes, dtype=np.float32)[labels]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.substitute_.fit(x, onehot, batch_size=int(self.batch_size), nb_epochs=int(self.epochs),
                                 verbose=False)

    def augment(self, x, labels, step):
        """Jacobian-based augmentation: x + step * sign(d logit_label / dx) on the substitute, per point,
        for the victim's label of that point; not clipped (the new points only serve as queries)."""
        grad = self.substitute_.class_gradient(x, label=np.asarray(labels, dtype=np.int64))[:, 0]
        return (x + np.float32(step) * np.sign(grad)).astype(np.float32)

    def fit_substitute(self, x_seed, callback=None):
        """Train the substitute from the seed points, `rounds` times, augmenting in between.

        callback(round, size): called after each round's training (e.g. to evaluate the transfer).
        """
        x = self._shape(x_seed)
        if len(x) == 0:
            raise ValueError("x_seed is empty: the substitute needs seed points")
        ss = np.random.SeedSequence(self.random_state)
        init_seq, sign_seq, train_seq = ss.spawn(3)
        sign_rng = np.random.default_rng(sign_seq)
        train_seeds = [_seed_int(s) for s in train_seq.spawn(self.rounds)]
        self.queries_ = 0
        self.sizes_ = []
        self.signs_ = []
        self.substitute_ = self._new_substitute(_seed_int(init_seq))
        labels = self._oracle(x)
        for rho in tqdm(range(self.rounds), desc="substitute rounds", disable=not self.verbose):
            self._train(x, labels, train_seeds[rho])
            self.sizes_.append(len(x))
            if callback is not None:
                callback(rho, len(x))
            if rho == self.rounds - 1:
                break
            sign = float(sign_rng.choice([-1.0, 1.0]))
            self.signs_.append(sign)
            new = self.augment(x, labels, sign * float(self.lmbda))
            new_labels = self._oracle(new)
            if len(x) <= self.max_growth:
                x, labels = np.concatenate([x, new]), np.concatenate([labels, new_labels])
            else:
                x, labels = new, new_labels
            logger.info("substitute round %d: %d training points, %d victim queries", rho + 1, len(x), self.queries_)
        return self

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, eps: float | None = None, **kwargs) -> np.ndarray:
        """FGSM (L-infinity, untargeted) on the substitute, clipped to the victim's clip_values.

        y: the true labels (indices or one-hot) to move away from; None uses the substitute's predictions.
        """
        from art.attacks.evasion import FastGradientMethod

        if not hasattr(self, "substitute_"):
            raise RuntimeError("fit_substitute(x_seed) must run before generate")
        x = self._shape(x)
        eps = self.eps if eps is None else eps
        if y is not None:
            y = check_and_transform_label_format(np.asarray(y), nb_classes=self.estimator.nb_classes,
                                                 return_one_hot=True)
        fgsm = FastGradientMethod(self.substitute_, norm=np.inf, eps=float(eps), eps_step=float(eps), targeted=False,
                                  batch_size=max(int(self.batch_size), 256))
        return fgsm.generate(x, y=y).astype(np.float32)


def gaussian_like(x, l2, rng, clip_values=None):
    """The "-GN" control: per row of `x`, a Gaussian direction g scaled so that the perturbation, after
    clipping to clip_values, has L2 norm `l2[i]`; where even saturating every coordinate falls short, the
    largest reachable. Returns the noisy inputs, same shape as x.

    The scale is solved exactly: coordinate j moves by min(s |g_j|, c_j), with c_j its distance to the box
    edge that g_j points to, so the squared norm is piecewise quadratic in s between the sorted
    saturation points c_j / |g_j|."""
    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    flat = x.reshape(n, -1).astype(np.float64)
    target = np.asarray(l2, dtype=np.float64).reshape(n)
    if np.any(target < 0) or not np.all(np.isfinite(target)):
        raise ValueError("l2 must hold finite, non-negative distances")
    g = rng.standard_normal(flat.shape)
    g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-300)
    if clip_values is None:
        return (flat + target[:, None] * g).astype(np.float32).reshape(x.shape)
    lo, hi = (float(v) for v in clip_values)
    a = np.abs(g)
    c = np.where(g > 0, hi - flat, flat - lo).clip(min=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(a > 0, c / a, np.inf)                       # the scale at which coordinate j saturates
    order = np.argsort(t, axis=1)
    t, a2, c2 = (np.take_along_axis(v, order, axis=1) for v in (t, a ** 2, c ** 2))
    sat = np.concatenate([np.zeros((n, 1)), np.cumsum(c2, axis=1)[:, :-1]], axis=1)   # saturated before k
    free = np.cumsum(a2[:, ::-1], axis=1)[:, ::-1]                                      # still moving from k
    with np.errstate(invalid="ignore"):
        reach = np.where(np.isfinite(t), sat + free * t ** 2, np.inf)   # squared norm when k saturates
    k = np.argmax(reach >= target[:, None] ** 2, axis=1)
    found = reach[np.arange(n), k] >= target ** 2
    rows = np.arange(n)
    scale = np.sqrt(np.maximum(target ** 2 - sat[rows, k], 0.0) / np.maximum(free[rows, k], 1e-300))
    finite_t = np.where(np.isfinite(t), t, 0.0)
    scale = np.where(found, scale, finite_t.max(axis=1) * 2.0 + 1.0)  # out of reach: saturate every coordinate
    return np.clip(flat + scale[:, None] * g, lo, hi).astype(np.float32).reshape(x.shape)


def _label_indices(classes, y):
    y = np.asarray(y)
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    bad = classes[idx] != y
    if bad.any():
        raise ValueError(f"y_attack holds labels {np.unique(y[bad]).tolist()} that the estimator does not know "
                         f"(classes_ {list(classes)})")
    return idx


def substitute_curve(estimator, X_seed, X_attack, y_attack, *, input_shape, clip_values=(0.0, 1.0), rounds=20,
                     lmbda=0.1, epochs=20, batch_size=128, learning_rate=1e-4, hidden=(200, 200), max_growth=3200,
                     epsilons=(0.0625, 0.03125, 0.015625), random_state=0, verbose=False, device="cpu") -> list[dict]:
    """Figure 2: the target's accuracy on substitute-made FGSM examples, per round and epsilon.

    estimator: a fitted classifier (SCD ensemble, MLP, ...); the attacker reaches it only through
    `as_label_only` (its label queries are counted); accuracies are measured on the estimator directly.
    X_seed: the attacker's seed points (the authors: the first 200 test points); X_attack, y_attack: the
    points attacked (the rest of the test set) and their true labels (FGSM moves away from them).
    One record per (round, epsilon): round, epsilon, distortion (mean L2 of the clipped adversarial
    perturbation), linf (mean L-inf of it), accuracy (target on the adversarial examples vs y_attack),
    noise_accuracy and noise_distortion (Gaussian control with each example's L2), clean_accuracy,
    agreement (substitute vs target labels on X_attack), substitute_size, queries (victim labels so far).
    """
    from scd_plugins.art import as_label_only

    shape = tuple(int(s) for s in np.atleast_1d(input_shape))
    epsilons = tuple(float(e) for e in np.atleast_1d(epsilons))
    if not epsilons or not all(e > 0 for e in epsilons):
        raise ValueError(f"epsilons must be positive numbers, got {epsilons!r}")
    if clip_values is not None:
        clip_values = tuple(float(c) for c in clip_values)
        if len(clip_values) != 2 or not clip_values[0] < clip_values[1]:
            raise ValueError(f"clip_values must be (min, max) with min < max, got {clip_values!r}")
    X_attack = np.asarray(X_attack, dtype=np.float32).reshape((-1,) + shape)
    y_attack = np.asarray(y_attack)
    if len(y_attack) != len(X_attack) or len(X_attack) == 0:
        raise ValueError(f"X_attack has {len(X_attack)} points and y_attack {len(y_attack)} labels; need the same, "
                         f"non-zero number")
    victim = as_label_only(estimator, input_shape=shape, clip_values=clip_values)
    y_idx = _label_indices(np.asarray(estimator.classes_), y_attack)
    n = len(X_attack)

    def target_labels(batch):
        return np.asarray(estimator.predict(batch.reshape(len(batch), -1)))

    clean_pred = target_labels(X_attack)
    clean_accuracy = float(np.mean(clean_pred == y_attack))
    attack = SubstituteAttack(victim, rounds=rounds, lmbda=lmbda, epochs=epochs, batch_size=batch_size,
                              learning_rate=learning_rate, hidden=tuple(hidden), max_growth=max_growth,
                              eps=epsilons[0], random_state=random_state, verbose=verbose, device=device)
    records = []

    def evaluate(rho, size):
        sub_pred = np.argmax(attack.substitute_.predict(X_attack), axis=1)
        agreement = float(np.mean(np.asarray(estimator.classes_)[sub_pred] == clean_pred))
        for k, eps in enumerate(epsilons):
            x_adv = attack.generate(X_attack, y_idx, eps=eps)
            l2 = np.linalg.norm((x_adv - X_attack).reshape(n, -1).astype(np.float64), axis=1)
            linf = np.abs((x_adv - X_attack).reshape(n, -1)).max(axis=1)
            rng = np.random.default_rng(np.random.SeedSequence([int(random_state or 0), 7, rho, k]))
            x_noise = gaussian_like(X_attack, l2, rng, clip_values)
            noise_l2 = np.linalg.norm((x_noise - X_attack).reshape(n, -1).astype(np.float64), axis=1)
            records.append({
                "round": int(rho), "epsilon": float(eps), "distortion": float(l2.mean()),
                "linf": float(linf.mean()),
                "accuracy": float(np.mean(target_labels(x_adv) == y_attack)),
                "noise_accuracy": float(np.mean(target_labels(x_noise) == y_attack)),
                "noise_distortion": float(noise_l2.mean()), "clean_accuracy": clean_accuracy,
                "agreement": agreement, "substitute_size": int(size), "queries": int(attack.queries_)})

    attack.fit_substitute(X_seed, callback=evaluate)
    return records
