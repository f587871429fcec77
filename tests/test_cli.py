"""The `scd` command line: train on .npz and .csv files, predict, and clear errors."""
import csv
import json
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from scd_plugins.cli import main, model_inputs, parse_value
from scd_plugins.io import load


def test_train_npz_then_predict(breast_cancer, tmp_path, capsys):
    Xtr, ytr, Xte, yte = breast_cancer
    data = tmp_path / "bc.npz"
    np.savez(data, X_train=Xtr, y_train=ytr, X_test=Xte, y_test=yte)
    assert main(["train", "--model", "scd01", "--data", str(data), "--votes", "3", "--seed", "1",
                 "--iterations", "60", "--jobs", "1", "--out", str(tmp_path / "model")]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test_accuracy:")[1].split()[0])
    assert accuracy >= 0.9 and "seconds_per_vote" in out
    np.savez(tmp_path / "q.npz", X=Xte)
    assert main(["predict", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "q.npz"),
                 "--out", str(tmp_path / "pred.csv")]) == 0
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert len(pred) == len(Xte) and (pred["label"] == yte).mean() == pytest.approx(accuracy, abs=1e-4)


def test_train_csv_with_holdout(breast_cancer, tmp_path, capsys):
    Xtr, ytr, _, _ = breast_cancer
    frame = pd.DataFrame(Xtr, columns=[f"f{i}" for i in range(Xtr.shape[1])]).assign(diagnosis=ytr)
    frame.to_csv(tmp_path / "bc.csv", index=False)
    assert main(["train", "--model", "scdce", "--data", str(tmp_path / "bc.csv"), "--label", "diagnosis",
                 "--votes", "2", "--iterations", "30", "--test-size", "0.25", "--jobs", "1",
                 "--out", str(tmp_path / "m")]) == 0
    assert "test_accuracy" in capsys.readouterr().out


def test_clear_errors(tmp_path, capsys):
    assert main(["train", "--model", "scd01", "--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    pd.DataFrame({"a": [1, 2], "y": [0, 1]}).to_csv(tmp_path / "t.csv", index=False)
    assert main(["train", "--model", "scd01", "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path)]) == 2
    assert "no label column 'label'" in capsys.readouterr().err
    assert main(["train", "--model", "nope", "--data", str(tmp_path / "t.csv"), "--label", "y", "--out", str(tmp_path)]) == 2
    assert "unknown model" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------- generic over the registry
@pytest.mark.parametrize("model,member", [("mlp", "n_estimators"), ("rf", "n_estimators"), ("scd01", "n_votes")])
def test_every_family_trains_saves_and_predicts(model, member, breast_cancer, tmp_path, capsys):
    Xtr, ytr, Xte, yte = breast_cancer
    np.savez(tmp_path / "bc.npz", X_train=Xtr, y_train=ytr, X_test=Xte, y_test=yte)
    extra = {"mlp": ["--param", "max_iter=300"], "rf": ["--param", "min_samples_leaf=2"],
             "scd01": ["--iterations", "40"]}[model]
    assert main(["train", "--model", model, "--data", str(tmp_path / "bc.npz"), "--votes", "3", "--seed", "4",
                 "--out", str(tmp_path / "m"), *extra]) == 0
    assert float(capsys.readouterr().out.split("test_accuracy:")[1].split()[0]) > 0.85
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["params"][member] == 3 and meta["params"]["random_state"] == 4
    key, value = extra[1].lstrip("-").split("=") if extra[0] == "--param" else ("iterations", "40")
    assert meta["params"][key.replace("-", "_")] == int(value)
    assert load(tmp_path / "m").n_members_ == 3


def test_query_columns_are_matched_by_name_and_labels_quoted(breast_cancer, tmp_path):
    Xtr, ytr, Xte, yte = breast_cancer
    cols = [f"f{i}" for i in range(Xtr.shape[1])]
    names = np.array(["malignant, or not", 'benign "B"'])
    pd.DataFrame(Xtr, columns=cols).assign(label=names[ytr]).to_csv(tmp_path / "tr.csv", index=False)
    assert main(["train", "--model", "rf", "--data", str(tmp_path / "tr.csv"), "--votes", "5",
                 "--out", str(tmp_path / "m")]) == 0
    query = pd.DataFrame(Xte, columns=cols)
    query.to_csv(tmp_path / "q.csv", index=False)
    query[cols[::-1]].to_csv(tmp_path / "q_rev.csv", index=False)
    for q in ("q", "q_rev"):
        assert main(["predict", "--model", str(tmp_path / "m"), "--data", str(tmp_path / f"{q}.csv"),
                     "--out", str(tmp_path / f"{q}_pred.csv")]) == 0
    with open(tmp_path / "q_rev_pred.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["label", *(f"p_{c}" for c in sorted(names))]
    assert (tmp_path / "q_rev_pred.csv").read_bytes() == (tmp_path / "q_pred.csv").read_bytes()
    labels = np.array([r[0] for r in rows[1:]])
    assert (labels == names[yte]).mean() > 0.85
    # by position, the reversed columns would give other predictions: the reordering is what made them equal
    est = load(tmp_path / "m")
    assert (est.predict(query[cols[::-1]].to_numpy()) != est.predict(query.to_numpy())).any()


def test_named_models_overwrite_and_lookup(breast_cancer, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCD_MODEL_HOME", str(tmp_path / "home"))
    Xtr, ytr, Xte, yte = breast_cancer
    np.savez(tmp_path / "bc.npz", X_train=Xtr, y_train=ytr)
    np.savez(tmp_path / "q.npz", X=Xte)
    args = ["train", "--model", "rf", "--data", str(tmp_path / "bc.npz"), "--votes", "2", "--name", "rf-bc"]
    assert main(args) == 0 and (tmp_path / "home" / "rf-bc" / "model.json").is_file()
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*args, "--votes", "4", "--overwrite"]) == 0
    assert load(tmp_path / "home" / "rf-bc").n_members_ == 4
    capsys.readouterr()
    assert main(["predict", "--model", "rf-bc", "--data", str(tmp_path / "q.npz")]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(Xte) + 1


def test_a_failed_save_keeps_the_trained_model(breast_cancer, tmp_path, monkeypatch, capsys):
    """Saving runs after training; when the target fails (here: a full disk), the model goes to a fresh
    directory next to it, named in the one-line error."""
    import scd_plugins.io as io

    Xtr, ytr, Xte, yte = breast_cancer
    np.savez(tmp_path / "bc.npz", X_train=Xtr, y_train=ytr, X_test=Xte, y_test=yte)
    target = tmp_path / "models" / "m"
    real_save = io.save

    def full_disk(estimator, path, extra=None):
        if Path(path) == target:
            real_save(estimator, path, extra=extra)
            (Path(path) / "model.json").unlink()                   # half written, then the disk is full
            raise OSError(28, "No space left on device", str(path))
        return real_save(estimator, path, extra=extra)

    monkeypatch.setattr(io, "save", full_disk)
    assert main(["train", "--model", "rf", "--data", str(tmp_path / "bc.npz"), "--votes", "3",
                 "--out", str(target)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0 and "No space left on device" in err and "it was saved to" in err
    fallback = Path(err.split("it was saved to ")[1].split(" instead")[0])
    assert fallback.parent == target.parent and fallback.name.startswith("m.unsaved-")
    assert not target.exists()                                  # no half-written model at the target
    accuracy = float(captured.out.split("test_accuracy:")[1].split()[0])
    assert load(fallback).score(Xte, yte) == pytest.approx(accuracy, abs=1e-4)


class _ShapeAware(ClassifierMixin, BaseEstimator):
    """A stand-in for the image CNNs: takes input_shape and records what it was trained with."""

    seen = {}

    def __init__(self, *, n_estimators=2, input_shape=None, random_state=None):
        self.n_estimators = n_estimators
        self.input_shape = input_shape
        self.random_state = random_state

    def fit(self, X, y):
        _ShapeAware.seen = {"input_shape": self.input_shape, "X": np.asarray(X).shape}
        self.classes_ = np.unique(y)
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def save(self, path, extra=None):
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "model.json").write_text(json.dumps(extra))
        return path


def test_input_shape_comes_from_the_data(digits38, tmp_path, monkeypatch, capsys):
    import scd_plugins.registry as registry

    X, y = digits38
    np.savez(tmp_path / "img.npz", X_train=X.reshape(-1, 8, 8, 1), y_train=y)
    monkeypatch.setattr(registry, "model_class", lambda name: _ShapeAware)
    assert main(["train", "--model", "cnn", "--data", str(tmp_path / "img.npz"), "--out", str(tmp_path / "m")]) == 0
    assert _ShapeAware.seen == {"input_shape": (8, 8, 1), "X": (len(X), 64)}
    assert json.loads((tmp_path / "m" / "model.json").read_text())["sample_shape"] == [8, 8, 1]
    assert main(["train", "--model", "cnn", "--data", str(tmp_path / "img.npz"), "--out", str(tmp_path / "m2"),
                 "--param", "input_shape=[64]"]) == 0             # an explicit value wins
    assert _ShapeAware.seen["input_shape"] == [64]


def test_text_models_get_raw_documents():
    class TextModel:
        input_kind = "text"

    data = {"X_train": np.zeros((2, 3)), "texts_train": ["a film", "a book"], "X_test": None, "texts_test": None}
    assert model_inputs(TextModel, data, "train") == ["a film", "a book"]
    assert model_inputs(TextModel, data, "test") is None
    assert model_inputs(_ShapeAware, data, "train") is data["X_train"]
    with pytest.raises(ValueError, match="reads raw documents"):
        model_inputs(TextModel, {"X_train": np.zeros((2, 3)), "texts_train": None}, "train")


@pytest.mark.parametrize("text,value", [("3", 3), ("0.5", 0.5), ("true", True), ("True", True), ("null", None),
                                        ("None", None), ("[20, 10]", [20, 10]), ("(1, 2)", (1, 2)),
                                        ("sqrt", "sqrt"), ('"3"', "3"), ("cuda:0", "cuda:0")])
def test_param_values(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_query_csv_may_keep_the_training_label_column(breast_cancer, tmp_path, capsys):
    Xtr, ytr, Xte, yte = breast_cancer
    cols = [f"f{i}" for i in range(Xtr.shape[1])]
    pd.DataFrame(Xtr, columns=cols).assign(diagnosis=ytr).to_csv(tmp_path / "tr.csv", index=False)
    pd.DataFrame(Xte, columns=cols).assign(diagnosis=yte).to_csv(tmp_path / "te.csv", index=False)
    assert main(["train", "--model", "rf", "--data", str(tmp_path / "tr.csv"), "--label", "diagnosis",
                 "--votes", "3", "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "te.csv")]) == 0
    pred = pd.read_csv(StringIO(capsys.readouterr().out))
    assert (pred["label"].to_numpy() == yte).mean() > 0.85


def test_csv_byte_order_mark_and_saved_index(breast_cancer, tmp_path, capsys):
    Xtr, ytr, Xte, _ = breast_cancer
    cols = [f"f{i}" for i in range(Xtr.shape[1])]
    pd.DataFrame(Xtr, columns=cols).assign(label=ytr).to_csv(tmp_path / "tr.csv", index=False, encoding="utf-8-sig")
    pd.DataFrame(Xte, columns=cols).to_csv(tmp_path / "q.csv", index=False)
    assert main(["train", "--model", "rf", "--data", str(tmp_path / "tr.csv"), "--votes", "2",
                 "--out", str(tmp_path / "m")]) == 0
    assert main(["predict", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "q.csv")]) == 0
    pd.DataFrame(Xte, columns=cols).to_csv(tmp_path / "q_index.csv")          # index=True: "Unnamed: 0"
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "q_index.csv")]) == 2
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith("scd: warning:") and "have no name" in warning
    assert error.startswith("scd: error:") and "unknown ['Unnamed: 0']" in error


def test_a_failed_overwrite_keeps_the_old_model(breast_cancer, tmp_path, monkeypatch, capsys):
    """--overwrite writes the new model aside and moves it in only when it is whole: a save that fails
    (here every one: a full disk) leaves the old model loadable and no half-written directory behind."""
    import scd_plugins.io as io

    Xtr, ytr, Xte, yte = breast_cancer
    np.savez(tmp_path / "bc.npz", X_train=Xtr, y_train=ytr)
    target = tmp_path / "m"
    args = ["train", "--model", "rf", "--data", str(tmp_path / "bc.npz"), "--out", str(target), "--overwrite"]
    assert main([*args, "--votes", "2"]) == 0
    old = (target / "model.safetensors").read_bytes()
    real_save = io.save
    calls = []

    def disk_full(estimator, path, extra=None):
        calls.append(Path(path))
        real_save(estimator, path, extra=extra)                   # half written ...
        (Path(path) / "model.json").unlink()
        raise OSError(28, "No space left on device", str(path))  # ... then the disk is full

    monkeypatch.setattr(io, "save", disk_full)
    assert main([*args, "--votes", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "No space left on device" in err and "nor to a temporary directory" in err
    assert (target / "model.safetensors").read_bytes() == old and load(target).n_members_ == 2
    assert target not in calls and len(calls) == 2              # the old model's directory was never written into
    assert not any(p.exists() for p in calls)                   # half-written attempts are removed
    monkeypatch.setattr(io, "save", real_save)
    assert main([*args, "--votes", "4"]) == 0 and load(target).n_members_ == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bc.npz", "m"]
