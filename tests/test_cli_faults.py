"""Fault corpus of the `scd` command: every bad input is one line `scd: error: ...` on stderr, exit status 2,
no traceback, and leaves the file system exactly as it was (nothing trained and half-saved, no model
written outside the model home, no model overwritten).

Each case builds its bad input inside the test's tmp_path, which also holds the model home and the data
home; the whole tree is snapshotted before the command and compared after it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scd_plugins.cli import main

COLUMNS = [f"f{i}" for i in range(30)]


@pytest.fixture(scope="module")
def base(tmp_path_factory, breast_cancer):
    """Good inputs: an .npz, a CSV, and an rf model trained on the CSV (so it knows its column names)."""
    Xtr, ytr, Xte, yte = breast_cancer
    root = tmp_path_factory.mktemp("base")
    np.savez(root / "good.npz", X_train=Xtr, y_train=ytr, X_test=Xte, y_test=yte)
    pd.DataFrame(Xtr, columns=COLUMNS).assign(label=ytr).to_csv(root / "good.csv", index=False)
    pd.DataFrame(Xte, columns=COLUMNS).to_csv(root / "query.csv", index=False)
    assert main(["train", "--model", "rf", "--data", str(root / "good.csv"), "--votes", "3",
                 "--out", str(root / "model")]) == 0
    return root


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in sorted(root.rglob("*"))}


# ----------------------------------------------------------------------------------------------- input builders
def npz(**arrays):
    def make(b, t):
        np.savez(t / "bad.npz", **arrays)
        return t / "bad.npz"
    return make


def raw(name: str, data: bytes):
    def make(b, t):
        (t / name).write_bytes(data)
        return t / name
    return make


def damaged(transform, name="bad.npz"):
    """The good .npz with `transform` applied to its bytes."""
    def make(b, t):
        (t / name).write_bytes(transform((b / "good.npz").read_bytes()))
        return t / name
    return make


def flip_middle(data: bytes) -> bytes:
    raw_ = bytearray(data)
    raw_[len(raw_) // 2] ^= 0xFF
    return bytes(raw_)


def csv_text(text: str, name="bad.csv"):
    return raw(name, text.encode("latin-1"))


def good(name):
    return lambda b, t: b / name


def model_copy(edit=None):
    """A copy of the trained model, optionally edited."""
    def make(b, t):
        shutil.copytree(b / "model", t / "m")
        if edit is not None:
            edit(t / "m")
        return t / "m"
    return make


def _drop_json(m):
    (m / "model.json").unlink()


def _truncate_json(m):
    (m / "model.json").write_text((m / "model.json").read_text()[:100])


def _flip_arrays(m):
    (m / "model.safetensors").write_bytes(flip_middle((m / "model.safetensors").read_bytes()))


def _drop_key(key):
    def edit(m):
        meta = json.loads((m / "model.json").read_text())
        del meta[key]
        (m / "model.json").write_text(json.dumps(meta))
    return edit


X = np.random.default_rng(0).random((20, 4))
Y = np.arange(20) % 2

# (id, data builder, extra argv, message regex)
TRAIN_DATA = [
    ("npz-missing", lambda b, t: t / "missing.npz", [], "does not exist"),
    ("npz-is-dir", lambda b, t: (t / "d.npz").mkdir() or t / "d.npz", [], "is not a file"),
    ("npz-truncated", damaged(lambda d: d[: len(d) // 2]), [], "not an .npz archive.*truncated"),
    ("npz-empty", raw("bad.npz", b""), [], "not an .npz archive"),
    ("npz-not-zip", raw("bad.npz", b"X_train,y_train\n1,2\n"), [], "not an .npz archive"),
    ("npz-is-npy", lambda b, t: (np.save(t / "bad.npy", X), (t / "bad.npy").rename(t / "bad.npz"))[1],
     [], "not an .npz archive.*np.save"),
    ("npz-byte-flipped", damaged(flip_middle), [], "damaged"),
    ("npz-object-array", npz(X_train=np.array([{}, {}], dtype=object), y_train=Y[:2]), [], "object arrays"),
    ("npz-no-y", npz(X_train=X), [], r"lacks arrays \['y_train'\]"),
    ("npz-x-test-only", npz(X_train=X, y_train=Y, X_test=X), [], "only one of X_test and y_test"),
    ("npz-length-mismatch", npz(X_train=X, y_train=Y[:7]), [], r"one label per row \(20,\)"),
    ("npz-1d", npz(X_train=X[:, 0], y_train=Y), [], r"\(n_samples, n_features\)"),
    ("npz-nan", npz(X_train=np.where(X > 0.9, np.nan, X), y_train=Y), [], "NaN"),
    ("npz-strings", npz(X_train=X.astype(str), y_train=Y), [], "must be numeric"),
    ("npz-no-rows", npz(X_train=X[:0], y_train=Y[:0]), [], "no rows"),
    ("npz-test-width", npz(X_train=X, y_train=Y, X_test=X[:, :3], y_test=Y), [], "X_test rows have shape"),
    ("npz-one-class", npz(X_train=X, y_train=np.zeros(20, int)), [], "hold one class only"),
    ("csv-one-class", csv_text("a,b,label\n1,2,x\n3,4,x\n"), [], r"hold one class only \(\['x'\]\)"),
    ("csv-empty", raw("bad.csv", b""), [], "is empty"),
    ("csv-header-only", csv_text("a,b,label\n"), [], "header but no data rows"),
    ("csv-no-label", csv_text("a,b\n1,2\n3,4\n"), [], "no label column 'label'"),
    ("csv-text-feature", csv_text("a,b,label\n1,x,0\n2,y,1\n"), [], r"non-numeric feature columns \['b'\]"),
    ("csv-missing-values", csv_text("a,b,label\n1,,0\n2,3,1\n"), [], r"missing values in columns \['b'\]"),
    ("csv-ragged", csv_text("a,b,label\n1,2,0\n1,2,3,4,5\n"), [], "not a well-formed CSV"),
    ("csv-latin1", csv_text("a,b,label\n1,2,caf\xe9\n"), [], "not UTF-8"),
    ("csv-label-gaps", csv_text("a,b,label\n1,2,\n3,4,1\n"), [], "label column 'label' has 1 empty"),
    ("csv-only-label", csv_text("label\n0\n1\n"), [], "no feature columns"),
    ("csv-infinite", csv_text("a,b,label\n1,inf,0\n3,4,1\n"), [], "infinite"),
    ("file-npy", lambda b, t: t / "data.npy", [], "unsupported data file"),
    ("file-txt-exists", raw("data.txt", b"1 2 3\n"), [], "unsupported data file"),
    ("file-directory", lambda b, t: t, [], "unsupported data file"),
    ("spec-gtsrb-names", lambda b, t: "gtsrb:a,b", [], r"gtsrb classes are class indices 0\.\.42"),
    ("spec-fmnist-one", lambda b, t: "fmnist:2", [], "exactly two classes"),
    ("spec-empty-arg", lambda b, t: "fmnist:", [], "empty argument"),
    ("spec-unknown", lambda b, t: "fmnisst:2,4", [], "did you mean 'fmnist'"),
    ("spec-vectors-for-images", lambda b, t: "fmnist:2,4", ["--vectors", "x"], "takes no option 'vectors'"),
    ("spec-args-for-text", lambda b, t: "mr:1,2", [], "takes no ':' arguments"),
]

# (id, model, extra argv, message regex); the data is the good .npz and the output a fresh directory
TRAIN_OPTIONS = [
    ("unknown-model", "scd02", [], "unknown model 'scd02'"),
    ("param-unknown", "mlp", ["--param", "max_iters=3"], "did you mean 'max_iter'"),
    ("param-no-equals", "mlp", ["--param", "max_iter"], "KEY=VALUE"),
    ("param-bad-value", "mlp", ["--param", "max_iter=0"], "'max_iter' parameter"),
    ("param-bad-type", "rf", ["--param", "min_samples_leaf=[1]"], "'min_samples_leaf' parameter"),
    ("param-twice", "scd01", ["--votes", "3", "--param", "n_votes=4"], "n_votes given twice"),
    ("votes-zero", "scd01", ["--votes", "0"], "'n_votes' parameter"),
    ("votes-negative-rf", "rf", ["--votes", "-2"], "'n_estimators' parameter"),
    ("scd-flag-for-rf", "rf", ["--hidden-nodes", "5"], "--hidden-nodes does not apply to model 'rf'"),
    ("device-tpu", "scd01", ["--device", "tpu"], "'device' parameter .* 'tpu'"),
    pytest.param(("device-cuda", "scd01", ["--device", "cuda"], "CUDA is not available"),
                 marks=pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CUDA is available here")),
    ("jobs-not-int", "scd01", ["--jobs", "x"], None),     # argparse: handled below
    ("jobs-zero", "mlp", ["--jobs", "0"], "n_jobs=0 means no workers"),
    ("test-size", "scd01", ["--test-size", "1.5"], r"--test-size must be in \[0, 1\)"),
    ("seed-bad", "mlp", ["--param", "random_state=-1"], "random_state"),
]

# (id, builder returning the --out/--name argv, message regex)
TRAIN_TARGETS = [
    ("out-is-file", lambda b, t: (t / "f").write_text("x") and ["--out", str(t / "f")], "is a file, not a directory"),
    ("out-under-file", lambda b, t: (t / "f").write_text("x") and ["--out", str(t / "f" / "m")], "is a file"),
    ("out-holds-model", lambda b, t: ["--out", str(model_copy()(b, t))], "already holds a model; add --overwrite"),
    ("name-dotdot", lambda b, t: ["--name", "../x"], "must be a plain name"),
    ("name-slash", lambda b, t: ["--name", "a/b"], "must be a plain name"),
    ("name-absolute", lambda b, t: ["--name", str(t / "abs")], "must be a plain name"),
    ("name-hidden", lambda b, t: ["--name", ".hidden"], "must be a plain name"),
    ("name-and-out", lambda b, t: ["--name", "a", "--out", str(t / "o")], "not both"),
    ("no-target", lambda b, t: [], "give --out DIR or --name NAME"),
    pytest.param(("out-read-only", lambda b, t: (t / "ro").mkdir() or os.chmod(t / "ro", 0o555)
                  or ["--out", str(t / "ro" / "m")], "Permission denied"),
                 marks=pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                                          reason="root may write anywhere")),
]

# (id, model builder, query builder, extra argv, message regex)
PREDICT = [
    ("model-missing", lambda b, t: t / "nope", good("query.csv"), [], "no model directory"),
    ("model-name-escapes", lambda b, t: "../model", good("query.csv"), [], "no model directory ../model$"),
    ("model-is-file", lambda b, t: b / "good.csv", good("query.csv"), [], "is a file; give the model directory"),
    ("model-without-json", model_copy(_drop_json), good("query.csv"), [], "expected the metadata file"),
    ("model-json-truncated", model_copy(_truncate_json), good("query.csv"), [], "not valid model metadata JSON"),
    ("model-arrays-flipped", model_copy(_flip_arrays), good("query.csv"), [], "does not match the checksum"),
    ("model-json-no-checksum", model_copy(_drop_key("sha256")), good("query.csv"), [],
     r"\['sha256'\] missing"),
    ("query-missing-column", model_copy(), csv_text(",".join(COLUMNS[1:]) + "\n" + ",".join(["0.5"] * 29) + "\n"),
     [], r"missing \['f0'\]"),
    ("query-unknown-column", model_copy(),
     csv_text(",".join(COLUMNS + ["junk"]) + "\n" + ",".join(["0.5"] * 31) + "\n"), [], r"unknown \['junk'\]"),
    ("query-header-only", model_copy(), csv_text(",".join(COLUMNS) + "\n"), [], "header but no data rows"),
    ("query-npz-width", model_copy(), npz(X=X), [], "has 4 feature columns; the model was trained on 30"),
    ("query-npz-no-x", model_copy(), npz(Z=X), [], "holds none of the arrays X, X_test, X_train"),
    ("query-npz-truncated", model_copy(), damaged(lambda d: d[:200]), [], "not an .npz archive"),
    ("predict-out-is-dir", model_copy(), good("query.csv"), ["--out", "{t}"], "is a directory"),
    ("predict-out-no-parent", model_copy(), good("query.csv"), ["--out", "{t}/no/such/p.csv"], "does not exist"),
]


def _ids(cases):
    return [c.values[0][0] if hasattr(c, "values") else c[0] for c in cases]


@pytest.fixture
def homes(tmp_path, monkeypatch):
    monkeypatch.setenv("SCD_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("SCD_MODEL_HOME", str(tmp_path / "models"))
    monkeypatch.delenv("SCD_DEBUG", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def _fails_cleanly(argv, message, root: Path, capsys):
    before = _tree(root)
    assert main([str(a) for a in argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scd: error: "), captured.err
    assert re.search(message, lines[0]), lines[0]
    assert "allow_pickle" not in lines[0] and "invalid literal" not in lines[0]
    assert _tree(root) == before, "a failing command changed the file system"


@pytest.mark.parametrize("case", TRAIN_DATA, ids=_ids(TRAIN_DATA))
def test_bad_training_data(case, base, homes, capsys):
    _, build, extra, message = case
    data = build(base, homes)
    argv = ["train", "--model", "scd01", "--data", data, "--votes", "2", "--iterations", "5",
            "--out", homes / "out", *extra]
    _fails_cleanly(argv, message, homes.parent, capsys)


@pytest.mark.parametrize("case", TRAIN_OPTIONS, ids=_ids(TRAIN_OPTIONS))
def test_bad_training_options(case, base, homes, capsys):
    name, model, extra, message = case
    argv = ["train", "--model", model, "--data", base / "good.npz", "--out", homes / "out", *extra]
    if message is None:                      # argparse's own type errors: its usage line, status 2
        with pytest.raises(SystemExit) as exit_:
            main([str(a) for a in argv])
        assert exit_.value.code == 2 and "invalid int value" in capsys.readouterr().err
        return
    _fails_cleanly(argv, message, homes.parent, capsys)


@pytest.mark.parametrize("case", TRAIN_TARGETS, ids=_ids(TRAIN_TARGETS))
def test_bad_training_targets(case, base, homes, capsys):
    _, build, message = case
    target = build(base, homes)
    argv = ["train", "--model", "rf", "--data", base / "good.npz", "--votes", "2", *target]
    try:
        _fails_cleanly(argv, message, homes.parent, capsys)
    finally:
        for p in homes.rglob("*"):
            p.chmod(0o755) if p.is_dir() else None


@pytest.mark.parametrize("case", PREDICT, ids=_ids(PREDICT))
def test_bad_prediction_inputs(case, base, homes, capsys):
    _, model, query, extra, message = case
    argv = ["predict", "--model", model(base, homes), "--data", query(base, homes),
            *[a.format(t=homes) for a in extra]]
    _fails_cleanly(argv, message, homes.parent, capsys)


def test_debug_shows_the_traceback(base, homes, monkeypatch):
    argv = ["train", "--model", "scd01", "--data", str(homes / "missing.npz"), "--out", str(homes / "o")]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        main(["--debug", *argv])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        main([*argv, "--debug"])
    monkeypatch.setenv("SCD_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(argv)


def test_other_commands_share_the_one_line_errors(homes, capsys):
    from scd_plugins.repro.cli import main as repro_main

    assert repro_main(["run", str(homes / "no-such-recipe.toml")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scd-repro")


def test_warnings_and_broken_pipes_stay_quiet_one_liners(capsys):
    import warnings

    from scd_plugins._cli_errors import run_main

    def warns(_):
        warnings.warn("rebuilding the prepared-data cache:\n  x.npz is truncated", UserWarning)
        return 0

    assert run_main("scd", warns) == 0
    assert capsys.readouterr().err == "scd: warning: rebuilding the prepared-data cache: x.npz is truncated\n"
    assert run_main("scd", lambda _: (_ for _ in ()).throw(ValueError("bad\nthing"))) == 2
    assert capsys.readouterr().err == "scd: error: bad thing\n"
    assert run_main("scd", lambda _: (_ for _ in ()).throw(KeyboardInterrupt())) == 130


def test_a_damaged_pipeline_cache_is_rebuilt_with_one_warning_line(homes, capsys):
    """End to end: `scd train --data fmnist:2,4` on a 200-image copy of the real files in the data home;
    the prepared cache is then truncated, and the next run rebuilds it and says so in one line."""
    import gzip

    from pipelines.images import DEBIAN_FASHION_MNIST, FASHION_MNIST_FILES, read_idx

    if not all((DEBIAN_FASHION_MNIST / f).is_file() for f in FASHION_MNIST_FILES):
        pytest.skip(f"needs Fashion-MNIST from the Debian package dataset-fashion-mnist in {DEBIAN_FASHION_MNIST}")
    folder = homes.parent / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in FASHION_MNIST_FILES:
        a = read_idx(DEBIAN_FASHION_MNIST / name)[:200]
        header = bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
        (folder / name).write_bytes(gzip.compress(header + a.tobytes(), compresslevel=1))
    argv = ["train", "--model", "rf", "--data", "fmnist:2,4", "--votes", "2"]
    assert main([*argv, "--out", str(homes / "a")]) == 0
    cache = next((homes.parent / "data" / "prepared").glob("fmnist-*.npz"))
    cache.write_bytes(cache.read_bytes()[:1000])
    capsys.readouterr()
    assert main([*argv, "--out", str(homes / "b")]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scd: warning: rebuilding the prepared-data cache")
    same = [json.loads((homes / m / "model.json").read_text())["extra"]["report"]["test_accuracy"] for m in "ab"]
    assert same[0] == same[1]
