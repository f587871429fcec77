"""The paper's measurement protocols over decision-based attacks.

`min_l2`: per point, the smallest L2 distortion that flips the model's label, over restarts x attack
settings (T2, T3, T5). Success is re-checked here by querying the model, never taken from the attack;
initial adversarial images come from our own seeded generator ("fixed": one start shared by all
restarts, "random": a fresh start per restart), and the global `np.random` (which ART's attacks draw
from) is seeded before every run, so the same seed gives the same numbers.
`transfer_matrix`: attack each vote of an ensemble alone and test every adversary on all votes (T6).
`ensemble_size_curve` and `sweep`: the same protocol over sub-ensembles (F1) or several models (T5).
"""
from __future__ import annotations

import importlib
import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

__all__ = ["ATTACKS", "MinL2Result", "TransferRow", "check_backend", "make_attack", "draw_initial", "project_to_boundary", "min_l2",
           "min_l2_point",
           "transfer_row", "transfer_matrix", "transfer_probability", "ensemble_size_curve", "sweep", "n_members"]

# Decision-based attacks by name: each sees the model only through predicted labels.
ATTACKS: dict[str, str] = {
    "hsj": "art.attacks.evasion:HopSkipJump",
    "boundary": "art.attacks.evasion:BoundaryAttack",
    "rays": "scd_plugins.attacks._rays:RayS",
}
_ALIASES = {"hopskipjump": "hsj", "boundaryattack": "boundary", "ray_s": "rays"}
_INITS = ("random", "fixed")


def _attack_name(name: str) -> str:
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; known: {sorted(ATTACKS)}")
    return key


def n_members(estimator) -> int:
    """Number of members (votes, networks or trees) of a fitted ensemble: the contract's `n_members_`."""
    if not hasattr(estimator, "n_members_"):
        raise TypeError(f"{type(estimator).__name__} has no n_members_: it does not follow the ensemble "
                        "contract (scd_plugins.estimators.EnsembleClassifier)")
    return int(estimator.n_members_)


def make_attack(name: str, victim, params: dict | None = None, seed: int | None = None):
    """An untargeted decision-based attack on an ART victim; `targeted=False` is set explicitly."""
    key = _attack_name(name)
    module, _, cls_name = ATTACKS[key].partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    params = dict(params or {})
    params.setdefault("verbose", False)
    if key == "rays":
        params.setdefault("random_state", seed)
    else:
        params.setdefault("targeted", False)
    if params.get("targeted"):
        raise ValueError("the min-L2 protocol measures untargeted attacks: targeted must be False")
    return cls(victim, **params)


# joblib backends whose workers are processes running one task at a time: ART's attacks draw from the global NumPy random
# state, which each worker process owns alone, but which threads share (their draws interleave).
_PROCESS_BACKENDS = ("loky", "multiprocessing", "sequential", "ray")


def check_backend(backend, *, allow_threads: bool = False):
    """The joblib backend name for an attack run, refused (or, with `allow_threads`, warned about) when it
    is "threading": ART's attacks draw from the global `np.random` state, which the protocols seed before
    each run; threads share that state, so the same seed would no longer give the same numbers.
    None means joblib's default (loky, processes)."""
    import warnings

    if backend is None:
        return None
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a joblib backend name (str) or None, got {type(backend).__name__}")
    name = backend.lower()
    if name == "threading":
        message = ("the 'threading' backend shares NumPy's global random state between attack runs (ART draws "
                   "from it), so seeded results do not reproduce; use a process backend such as 'loky'")
        if not allow_threads:
            raise ValueError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    elif name not in _PROCESS_BACKENDS:
        warnings.warn(f"backend {backend!r}: seeded reproducibility is only established for process backends "
                      f"{_PROCESS_BACKENDS}", RuntimeWarning, stacklevel=2)
    return name


def draw_initial(predict_label, x, label, rng, clip_values, init_size=1000, chunk=100, tol=1e-3, pool=None):
    """A seeded initial adversarial image: uniform noise in clip_values that the model labels differently
    from `label` (up to `init_size` draws, as HopSkipJump's own initialisation, but reproducible), else
    an image of `pool` (e.g. training images, in seeded random order) that it labels differently; then
    moved along the segment towards `x` to just past the boundary. Returns (image or None, queries)."""
    lo, hi = clip_values
    queries = 0
    found = None
    for start in range(0, init_size, chunk):
        noise = rng.uniform(lo, hi, size=(min(chunk, init_size - start),) + x.shape).astype(np.float32)
        labels = predict_label(noise)
        queries += len(noise)
        hits = np.flatnonzero(labels != label)
        if hits.size:
            found = noise[hits[0]]
            break
    if found is None and pool is not None and len(pool):
        order = rng.permutation(len(pool))
        for start in range(0, len(order), chunk):
            cand = np.asarray(pool[order[start:start + chunk]], dtype=np.float32).reshape((-1,) + x.shape)
            labels = predict_label(cand)
            queries += len(cand)
            hits = np.flatnonzero(labels != label)
            if hits.size:
                found = cand[hits[0]]
                break
    if found is None:
        return None, queries
    start, spent = project_to_boundary(predict_label, x, found, label, tol)  # blend towards x, still adversarial
    return start, queries + spent


def project_to_boundary(predict_label, x, x_adv, label, tol=1e-4):
    """Line search from an adversarial `x_adv` towards `x`: the closest point on that segment that is still
    adversarial (t relative precision `tol`). ART's HopSkipJump returns the sample after its last geometric
    step, beyond the boundary; the HSJA algorithm (Chen et al. 2020) ends each iteration with this binary
    search, so applying it recovers the algorithm's output. Returns (image, queries spent)."""
    t_lo, t_hi = 0.0, 1.0
    queries = 0
    while t_hi - t_lo > tol:
        mid = 0.5 * (t_lo + t_hi)
        queries += 1
        if predict_label((x + mid * (x_adv - x))[None].astype(np.float32))[0] != label:
            t_hi = mid
        else:
            t_lo = mid
    return (x + t_hi * (x_adv - x)).astype(np.float32), queries


@dataclass
class MinL2Result:
    """One point's minimum-L2 measurement. `x_adv` is None when no run succeeded (min_l2 = inf)."""

    index: int
    label: object
    min_l2: float
    success: bool
    queries: int
    seconds: float
    x_adv: np.ndarray | None = None
    runs: list = field(default_factory=list)

    def to_dict(self, with_image=False):
        d = asdict(self)
        d["label"] = np.asarray(self.label).item()
        d["x_adv"] = None if (self.x_adv is None or not with_image) else self.x_adv.tolist()
        return d


def _settings_list(settings):
    if settings is None:
        return [{}]
    if isinstance(settings, dict):
        return [settings]
    settings = list(settings)
    if not settings or not all(isinstance(s, dict) for s in settings):
        raise ValueError("settings must be a dict of attack parameters or a non-empty list of such dicts")
    return settings


def _check_common(restarts, init, clip_values):
    if not isinstance(restarts, (int, np.integer)) or restarts < 1:
        raise ValueError(f"restarts must be a positive integer, got {restarts!r}")
    if init not in _INITS:
        raise ValueError(f"init must be one of {_INITS}, got {init!r}")
    if clip_values is None or len(clip_values) != 2 or not clip_values[0] < clip_values[1]:
        raise ValueError(f"clip_values must be (min, max) with min < max, got {clip_values!r}")


def min_l2_point(estimator, x, *, index=0, attack="hsj", settings=None, restarts=10, init="random",
                 init_size=1000, seed=0, input_shape=None, clip_values=(0.0, 1.0), refine=True,
                 init_pool=None) -> MinL2Result:
    """Minimum L2 distortion for one sample `x` (shape `input_shape`) over restarts x settings.

    init_pool: images (n, *input_shape or d) to start from when no uniform-noise draw is adversarial (a model
    may label all noise alike); the first one labelled differently, in seeded random order.
    refine: after each run, move the adversarial example along the segment to `x` onto the boundary
    (`project_to_boundary`, label queries, counted); it only shortens distances that the attack found.

    Each run r gets its own seed from SeedSequence([seed, index, setting, r]); `np.random` is seeded with
    it before the attack runs, and the run's seed is recorded in `runs`.
    """
    from scd_plugins.art import as_label_only

    _check_common(restarts, init, clip_values)
    key = _attack_name(attack)
    x = np.asarray(x, dtype=np.float32)
    shape = tuple(input_shape) if input_shape is not None else x.shape
    x = x.reshape(shape)
    victim = as_label_only(estimator, input_shape=shape, clip_values=tuple(float(c) for c in clip_values))
    counter = victim.scores

    def predict_label(batch):
        return np.argmax(counter.predict(batch.reshape((len(batch),) + shape)), axis=1)

    def model_label(batch):          # the re-check: straight to the estimator, not counted as attack queries
        return np.asarray(estimator.predict(batch.reshape(len(batch), -1)))

    t_start = time.perf_counter()
    clean = model_label(x[None])[0]
    lo, hi = (float(c) for c in clip_values)
    best = MinL2Result(index=int(index), label=clean, min_l2=float("inf"), success=False, queries=0, seconds=0.0)
    fixed = None
    for s_idx, params in enumerate(_settings_list(settings)):
        for r in range(restarts):
            run_seed = int(np.random.SeedSequence([int(seed), int(index), s_idx, r]).generate_state(1)[0])
            np.random.seed(run_seed)
            counter.reset_counts()
            t0 = time.perf_counter()
            kwargs = {}
            init_ok = True
            if key != "rays":
                if init == "random" or fixed is None:
                    rng = np.random.default_rng(run_seed if init == "random" else [int(seed), int(index)])
                    start, _ = draw_initial(predict_label, x, np.argmax(victim.predict(x[None])[0]), rng,
                                            (lo, hi), init_size=init_size, pool=init_pool)
                    if init == "fixed":
                        fixed = start
                else:
                    start = fixed
                init_ok = start is not None
                if init_ok:
                    kwargs["x_adv_init"] = start[None].copy()
                p = dict(params)
            else:
                p = {**params, "random_init": init == "random"}
            if init_ok:
                attack_obj = make_attack(key, victim, p, seed=run_seed)
                x_adv = attack_obj.generate(x[None], **kwargs)[0].astype(np.float32)
                # ART's HopSkipJump hands back the original sample when its gradient estimate turns NaN
                # (ART issue #307): an unchanged or non-finite output is a failed run, never distortion 0
                usable = bool(np.all(np.isfinite(x_adv))) and not np.array_equal(x_adv, x)
                label0 = np.argmax(victim.predict(x[None])[0])
                if usable and refine and predict_label(x_adv[None])[0] != label0:
                    x_adv, _ = project_to_boundary(predict_label, x, x_adv, label0)
                in_box = bool(np.all(x_adv >= lo - 1e-6) and np.all(x_adv <= hi + 1e-6))
                fooled = usable and in_box and bool(model_label(x_adv[None])[0] != clean)
                dist = float(np.linalg.norm((x_adv.astype(np.float64) - x).ravel())) if fooled else float("inf")
            else:
                x_adv, fooled, dist = None, False, float("inf")
            seconds = time.perf_counter() - t0
            best.runs.append({"setting": s_idx, "restart": r, "seed": run_seed, "l2": dist, "success": fooled,
                              "queries": int(counter.n_queries), "seconds": seconds, "init_found": init_ok})
            best.queries += int(counter.n_queries)
            if fooled and dist < best.min_l2:
                best.min_l2, best.success, best.x_adv = dist, True, x_adv
    best.seconds = time.perf_counter() - t_start
    return best


def min_l2(estimator, x, *, attack="hsj", settings=None, restarts=10, init="random", init_size=1000, seed=0,
           input_shape=None, clip_values=(0.0, 1.0), refine=True, init_pool=None, indices=None,
           verbose=True) -> list[MinL2Result]:
    """`min_l2_point` for every row of `x` (shape `(n, *input_shape)` or `(n, d)`), with a progress bar.

    indices: the points' ids (e.g. test-set positions) that seed each point; default 0..n-1.
    """
    x = np.asarray(x)
    indices = np.arange(len(x)) if indices is None else np.asarray(indices)
    if len(indices) != len(x):
        raise ValueError(f"indices has {len(indices)} entries for {len(x)} points")
    results = []
    for i in tqdm(range(len(x)), desc=f"min-L2 {attack}", disable=not verbose):
        results.append(min_l2_point(estimator, x[i], index=int(indices[i]), attack=attack, settings=settings,
                                    restarts=restarts, init=init, init_size=init_size, seed=seed,
                                    input_shape=input_shape, clip_values=clip_values, refine=refine,
                                    init_pool=init_pool))
    done = [r.min_l2 for r in results if r.success]
    logger.info("min-L2 %s: %d/%d points fooled, mean min L2 %.4f", attack, len(done), len(results),
                float(np.mean(done)) if done else float("nan"))
    return results


@dataclass
class TransferRow:
    """Vote `vote` attacked alone: whether it was fooled, at what L2, and which votes the adversary fools."""

    index: int
    vote: int
    success: bool
    l2: float
    fooled: np.ndarray          # (R,) bool: vote j's label on the adversary differs from its clean label
    queries: int
    seconds: float

    def to_dict(self):
        d = asdict(self)
        d["fooled"] = [bool(v) for v in self.fooled]
        return d


def _member_labels(estimator, X, members=None):
    """(R, n) labels of each single member on X (`sub_ensemble([j])` per member)."""
    members = members if members is not None else [estimator.sub_ensemble([j]) for j in range(n_members(estimator))]
    X = np.asarray(X).reshape(len(X), -1)
    return np.stack([np.asarray(m.predict(X)) for m in members])


def transfer_row(estimator, x, vote, *, index=0, attack="hsj", settings=None, restarts=1, init="random",
                 init_size=1000, seed=0, input_shape=None, clip_values=(0.0, 1.0), members=None,
                 init_pool=None) -> TransferRow:
    """Attack vote `vote` of `estimator` alone on sample `x`; evaluate the adversary on every vote."""
    single = estimator.sub_ensemble([int(vote)])
    res = min_l2_point(single, x, index=index, attack=attack, settings=settings, restarts=restarts, init=init,
                       init_size=init_size, seed=int(np.random.SeedSequence([int(seed), int(vote)])
                                                     .generate_state(1)[0]),
                       input_shape=input_shape, clip_values=clip_values, init_pool=init_pool)
    r = n_members(estimator)
    if res.success:
        both = np.stack([np.asarray(x, dtype=np.float32).reshape(-1), res.x_adv.reshape(-1)])
        labels = _member_labels(estimator, both, members)
        fooled = labels[:, 1] != labels[:, 0]
    else:
        fooled = np.zeros(r, dtype=bool)
    return TransferRow(index=int(index), vote=int(vote), success=res.success, l2=res.min_l2, fooled=fooled,
                       queries=res.queries, seconds=res.seconds)


def transfer_probability(matrix) -> float:
    """The paper's transfer probability: fooled (i, j) pairs with i != j, divided by R (R - 1).

    matrix: (R, R) or (n_images, R, R) booleans, row i = adversary made on vote i; averaged over images.
    """
    m = np.asarray(matrix, dtype=bool)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[1] != m.shape[2] or m.shape[1] < 2:
        raise ValueError(f"expected an (R, R) or (n, R, R) matrix with R >= 2, got shape {m.shape}")
    r = m.shape[1]
    off = ~np.eye(r, dtype=bool)
    return float(np.mean([(img & off).sum() / (r * (r - 1)) for img in m]))


def transfer_matrix(estimator, x, *, votes=None, verbose=True, **kwargs):
    """(n_images, R, R) matrix of fooled votes and the paper's probability, attacking each vote in turn.

    votes: which votes to attack (default all R); rows of votes not attacked stay False. kwargs go to
    `transfer_row` (attack, settings, restarts, init, seed, input_shape, clip_values).
    """
    x = np.asarray(x)
    r = n_members(estimator)
    votes = range(r) if votes is None else votes
    members = [estimator.sub_ensemble([j]) for j in range(r)]
    matrix = np.zeros((len(x), r, r), dtype=bool)
    rows = []
    for i in tqdm(range(len(x)), desc="transferability", disable=not verbose):
        for v in votes:
            row = transfer_row(estimator, x[i], v, index=i, members=members, **kwargs)
            matrix[i, v] = row.fooled
            rows.append(row)
    return {"matrix": matrix, "probability": transfer_probability(matrix), "rows": rows}


def ensemble_size_curve(estimator, x, sizes, *, verbose=True, **kwargs):
    """F1: min-L2 results of the sub-ensembles made of the first k members, for each k in `sizes`."""
    r = n_members(estimator)
    bad = [k for k in sizes if not 1 <= int(k) <= r]
    if bad:
        raise ValueError(f"ensemble sizes must lie in 1..{r}, got {bad}")
    return {int(k): min_l2(estimator.sub_ensemble(list(range(int(k)))), x, verbose=verbose, **kwargs)
            for k in sizes}


def sweep(estimators: dict, x, *, verbose=True, **kwargs):
    """T5-style sweep: min-L2 results for each labelled estimator (e.g. SCD01 at 4, 16, 20, 32, 64 hidden nodes)."""
    return {label: min_l2(est, x, verbose=verbose, **kwargs) for label, est in estimators.items()}
