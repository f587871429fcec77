"""Where data lives and where prepared arrays are cached.

data_home(): the argument, else $SCD_DATA_HOME, else ~/.cache/scd-plugins (XDG_CACHE_HOME respected).
Prepared arrays go to <data_home>/prepared/<name>-<key>.npz (loaded with allow_pickle=False) with the
provenance record next to them as <name>-<key>.json. The key is a hash of the loader parameters, so a
change of classes, seed or source gives a new file instead of a stale one.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
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


def save_arrays(path: Path, arrays: dict[str, np.ndarray], provenance: dict) -> None:
    """Write arrays (npz, no pickled objects) and provenance (JSON) atomically: a crash leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for obj in arrays.values():
        if np.asarray(obj).dtype == object:
            raise TypeError("object arrays cannot be cached without pickle")
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    meta = path.with_suffix(".json")
    tmp_meta = meta.with_suffix(".json.tmp")
    tmp_meta.write_text(json.dumps(provenance, indent=2, sort_keys=True, default=str))
    tmp_meta.replace(meta)


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict] | None:
    """Return (arrays, provenance) from a cache file, or None when it is missing or unreadable."""
    path = Path(path)
    meta = path.with_suffix(".json")
    if not (path.is_file() and meta.is_file()):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return arrays, json.loads(meta.read_text())
    except (OSError, ValueError):
        return None


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
