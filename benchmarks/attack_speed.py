"""Seconds for one HopSkipJump min-L2 measurement (10 restarts x 100 iterations, the paper's T2 setting)
of one test point against a 100-vote SCD01 ensemble, on 784-d and 3072-d inputs, and the share of that
time spent inside model predictions. Target: at most 2 minutes per point on 2 cores (the paper reports
several hours per point).

    python benchmarks/attack_speed.py                       # both sizes, writes benchmarks/results/attack_speed.json
    python benchmarks/attack_speed.py --dims 784 --restarts 2

Data: 784-d = Fashion-MNIST Pullover vs Coat (28x28x1); 3072-d = CIFAR-10 airplane vs automobile when it
is available locally, else the same Fashion-MNIST images zero-padded to 32x32 and repeated over 3 channels
(same pixel statistics, CIFAR's shape). The model's training time is not measured: the vote count (100)
and width (20) set the prediction cost, so the benchmark trains few SCD iterations on a subset.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def _data(dim, n_train, seed):
    from pipelines import load_dataset

    if dim == 3072:
        try:
            ds = load_dataset("cifar10:0,1", download=False)
            return ds.x_train[:n_train], ds.y_train[:n_train], ds.x_test, (32, 32, 3), "cifar10:0,1"
        except FileNotFoundError:
            pass
    ds = load_dataset("fmnist:2,4")
    x_tr, x_te = ds.x_train[:n_train], ds.x_test
    if dim == 784:
        return x_tr, ds.y_train[:n_train], x_te, (28, 28, 1), "fmnist:2,4"

    def to32(x):
        img = np.pad(x.reshape(-1, 28, 28, 1), ((0, 0), (2, 2), (2, 2), (0, 0)))
        return np.repeat(img, 3, axis=3).reshape(len(x), -1)

    return to32(x_tr), ds.y_train[:n_train], to32(x_te), (32, 32, 3), "fmnist:2,4 padded to 32x32x3"


class _Timed:
    """Wraps an estimator's predict_proba / predict to add up the seconds spent inside the model."""

    def __init__(self, est):
        self.est, self.seconds, self.calls = est, 0.0, 0
        for name in ("predict_proba", "predict"):
            setattr(est, name, self._wrap(getattr(est, name)))

    def _wrap(self, fn):
        def timed(X):
            t0 = time.perf_counter()
            try:
                return fn(X)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1
        return timed


def measure(dim, *, restarts, max_iter, n_votes, iterations, n_train, point, seed, n_jobs, blas_threads):
    from scd_plugins import SCD01Classifier
    from scd_plugins.attacks import min_l2_point

    x_tr, y_tr, x_te, shape, source = _data(dim, n_train, seed)
    t0 = time.perf_counter()
    est = SCD01Classifier(n_votes=n_votes, hidden_nodes=20, iterations=iterations, random_state=seed,
                          n_jobs=n_jobs).fit(x_tr, y_tr)
    train_s = time.perf_counter() - t0
    from threadpoolctl import threadpool_limits

    timer = _Timed(est)
    cpu0 = time.process_time()
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        res = min_l2_point(est, x_te[point], index=point, attack="hsj",
                           settings={"max_iter": max_iter, "max_eval": 10000, "init_eval": 100, "batch_size": 1024},
                           restarts=restarts, init="random", init_size=1000, seed=seed, input_shape=shape,
                           clip_values=(0.0, 1.0), init_pool=x_tr[:200])
    cpu_s = time.process_time() - cpu0          # CPU seconds of this process: less sensitive to a shared machine
    return {"dim": dim, "data": source, "n_votes": n_votes, "hidden_nodes": 20, "train_iterations": iterations,
            "train_rows": len(x_tr), "train_seconds": round(train_s, 2), "restarts": restarts, "max_iter": max_iter,
            "point": point, "blas_threads": blas_threads, "seconds_per_point": round(res.seconds, 2),
            "cpu_seconds_per_point": round(cpu_s, 2),
            "prediction_seconds": round(timer.seconds, 2),
            "prediction_share": round(timer.seconds / res.seconds, 3) if res.seconds else None,
            "model_calls": timer.calls, "queries": res.queries,
            "queries_per_second": round(res.queries / res.seconds) if res.seconds else None,
            "min_l2": res.min_l2, "success": res.success, "target_seconds": 120,
            "meets_target": res.seconds <= 120}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", type=int, nargs="+", default=[784, 3072], choices=[784, 3072])
    p.add_argument("--restarts", type=int, default=10)
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--n-votes", type=int, default=100)
    p.add_argument("--iterations", type=int, default=20, help="SCD training iterations (not timed)")
    p.add_argument("--train-rows", type=int, default=2000)
    p.add_argument("--point", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2, help="processes for training the votes")
    p.add_argument("--blas-threads", type=int, nargs="+", default=[1, 2],
                   help="BLAS threads during the attack, one row each (1: the recipe runner's default per "
                        "worker; 2: one point using both cores)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "attack_speed.json"))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    hardware = {"machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
                "python": platform.python_version()}
    print("| input | data | BLAS threads | s / point | CPU s / point | in predictions | queries | queries/s | min L2 "
          "| <= 120 s |")
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for d, threads in [(d, t) for d in args.dims for t in args.blas_threads]:  # each row saved when measured
        r = measure(d, restarts=args.restarts, max_iter=args.max_iter, n_votes=args.n_votes,
                    iterations=args.iterations, n_train=args.train_rows, point=args.point, seed=args.seed,
                    n_jobs=args.n_jobs, blas_threads=threads)
        rows.append(r)
        print(f"| {r['dim']} | {r['data']} | {r['blas_threads']} | {r['seconds_per_point']:.1f} | "
              f"{r['cpu_seconds_per_point']:.1f} | "
              f"{100 * r['prediction_share']:.0f}% | "
              f"{r['queries']} | {r['queries_per_second']} | {r['min_l2']:.3f} | {r['meets_target']} |", flush=True)
        out.write_text(json.dumps({"benchmark": "attack_speed", "results": rows, "hardware": hardware,
                                   "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
