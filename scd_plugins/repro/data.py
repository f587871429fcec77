"""Data for recipes: a `pipelines` spec, its fallbacks in order when it is absent, the data's checksum, and
the test points to attack."""
from __future__ import annotations

import hashlib
import logging

import numpy as np

logger = logging.getLogger(__name__)


def checksum(ds) -> str:
    """SHA-256 (16 hex digits) of the arrays a run uses: the store and the model cache are keyed by it."""
    h = hashlib.sha256()
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def load_part_data(data_cfg: dict, seed: int = 0):
    """(dataset, note, used_spec) for one [data] entry; (None, reason, None) when no spec can be loaded.

    Only a missing data set (FileNotFoundError, or the loader's optional library not installed) moves on to
    the next fallback; any other error is a real problem and propagates."""
    from pipelines import load_dataset

    tried = []
    for i, spec in enumerate([data_cfg["spec"], *data_cfg["fallback"]]):
        options = data_cfg["options"] if i == 0 else {}
        try:
            ds = load_dataset(spec, **options)
        except (FileNotFoundError, ImportError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            tried.append(f"{spec} not available ({reason})")
            logger.warning("%s is not available (%s)", spec, reason)
            continue
        note = f"{spec} (primary)" if i == 0 else f"{spec} (fallback: {'; '.join(tried)})"
        n = data_cfg.get("train_size", 0)
        if n and n < len(ds.x_train):
            idx = np.sort(np.random.default_rng(seed).choice(len(ds.x_train), size=n, replace=False))
            ds.x_train, ds.y_train = ds.x_train[idx], ds.y_train[idx]
            if ds.texts_train is not None:
                ds.texts_train = [ds.texts_train[j] for j in idx]
            note += f", {n} training rows drawn with seed {seed}"
        return ds, note, spec
    return None, "skipped: " + "; ".join(tried), None


def select_points(points_cfg: dict, n_test: int, seed: int, eligible=None) -> list[int]:
    """Test-set positions to attack: random (seeded), the first n, or listed indices (capped at the test set).

    eligible: boolean mask over the test set (e.g. correctly classified by every model); points are drawn
    from it only (random: a seeded draw among the eligible positions; first: the first n eligible)."""
    sel = points_cfg["select"]
    ok = np.ones(n_test, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    if len(ok) != n_test:
        raise ValueError(f"eligible has {len(ok)} entries for {n_test} test points")
    if sel == "indices":
        idx = [i for i in points_cfg["indices"] if i < n_test]
        if len(idx) < len(points_cfg["indices"]):
            logger.warning("points.indices beyond the test set (n = %d) are dropped", n_test)
        kept = [i for i in idx if ok[i]]
        if len(kept) < len(idx):
            logger.warning("points.indices %s are not eligible (misclassified) and are dropped",
                           [i for i in idx if not ok[i]])
        return kept
    pool = np.flatnonzero(ok)
    n = min(points_cfg["n"], len(pool))
    if sel == "first":
        return [int(i) for i in pool[:n]]
    return sorted(int(i) for i in np.random.default_rng(seed).choice(pool, size=n, replace=False))
