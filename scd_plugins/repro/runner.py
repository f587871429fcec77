"""Run a recipe: load data, train or load the models (cached model files), run every unit of work
through joblib (loky by default; "dask", "ray" or any registered joblib backend by name), store each
finished unit at once, and write the report. A killed run resumes: stored units are skipped."""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from scd_plugins.repro.data import load_recipe_data, select_points
from scd_plugins.repro.recipe import load_recipe
from scd_plugins.repro.store import ResultStore

logger = logging.getLogger(__name__)


def _encode(a):
    a = np.ascontiguousarray(a, dtype=np.float32)
    return {"b64": base64.b64encode(a.tobytes()).decode(), "shape": list(a.shape)}


def decode_array(d):
    """Inverse of the store's array encoding (float32, base64)."""
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=np.float32).reshape(d["shape"])


# ----- models ------------------------------------------------------------------------------------------
def model_cache_dir(models_dir, model_cfg, data_note, ds, seed) -> Path:
    """One folder per (model name, params, data, seed): recipes that share a model share its file."""
    key = json.dumps({"name": model_cfg["name"], "params": model_cfg["params"], "data": ds.name,
                      "note": data_note, "n_train": len(ds.x_train), "seed": seed}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(models_dir) / f"{model_cfg['name']}-{ds.name.replace(':', '_').replace(',', '-')}-{digest}"


def train_or_load(model_cfg, ds, data_note, seed, models_dir):
    """Load the cached model file, or train the model and save it (written to a temporary folder, then
    renamed, so a killed training never leaves a half-written model behind)."""
    from scd_plugins.io import load, save
    from scd_plugins.registry import model_class

    path = model_cache_dir(models_dir, model_cfg, data_note, ds, seed)
    if (path / "model.json").is_file():
        return load(path), path, 0.0
    params = dict(model_cfg["params"])
    params.setdefault("random_state", seed)
    est = model_class(model_cfg["name"])(**params)
    t0 = time.perf_counter()
    est.fit(ds.x_train, ds.y_train)
    seconds = time.perf_counter() - t0
    tmp = path.with_name(path.name + f".tmp-{uuid.uuid4().hex[:8]}")
    save(est, tmp, extra={"dataset": ds.name, "data": data_note, "recipe_model": model_cfg,
                          "train_seconds": seconds})
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, path)
    except OSError:                      # another run saved it first: keep that one
        shutil.rmtree(tmp, ignore_errors=True)
    return est, path, seconds


# ----- units of work (run in joblib workers) -----------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _load_model(path):
    from scd_plugins.io import load

    return load(path)


@functools.lru_cache(maxsize=8)
def _members(path):
    est = _load_model(path)
    from scd_plugins.attacks import n_members

    return [est.sub_ensemble([j]) for j in range(n_members(est))]


def run_unit(unit, x, ctx):
    """Compute one unit of work; returns a JSON-able payload (worker side: loads the model by path).

    BLAS runs with `blas_threads` threads (default 1): attacks send many one-row queries, and OpenBLAS
    threads competing with torch's OpenMP threads make those up to 100x slower on a small machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=ctx.get("blas_threads", 1), user_api="blas"):
        return _run_unit(unit, x, ctx)


def _run_unit(unit, x, ctx):
    from scd_plugins.attacks import min_l2_point, transfer_row

    est = _load_model(unit["model_path"])
    atk = ctx["attacks"][unit["attack"]]
    common = dict(attack=atk["name"], settings=atk["params"], restarts=atk["restarts"], init=atk["init"],
                  init_size=atk["init_size"], seed=ctx["seed"], input_shape=ctx["input_shape"],
                  clip_values=ctx["clip_values"], init_pool=ctx.get("init_pool"))
    payload = {k: unit[k] for k in ("key", "kind", "model", "attack", "point") if k in unit}
    if unit["kind"] == "transfer":
        row = transfer_row(est, x, unit["vote"], index=unit["point"], members=_members(unit["model_path"]),
                           **common)
        payload.update(row.to_dict())
        return payload
    if unit["kind"] == "ensemble_size":
        est = est.sub_ensemble(list(range(unit["size"])))
        payload["size"] = unit["size"]
    res = min_l2_point(est, x, index=unit["point"], **common)
    payload.update(res.to_dict())
    payload["x_adv"] = None if res.x_adv is None else _encode(res.x_adv)
    return payload


def plan_units(recipe, models, points):
    """Every unit of work of the recipe, each with a unique key."""
    from scd_plugins.attacks import n_members

    units = []
    for m in recipe["models"]:
        label, path = m["label"], str(models[m["label"]]["path"])
        for a in recipe["attacks"]:
            for p in points:
                base = {"model": label, "attack": a["label"], "point": int(p), "model_path": path}
                if recipe["protocol"] == "min_l2":
                    units.append({**base, "kind": "min_l2", "key": f"{label}|{a['label']}|{p}"})
                elif recipe["protocol"] == "ensemble_size":
                    r = n_members(models[label]["estimator"])
                    for k in recipe["ensemble_size"]["sizes"]:
                        if k <= r:
                            units.append({**base, "kind": "ensemble_size", "size": int(k),
                                          "key": f"{label}|{a['label']}|k={k}|{p}"})
                else:
                    r = n_members(models[label]["estimator"])
                    votes = r if recipe["transfer"]["votes"] == "all" else min(r, recipe["transfer"]["votes"])
                    for v in range(votes):
                        units.append({**base, "kind": "transfer", "vote": v,
                                      "key": f"{label}|{a['label']}|{p}|vote={v}"})
    return units


def _backend_setup(backend, scheduler=None):
    """Register cluster backends by name: "dask" connects a distributed Client (to `scheduler` if given,
    else a local cluster), "ray" registers Ray's joblib backend."""
    if backend == "dask":
        from dask.distributed import Client

        return Client(scheduler) if scheduler else Client(processes=True)
    if backend == "ray":
        from ray.util.joblib import register_ray

        register_ray()
    return None


def run_recipe(recipe, out_dir, *, n_jobs=None, backend=None, scheduler=None, models_dir=None, verbose=True,
               max_units=None):
    """Run (or resume) `recipe` (a path, packaged name or loaded dict) into `out_dir`; returns the report dict.

    max_units: stop after this many new units (for smoke runs); the report covers what is stored.
    """
    from joblib import Parallel, delayed, parallel_config

    from scd_plugins.io import model_home
    from scd_plugins.repro.report import write_report

    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_jobs = recipe["run"]["n_jobs"] if n_jobs is None else n_jobs
    backend = recipe["run"]["backend"] if backend is None else backend
    models_dir = Path(models_dir) if models_dir else model_home() / "repro"
    seed = recipe["seed"]

    ds, data_note = load_recipe_data(recipe["data"], seed)
    points = select_points(recipe["points"], len(ds.x_test), seed)
    logger.info("%s: data %s, %d points", recipe["id"], data_note, len(points))

    store = ResultStore(out / "results.sqlite")
    stored = store.get_meta("recipe_hash")
    if stored is not None and stored != recipe["hash"]:
        store.close()
        raise ValueError(f"{out} holds results of another version of recipe {recipe['id']} (hash {stored}, now "
                         f"{recipe['hash']}); use a new --out folder")
    store.set_meta("recipe_hash", recipe["hash"])
    store.set_meta("recipe", {k: v for k, v in recipe.items()})
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    store.start_run(run_id, {"n_jobs": n_jobs, "backend": backend, "pid": os.getpid()})

    models = {}
    for m in tqdm(recipe["models"], desc="models", disable=not verbose):
        est, path, seconds = train_or_load(m, ds, data_note, seed, models_dir)
        models[m["label"]] = {"estimator": est, "path": path, "train_seconds": seconds,
                              "accuracy": float(np.mean(np.asarray(est.predict(ds.x_test)) == ds.y_test))}
    store.set_meta("models", {k: {"path": str(v["path"]), "accuracy": v["accuracy"]} for k, v in models.items()})
    store.set_meta("data", {"note": data_note, "name": ds.name, "sample_shape": list(ds.sample_shape),
                            "clip_values": list(ds.clip_values), "points": points,
                            "provenance": ds.provenance})

    units = plan_units(recipe, models, points)
    done = store.done_keys()
    pending = [u for u in units if u["key"] not in done]
    if max_units is not None:
        pending = pending[:max_units]
    logger.info("%s: %d units, %d already stored, %d to run", recipe["id"], len(units), len(units) - len(pending),
                len(pending))
    store.set_meta(f"run:{run_id}", {"planned": len(units), "skipped": len(units) - len(pending),
                                     "to_run": len(pending)})
    # Starting images when uniform noise is never adversarial: 200 training images (seeded choice).
    pool = ds.x_train[np.sort(np.random.default_rng(seed).choice(len(ds.x_train), min(200, len(ds.x_train)),
                                                                 replace=False))]
    ctx = {"attacks": {a["label"]: a for a in recipe["attacks"]}, "seed": seed, "init_pool": pool,
           "blas_threads": recipe["run"].get("blas_threads", 1),
           "input_shape": tuple(ds.sample_shape), "clip_values": tuple(float(c) for c in ds.clip_values)}
    client = _backend_setup(backend, scheduler) if pending else None
    try:
        if pending:
            with parallel_config(backend=backend, n_jobs=n_jobs):
                results = Parallel(return_as="generator_unordered")(
                    delayed(run_unit)(u, ds.x_test[u["point"]].reshape(ds.sample_shape), ctx) for u in pending)
                for payload in tqdm(results, total=len(pending), desc=f"{recipe['id']} units",
                                    disable=not verbose):
                    store.put(payload["key"], run_id, payload)
    finally:
        if client is not None:
            client.close()
    report = write_report(store, recipe, ds, out, units)
    store.close()
    return report
