"""Model files: a directory with `model.safetensors` (arrays) and `model.json` (metadata).

Model files are data, not code: nothing is unpickled on load. The JSON names the estimator class
(looked up in `scd_plugins.registry.ESTIMATOR_CLASSES`), its constructor parameters, classes, feature
count, library version, any caller metadata (`extra`), and the SHA-256 of the array file, so a
truncated or tampered file is refused with a clear error instead of producing a wrong model.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

FORMAT = "scd-plugins-model"
FORMAT_VERSION = 1
ARRAYS_FILE = "model.safetensors"
META_FILE = "model.json"


def data_home() -> Path:
    """Where scd-plugins keeps data and models: $SCD_DATA_HOME, else ~/.cache/scd-plugins."""
    env = os.environ.get("SCD_DATA_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "scd-plugins"


def model_home() -> Path:
    """The store of named models: $SCD_MODEL_HOME, else <data_home>/models."""
    env = os.environ.get("SCD_MODEL_HOME")
    return Path(env).expanduser() if env else data_home() / "models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_value(value):
    """JSON form of a constructor parameter (a RandomState instance cannot be stored: None)."""
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return None


def json_params(estimator) -> dict:
    """Constructor parameters in JSON form, for `_to_arrays` states and the metadata file."""
    return {k: _json_value(v) for k, v in estimator.get_params(deep=False).items()}


def encode_classes(classes) -> dict:
    classes = np.asarray(classes)
    return {"values": classes.tolist(), "dtype": classes.dtype.str}


def decode_classes(encoded: dict) -> np.ndarray:
    return np.asarray(encoded["values"], dtype=np.dtype(encoded["dtype"]))


class ModelFileError(ValueError):
    """A model file that is malformed, inconsistent or not what it claims to be (names file and field)."""


def expect_array(arrays: dict, name: str, *, dtype, shape: tuple | None = None, finite: bool = True,
                 low=None, high=None) -> np.ndarray:
    """The array `name` of a loaded model, checked before any use: present, of dtype kind `dtype`,
    of `shape` (None entries match any size), finite, and within [low, high] (index arrays).

    `_from_arrays` of every family calls this for each array it reads, so a crafted file is refused
    with a `ModelFileError` naming the array instead of reaching compiled code (tree walks, matmuls).
    """
    if name not in arrays:
        raise ModelFileError(f"array {name!r} is missing")
    value = arrays[name]
    want = np.dtype(dtype)
    if value.dtype.kind != want.kind:
        raise ModelFileError(f"array {name!r} has dtype {value.dtype}, expected {want}")
    if shape is not None and (value.ndim != len(shape) or
                              any(s is not None and s != v for s, v in zip(shape, value.shape))):
        raise ModelFileError(f"array {name!r} has shape {value.shape}, expected "
                             f"{tuple('any' if s is None else s for s in shape)}")
    if finite and value.dtype.kind == "f" and not np.isfinite(value).all():
        raise ModelFileError(f"array {name!r} holds NaN or infinite values")
    if value.size and low is not None and value.min() < low:
        raise ModelFileError(f"array {name!r} has values below {low} (min {value.min()})")
    if value.size and high is not None and value.max() > high:
        raise ModelFileError(f"array {name!r} has values above {high} (max {value.max()})")
    return value.astype(want, copy=False)


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save(estimator, path, extra: dict | None = None) -> Path:
    """Save a fitted estimator into the directory `path`.

    The estimator's class implements `_to_arrays() -> (arrays, state)` (a dict of NumPy arrays and a
    JSON-able state) and the classmethod `_from_arrays(arrays, state)` that rebuilds it.
    """
    from safetensors.numpy import save_file

    from scd_plugins._version import __version__
    from scd_plugins.registry import ESTIMATOR_CLASSES

    name = type(estimator).__name__
    if name not in ESTIMATOR_CLASSES:
        raise TypeError(f"{name} is not a registered estimator class; known: {sorted(ESTIMATOR_CLASSES)}")
    arrays, state = estimator._to_arrays()
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    _atomic_write(path / ARRAYS_FILE, lambda tmp: save_file(arrays, tmp))
    classes = np.asarray(estimator.classes_)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "class": name,
        "params": json_params(estimator),
        "classes": classes.tolist(),
        "n_features_in": int(estimator.n_features_in_),
        "state": state,
        "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.str} for k, v in arrays.items()},
        "sha256": _sha256(path / ARRAYS_FILE),
        "extra": extra or {},
    }
    text = json.dumps(meta, indent=2, sort_keys=True)
    _atomic_write(path / META_FILE, lambda tmp: Path(tmp).write_text(text))
    return path


def read_metadata(path) -> dict:
    """The JSON metadata of a saved model directory (no arrays are read)."""
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"no model at {Path(path)}: expected the metadata file {meta_path}")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{meta_path} is not valid model metadata JSON (truncated or edited?): {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path} is not an scd-plugins model file")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{meta_path} has format version {meta['format_version']}; this scd-plugins "
                         f"reads up to {FORMAT_VERSION}: upgrade scd-plugins")
    return meta


def load(path):
    """Load a model directory written by `save` (checksum verified, nothing unpickled)."""
    from safetensors.numpy import load_file

    from scd_plugins.registry import estimator_class

    path = Path(path)
    meta = read_metadata(path)
    arrays_path = path / ARRAYS_FILE
    if not arrays_path.is_file():
        raise FileNotFoundError(f"model at {path} is incomplete: missing {arrays_path}")
    if _sha256(arrays_path) != meta["sha256"]:
        raise ValueError(f"{arrays_path} does not match the checksum in {path / META_FILE}: "
                         "the file is truncated or was modified; re-train or re-copy the model")
    try:
        arrays = load_file(str(arrays_path))
    except Exception as err:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"cannot read {arrays_path}: {err}") from err
    for name, spec in meta["arrays"].items():
        if name not in arrays or list(arrays[name].shape) != spec["shape"]:
            raise ValueError(f"{arrays_path}: array {name!r} missing or of the wrong shape")
    return estimator_class(meta["class"])._from_arrays(arrays, meta["state"])
