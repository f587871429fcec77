"""Where data lives and where prepared arrays are cached.

data_home(): the argument, else $SCD_DATA_HOME, else ~/.cache/scd-plugins (XDG_CACHE_HOME respected).
Prepared arrays go to <data_home>/prepared/<name>-<key>.npz (loaded with allow_pickle=False) with a
JSON sidecar <name>-<key>.json: the npz's SHA-256, array shapes and dtypes, and the provenance record. A
cache that fails any check (truncated, emptied, a byte flipped, arrays edited) is rebuilt, with a warning.
The key is a hash of the loader parameters, so a change of classes, seed or source gives a new file
instead of a stale one.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np


def data_home(data_dir: str | os.PathLike | None = None) -> Path:
    """The root for raw data and caches: `data_dir`, else $SCD_DATA_HOME, else the per-user cache dir."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("SCD_DATA_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "scd-plugins"


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Directory of prepared npz arrays: the argument, else <data_home()>/prepared."""
    return Path(cache_dir).expanduser() if cache_dir is not None else data_home() / "prepared"


def file_md5(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """md5 of a file, read in chunks (the checksum the official CIFAR-10 and PhysioNet lists use)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def cache_key(params: dict) -> str:
    """Stable short hash of JSON-able loader parameters."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:16]


def cache_path(name: str, params: dict, directory: str | os.PathLike | None = None) -> Path:
    return cache_dir(directory) / f"{name}-{cache_key(params)}.npz"


CACHE_FORMAT = "scd-plugins-prepared"
CACHE_VERSION = 1


class CacheWarning(UserWarning):
    """A prepared-data cache file was unreadable or did not match its checksum, and is rebuilt."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_arrays(path: Path, arrays: dict[str, np.ndarray], provenance: dict) -> None:
    """Write arrays (npz, no pickled objects) and a JSON sidecar holding the npz's SHA-256, the array
    shapes and dtypes and the provenance. Both files are written atomically and the sidecar last, so a
    crash, an edit or a truncation shows as a checksum mismatch and the cache is rebuilt."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for obj in arrays.values():
        if obj.dtype == object:
            raise TypeError("object arrays cannot be cached without pickle")
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    os.close(fd)
    meta = path.with_suffix(".json")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        sidecar = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "sha256": _sha256(Path(tmp)),
                   "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.str} for k, v in arrays.items()},
                   "provenance": provenance}
        text = json.dumps(sidecar, indent=2, sort_keys=True, default=str)
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fd, tmp_meta = tempfile.mkstemp(dir=path.parent, suffix=".json.tmp")
    os.close(fd)
    try:
        Path(tmp_meta).write_text(text)
        Path(tmp_meta).replace(meta)
    finally:
        Path(tmp_meta).unlink(missing_ok=True)


def check_cache(path: Path, expect: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, provenance) of a cache file, verified: sidecar of the right format, npz checksum, every
    array present with the recorded shape and dtype, and the arrays named in `expect` among them.
    Raises ValueError (or OSError) naming the file and the first problem found."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{meta_path} is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT or meta.get("version") != CACHE_VERSION:
        raise ValueError(f"{meta_path} is not a version-{CACHE_VERSION} {CACHE_FORMAT} sidecar")
    if not isinstance(meta.get("arrays"), dict) or not isinstance(meta.get("provenance"), dict):
        raise ValueError(f"{meta_path} lacks its array list or provenance")
    if _sha256(path) != meta.get("sha256"):
        raise ValueError(f"{path} does not match the checksum in {meta_path.name} (truncated or edited)")
    missing = [k for k in (*meta["arrays"], *expect) if k not in meta["arrays"]]
    if missing:
        raise ValueError(f"{path} lacks arrays {missing}")
    try:
        with np.load(path, allow_pickle=False) as z:
            if sorted(z.files) != sorted(meta["arrays"]):
                raise ValueError(f"{path} holds arrays {sorted(z.files)}, its sidecar lists {sorted(meta['arrays'])}")
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path} is not a readable npz ({err})") from None
    for k, spec in meta["arrays"].items():
        if list(arrays[k].shape) != spec.get("shape") or arrays[k].dtype.str != spec.get("dtype"):
            raise ValueError(f"{path}: array {k!r} is {arrays[k].dtype.str}{list(arrays[k].shape)}, "
                             f"the sidecar says {spec}")
    return arrays, meta["provenance"]


def load_arrays(path: Path, expect: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], dict] | None:
    """Return (arrays, provenance) from a cache file; None when it is missing, and None with a
    `CacheWarning` naming the problem when it is corrupt (the caller rebuilds and overwrites it)."""
    path = Path(path)
    if not (path.is_file() and path.with_suffix(".json").is_file()):
        return None
    try:
        return check_cache(path, expect)
    except (OSError, ValueError) as err:
        warnings.warn(f"rebuilding the prepared-data cache: {err}", CacheWarning, stacklevel=2)
        return None


@contextlib.contextmanager
def reading(path: str | os.PathLike):
    """Turn the errors a damaged (gzip) file raises while being read into a ValueError naming the file
    (gzip's own errors say neither which file nor what to do)."""
    try:
        yield
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ValueError(f"{path} is damaged or truncated ({type(err).__name__}: {err}); "
                         "re-download or re-create it") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err})") from None


def hf_reachable(timeout: float = 3.0) -> bool:
    """Whether a Hugging Face download is worth trying: not forced offline, and huggingface.co answers
    (a proxy in the environment is trusted without probing). Saves offline users a minute of retries."""
    if any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")):
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False
