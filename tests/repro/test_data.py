"""The quickstart's data are pipelines data sets like the others: `digits:a,b` and the shipped `fmnist-sample`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines import load_dataset

REPO = Path(__file__).resolve().parents[2]


def test_digits_pair():
    ds = load_dataset("digits:3,8")
    assert ds.name == "digits:3,8" and ds.sample_shape == (8, 8, 1) and ds.class_names == ("3", "8")
    assert len(ds.x_train) + len(ds.x_test) == 357          # 183 threes + 174 eights in sklearn's digits
    assert 0 <= ds.x_train.min() and ds.x_train.max() <= 1 and set(np.unique(ds.y_train)) == {0, 1}
    with pytest.raises(ValueError, match="two different digits"):
        load_dataset("digits:3,3")


def test_shipped_fashion_mnist_sample():
    ds = load_dataset("fmnist-sample")
    assert ds.x_train.shape == (2000, 784) and ds.x_test.shape == (500, 784) and ds.sample_shape == (28, 28, 1)
    assert np.bincount(ds.y_train).tolist() == [1000, 1000] and np.bincount(ds.y_test).tolist() == [250, 250]
    assert ds.class_names == ("Pullover", "Coat") and "MIT" in ds.provenance["source"]


def test_shipped_sample_matches_the_debian_files():
    """The shipped images are the Debian package's Fashion-MNIST rows they claim to be."""
    base = Path("/usr/share/datasets/fashion-mnist")
    if not (base / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("needs the Debian package dataset-fashion-mnist")
    from pipelines.images import read_idx

    with np.load(REPO / "pipelines" / "data" / "fashion_mnist_pullover_coat.npz") as z:
        idx, x = z["train_index"], z["x_train"]
    full = read_idx(base / "train-images-idx3-ubyte.gz")
    labels = read_idx(base / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(full[idx], x)
    assert set(labels[idx].tolist()) == {2, 4}


def test_scd_train_takes_digits(tmp_path, capsys):
    """`scd train --data digits:3,8` (the CLI's entry function, in-process: no interpreter start-up)."""
    from scd_plugins.cli import main
    from scd_plugins.io import load

    rc = main(["train", "--model", "scd01", "--data", "digits:3,8", "--votes", "2", "--iterations", "20", "--jobs", "1",
               "--out", str(tmp_path / "m")])
    assert rc == 0, capsys.readouterr().err[-2000:]
    est = load(tmp_path / "m")
    assert est.n_members_ == 2 and est.n_features_in_ == 64
