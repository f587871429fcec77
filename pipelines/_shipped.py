"""Small real datasets that need no download: scikit-learn's embedded 8x8 digits, and a Fashion-MNIST
Pullover vs Coat sample shipped with this package (the quickstart's data).

`pipelines/data/fashion_mnist_pullover_coat.npz`: the first 1000 Pullover (class 2) and 1000 Coat
(class 4) images of the Fashion-MNIST training set and the first 250 of each of its test set, 28x28
uint8, with their positions in the original files. Source: Fashion-MNIST (Zalando SE, 2017,
https://github.com/zalandoresearch/fashion-mnist), Debian package `dataset-fashion-mnist`; licence MIT
(Expat), copyright 2017 Zalando SE.
"""
from __future__ import annotations

from importlib import resources

import numpy as np

from ._dataset import Dataset

FMNIST_SAMPLE = "fashion_mnist_pullover_coat.npz"


def load_digits_pair(data_dir=None, *, classes=(3, 8), test_size: float = 0.3, seed: int = 0) -> Dataset:
    """sklearn's 8x8 digits (UCI optical digits, 1797 images), two classes, pixels scaled to [0, 1].

    "digits:3,8" keeps 3 and 8 as classes 0 and 1; a stratified split with `seed` gives train/test.
    `data_dir` is unused (the data is embedded in scikit-learn).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    try:
        pair = tuple(int(c) for c in classes)
    except (TypeError, ValueError):
        raise ValueError(f"digits takes two digits, like 'digits:3,8'; got {classes!r}") from None
    if len(pair) != 2 or pair[0] == pair[1] or not all(0 <= p <= 9 for p in pair):
        raise ValueError(f"digits takes two different digits 0-9, like 'digits:3,8'; got {classes!r}")
    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, pair)
    X = (X[keep] / 16.0).astype(np.float32)
    y = (y[keep] == pair[1]).astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    return Dataset(name=f"digits:{pair[0]},{pair[1]}", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
                   sample_shape=(8, 8, 1), clip_values=(0.0, 1.0), class_names=(str(pair[0]), str(pair[1])),
                   provenance={"source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten "
                                         "digits), embedded in scikit-learn",
                               "split": f"stratified, test_size={test_size}, random_state={seed}"})


def load_fmnist_sample(data_dir=None) -> Dataset:
    """The shipped Fashion-MNIST Pullover (0) vs Coat (1) sample: 2000 train / 500 test, 28x28x1 in [0, 1]."""
    with resources.as_file(resources.files("pipelines") / "data" / FMNIST_SAMPLE) as path:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    flat = {s: (arrays[f"x_{s}"].reshape(len(arrays[f"x_{s}"]), -1) / 255.0).astype(np.float32)
            for s in ("train", "test")}
    return Dataset(name="fmnist-sample", x_train=flat["train"], y_train=arrays["y_train"].astype(np.int64),
                   x_test=flat["test"], y_test=arrays["y_test"].astype(np.int64), sample_shape=(28, 28, 1),
                   clip_values=(0.0, 1.0), class_names=("Pullover", "Coat"),
                   provenance={"source": "Fashion-MNIST (Zalando SE 2017, MIT licence), shipped sample: first "
                                         "1000 Pullover and 1000 Coat training images, first 250 of each test "
                                         f"image, pipelines/data/{FMNIST_SAMPLE}"})
