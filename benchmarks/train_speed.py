"""Training and prediction speed at the paper's CIFAR-10 scale (N = 10000, d = 3072).

Prints a table and writes benchmarks/results/train_speed.json:
- seconds per SCD01 / SCDCE vote (1000 iterations) and per SCD01BNN / SCDCEBNN vote (10000
  iterations), single vote in one process (torch single-threaded, as in training) and, for SCD01,
  the throughput of a 2-process pool (wall seconds / votes);
- one scikit-learn MLP(20) fit on the same data and the ratio SCD01 vote / MLP fit;
- 100-vote predict_proba throughput on 3072-d queries (target: 1000 queries in <= 0.3 s);
- the same vote on CUDA when a GPU is present.

Data: synthetic pixels in [0, 1] from a few latent factors, labelled by a noisy linear rule on
the factors, so the problem is learnable.
    python benchmarks/train_speed.py [--bnn-iterations 10000] [--quick]
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


def cifar_like(n=10000, d=3072, latent=32, seed=0):
    """Pixels in [0, 1] driven by a few latent factors (as natural images are), labels from a noisy
    linear rule on the factors: learnable, about 90% at best."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, latent))
    X = 1 / (1 + np.exp(-(Z @ rng.standard_normal((latent, d))) / np.sqrt(latent)))
    y = (Z @ rng.standard_normal(latent) + 0.4 * np.sqrt(latent) * rng.standard_normal(n) > 0).astype(int)
    return X, y


def time_fit(estimator, X, y):
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def main(argv=None):
    import torch
    from sklearn.neural_network import MLPClassifier

    from scd_plugins import SCD01BNNClassifier, SCD01Classifier, SCDCEBNNClassifier, SCDCEClassifier

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--bnn-iterations", type=int, default=10000)
    parser.add_argument("--quick", action="store_true", help="100 / 1000 iterations (smoke run)")
    parser.add_argument("--out", default=str(RESULTS / "train_speed.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.iterations, args.bnn_iterations = 100, 1000

    X, y = cifar_like()
    rows = []

    def record(what, seconds, iterations=None, note=""):
        rows.append({"what": what, "seconds": round(seconds, 3), "iterations": iterations, "note": note})
        print(f"{what:<44} {seconds:>9.2f} s  {note}", flush=True)

    families = [("SCD01", SCD01Classifier, args.iterations), ("SCDCE", SCDCEClassifier, args.iterations),
                ("SCD01BNN", SCD01BNNClassifier, args.bnn_iterations),
                ("SCDCEBNN", SCDCEBNNClassifier, args.bnn_iterations)]
    vote = {}
    for name, cls, iterations in families:
        est = cls(n_votes=1, iterations=iterations, random_state=0, n_jobs=1, device="cpu")
        seconds = time_fit(est, X, y)
        vote[name] = est
        record(f"{name} vote, cpu, 1 process", seconds, iterations,
               f"train acc {est.score(X, y):.3f}")
    pool = SCD01Classifier(n_votes=4, iterations=args.iterations, random_state=0, n_jobs=2, device="cpu")
    seconds = time_fit(pool, X, y)
    record("SCD01 vote, cpu, 2-process pool (wall / 4 votes)", seconds / 4, args.iterations)
    if torch.cuda.is_available():
        for name, cls, iterations in families[:2]:
            est = cls(n_votes=1, iterations=iterations, random_state=0, device="cuda")
            record(f"{name} vote, cuda", time_fit(est, X, y), iterations, torch.cuda.get_device_name())

    mlp = MLPClassifier((20,), activation="logistic", solver="sgd", learning_rate_init=0.01, momentum=0.9,
                        max_iter=200, random_state=0)
    mlp_seconds = time_fit(mlp, X, y)
    record("sklearn MLP(20) fit, max_iter 200", mlp_seconds, None, f"train acc {mlp.score(X, y):.3f}")
    scd01 = next(r for r in rows if r["what"].startswith("SCD01 vote, cpu, 1"))["seconds"]
    record("ratio SCD01 vote / MLP fit", scd01 / mlp_seconds)

    ensemble = vote["SCD01"].sub_ensemble(np.arange(100) % vote["SCD01"].n_votes_)  # 100 votes' shapes
    queries = np.random.default_rng(1).random((1000, X.shape[1])).astype(np.float32)
    ensemble.predict_proba(queries[:10])
    start = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        ensemble.predict_proba(queries)
    per_call = (time.perf_counter() - start) / repeats
    record("100-vote predict_proba, 1000 queries", per_call, None, f"{1000 / per_call:,.0f} queries/s")

    targets = {"SCD01 vote, cpu (s)": (scd01, 10.0), "1000 queries, 100 votes (s)": (per_call, 0.3)}
    summary = {
        "hardware": {"machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
                     "torch": torch.__version__, "cuda": torch.cuda.is_available()},
        "data": {"n": X.shape[0], "d": X.shape[1], "kind": "latent-factor pixels in [0, 1], noisy linear labels"},
        "rows": rows,
        "targets": {k: {"measured": round(v, 3), "target": t, "met": v <= t} for k, (v, t) in targets.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary["targets"], indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
