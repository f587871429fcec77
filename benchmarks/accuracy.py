"""Accuracy on real data: Fashion-MNIST Pullover (2) vs Coat (4), 12000 train / 2000 test, pixels / 255.

Single-vote and ensemble test accuracy of the four SCD families beside a scikit-learn MLP(20)
ensemble (soft vote) and a random forest (100 trees, min_samples_leaf 10, max_features None), with
the seconds each took; writes benchmarks/results/accuracy.json. The paper's relation to reproduce:
SCD ensembles within about 3 points of the MLP (CIFAR-10: 87-88 vs 90).

The paper uses 100 votes; on a 2-core machine that takes hours, so `--votes` and the iteration
counts are options and the JSON records what was run.
    python benchmarks/accuracy.py --votes 100                  # the paper's setting
    python benchmarks/accuracy.py --votes 8 --bnn-iterations 2000
The JSON is rewritten after every family; `--resume` keeps its rows and runs only the others.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None):
    from pipelines import load_dataset
    from scd_plugins import SCD01BNNClassifier, SCD01Classifier, SCDCEBNNClassifier, SCDCEClassifier
    from scd_plugins.estimators import MLPEnsembleClassifier, RandomForestBaseline

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--bnn-iterations", type=int, default=10000)
    parser.add_argument("--mlp-members", type=int, default=None, help="MLP ensemble size (default: --votes)")
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--families", default="scd01,scdce,scd01bnn,scdcebnn,mlp,rf")
    parser.add_argument("--out", default=str(RESULTS / "accuracy.json"))
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows already in --out and skip the families they cover")
    args = parser.parse_args(argv)
    out = Path(args.out)
    kept = json.loads(out.read_text())["rows"] if args.resume and out.exists() else []

    ds = load_dataset("fmnist:2,4")
    Xtr, ytr, Xte, yte = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    print(f"Fashion-MNIST 2 vs 4: {len(Xtr)} train / {len(Xte)} test, d = {Xtr.shape[1]}", flush=True)
    models = {
        "scd01": SCD01Classifier(n_votes=args.votes, iterations=args.iterations),
        "scdce": SCDCEClassifier(n_votes=args.votes, iterations=args.iterations),
        "scd01bnn": SCD01BNNClassifier(n_votes=args.votes, iterations=args.bnn_iterations),
        "scdcebnn": SCDCEBNNClassifier(n_votes=args.votes, iterations=args.bnn_iterations),
        "mlp": MLPEnsembleClassifier(n_estimators=args.mlp_members or args.votes),
        "rf": RandomForestBaseline(n_estimators=100),
    }
    rows = list(kept)
    done = {row["model"] for row in kept}
    print(f"{'model':<10} {'single':>7} {'ensemble':>9} {'members':>8} {'seconds':>9}")
    for name in args.families.split(","):
        if name in done:
            print(f"{name:<10} (kept from {out})")
            continue
        model = models[name].set_params(random_state=0, n_jobs=args.jobs)
        start = time.perf_counter()
        model.fit(Xtr, ytr)
        seconds = time.perf_counter() - start
        single = model.sub_ensemble([0]).score(Xte, yte) if name != "rf" else None
        row = {"model": name, "single_vote_test_acc": single, "ensemble_test_acc": model.score(Xte, yte),
               "members": {"rf": 100, "mlp": args.mlp_members or args.votes}.get(name, args.votes),
               "seconds": round(seconds, 1),
               "params": {k: v for k, v in model.get_params().items() if isinstance(v, (int, float, str))}}
        rows.append(row)
        single_text = f"{single:.4f}" if single is not None else "-"
        print(f"{name:<10} {single_text:>7} {row['ensemble_test_acc']:>9.4f} {row['members']:>8} {seconds:>9.1f}",
              flush=True)
        summary = {"data": {"name": "fmnist:2,4", "train": len(Xtr), "test": len(Xte)},
                   "hardware": {"machine": platform.machine(), "cpus": os.cpu_count()}, "rows": rows}
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=2))
        tmp.replace(out)  # after every family: a killed run keeps what it finished (--resume goes on)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
