"""Model files: a directory with `model.safetensors` (arrays) and `model.json` (metadata).

Model files are data, not code: nothing is unpickled on load, and a file from anyone is checked
before any of it is used:

- integrity: `sha256` in the metadata covers the whole model, the canonical metadata JSON (every field
  but `sha256`) and then the array file, so a truncated, corrupted or edited file (swapped classes,
  another class name, changed parameters) is refused. It detects corruption and edits, not an attacker:
  whoever rewrites both files can recompute it.
- validation, which holds even for a file whose checksum was recomputed: the metadata fields have
  their types, the class is a registered estimator, the parameters pass the estimator's own
  `_parameter_constraints`, classes are what `np.unique` gives (sorted, distinct, at least two), the
  arrays have the recorded names, dtypes and shapes, and every family's `_from_arrays` reads each array
  through `expect_array` (dtype, shape against the metadata, finiteness, index ranges), so nothing
  unchecked reaches compiled code (tree walks, matmuls).
- every failure is one `ModelFileError` (a `ValueError`) naming the file and the field.

Saving replaces an existing model atomically as a pair: the new arrays go to a staging file that the
new metadata names, and only then is the canonical `model.safetensors` rewritten; at every instant the
directory holds a complete, valid model (the old one or the new one). Files respect the umask.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import time
from numbers import Integral
from pathlib import Path

import numpy as np

FORMAT = "scd-plugins-model"
FORMAT_VERSION = 2
ARRAYS_FILE = "model.safetensors"
META_FILE = "model.json"
_STAGING = re.compile(r"\.model-[0-9a-f]{16}\.safetensors")
_TEMPORARY = re.compile(r"\.(model\.json|model\.safetensors|\.model-[0-9a-f]{16}\.safetensors)\.[0-9a-f]{12}\.tmp")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CLASS_KINDS = "biufU"                      # label dtypes a model file may hold (never object)
_FIELDS = {"format", "format_version", "library_version", "class", "params", "classes", "n_features_in",
           "feature_names_in", "state", "arrays", "arrays_file", "sha256", "extra"}


def data_home() -> Path:
    """Where scd-plugins keeps data and models: $SCD_DATA_HOME, else ~/.cache/scd-plugins."""
    env = os.environ.get("SCD_DATA_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "scd-plugins"


def model_home() -> Path:
    """The store of named models: $SCD_MODEL_HOME, else <data_home>/models."""
    env = os.environ.get("SCD_MODEL_HOME")
    return Path(env).expanduser() if env else data_home() / "models"


class ModelFileError(ValueError):
    """A model file that is malformed, inconsistent or not what it claims to be (names file and field)."""


# ----- JSON forms -------------------------------------------------------------------------------------
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
    if classes.dtype == object and all(isinstance(c, str) for c in classes.tolist()):
        classes = classes.astype(str)       # string labels read by pandas are object arrays: store them as str
    return {"values": classes.tolist(), "dtype": classes.dtype.str}


def _check_classes(values, dtype: np.dtype, field: str) -> np.ndarray:
    """Class labels as `fit` leaves them: a flat list of at least two distinct scalars, in np.unique order."""
    if not isinstance(values, list) or not all(isinstance(v, (bool, int, float, str)) for v in values):
        raise ModelFileError(f"field {field!r} must be a list of scalar labels, got {values!r:.200}")
    try:
        classes = np.asarray(values, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as err:
        raise ModelFileError(f"field {field!r}: labels {values!r:.200} are not of dtype {dtype}: {err}") from err
    if classes.ndim != 1 or classes.tolist() != values:
        raise ModelFileError(f"field {field!r}: labels {values!r:.200} change when read as dtype {dtype}")
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise ModelFileError(f"field {field!r} holds a NaN or infinite class label")
    if len(classes) < 2:
        raise ModelFileError(f"field {field!r} holds {len(classes)} class(es); a classifier has at least 2")
    if not np.array_equal(np.unique(classes), classes):
        raise ModelFileError(f"field {field!r}: labels {values!r:.200} are not distinct and sorted "
                             "(np.unique order, as fit stores them): the labels were edited")
    return classes


def _label_dtype(text, field: str) -> np.dtype:
    try:
        dtype = np.dtype(text) if isinstance(text, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _CLASS_KINDS:
        raise ModelFileError(f"field {field!r}: {text!r:.100} is not a label dtype (bool, int, float, str)")
    return dtype


def decode_classes(encoded: dict) -> np.ndarray:
    """Class labels written by `encode_classes`, validated (a `ModelFileError` names what is wrong)."""
    if not isinstance(encoded, dict) or set(encoded) != {"values", "dtype"}:
        raise ModelFileError(f"field 'state.classes' must be {{'values': [...], 'dtype': ...}}, got {encoded!r:.200}")
    return _check_classes(encoded["values"], _label_dtype(encoded["dtype"], "state.classes.dtype"),
                          "state.classes.values")


# ----- arrays -----------------------------------------------------------------------------------------
def expect_array(arrays: dict, name: str, *, dtype, shape: tuple | None = None, finite: bool = True,
                 low=None, high=None) -> np.ndarray:
    """The array `name` of a loaded model, checked before any use: present, of dtype kind `dtype`,
    of `shape` (None entries match any size), finite, and within [low, high] (index arrays); the
    conversion to `dtype` is checked to be lossless.

    `_from_arrays` of every family calls this for each array it reads, so a crafted file is refused
    with a `ModelFileError` naming the array instead of reaching compiled code (tree walks, matmuls).
    """
    if name not in arrays:
        raise ModelFileError(f"array {name!r} is missing")
    value = arrays[name]
    want = np.dtype(dtype)
    if not isinstance(value, np.ndarray) or value.dtype.kind != want.kind:
        raise ModelFileError(f"array {name!r} has dtype {getattr(value, 'dtype', type(value).__name__)}, "
                             f"expected {want}")
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
    if want.kind in "iu" and value.size and (value.min() < np.iinfo(want).min or value.max() > np.iinfo(want).max):
        raise ModelFileError(f"array {name!r} has values outside the range of {want}")
    out = value.astype(want, copy=False)
    if finite and want.kind == "f" and not np.isfinite(out).all():
        raise ModelFileError(f"array {name!r} overflows {want}")
    return out


class _ReadArrays(dict):
    """The loaded arrays, remembering which ones the family's `_from_arrays` read."""

    def __init__(self, arrays):
        super().__init__(arrays)
        self.read = set()

    def __getitem__(self, name):
        if not dict.__contains__(self, name):
            raise ModelFileError(f"array {name!r} is missing")
        self.read.add(name)
        return dict.__getitem__(self, name)

    def get(self, name, default=None):
        return self[name] if name in self else default

    def items(self):
        self.read.update(self.keys())
        return super().items()

    def values(self):
        self.read.update(self.keys())
        return super().values()

    def keys(self):
        self.read.update(super().keys())
        return super().keys()

    def __iter__(self):
        self.read.update(super().keys())
        return super().__iter__()


# ----- checksum and writing ---------------------------------------------------------------------------
def _canonical(meta: dict) -> bytes:
    body = {k: v for k, v in meta.items() if k != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _digest(meta: dict, blob: bytes) -> str:
    """SHA-256 of the canonical metadata JSON (all fields but sha256), a newline, then the array file."""
    return hashlib.sha256(_canonical(meta) + b"\n" + blob).hexdigest()


def _write(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temporary file, fsync, rename), mode 0666 less the umask."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _meta_text(meta: dict) -> bytes:
    return (json.dumps(meta, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def save(estimator, path, extra: dict | None = None) -> Path:
    """Save a fitted estimator into the directory `path` (replacing a model there atomically).

    The estimator's class implements `_to_arrays() -> (arrays, state)` (a dict of NumPy arrays and a
    JSON-able state) and the classmethod `_from_arrays(arrays, state)` that rebuilds it. Everything is
    serialised before the directory is touched, so a failure (a non-JSON `extra`) leaves it as it was.
    """
    from safetensors.numpy import save as to_bytes

    from scd_plugins._version import __version__
    from scd_plugins.registry import ESTIMATOR_CLASSES

    name = type(estimator).__name__
    if name not in ESTIMATOR_CLASSES:
        raise TypeError(f"{name} is not a registered estimator class; known: {sorted(ESTIMATOR_CLASSES)}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict of JSON values, got {type(extra).__name__}")
    arrays, state = estimator._to_arrays()
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    blob = to_bytes(arrays)
    names = getattr(estimator, "feature_names_in_", None)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "class": name,
        "params": json_params(estimator),
        "classes": np.asarray(estimator.classes_).tolist(),
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": None if names is None else [str(n) for n in names],
        "state": state,
        "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.str} for k, v in arrays.items()},
        "arrays_file": ARRAYS_FILE,
        "extra": {} if extra is None else extra,
    }
    try:
        meta["sha256"] = _digest(meta, blob)
        final = _meta_text(meta)
    except (TypeError, ValueError, RecursionError) as err:
        raise TypeError(f"cannot save {name}: the metadata (extra or state) is not plain JSON: {err}") from err
    staging = f".model-{hashlib.sha256(blob).hexdigest()[:16]}.safetensors"
    staged = dict(meta, arrays_file=staging)
    staged["sha256"] = _digest(staged, blob)
    staged_text = _meta_text(staged)

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if (path / META_FILE).exists():
        # The old model stays valid until the metadata naming the staged arrays replaces its metadata.
        _write(path / staging, blob)
        try:
            _write(path / META_FILE, staged_text)
        except BaseException:
            (path / staging).unlink(missing_ok=True)
            raise
    _write(path / ARRAYS_FILE, blob)
    _write(path / META_FILE, final)
    _clean(path)
    return path


def _clean(path: Path) -> None:
    """Remove staging files no model.json names and temporary files of saves killed long ago (a save
    running concurrently keeps its own)."""
    try:
        named = json.loads((path / META_FILE).read_text()).get("arrays_file")
    except (OSError, ValueError, AttributeError):
        return
    now = time.time()
    for leftover in path.iterdir():
        try:
            if (_STAGING.fullmatch(leftover.name) and leftover.name != named) or \
                    (_TEMPORARY.fullmatch(leftover.name) and now - leftover.stat().st_mtime > 600):
                leftover.unlink(missing_ok=True)
        except OSError:
            pass


# ----- reading ----------------------------------------------------------------------------------------
def _no_constants(name):
    raise ValueError(f"{name} is not allowed in model metadata")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a float")
    return value


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_integral(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _check_fields(meta: dict) -> None:
    """Types of the top-level fields (values are checked against the estimator in `load`)."""
    unknown = set(meta) - _FIELDS
    if unknown:
        raise ModelFileError(f"unknown field(s) {sorted(unknown)}")
    required = _FIELDS - {"feature_names_in", "arrays_file"} if meta["format_version"] == 1 else _FIELDS
    missing = required - set(meta)
    if missing:
        raise ModelFileError(f"field(s) {sorted(missing)} missing")
    for field, kind in (("library_version", str), ("class", str), ("params", dict), ("classes", list),
                        ("state", dict), ("arrays", dict), ("extra", dict), ("sha256", str)):
        if not isinstance(meta[field], kind):
            raise ModelFileError(f"field {field!r} must be a {kind.__name__}, got {type(meta[field]).__name__}")
    if not _SHA256.fullmatch(meta["sha256"]):
        raise ModelFileError("field 'sha256' is not a SHA-256 hex digest")
    if not _is_int(meta["n_features_in"]) or not 1 <= meta["n_features_in"] < 2 ** 31:
        raise ModelFileError(f"field 'n_features_in' must be a positive integer below 2**31, "
                             f"got {meta['n_features_in']!r:.100}")
    names = meta.get("feature_names_in")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) \
                or len(set(names)) != len(names) or len(names) != meta["n_features_in"]:
            raise ModelFileError(f"field 'feature_names_in' must be null or {meta['n_features_in']} distinct "
                                 "strings (one per feature)")
    arrays_file = meta.get("arrays_file", ARRAYS_FILE)
    if not isinstance(arrays_file, str) or not (arrays_file == ARRAYS_FILE or _STAGING.fullmatch(arrays_file)):
        raise ModelFileError(f"field 'arrays_file' must be {ARRAYS_FILE!r} (or a staging name), got {arrays_file!r:.100}")
    for key, spec in meta["arrays"].items():
        if not isinstance(spec, dict) or set(spec) != {"shape", "dtype"} or not isinstance(spec["shape"], list) \
                or not all(_is_int(s) and s >= 0 for s in spec["shape"]) or not isinstance(spec["dtype"], str):
            raise ModelFileError(f"field 'arrays.{key}' must be {{'shape': [sizes], 'dtype': str}}, got {spec!r:.200}")


def read_metadata(path) -> dict:
    """The JSON metadata of a saved model directory, field types checked (no arrays are read; the
    checksum is verified by `load`)."""
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"no model at {Path(path)}: expected the metadata file {meta_path}")
    try:
        meta = json.loads(meta_path.read_bytes().decode("utf-8"), object_pairs_hook=_unique_keys,
                          parse_constant=_no_constants, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:  # JSONDecodeError is a ValueError
        what = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise ModelFileError(f"{meta_path} is not valid model metadata JSON (truncated or edited?): {what}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{meta_path} is not an scd-plugins model file (field 'format')")
    version = meta.get("format_version")
    if not _is_int(version) or version < 1:
        raise ModelFileError(f"{meta_path}: field 'format_version' must be a positive integer, got {version!r:.100}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{meta_path} has format version {version}; this scd-plugins reads up to "
                             f"{FORMAT_VERSION}: upgrade scd-plugins")
    try:
        _check_fields(meta)
    except ModelFileError as err:
        raise ModelFileError(f"{meta_path}: {err}") from None
    return meta


def _parameters(cls, params: dict):
    """An unfitted `cls(**params)` whose parameters pass the class's own constraints."""
    from sklearn import config_context

    expected = set(cls().get_params(deep=False))
    if set(params) != expected:
        raise ModelFileError(f"field 'params' must hold exactly the parameters of {cls.__name__} "
                             f"{sorted(expected)}; missing {sorted(expected - set(params))}, "
                             f"unknown {sorted(set(params) - expected)}")
    try:
        est = cls(**params)
        with config_context(skip_parameter_validation=False):
            est._validate_params()
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"field 'params': {err}") from None
    return est


def _meta_classes(meta: dict) -> np.ndarray:
    """Field 'classes', in the label dtype the state records (families store `encode_classes`)."""
    encoded = meta["state"].get("classes")
    if isinstance(encoded, dict):
        dtype = _label_dtype(encoded.get("dtype"), "state.classes.dtype")
    else:
        values = meta["classes"]
        if not isinstance(values, list) or not all(isinstance(v, (bool, int, float, str)) for v in values):
            raise ModelFileError(f"field 'classes' must be a list of scalar labels, got {values!r:.200}")
        dtype = np.asarray(values).dtype
    return _check_classes(meta["classes"], dtype, "classes")


def _check_state(state: dict, meta: dict, classes: np.ndarray) -> None:
    """The state's copies of params, classes and feature count (the families' common layout) agree
    with the metadata's."""
    params = state.get("params")
    if isinstance(params, dict) and any(k in meta["params"] and v != meta["params"][k] for k, v in params.items()):
        raise ModelFileError("field 'state.params' differs from field 'params'")
    if "n_features_in" in state and (not _is_int(state["n_features_in"])
                                     or state["n_features_in"] != meta["n_features_in"]):
        raise ModelFileError("field 'state.n_features_in' differs from field 'n_features_in'")
    if "classes" in state:
        decoded = decode_classes(state["classes"])
        if not np.array_equal(decoded, classes):
            raise ModelFileError("field 'state.classes' differs from field 'classes'")


def _check_loaded(est, cls, meta: dict, classes: np.ndarray) -> None:
    """What `_from_arrays` built is a fitted `cls` that says what the metadata says."""
    if type(est) is not cls:
        raise ModelFileError(f"{cls.__name__}._from_arrays built a {type(est).__name__}")
    got = np.asarray(getattr(est, "classes_", None))
    if got.shape != classes.shape or not np.array_equal(got, classes):
        raise ModelFileError("the rebuilt estimator's classes_ differ from field 'classes'")
    if not _is_integral(getattr(est, "n_features_in_", None)) or est.n_features_in_ != meta["n_features_in"]:
        raise ModelFileError("the rebuilt estimator's n_features_in_ differs from field 'n_features_in'")
    members = est.n_members_
    if not _is_integral(members) or members < 1:
        raise ModelFileError(f"the rebuilt estimator has {members!r} members")


def _stamp(meta_path: Path):
    try:
        st = meta_path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _read_verified(path: Path, tries: int = 5):
    """(metadata, arrays path, array bytes) of one consistent save, checksum verified.

    A save running at the same time replaces model.json between our two reads; then the pair read is
    not one model, and it is read again (a model.json unchanged across both reads is what was saved).
    """
    meta_path = path / META_FILE
    for attempt in range(tries):
        before = _stamp(meta_path)
        meta = read_metadata(path)
        arrays_path = path / meta.get("arrays_file", ARRAYS_FILE)
        blob = arrays_path.read_bytes() if arrays_path.is_file() else None   # hashed and parsed from these bytes
        if blob is not None:
            expected = meta["sha256"]
            actual = _digest(meta, blob) if meta["format_version"] >= 2 else hashlib.sha256(blob).hexdigest()
            if actual == expected:
                return meta, arrays_path, blob
        if _stamp(meta_path) == before or attempt == tries - 1:
            break
    if blob is None:
        raise ModelFileError(f"model at {path} is incomplete: {meta_path} names {arrays_path}, which is missing")
    raise ModelFileError(f"{path} does not match the checksum in {meta_path} (field 'sha256'): "
                         "the model is truncated or was modified; re-train or re-copy the model")


def load(path):
    """Load a model directory written by `save`: checksum verified, metadata and every array validated,
    nothing unpickled. Any defect raises one `ModelFileError` (a ValueError) naming file and field."""
    from safetensors.numpy import load as from_bytes

    from scd_plugins.registry import ESTIMATOR_CLASSES, estimator_class

    path = Path(path)
    meta_path = path / META_FILE
    meta, arrays_path, blob = _read_verified(path)
    if meta["class"] not in ESTIMATOR_CLASSES:
        raise ModelFileError(f"{meta_path}: field 'class' names {meta['class']!r:.100}, which is not a "
                             f"registered estimator; known: {sorted(ESTIMATOR_CLASSES)}")
    cls = estimator_class(meta["class"])
    try:
        _parameters(cls, meta["params"])
        classes = _meta_classes(meta)
        _check_state(meta["state"], meta, classes)
    except ModelFileError as err:
        raise ModelFileError(f"{meta_path}: {err}") from None
    try:
        arrays = from_bytes(blob)
    except Exception as err:  # safetensors raises its own error types for corrupt headers
        raise ModelFileError(f"cannot read {arrays_path}: {err}") from None
    recorded = {k: (tuple(s["shape"]), s["dtype"]) for k, s in meta["arrays"].items()}
    found = {k: (v.shape, v.dtype.str) for k, v in arrays.items()}
    if recorded != found:
        diff = sorted(k for k in set(recorded) | set(found) if recorded.get(k) != found.get(k))
        raise ModelFileError(f"{arrays_path}: arrays {diff[:5]} differ from field 'arrays' of {meta_path} "
                             "(names, shapes or dtypes)")
    arrays = _ReadArrays(arrays)
    try:
        est = cls._from_arrays(arrays, meta["state"])
        unread = sorted(set(dict.keys(arrays)) - arrays.read)
        if unread:
            raise ModelFileError(f"array(s) {unread[:5]} are not part of a {cls.__name__} model")
        _check_loaded(est, cls, meta, classes)
    except ModelFileError as err:
        raise ModelFileError(f"{path}: {err}") from None
    except KeyError as err:
        key = err.args[0] if err.args else "?"
        raise ModelFileError(f"{meta_path}: field 'state.{key}' is missing or malformed") from None
    except (TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError, RuntimeError,
            MemoryError) as err:
        raise ModelFileError(f"{path}: malformed {cls.__name__} model ({type(err).__name__}: {err})") from None
    if meta.get("feature_names_in") is not None:
        est.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
    return est
