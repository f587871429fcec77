"""The generic runner: a killed run resumes with nothing lost or redone; stores never mix recipes or data sets;
a busy output folder, a corrupt store and a corrupt cached model fail clearly (or retrain)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from scd_plugins.repro import RecipeError, RunError, run_recipe
from scd_plugins.repro.recipe import validate_recipe

REPO = Path(__file__).resolve().parents[2]

RECIPE = """
id = "tiny"
title = "tiny resumable run"
seed = 1
[data]
spec = "digits:3,8"
[points]
select = "first"
n = {n}
[[models]]
label = "SCD01"
name = "scd01"
params = {{ n_votes = 3, iterations = 20, n_features = 64, n_jobs = 1 }}
[[models]]
label = "MLP"
name = "mlp"
params = {{ n_estimators = 3, max_iter = 20 }}
[[attacks]]
label = "HSJ"
name = "hsj"
restarts = {restarts}
init_size = 200
params = {{ max_iter = {iters}, max_eval = 200, init_eval = 20 }}
[paper_figures]
accuracy = {{ SCD01 = 87, MLP = 90 }}
"""


def _recipe(tmp_path, n=12, restarts=2, iters=6, name="tiny.toml"):
    p = tmp_path / name
    p.write_text(RECIPE.format(n=n, restarts=restarts, iters=iters))
    return p


def _rows(db):
    with sqlite3.connect(db) as con:
        return {k: (r, p) for k, r, p in con.execute("SELECT key, run_id, payload FROM units")}


def _count(db):
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM units").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_resume_after_kill(tmp_path):
    recipe = _recipe(tmp_path)
    out, models = tmp_path / "out", tmp_path / "models"
    cmd = [sys.executable, "-m", "scd_plugins.repro", "run", str(recipe), "--out", str(out), "--models", str(models),
           "--n-jobs", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = out / "digits" / "results.sqlite"
    deadline = time.time() + 240
    while _count(db) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _count(db)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert 3 <= first < 24, "the run was not killed part-way; make its units slower"
    before = _rows(db)

    res = run_recipe(recipe, out, n_jobs=1, models_dir=models, verbose=False)

    after = _rows(db)
    assert len(after) == 24                                                # 2 models x 12 points, each once
    assert all(after[k] == v for k, v in before.items())                   # nothing lost, nothing redone
    assert len({after[k][0] for k in after if k not in before}) == 1       # the rest in one new run
    assert sum(p["units_done"] for p in res["summary"]["data"]) == 24
    assert len([p for p in models.iterdir() if not p.name.startswith(".")]) == 2   # trained once, then loaded
    for name in ("report.md", "results.csv", "summary.json", "min_l2_digits.png"):
        assert (out / name).is_file(), name
    assert "| SCD01 | HSJ | 3 |" in (out / "report.md").read_text()


def test_changed_recipe_is_refused(tmp_path):
    out = tmp_path / "out"
    run_recipe(_recipe(tmp_path, n=1, restarts=1, iters=2), out, models_dir=tmp_path / "m", verbose=False)
    with pytest.raises(RunError, match="another version of recipe tiny"):
        run_recipe(_recipe(tmp_path, n=1, restarts=1, iters=3), out, models_dir=tmp_path / "m", verbose=False)


def test_fallback_never_appends_to_the_primary_store(tmp_path, monkeypatch):
    import pipelines

    text = _recipe(tmp_path, n=1, restarts=1, iters=2).read_text().replace(
        'spec = "digits:3,8"', 'spec = "digits:3,8"\nfallback = "digits:1,7"\nlabel = "digits"')
    p = tmp_path / "fb.toml"
    p.write_text(text)
    out = tmp_path / "out"
    run_recipe(p, out, models_dir=tmp_path / "m", verbose=False)
    stored = _rows(out / "digits" / "results.sqlite")
    real = pipelines.load_dataset

    def primary_gone(spec, **kw):
        if spec == "digits:3,8":
            raise FileNotFoundError("digits 3,8 went away")
        return real(spec, **kw)

    monkeypatch.setattr(pipelines, "load_dataset", primary_gone)
    with pytest.raises(RunError, match="another data set"):
        run_recipe(p, out, models_dir=tmp_path / "m", verbose=False)
    assert _rows(out / "digits" / "results.sqlite") == stored


def test_model_cache_key_includes_the_data_checksum(tmp_path):
    from scd_plugins.repro.models import cache_dir

    cfg = {"name": "mlp", "params": {"n_estimators": 3}}
    assert cache_dir(tmp_path, cfg, "d", "aaaa", 0) != cache_dir(tmp_path, cfg, "d", "bbbb", 0)
    assert cache_dir(tmp_path, cfg, "d", "aaaa", 0) == cache_dir(tmp_path, cfg, "d", "aaaa", 0)


def test_a_second_run_into_the_same_out_is_refused(tmp_path):
    from scd_plugins.repro.runner import out_lock

    out = tmp_path / "out"
    with out_lock(out):
        with pytest.raises(RunError, match="in use by another scd-repro run"):
            run_recipe(_recipe(tmp_path, n=1, restarts=1, iters=2), out, models_dir=tmp_path / "m", verbose=False)
    run_recipe(_recipe(tmp_path, n=1, restarts=1, iters=2), out, models_dir=tmp_path / "m", verbose=False)


def test_second_cli_run_is_refused_at_start(tmp_path, capsys):
    """Another process holds the folder's lock: the CLI run exits 2 with one line, before any data loads."""
    from scd_plugins.repro.cli import main
    from scd_plugins.repro.runner import LOCK_FILE

    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (   # the lock protocol only: flock on the lock file
        "import fcntl, time\n"
        f"fh = open({str(out / LOCK_FILE)!r}, 'a+')\nfcntl.flock(fh, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\ntime.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["run", str(_recipe(tmp_path, n=1)), "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "in use by another scd-repro run" in err[0], err
        assert not (out / "digits").exists()                       # refused at start: no store, no data
    finally:
        holder.kill()
        holder.wait()


def test_corrupt_store_is_named(tmp_path):
    out = tmp_path / "out"
    (out / "digits").mkdir(parents=True)
    (out / "digits" / "results.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RunError, match=r"results.sqlite is not a readable results store .* delete it"):
        run_recipe(_recipe(tmp_path, n=1, restarts=1, iters=2), out, models_dir=tmp_path / "m", verbose=False)


def test_corrupt_cached_model_is_retrained_or_named(tmp_path):
    models = tmp_path / "m"
    recipe = _recipe(tmp_path, n=1, restarts=1, iters=2)
    first = run_recipe(recipe, tmp_path / "a", models_dir=models, verbose=False)
    scd = Path(first["summary"]["data"][0]["models"]["SCD01"]["path"])
    from scd_plugins.repro.models import cache_dir
    from scd_plugins.repro.recipe import load_recipe

    cfg = next(m for m in load_recipe(recipe)["models"] if m["label"] == "SCD01")   # keyed by the data checksum
    assert scd == cache_dir(models, cfg, "digits:3,8", first["summary"]["data"][0]["checksum"], 1)
    arrays = scd / "model.safetensors"
    blob = bytearray(arrays.read_bytes())
    blob[-1] ^= 0xFF                                                   # fails its checksum: retrained
    arrays.write_bytes(bytes(blob))
    second = run_recipe(recipe, tmp_path / "b", models_dir=models, verbose=False)
    info = second["summary"]["data"][0]["models"]["SCD01"]
    assert info["cached"] is False and info["accuracy"] == first["summary"]["data"][0]["models"]["SCD01"]["accuracy"]
    (scd / "model.json").write_text("{ not json")                      # unreadable: named, with what to do
    with pytest.raises(RunError, match=r"cached model .* cannot be read .* delete that folder"):
        run_recipe(recipe, tmp_path / "c", models_dir=models, verbose=False)


def test_max_units_and_run_overrides_are_checked(tmp_path):
    recipe = _recipe(tmp_path, n=1)
    with pytest.raises(RecipeError, match="--max-units"):
        run_recipe(recipe, tmp_path / "o", max_units=0, verbose=False)
    with pytest.raises(RecipeError, match="global NumPy random state"):
        run_recipe(recipe, tmp_path / "o", backend="threading", n_jobs=2, verbose=False)
    res = run_recipe(recipe, tmp_path / "o", max_units=1, models_dir=tmp_path / "m", verbose=False)
    assert sum(p["units_done"] for p in res["summary"]["data"]) == 1


def test_dask_backend_gives_the_same_results(tmp_path):
    """Units shipped to a Dask cluster (a local one here) store what local processes store."""
    pytest.importorskip("dask.distributed", reason="the dask backend needs `pip install dask[distributed]`")

    def results(out):
        return {k: (json.loads(p)["min_l2"], json.loads(p)["queries"]) for k, (_, p) in
                _rows(out / "digits" / "results.sqlite").items()}

    recipe = validate_recipe(__import__("tomllib").loads(RECIPE.format(n=2, restarts=1, iters=3)))
    local, cluster = tmp_path / "local", tmp_path / "dask"
    run_recipe(recipe, local, models_dir=tmp_path / "m", n_jobs=1, backend="loky", verbose=False)
    run_recipe(recipe, cluster, models_dir=tmp_path / "m", n_jobs=2, backend="dask", verbose=False)
    assert results(cluster) == results(local) and len(results(local)) == 4


IDENTITY = {"recipe_id": "A", "recipe_hash": "h1", "data_name": "digits:3,8", "data_checksum": "c1"}


@pytest.mark.parametrize("field, message", [
    ("recipe_id", "another recipe "), ("recipe_hash", "another version of recipe A"),
    ("data_name", "another data set"), ("data_checksum", r"another data \(checksum\)")])
def test_a_store_belongs_to_one_recipe_and_one_data_set(tmp_path, field, message):
    from scd_plugins.repro.store import ResultStore

    with ResultStore(tmp_path / "s.sqlite") as store:
        store.bind(**IDENTITY)
        store.put("k", "run1", {"min_l2": 1.0})
    with ResultStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(RunError, match=message + ".*never mixed"):
            store.bind(**{**IDENTITY, field: "other"})
        store.bind(**IDENTITY)                                         # the same identity resumes
        assert store.done_keys() == {"k"} and store.payloads() == [{"min_l2": 1.0}]


def test_a_stored_unit_is_never_replaced(tmp_path):
    from scd_plugins.repro.store import ResultStore

    with ResultStore(tmp_path / "s.sqlite") as store:
        store.put("k", "run1", {"v": 1})
        with pytest.raises(RunError, match="already holds unit 'k'; stored results are never replaced"):
            store.put("k", "run2", {"v": 2})
        assert store.payloads() == [{"v": 1}]


def test_points_are_drawn_among_the_eligible():
    from scd_plugins.repro.data import select_points

    ok = np.zeros(50, dtype=bool)
    ok[::3] = True
    drawn = select_points({"select": "random", "n": 5}, 50, 0, eligible=ok)
    assert len(drawn) == 5 and all(ok[p] for p in drawn)
    assert drawn == select_points({"select": "random", "n": 5}, 50, 0, eligible=ok)          # seeded
    assert select_points({"select": "first", "n": 3}, 50, 0, eligible=ok) == [0, 3, 6]
    assert select_points({"select": "indices", "indices": [0, 1, 3]}, 50, 0, eligible=ok) == [0, 3]
    assert len(select_points({"select": "random", "n": 40}, 50, 0, eligible=ok)) == ok.sum()   # capped
    # without a mask: the seeded draw over the whole test set, as before
    assert select_points({"select": "random", "n": 5}, 50, 0) == \
        sorted(int(i) for i in np.random.default_rng(0).choice(50, size=5, replace=False))
