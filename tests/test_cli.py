"""The `scd` command line: train on .npz and .csv files, predict, and clear errors."""
import numpy as np
import pandas as pd
import pytest

from scd_plugins.cli import main


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
