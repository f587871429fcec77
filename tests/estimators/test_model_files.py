"""Model files: safetensors + JSON, exact round trip, and clear refusal of damaged files."""
import hashlib
import json

import numpy as np
import pytest

import scd_plugins
from scd_plugins import SCD01Classifier, SCDCEBNNClassifier
from scd_plugins.io import ModelFileError, read_metadata


@pytest.fixture(scope="module")
def fitted(breast_cancer):
    Xtr, ytr, Xte, _ = breast_cancer
    return SCD01Classifier(n_votes=3, iterations=30, random_state=0, n_jobs=1).fit(Xtr, ytr), Xte


def test_round_trip_is_exact(fitted, tmp_path):
    clf, Xte = fitted
    clf.save(tmp_path / "m", extra={"dataset": "breast_cancer"})
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "model.safetensors"]
    back = scd_plugins.load(tmp_path / "m")
    assert type(back) is SCD01Classifier and back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.predict_proba(Xte), clf.predict_proba(Xte))
    meta = read_metadata(tmp_path / "m")
    assert meta["class"] == "SCD01Classifier" and meta["n_features_in"] == Xte.shape[1]
    assert meta["extra"] == {"dataset": "breast_cancer"} and meta["library_version"] == scd_plugins.__version__


def test_multiclass_and_string_labels_round_trip(tmp_path):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = SCDCEBNNClassifier(n_votes=2, iterations=20, random_state=0, n_jobs=1).fit(X, names)
    back = scd_plugins.load(clf.save(tmp_path / "iris"))
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def test_truncated_or_tampered_files_are_refused(fitted, tmp_path):
    clf, _ = fitted
    path = clf.save(tmp_path / "m")
    arrays = path / "model.safetensors"
    blob = arrays.read_bytes()
    arrays.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="truncated or was modified"):
        scd_plugins.load(path)
    tampered = bytearray(blob)
    tampered[-5] ^= 0xFF
    arrays.write_bytes(bytes(tampered))
    with pytest.raises(ValueError, match="checksum"):
        scd_plugins.load(path)
    arrays.write_bytes(blob)
    meta = path / "model.json"
    meta.write_text(meta.read_text()[:40])
    with pytest.raises(ValueError, match="not valid model metadata JSON"):
        scd_plugins.load(path)
    with pytest.raises(FileNotFoundError, match="expected the metadata file"):
        scd_plugins.load(tmp_path / "nowhere")


def test_edited_metadata_is_refused(fitted, tmp_path):
    """model.json is covered by the checksum too (class, classes, parameters, extra)."""
    clf, _ = fitted
    path = clf.save(tmp_path / "m")
    meta = json.loads((path / "model.json").read_text())
    meta["class"] = "os.system"
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="checksum"):
        scd_plugins.load(path)


def test_metadata_records_the_model(fitted, tmp_path):
    clf, _ = fitted
    path = clf.save(tmp_path / "m")
    meta = read_metadata(path)
    assert meta["format_version"] == 2 and meta["arrays_file"] == "model.safetensors"
    assert meta["feature_names_in"] is None and meta["classes"] == [0, 1]
    assert meta["arrays"]["member0.W1"] == {"shape": [3, clf.n_features_in_, 20], "dtype": "<f8"}
    assert len(meta["sha256"]) == 64


def test_format_1_files_still_load(fitted, tmp_path):
    """Files written before the metadata was covered (format 1: checksum of the arrays only) load,
    with every validation of format 2."""
    clf, Xte = fitted
    path = clf.save(tmp_path / "m")
    meta = json.loads((path / "model.json").read_text())
    for key in ("feature_names_in", "arrays_file"):
        meta.pop(key)
    meta["format_version"] = 1
    meta["sha256"] = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    (path / "model.json").write_text(json.dumps(meta))
    np.testing.assert_array_equal(scd_plugins.load(path).predict_proba(Xte), clf.predict_proba(Xte))
    meta["classes"] = meta["state"]["classes"]["values"] = [1, 0]
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="np.unique order"):
        scd_plugins.load(path)
