"""The one dataset record every loader returns."""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import _paths

_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass
class Dataset:
    """Train/test arrays plus what attacks and reports need to know about them.

    x_* are float32 (n, d): images flattened in HWC order, ECG beats, or document vectors; y_* are int64.
    `sample_shape` reshapes one row (e.g. (32, 32, 3)); `clip_values` is the box attacks must stay in.
    Text datasets also carry the raw documents and the featurizer that maps them to x.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sample_shape: tuple[int, ...]
    clip_values: tuple[float, float] | None
    class_names: tuple[str, ...]
    provenance: dict = field(default_factory=dict)
    texts_train: list[str] | None = None
    texts_test: list[str] | None = None
    featurizer: Any = None

    def __post_init__(self):
        self.sample_shape = tuple(int(s) for s in self.sample_shape)
        self.class_names = tuple(str(c) for c in self.class_names)
        d = int(np.prod(self.sample_shape))
        for split in ("train", "test"):
            x = np.ascontiguousarray(getattr(self, f"x_{split}"), dtype=np.float32)
            y = np.asarray(getattr(self, f"y_{split}"))
            if x.ndim != 2 or x.shape[1] != d:
                raise ValueError(f"{self.name}: x_{split} has shape {x.shape}; expected (n, {d}) for "
                                 f"sample_shape {self.sample_shape}")
            if y.shape != (x.shape[0],):
                raise ValueError(f"{self.name}: y_{split} has shape {y.shape}; expected ({x.shape[0]},)")
            if y.size and not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"{self.name}: y_{split} must hold integer labels, got {y.dtype}")
            if y.size and (y.min() < 0 or y.max() >= len(self.class_names)):
                raise ValueError(f"{self.name}: y_{split} has labels outside 0..{len(self.class_names) - 1}")
            if not np.isfinite(x).all():
                raise ValueError(f"{self.name}: x_{split} has NaN or infinite values")
            if self.clip_values is not None and x.size:
                lo, hi = self.clip_values
                if x.min() < lo - 1e-6 or x.max() > hi + 1e-6:
                    raise ValueError(f"{self.name}: x_{split} leaves clip_values {self.clip_values}")
            setattr(self, f"x_{split}", x)
            setattr(self, f"y_{split}", y.astype(np.int64))
            texts = getattr(self, f"texts_{split}")
            if texts is not None and len(texts) != x.shape[0]:
                raise ValueError(f"{self.name}: texts_{split} has {len(texts)} entries for {x.shape[0]} rows")

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={self.x_train.shape}, test={self.x_test.shape}, "
                f"sample_shape={self.sample_shape}, classes={self.class_names})")

    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        meta = {"name": self.name, "sample_shape": list(self.sample_shape),
                "clip_values": None if self.clip_values is None else list(self.clip_values),
                "class_names": list(self.class_names), "provenance": self.provenance}
        return {k: getattr(self, k) for k in _ARRAYS}, meta

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> "Dataset":
        clip = meta["clip_values"]
        return cls(name=meta["name"], sample_shape=tuple(meta["sample_shape"]),
                   clip_values=None if clip is None else tuple(clip), class_names=tuple(meta["class_names"]),
                   provenance=meta["provenance"], **{k: arrays[k] for k in _ARRAYS})


def cached_dataset(name: str, params: dict, build: Callable[[], Dataset], *, cache: bool = True,
                   cache_dir=None) -> Dataset:
    """Return the prepared dataset for (name, params) from the npz cache, building and storing it on a miss.

    A cache that fails its checks (see `_paths.check_cache`), was made for other parameters, or no longer
    passes `Dataset` validation is rebuilt with a `CacheWarning`; a cache that cannot be written (read-only
    or full disk) is skipped with a warning, so the prepared arrays are still returned.
    """
    if not cache:
        return build()
    path = _paths.cache_path(name, params, cache_dir)
    hit = _paths.load_arrays(path, expect=_ARRAYS)
    if hit is not None:
        try:
            arrays, meta = hit
            if meta.get("provenance", {}).get("params") != json.loads(json.dumps(params, default=str)):
                raise ValueError(f"{path} was prepared for other loader parameters")
            ds = Dataset._from_arrays(arrays, meta)
        except (KeyError, TypeError, ValueError) as err:
            warnings.warn(f"rebuilding the prepared-data cache: {path}: {err}", _paths.CacheWarning, stacklevel=2)
        else:
            ds.provenance = dict(ds.provenance, cache_file=str(path))
            return ds
    ds = build()
    ds.provenance = dict(ds.provenance, params=params)
    try:
        _paths.save_arrays(path, *ds._to_arrays())
    except OSError as err:
        warnings.warn(f"could not write the prepared-data cache {path} ({err}); continuing without it",
                      _paths.CacheWarning, stacklevel=2)
        return ds
    ds.provenance = dict(ds.provenance, cache_file=str(path))
    return ds


def binary_labels(labels: np.ndarray, classes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose label is one of `classes`, and the 0/1 label (0 for classes[0])."""
    keep = np.isin(labels, classes)
    return keep, (labels[keep] == classes[1]).astype(np.int64)


def parse_pair(classes, names: tuple[str, ...]) -> tuple[int, int]:
    """Two distinct class indices from ints or names (case-insensitive), e.g. (2, 4) or ("pullover", "coat")."""
    classes = _two(classes)
    lower = [n.lower() for n in names]
    out = []
    for c in classes:
        if isinstance(c, str) and not c.lstrip("-").isdigit():
            if c.lower() not in lower:
                raise ValueError(f"unknown class {c!r}; known: {list(names)}")
            out.append(lower.index(c.lower()))
        else:
            i = int(c)
            if not 0 <= i < len(names):
                raise ValueError(f"class index {i} outside 0..{len(names) - 1}")
            out.append(i)
    if out[0] == out[1]:
        raise ValueError(f"the two classes must differ, got {classes!r}")
    return out[0], out[1]


def _two(classes) -> list:
    """`classes` as a list of two entries ("a,b" strings are split), or a ValueError saying what was given."""
    if isinstance(classes, str):
        classes = [c.strip() for c in classes.split(",")]
    if isinstance(classes, (int, float, bytes)) or not hasattr(classes, "__iter__"):
        raise ValueError(f"need two classes, like (2, 4) or 'a,b'; got {classes!r}")
    classes = list(classes)
    if len(classes) != 2:
        raise ValueError(f"need exactly two classes, got {classes!r}")
    return classes


def parse_index_pair(classes, n_classes: int, dataset: str, names: tuple[str, ...] = ()) -> tuple[int, int]:
    """Two distinct class indices in 0..n_classes-1, from ints, digit strings or (when given) `names`,
    e.g. GTSRB's (3, 8); anything else is a ValueError saying what the dataset takes."""
    out = []
    for c in _two(classes):
        text = str(c).strip()
        if names and text in names:
            out.append(names.index(text))
            continue
        if isinstance(c, (bool, np.bool_)) or not (isinstance(c, (int, np.integer)) or text.lstrip("-").isdigit()):
            also = f" or one of its {len(names)} names" if names else ""
            raise ValueError(f"{dataset} classes are class indices 0..{n_classes - 1}{also}, e.g. "
                             f"{dataset}:0,1; got {c!r}")
        i = int(text)
        if not 0 <= i < n_classes:
            raise ValueError(f"{dataset} class index {i} outside 0..{n_classes - 1}")
        out.append(i)
    if out[0] == out[1]:
        raise ValueError(f"the two {dataset} classes must differ, got {classes!r}")
    return out[0], out[1]
