"""The model cache of recipe runs: one folder per (model, parameters, seed, data checksum), shared by the
recipes that train the same model on the same data. A cached model that fails its checksum is retrained;
one whose files cannot be read at all is named in the error with what to do."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from scd_plugins.repro.errors import RunError

logger = logging.getLogger(__name__)


def cache_dir(models_dir, model_cfg, data_name, data_checksum, seed) -> Path:
    key = json.dumps({"name": model_cfg["name"], "params": model_cfg["params"], "data": data_name,
                      "checksum": data_checksum, "seed": seed}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in data_name)
    return Path(models_dir) / f"{model_cfg['name']}-{safe}-{digest}"


def build(model_cfg, seed, **override):
    """A fresh, unfitted estimator of a recipe model (`override` replaces parameters, e.g. one member)."""
    from scd_plugins.registry import model_class

    params = {**model_cfg["params"], **override}
    return model_class(model_cfg["name"])(**{"random_state": seed, **params})


def _cached(path: Path):
    """The cached model, or None when there is none or it fails its checksum (then it is removed)."""
    from scd_plugins.io import load, read_metadata

    if not path.exists():
        return None
    try:
        read_metadata(path)
    except (ValueError, FileNotFoundError) as err:
        raise RunError(f"cached model {path} cannot be read ({err}); delete that folder to retrain it") from None
    try:
        return load(path)
    except (ValueError, FileNotFoundError) as err:
        if "checksum" in str(err) or "incomplete" in str(err):
            logger.warning("cached model %s failed its checksum; retraining it", path)
            shutil.rmtree(path, ignore_errors=True)
            return None
        raise RunError(f"cached model {path} cannot be loaded ({err}); delete that folder to retrain it") from None


def inputs(est, ds, split: str):
    """What `est` reads of the data set: raw documents for text models (WordCNN, `input_kind = "text"`),
    the feature rows for every other model."""
    if getattr(est, "input_kind", None) == "text":
        return list(getattr(ds, f"texts_{split}"))
    return getattr(ds, f"x_{split}")


def train_or_load(model_cfg, ds, data_checksum, seed, models_dir):
    """(estimator, path, train seconds or the cached model's, cached?). A new model is written to a
    temporary folder and renamed, so a killed training never leaves a half-written model behind."""
    from scd_plugins.io import read_metadata, save

    path = cache_dir(models_dir, model_cfg, ds.name, data_checksum, seed)
    est = _cached(path)
    if est is not None:
        return est, path, read_metadata(path)["extra"].get("train_seconds"), True
    est = build(model_cfg, seed)
    t0 = time.perf_counter()
    est.fit(inputs(est, ds, "train"), ds.y_train)
    seconds = time.perf_counter() - t0
    tmp = path.with_name(path.name + f".tmp-{uuid.uuid4().hex[:8]}")
    save(est, tmp, extra={"dataset": ds.name, "data_checksum": data_checksum, "recipe_model": model_cfg,
                          "seed": seed, "train_seconds": seconds})
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, path)
    except OSError:                      # another run saved it first: keep that one
        shutil.rmtree(tmp, ignore_errors=True)
    return est, path, seconds, False


@functools.lru_cache(maxsize=8)
def load_cached(path):
    """A cached model by path, loaded once per worker process."""
    from scd_plugins.io import load

    return load(path)


def n_members(est) -> int:
    """The ensemble's member count (votes, networks or trees: the ensemble contract's `n_members_`)."""
    return int(est.n_members_)


@functools.lru_cache(maxsize=4)
def members(path):
    est = load_cached(path)
    return [est.sub_ensemble([j]) for j in range(n_members(est))]
