"""The one runner behind every recipe: data (with fallbacks), the model cache, one results store per data set,
units of work through joblib (loky by default; "dask", "ray" or any joblib backend by name), resume, progress,
and the report files. What a unit is and how it becomes a table is the protocol's business
(`scd_plugins.repro.protocols`). A killed run resumes: stored units are skipped."""
from __future__ import annotations

import logging
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from scd_plugins import registry
from scd_plugins.repro.checks import check_run_settings
from scd_plugins.repro.data import checksum, load_part_data, select_points
from scd_plugins.repro.errors import RecipeError, RunError
from scd_plugins.repro.models import inputs, n_members, train_or_load
from scd_plugins.repro.protocols import Part, get_protocol
from scd_plugins.repro.recipe import load_recipe
from scd_plugins.repro.report import write_report
from scd_plugins.repro.store import ResultStore

logger = logging.getLogger(__name__)
LOCK_FILE = ".scd-repro.lock"


@contextmanager
def out_lock(out: Path):
    """Hold `out` for this run; a second run into the same folder is refused at start."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    fh = open(out / LOCK_FILE, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise RunError(f"{out} is in use by another scd-repro run; wait for it to finish or use another --out") \
            from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        fh.flush()
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def run_unit(protocol_name, unit, x, ctx):
    """One unit of work in a worker. BLAS runs with `blas_threads` threads (default 1): attacks send many
    one-row queries, and BLAS threads competing with torch's make those far slower on a small machine.
    A failure comes back as a record with `_error` (not stored, so a rerun retries it)."""
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(limits=ctx.get("blas_threads", 1), user_api="blas"):
            payload = get_protocol(protocol_name).run(unit, x, ctx)
    except Exception as err:  # noqa: BLE001 - reported by key, with the error, at the end of the run
        return {"key": unit["key"], "_error": f"{type(err).__name__}: {err}"}
    payload["key"] = unit["key"]
    return payload


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


def _input_ok(model, ds):
    kind = registry.entry("model", model["name"]).meta.get("input", "any")
    if kind == "image" and len(ds.sample_shape) != 3:
        return f"not run: needs images (H, W, C), {ds.name} has samples of shape {ds.sample_shape}"
    if kind == "ecg" and len(ds.sample_shape) != 1:
        return f"not run: needs 1-D signals, {ds.name} has samples of shape {ds.sample_shape}"
    if kind == "text" and ds.featurizer is None:
        return f"not run: needs text, {ds.name} is not a text data set"
    return None


def _train_models(recipe, part, ds, models_dir, verbose):
    """Train or load every model the part can run; the others are recorded with the reason. Returns the
    test points every trained model classifies correctly (boolean mask)."""
    correct = np.ones(len(ds.y_test), dtype=bool)
    for m in tqdm(recipe["models"], desc=f"models {part.label}", disable=not verbose):
        reason = m.get("missing") or _input_ok(m, ds)
        if reason:
            part.models[m["label"]] = {"missing": reason}
            continue
        est, path, seconds, cached = train_or_load(m, ds, part.checksum, recipe["seed"], models_dir)
        right = np.asarray(est.predict(inputs(est, ds, "test"))) == np.asarray(ds.y_test)
        correct &= right
        part.models[m["label"]] = {"path": str(path), "train_seconds": seconds, "cached": cached,
                                   "members": n_members(est), "accuracy": float(np.mean(right))}
    return correct


def _points(recipe, part, n_test, correct):
    """The part's test points; with `points.correct`, drawn from those every model classifies correctly."""
    cfg = recipe["points"]
    points = select_points(cfg, n_test, recipe["seed"], eligible=correct if cfg["correct"] else None)
    how = {"random": f"drawn at random (seed {recipe['seed']})", "first": "the first",
           "indices": "as listed"}[cfg["select"]]
    if cfg["correct"]:
        part.notes.append(f"test points: {len(points)} {how} among the {int(correct.sum())} of {n_test} that every "
                          f"model classifies correctly (a misclassified point is already adversarial): {points}")
    else:
        wrong = [p for p in points if not correct[p]]
        part.notes.append(f"test points: {len(points)} {how} of {n_test}, misclassified ones included"
                          + (f" (misclassified by some model: {wrong})" if wrong else "") + f": {points}")
    return points


def run_recipe(recipe, out_dir, *, n_jobs=None, backend=None, scheduler=None, models_dir=None, verbose=True,
               max_units=None):
    """Run (or resume) `recipe` (a path, packaged name or loaded dict) into `out_dir`; returns the report dict.

    max_units: stop after this many new units (smoke runs); the report covers what is stored."""
    from scd_plugins.io import model_home

    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    protocol = get_protocol(recipe["protocol"])
    run = dict(recipe["run"])
    run["n_jobs"] = run["n_jobs"] if n_jobs is None else n_jobs
    run["backend"] = run["backend"] if backend is None else backend
    try:
        check_run_settings(run, protocol)
    except RecipeError as err:
        raise RecipeError(f"--n-jobs/--backend: {err}") from None
    if max_units is not None and (not isinstance(max_units, int) or max_units < 1):
        raise RecipeError(f"--max-units must be an integer >= 1, got {max_units!r}")
    out = Path(out_dir)
    models_dir = Path(models_dir) if models_dir else model_home() / "repro"
    with out_lock(out):
        return _run_locked(recipe, protocol, run, out, models_dir, scheduler, verbose, max_units)


def _run_locked(recipe, protocol, run, out, models_dir, scheduler, verbose, max_units):
    from joblib import Parallel, delayed, parallel_config

    parts, failures, unavailable = [], [], []
    budget = max_units
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    for data_cfg in recipe["data"]:
        ds, note, used = load_part_data(data_cfg, recipe["seed"])
        part = Part(label=data_cfg["label"], spec=data_cfg["spec"], note=note)
        parts.append(part)
        if ds is None:
            part.status = "skipped"
            logger.warning("%s %s: %s", recipe["id"], part.label, note)
            continue
        if protocol.global_random and ds.clip_values is None:
            raise RunError(f"{ds.name} has no clip_values; decision-based attacks need a bounded input box")
        part.data_name, part.checksum, part.sample_shape = ds.name, checksum(ds), tuple(ds.sample_shape)
        store = ResultStore(out / part.label / "results.sqlite")
        try:
            store.bind(recipe_id=recipe["id"], recipe_hash=recipe["hash"], data_name=ds.name,
                       data_checksum=part.checksum)
            store.set_meta("recipe", recipe)
            store.start_run(run_id, {"n_jobs": run["n_jobs"], "backend": run["backend"], "pid": os.getpid()})
            correct = _train_models(recipe, part, ds, models_dir, verbose)
            store.set_meta("models", part.models)
            if protocol.uses_points:
                part.points = _points(recipe, part, len(ds.x_test), correct)
            units = protocol.units(recipe, part, ds)
            part.units_planned = len(units)
            done = store.done_keys()
            pending = [u for u in units if u["key"] not in done]
            if budget is not None:
                pending, budget = pending[:budget], max(0, budget - len(pending))
            logger.info("%s %s: data %s; %d units, %d stored, %d to run", recipe["id"], part.label, note,
                        len(units), len(units) - len(pending), len(pending))
            ctx = {**protocol.context(recipe, part, ds), "blas_threads": run["blas_threads"]}
            if pending:
                client = _backend_setup(run["backend"], scheduler)
                try:
                    with parallel_config(backend=run["backend"], n_jobs=run["n_jobs"]):
                        results = Parallel(return_as="generator_unordered")(
                            delayed(run_unit)(protocol.name, u, protocol.unit_input(u, ds), ctx) for u in pending)
                        for payload in tqdm(results, total=len(pending), desc=f"{recipe['id']} {part.label}",
                                            disable=not verbose):
                            if "_error" in payload:
                                failures.append(f"{part.label} {payload['key']}: {payload['_error']}")
                            elif "_unavailable" in payload:
                                unavailable.append(f"{part.label} {payload['key']}: {payload['_unavailable']}")
                            else:
                                store.put(payload["key"], run_id, payload)
                finally:
                    if client is not None:
                        client.close()
            part.records = store.payloads()
        finally:
            store.close()
    report = write_report(recipe, protocol, parts, out, failures=failures, unavailable=unavailable)
    report["failures"] = failures
    return report
