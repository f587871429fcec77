"""Every experiment of experiments.md is a packaged recipe naming the paper's models; every recipe mistake is
one RecipeError (CLI: one line, exit 2) found before any data loads or model trains."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from scd_plugins.repro import RecipeError, available_recipes, load_recipe
from scd_plugins.repro.recipe import find_recipe, read_toml, validate_recipe

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = REPO.parent / "shared" / "docs" / "experiments.md"
IDS = {"T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "F1", "F2", "F3"}
PAPER_MODELS = {   # experiments.md, "models" column
    "T1": {"SCD01", "SCDCE", "SCDCEBNN", "MLP", "BNN"},
    "T2": {"SCD01", "SCDCE", "SCDCEBNN", "MLP", "BNN", "ResNet50", "LeNet", "RF"},
    "T3": {"SCD01", "MLP", "LeNet", "RF"},
    "T4": {"SCD01", "SCDCE", "SCDCEBNN", "MLP", "BNN", "ResNet50", "LeNet", "RF"},
    "T6": {"SCD01", "SCDCE", "SCDCEBNN", "MLP", "BNN", "ResNet50", "LeNet", "RF"},
    "T7": {"SCD01", "SCDCE", "CNN", "MLP", "BNN", "RF"},
    "T8": {"SCD01", "SCDCE", "MLP", "BNN", "CNN", "RF"},
    "F1": {"SCD01", "SCDCE", "SCDCEBNN", "MLP", "BNN", "RF"},
    "F2": {"SCD01", "SCDCE", "SCDCEBNN", "MLP", "BNN"},
    "F3": {"SCD01", "CNN", "RF"},
}


def test_every_experiment_is_listed(capsys):
    from scd_plugins.repro.cli import main

    ids = IDS
    if EXPERIMENTS.is_file():
        ids = set(re.findall(r"^\| (T\d|F\d) \|", EXPERIMENTS.read_text(), flags=re.M))
        assert ids == IDS
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[1] for line in out.splitlines()}
    assert ids | {"quickstart"} <= listed


@pytest.mark.parametrize("name", sorted(available_recipes()))
def test_packaged_recipe_loads_and_names_the_papers_models(name):
    r = load_recipe(name)
    assert r["hash"] and r["models"]
    if r["id"] in PAPER_MODELS:
        assert {m["label"] for m in r["models"]} == PAPER_MODELS[r["id"]]
    scd = [m for m in r["models"] if m["name"].startswith("scd") and r["id"] not in ("T7", "quickstart")]
    assert all(m["params"].get("n_votes") == 100 and m["params"].get("hidden_nodes", 20) in (4, 16, 20, 32, 64)
               for m in scd)


def test_paper_protocol_settings_are_encoded():
    t2 = load_recipe("t2_min_l2")
    hsj = next(a for a in t2["attacks"] if a["name"] == "hsj")
    assert (hsj["restarts"], hsj["params"]["max_iter"], hsj["init_size"]) == (10, 100, 1000)
    assert next(a for a in t2["attacks"] if a["name"] == "rays")["params"]["max_queries"] == 40000
    assert t2["points"] == {"select": "random", "n": 10, "correct": True}      # correctly classified points
    assert t2["data"][0]["spec"] == "cifar10:0,1" and t2["data"][0]["fallback"] == ["fmnist:2,4"]
    t8 = load_recipe("t8_ecg")
    assert t8["points"]["n"] == 37 and t8["data"][0]["fallback"] == ["mitdb"]
    assert t8["significance"]["reference"] == "SCD01"
    members = {m["label"]: m["params"].get("n_votes", m["params"].get("n_estimators")) for m in t8["models"]}
    assert members == {"SCD01": 100, "SCDCE": 100, "MLP": 100, "BNN": 10, "CNN": 10, "RF": 100}
    t1 = load_recipe("t1_runtime_accuracy")
    assert [d["spec"] for d in t1["data"]] == ["cifar10:0,1", "celeba", "gtsrb:3,8", "imagenet:0,1"]
    qs = load_recipe("quickstart")
    scd = qs["models"][0]["params"]
    assert (scd["hidden_nodes"], scd["iterations"]) == (20, 1000)       # the paper's per-vote settings
    hsj = qs["attacks"][0]                                               # and the paper's HSJ run
    assert (hsj["params"]["max_iter"], hsj["init_size"], hsj["params"]["init_eval"]) == (100, 1000, 100)
    assert qs["points"]["correct"] and load_recipe("t6_transferability")["points"]["correct"] is False


BASE = """
id = "X"
[data]
spec = "fmnist-sample"
[points]
n = 2
[[models]]
label = "A"
name = "scd01"
params = { n_votes = 3 }
[[attacks]]
label = "H"
name = "hsj"
params = { max_iter = 3 }
"""

BAD = [
    ("name = \"scd01\"", "name = \"nope\"", "unknown model 'nope'"),
    ("name = \"hsj\"", "name = \"fgsm\"", "unknown attack 'fgsm'"),
    ("{ n_votes = 3 }", "{ n_vote = 3 }", r"unknown parameters \['n_vote'\] for SCD01Classifier"),
    ("{ n_votes = 3 }", "{ n_votes = 0 }", "n_votes"),
    ("{ max_iter = 3 }", "{ max_iters = 3 }", r"unknown parameters \['max_iters'\]"),
    ("{ max_iter = 3 }", "{ max_iter = -1 }", "max_iter must be an integer >= 1"),
    ("n = 2", "n = 0", "points.n must be an integer >= 1"),
    ("spec = \"fmnist-sample\"", "spec = \"mnist\"", "unknown dataset 'mnist'"),
    ("id = \"X\"", "id = \"X\"\nextra = 1", "unknown top-level keys"),
    ("id = \"X\"", "id = \"X\"\nprotocol = \"nope\"", "unknown protocol 'nope'"),
    ("id = \"X\"", "id = \"X\"\n[run]\nbackend = \"thread\"", "run.backend must be one of"),
    ("id = \"X\"", "id = \"X\"\n[run]\nn_jobs = 0", "run.n_jobs must be"),
    ("id = \"X\"", "id = \"X\"\n[run]\nbackend = \"threading\"\nn_jobs = 2", "global NumPy random state"),
    ("id = \"X\"", "id = \"X\"\n[run]\nn_job = 2", r"unknown keys \['n_job'\] in \[run\]"),
    ("id = \"X\"", "id = \"X\"\nprotocol = \"ensemble_size\"\n[ensemble_size]\nsizes = [1, 5]",
     r"has 3 members; ensemble sizes \[5\] are larger"),
    ("id = \"X\"", "id = ", "not valid TOML"),
    ("n = 2", "n = 2\ncorrect = \"yes\"", "points.correct must be true or false"),
    ("name = \"hsj\"", "name = \"hsj\"\nrestarts = 0", "restarts must be an integer >= 1"),
    ("name = \"hsj\"", "name = \"hsj\"\ninit = \"noise\"", "init must be 'random' or 'fixed'"),
    ("spec = \"fmnist-sample\"", "spec = \"fmnist-sample\"\ntrain_size = -5", "train_size .* must be an integer >= 0"),
]


@pytest.mark.parametrize("old, new, match", BAD)
def test_recipe_errors_before_any_data_loads(tmp_path, monkeypatch, old, new, match):
    import pipelines

    def no_loading(*a, **k):
        raise AssertionError("data loaded before the recipe was checked")

    monkeypatch.setattr(pipelines, "load_dataset", no_loading)
    p = tmp_path / "bad.toml"
    p.write_text(BASE.replace(old, new, 1))
    with pytest.raises(RecipeError, match=match):
        load_recipe(p)


def test_cli_errors_are_one_line_with_exit_2(tmp_path, monkeypatch, capsys):
    """Each mistake is one line on stderr and status 2, before any data loads (checked in-process, where the
    loader can be replaced); one case also as a real process (its exit status)."""
    import pipelines
    from scd_plugins.repro.cli import main

    p = tmp_path / "bad.toml"
    p.write_text(BASE.replace("{ n_votes = 3 }", "{ n_vote = 3 }"))
    res = subprocess.run([sys.executable, "-m", "scd_plugins.repro", "run", str(p), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [res.stderr.strip()], res.stderr
    assert res.stderr.startswith("scd-repro: ") and "unknown parameters ['n_vote']" in res.stderr

    def no_loading(*a, **k):
        raise AssertionError("data loaded before the options were checked")

    monkeypatch.setattr(pipelines, "load_dataset", no_loading)
    cases = [([str(p)], "unknown parameters"), (["no_such_recipe"], "no packaged recipe named 'no_such_recipe'"),
             (["quickstart", "--max-units", "0"], "--max-units must be >= 1"),
             (["quickstart", "--backend", "nope"], "run.backend must be one of"),
             (["quickstart", "--n-jobs", "0"], "run.n_jobs must be a positive integer")]
    for args, message in cases:
        assert main(["run", *args, "--out", str(tmp_path / "o"), "--quiet"]) == 2, args
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("scd-repro: ") and message in lines[0], (args, err)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*.sqlite"))


def test_missing_models_are_marked_not_dropped():
    r = load_recipe("t2_min_l2")
    missing = {m["label"]: m.get("missing") for m in r["models"]}
    from scd_plugins import registry

    for label, name in (("BNN", "bnn"), ("ResNet50", "resnet50"), ("LeNet", "lenet")):
        assert (missing[label] is not None) == (not registry.available("model", name))
    assert missing["SCD01"] is None


def test_recipe_hash_ignores_run_settings_and_availability():
    raw = read_toml(find_recipe("t2_min_l2"))
    a = validate_recipe(raw)
    raw["run"]["n_jobs"] = 1
    assert validate_recipe(raw)["hash"] == a["hash"]
    raw["points"]["n"] = 11
    assert validate_recipe(raw)["hash"] != a["hash"]
