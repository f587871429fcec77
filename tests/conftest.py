"""Shared fixtures: small real datasets that are available offline."""
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

FASHION_MNIST = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
SHARED = Path(os.environ.get("SCD_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


@pytest.fixture(scope="session")
def fashion_pullover_coat():
    """Fashion-MNIST Pullover (2) vs Coat (4), pixels / 255, as (X_train, y_train, X_test, y_test)."""
    files = [FASHION_MNIST / f"{s}-{k}-idx{d}-ubyte.gz" for s, k, d in
             (("train", "images", 3), ("train", "labels", 1), ("t10k", "images", 3), ("t10k", "labels", 1))]
    if not all(f.is_file() for f in files):
        pytest.skip(f"Fashion-MNIST IDX files not found in {FASHION_MNIST} "
                    "(apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)")
    Xtr, ytr, Xte, yte = (_idx(f) for f in files)
    keep_tr, keep_te = np.isin(ytr, (2, 4)), np.isin(yte, (2, 4))
    return (Xtr[keep_tr].reshape(-1, 784) / 255.0, (ytr[keep_tr] == 4).astype(int),
            Xte[keep_te].reshape(-1, 784) / 255.0, (yte[keep_te] == 4).astype(int))


@pytest.fixture(scope="session")
def breast_cancer():
    """scikit-learn's breast-cancer data (real, bundled), min-max scaled to [0, 1], fixed split."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    scaler = MinMaxScaler().fit(Xtr)
    return scaler.transform(Xtr), ytr, np.clip(scaler.transform(Xte), 0, 1), yte


def digits(classes):
    """sklearn's 8x8 digits of the given classes (bundled, no download), pixels in [0, 1], float32."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, classes)
    return (X[keep] / 16.0).astype(np.float32), y[keep]


@pytest.fixture(scope="session")
def load_pair():
    """The loader itself, for tests that need other digit classes."""
    return digits


@pytest.fixture(scope="session")
def digits38():
    """Digits 3 vs 8, pixels in [0, 1], 8x8x1 images flattened to 64 features."""
    return digits((3, 8))
