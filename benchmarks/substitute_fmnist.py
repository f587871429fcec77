"""Figure 2 on the offline stand-in: the substitute-model black-box attack (Papernot et al. 2017) against SCD01
and the MLP baseline on Fashion-MNIST Pullover (2) vs Coat (4), 12000 train / 2000 test, pixels / 255.

The attacker's seed set is the first 200 test points, the other 1800 are attacked; the substitute is the
authors' MLP d -> 200 -> 200 -> 2 (d = 784 here), Adam 1e-4, 20 epochs per round, batch 128, lambda 0.1,
the set doubling up to 6400; FGSM at 0.0625, 0.03125, 0.015625 after every round, and the Gaussian control
of the same per-example L2. Writes benchmarks/results/substitute_fmnist.json (one entry per model: its
training settings, clean accuracy, seconds, and every (round, epsilon) record) and a PNG of the last
round's accuracy against distortion, with the "-GN" curves.

The paper uses 100-vote ensembles; on a 2-core machine the victims' sizes are options and the JSON records
what was run. Trained victims are kept as model files under --model-dir, so a rerun only attacks.
    python benchmarks/substitute_fmnist.py --votes 16 --mlp-members 8 --mlp-max-iter 50
    python benchmarks/substitute_fmnist.py --rounds 6 --models mlp          # fewer rounds, one model
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _mlp_class():
    try:                                    # the baselines are moving into scd_plugins.estimators
        from scd_plugins.estimators import MLPEnsembleClassifier
    except ImportError:
        from scd_plugins.baselines import MLPEnsembleClassifier
    return MLPEnsembleClassifier


def _victim(name, args, Xtr, ytr, model_dir):
    import scd_plugins.io as mio
    from scd_plugins import SCD01Classifier

    if name == "scd01":
        model = SCD01Classifier(n_votes=args.votes, iterations=args.iterations, random_state=0, n_jobs=args.jobs)
    elif name == "mlp":
        model = _mlp_class()(n_estimators=args.mlp_members, max_iter=args.mlp_max_iter, random_state=0,
                             n_jobs=args.jobs)
    else:
        raise SystemExit(f"unknown model {name!r}: choose from scd01, mlp")
    params = {k: v for k, v in model.get_params().items() if isinstance(v, (int, float, str)) and k != "n_jobs"}
    tag = "-".join(f"{k}{v}" for k, v in sorted(params.items())
                   if k in ("n_votes", "iterations", "n_estimators", "max_iter", "random_state"))
    path = Path(model_dir) / f"fmnist24-{name}-{tag}"
    if (path / mio.META_FILE).exists():
        print(f"{name}: loading {path}", flush=True)
        return mio.load(path), params, None
    start = time.perf_counter()
    model.fit(Xtr, ytr)
    seconds = time.perf_counter() - start
    mio.save(model, path)
    return model, params, round(seconds, 1)


def _plot(summary, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (name, entry) in enumerate(summary["models"].items()):
        recs = entry["records"]
        last = max(r["round"] for r in recs)
        final = sorted((r for r in recs if r["round"] == last), key=lambda r: r["distortion"])
        color = f"C{i}"
        ax.plot([0] + [r["distortion"] for r in final], [final[0]["clean_accuracy"]] + [r["accuracy"] for r in final],
                "o-", color=color, label=name.upper())
        ax.plot([0] + [r["noise_distortion"] for r in final],
                [final[0]["clean_accuracy"]] + [r["noise_accuracy"] for r in final], "s--", color=color,
                label=f"{name.upper()}-GN")
        big = max(r["epsilon"] for r in recs)
        per_round = sorted((r for r in recs if r["epsilon"] == big), key=lambda r: r["round"])
        ax2.plot([r["round"] for r in per_round], [r["accuracy"] for r in per_round], "o-", color=color,
                 label=f"{name.upper()} (eps {big:g})")
    ax.set_xlabel("distortion (mean L2 of the perturbation)")
    ax.set_ylabel("target accuracy")
    ax.set_title(f"substitute attack, round {last}: FGSM vs Gaussian noise")
    ax.set_ylim(0, 1)
    ax.legend()
    ax2.set_xlabel("substitute round")
    ax2.set_ylabel("target accuracy")
    ax2.set_ylim(0, 1)
    ax2.set_title("accuracy per augmentation round")
    ax2.legend()
    fig.suptitle("Fashion-MNIST 2 vs 4 (offline stand-in for CIFAR-10 0v1)")
    fig.tight_layout()
    fig.savefig(png, dpi=120)


def main(argv=None):
    from pipelines import load_dataset
    from scd_plugins.attacks import substitute_curve

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="scd01,mlp")
    parser.add_argument("--votes", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--mlp-members", type=int, default=8)
    parser.add_argument("--mlp-max-iter", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=1, help="processes for training the victims")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch threads for the substitute (more than the free cores slows it badly)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed-size", type=int, default=200)
    parser.add_argument("--model-dir", default=str(Path.home() / ".cache" / "scd-plugins" / "bench-models"))
    parser.add_argument("--out", default=str(RESULTS / "substitute_fmnist.json"))
    parser.add_argument("--resume", action="store_true", help="keep the models already in --out")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.torch_threads)
    out = Path(args.out)
    summary = json.loads(out.read_text()) if args.resume and out.exists() else {"models": {}}

    ds = load_dataset("fmnist:2,4")
    Xtr, ytr, Xte, yte = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    k = args.seed_size
    print(f"Fashion-MNIST 2 vs 4: {len(Xtr)} train / {len(Xte)} test, seed {k}, attacked {len(Xte) - k}", flush=True)
    settings = dict(input_shape=ds.sample_shape, clip_values=ds.clip_values, rounds=args.rounds, lmbda=0.1,
                    epochs=args.epochs, batch_size=128, learning_rate=1e-4, hidden=(200, 200), max_growth=3200,
                    epsilons=(0.0625, 0.03125, 0.015625), random_state=0)
    summary.update({"data": {"name": "fmnist:2,4", "train": len(Xtr), "test": len(Xte), "seed": k,
                             "attacked": len(Xte) - k},
                    "attack": {**settings, "input_shape": list(ds.sample_shape)},
                    "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(),
                                 "torch_threads": args.torch_threads}})
    for name in args.models.split(","):
        if name in summary["models"]:
            print(f"{name}: kept from {out}")
            continue
        model, params, fit_seconds = _victim(name, args, Xtr, ytr, args.model_dir)
        start = time.perf_counter()
        records = substitute_curve(model, Xte[:k], Xte[k:], yte[k:], verbose=True, **settings)
        seconds = time.perf_counter() - start
        summary["models"][name] = {"params": params, "fit_seconds": fit_seconds,
                                   "test_accuracy": float(model.score(Xte, yte)), "attack_seconds": round(seconds, 1),
                                   "records": records}
        print(f"{'model':<6} {'round':>5} {'eps':>8} {'L2':>7} {'acc':>6} {'GN acc':>7} {'size':>5} {'queries':>8}")
        for r in records:
            if r["round"] in (0, 5, args.rounds - 1) or r["round"] % 5 == 4:
                print(f"{name:<6} {r['round']:>5} {r['epsilon']:>8.5f} {r['distortion']:>7.3f} {r['accuracy']:>6.3f} "
                      f"{r['noise_accuracy']:>7.3f} {r['substitute_size']:>5} {r['queries']:>8}", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=2))
        tmp.replace(out)      # after every model: a killed run keeps what it finished (--resume goes on)
    _plot(summary, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
