"""Data for recipes: `pipelines.load_dataset` specs, with a fallback spec when the primary data set is
absent, plus scikit-learn's embedded digits ("digits:3,8"), which installs with scikit-learn and needs
no download (the quickstart's data)."""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


def load_digits_pair(spec: str, seed: int = 0, test_size: float = 0.3):
    """sklearn's 8x8 digits (UCI optical digits, 1797 images), two classes, pixels scaled to [0, 1].

    "digits:3,8" keeps 3 and 8 as classes 0 and 1; a stratified split with `seed` gives train/test.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from pipelines import Dataset

    _, _, arg = spec.partition(":")
    try:
        pair = tuple(int(a) for a in (arg or "3,8").split(","))
    except ValueError:
        raise ValueError(f"digits spec takes two digits, like 'digits:3,8'; got {spec!r}") from None
    if len(pair) != 2 or pair[0] == pair[1] or not all(0 <= p <= 9 for p in pair):
        raise ValueError(f"digits spec takes two different digits 0-9, like 'digits:3,8'; got {spec!r}")
    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, pair)
    X = (X[keep] / 16.0).astype(np.float32)
    y = (y[keep] == pair[1]).astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    return Dataset(name=f"digits:{pair[0]},{pair[1]}", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
                   sample_shape=(8, 8, 1), clip_values=(0.0, 1.0), class_names=(str(pair[0]), str(pair[1])),
                   provenance={"source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten "
                                         "digits, test part), embedded in scikit-learn",
                               "split": f"stratified, test_size={test_size}, random_state={seed}"})


def _load(spec, seed, options):
    if spec.split(":")[0].lower() == "digits":
        return load_digits_pair(spec, seed=seed, **options)
    from pipelines import load_dataset

    return load_dataset(spec, **options)


def load_recipe_data(data_cfg: dict, seed: int = 0):
    """(dataset, note): the primary spec, or the fallback when the primary is absent (FileNotFoundError)."""
    spec, fallback = data_cfg["spec"], data_cfg.get("fallback")
    try:
        ds = _load(spec, seed, data_cfg.get("options", {}))
        note = f"{spec} (primary)"
    except FileNotFoundError as err:
        if not fallback:
            raise
        logger.warning("%s is not available (%s); using the fallback %s", spec, str(err).splitlines()[0], fallback)
        ds = _load(fallback, seed, {})
        note = f"{fallback} (fallback: {spec} not available)"
    if ds.clip_values is None:
        raise ValueError(f"{ds.name} has no clip_values; decision-based attacks need a bounded input box")
    n = data_cfg.get("train_size", 0)
    if n and n < len(ds.x_train):
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(ds.x_train), size=n, replace=False))
        ds.x_train, ds.y_train = ds.x_train[idx], ds.y_train[idx]
        note += f", {n} training rows drawn with seed {seed}"
    return ds, note


def select_points(points_cfg: dict, n_test: int, seed: int) -> list[int]:
    """Test-set positions to attack: random (seeded), the first n, or listed indices."""
    sel = points_cfg["select"]
    if sel == "indices":
        idx = list(points_cfg["indices"])
        bad = [i for i in idx if i >= n_test]
        if bad:
            raise ValueError(f"points.indices {bad} are outside the test set (n = {n_test})")
        return idx
    n = min(points_cfg["n"], n_test)
    if sel == "first":
        return list(range(n))
    return sorted(int(i) for i in np.random.default_rng(seed).choice(n_test, size=n, replace=False))
