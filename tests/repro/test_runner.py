"""The recipe runner: a killed run resumes with nothing lost and nothing redone; reports are written;
the transfer and ensemble-size protocols run through the same machinery."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scd_plugins.repro import run_recipe
from scd_plugins.repro.store import ResultStore

RECIPE = """
id = "tiny"
title = "tiny resumable run"
protocol = "{protocol}"
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
[ensemble_size]
sizes = [1, 3]
[transfer]
votes = "all"
[paper_figures]
accuracy = {{ SCD01 = 87, MLP = 90 }}
"""


def _recipe(tmp_path, protocol="min_l2", n=12, restarts=2, iters=6):
    p = tmp_path / f"{protocol}.toml"
    p.write_text(RECIPE.format(protocol=protocol, n=n, restarts=restarts, iters=iters))
    return p


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
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = out / "results.sqlite"
    deadline = time.time() + 120
    while _count(db) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _count(db)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert 3 <= first < 24, "the run was not killed part-way; make its units slower"
    with ResultStore(db) as store:
        before = {k: (run, json.dumps(p, sort_keys=True)) for k, run, p in store.rows()}

    summary = run_recipe(recipe, out, n_jobs=1, models_dir=models, verbose=False)

    with ResultStore(db) as store:
        rows = store.rows()
        run_meta = [store.get_meta(f"run:{r}") for r in {run for _, run, _ in rows}]
    keys = [k for k, _, _ in rows]
    assert len(keys) == len(set(keys)) == 24                               # 2 models x 12 points, each once
    after = {k: (run, json.dumps(p, sort_keys=True)) for k, run, p in rows}
    for k, v in before.items():                                            # nothing lost, nothing redone
        assert after[k] == v
    second_runs = {run for k, (run, _) in after.items() if k not in before}
    assert len(second_runs) == 1
    second = second_runs.pop()
    assert sum(1 for run, _ in after.values() if run == second) == 24 - first
    assert {"planned": 24, "skipped": first, "to_run": 24 - first} in run_meta
    assert summary["units_done"] == 24
    # models were trained once (by the killed run) and loaded on resume
    assert len([p for p in models.iterdir() if not p.name.startswith(".")]) == 2
    for name in ("report.md", "results.csv", "summary.json", "min_l2.png", "examples.png"):
        assert (out / name).is_file(), name
    text = (out / "report.md").read_text()
    assert "| SCD01 |" in text and "| 87 |" in text
    scd = next(m for m in summary["models"] if m["model"] == "SCD01")
    assert scd["attacks"][0]["n"] == 12 and scd["attacks"][0]["mean_min_l2"] > 0


def test_rerun_of_changed_recipe_is_refused(tmp_path):
    out = tmp_path / "out"
    run_recipe(_recipe(tmp_path, n=1, restarts=1, iters=2), out, models_dir=tmp_path / "m", verbose=False)
    with pytest.raises(ValueError, match="another version"):
        run_recipe(_recipe(tmp_path, n=1, restarts=1, iters=3), out, models_dir=tmp_path / "m", verbose=False)


@pytest.mark.parametrize("protocol", ["transfer", "ensemble_size"])
def test_other_protocols(tmp_path, protocol):
    out = tmp_path / protocol
    summary = run_recipe(_recipe(tmp_path, protocol=protocol, n=1, restarts=1, iters=3), out,
                         models_dir=tmp_path / "m", n_jobs=2, verbose=False)
    n_units = 2 * 3 if protocol == "transfer" else 2 * 2                  # 2 models x (3 votes | 2 sizes)
    assert summary["units_done"] == n_units
    for m in summary["models"]:
        a = m["attacks"][0]
        if protocol == "transfer":
            assert 0.0 <= a["transfer_probability"] <= 1.0
        else:
            assert sorted(a["curve"]) == [1, 3]
    assert (out / ("ensemble_size.png" if protocol == "ensemble_size" else "report.md")).is_file()


def test_dask_backend_gives_the_same_results(tmp_path):
    """Units shipped to a Dask cluster (a local one here) store what local processes store."""
    pytest.importorskip("dask.distributed", reason="the dask backend needs `pip install dask[distributed]`")

    def results(out):
        with ResultStore(out / "results.sqlite") as store:
            return {key: (p["min_l2"], p["success"], p["queries"]) for key, _run, p in store.rows()}

    recipe = _recipe(tmp_path, n=2, restarts=1, iters=3)
    local, cluster = tmp_path / "local", tmp_path / "dask"
    run_recipe(recipe, local, models_dir=tmp_path / "m", n_jobs=1, backend="loky", verbose=False)
    summary = run_recipe(recipe, cluster, models_dir=tmp_path / "m", n_jobs=2, backend="dask", verbose=False)
    assert summary["units_done"] == 2 * 2  # 2 models x 2 points
    assert results(cluster) == results(local)
