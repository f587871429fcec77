"""Training speed at the paper's CIFAR-10 scale (N = 10000, d = 3072), batched votes; one run, ratios.

Prints tables and writes benchmarks/results/train_speed.json (train_speed_cuda.json with --device cuda):
- the 100-vote SCD01 ensemble (1000 iterations) wall time on the chosen device (CPU: n_jobs
  processes), and its ratio to one 200-epoch scikit-learn MLP(20) fit on the same data
  (tol=0, n_iter_no_change=200: a fixed amount of work), measured in the same run;
- SCDCE / SCD01 and the BNN variants (10000 iterations) per 100 votes;
- the batched loop against the single-vote loop it replaced (`engine.vote`), same data, same process;
- how the cost grows: votes per group 1, 8, 32, 100; N 2500, 5000, 10000; d 784, 3072, each in a
  fresh process with its peak memory (CPU: peak RSS; CUDA: peak allocated).
Timings are seconds of wall time; `--quick` runs a twentieth of the iterations and 8 instead of 100
votes and says where a figure is projected from a shorter run (a few minutes on 2 quiet cores).

Data: synthetic pixels in [0, 1] from a few latent factors, labelled by a noisy linear rule on the
factors, so the problem is learnable.
    python benchmarks/train_speed.py [--quick] [--device cuda] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
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


def _group_cost(n, d, votes, iterations, device, loss="01", binary=False):
    """Seconds for `votes` votes trained as one group, beyond initialisation, and peak memory (MiB)."""
    import torch

    from scd_plugins.engine.config import VoteConfig
    from scd_plugins.engine.group import train_group

    X, y = cifar_like(n, d)
    XT = np.ascontiguousarray(X.T)
    seeds = list(range(votes))
    if device != "cpu":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    train_group(XT, y, VoteConfig(iterations=0, loss=loss, binary_weights=binary), seeds, device)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    train_group(XT, y, VoteConfig(iterations=iterations, loss=loss, binary_weights=binary), seeds, device)
    seconds = time.perf_counter() - start - setup
    if device != "cpu":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2 ** 20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "setup_seconds": setup, "peak_mib": peak}


def _in_fresh_process(fn, *args):
    """Run fn(*args) in a new process (so its peak memory is its own)."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def _old_vote(iterations):
    """Seconds per vote of the single-vote loop (engine.vote) beyond initialisation."""
    from scd_plugins.engine.config import VoteConfig
    from scd_plugins.engine.vote import train_vote

    X, y = cifar_like()
    XT = np.ascontiguousarray(X.T)
    XT32 = XT.astype(np.float32)
    start = time.perf_counter()
    train_vote(XT, y, VoteConfig(iterations=0), 0, XT32=XT32)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    train_vote(XT, y, VoteConfig(iterations=iterations), 0, XT32=XT32)
    return time.perf_counter() - start - setup


def main(argv=None):
    import torch
    from sklearn.neural_network import MLPClassifier

    from scd_plugins import SCD01BNNClassifier, SCD01Classifier, SCDCEBNNClassifier, SCDCEClassifier

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a twentieth of the iterations, 8 votes (projected)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--jobs", type=int, default=2, help="CPU processes for the ensembles")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    scale = 20 if args.quick else 1
    iterations, bnn_iterations, votes = 1000 // scale, 10000 // scale, 8 if args.quick else 100
    project = (100 / votes) * scale  # from the measured run to 100 votes at the paper's iterations
    out = Path(args.out) if args.out else RESULTS / ("train_speed.json" if device == "cpu" else "train_speed_cuda.json")
    X, y = cifar_like()
    rows = []

    def record(what, seconds, note=""):
        rows.append({"what": what, "seconds": round(seconds, 3), "note": note})
        print(f"{what:<62} {seconds:>9.2f} s  {note}", flush=True)

    def ensemble(cls, its):
        est = cls(n_votes=votes, iterations=its, random_state=0, n_jobs=args.jobs, device=device,
                  votes_per_group=None if device == "cpu" else votes)
        start = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - start, est

    how = "measured" if project == 1 else f"projected x{project:g} from {votes} votes x {iterations} it"
    wall, scd01 = ensemble(SCD01Classifier, iterations)
    record(f"SCD01 100 votes, {device}", wall * project, f"{how}; train acc {scd01.score(X, y):.3f}")
    wall_ce, ce = ensemble(SCDCEClassifier, iterations)
    record(f"SCDCE 100 votes, {device}", wall_ce * project, f"{how}; train acc {ce.score(X, y):.3f}")
    bnn = {}
    for name, cls in (("SCD01BNN", SCD01BNNClassifier), ("SCDCEBNN", SCDCEBNNClassifier)):
        est = cls(n_votes=max(2, votes // 4), iterations=bnn_iterations // 10, random_state=0, n_jobs=args.jobs,
                  device=device)
        start = time.perf_counter()
        est.fit(X, y)
        bnn[name] = (time.perf_counter() - start) * (100 / est.n_votes) * 10 * scale
        record(f"{name} 100 votes (10000 it), {device}", bnn[name],
               f"projected from {est.n_votes} votes x {bnn_iterations // 10} it")

    mlp = MLPClassifier((20,), activation="logistic", solver="sgd", learning_rate_init=0.01, momentum=0.9,
                        max_iter=200 // scale, tol=0, n_iter_no_change=200, random_state=0)
    start = time.perf_counter()
    mlp.fit(X, y)
    mlp_seconds = (time.perf_counter() - start) * scale
    record("sklearn MLP(20) fit, 200 epochs (one core)", mlp_seconds,
           ("measured" if scale == 1 else f"projected x{scale} from {200 // scale} epochs")
           + f"; train acc {mlp.score(X, y):.3f}")
    ratio = wall * project / mlp_seconds
    record("ratio SCD01 100 votes / MLP fit", ratio)
    record("ratio SCDCE / SCD01", wall_ce / wall)

    compare_its = 20 if args.quick else 50
    old = _in_fresh_process(_old_vote, compare_its)
    new = _in_fresh_process(_group_cost, 10000, 3072, 8, compare_its, "cpu")
    record("single-vote loop, seconds per vote-iteration (cpu)", old / compare_its)
    record("batched loop (group of 8), seconds per vote-iteration (cpu)", new["seconds"] / 8 / compare_its)
    record("ratio batched / single-vote loop (cpu)", new["seconds"] / 8 / old)

    scaling = []
    limits = {"cpu": {"SCD01 100 votes (s)": 60.0, "ratio to MLP fit": 5.0, "SCDCE / SCD01": 1.5,
                      "BNN 100 votes (s)": 600.0},
              "cuda": {"SCD01 100 votes (s)": 10.0}}[device]
    measured = {"SCD01 100 votes (s)": wall * project, "ratio to MLP fit": ratio, "SCDCE / SCD01": wall_ce / wall,
                "BNN 100 votes (s)": max(bnn.values())}

    def save(complete):
        """Write the JSON (after every scaling row, so a long run keeps what it measured)."""
        summary = {
            "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(), "torch": torch.__version__,
                         "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
                         "jobs": args.jobs, "load_average": os.getloadavg()},
            "data": {"n": X.shape[0], "d": X.shape[1], "kind": "latent-factor pixels in [0, 1], noisy linear labels"},
            "quick": args.quick, "complete": complete, "rows": rows, "scaling": scaling,
            "targets": {k: {"measured": round(measured[k], 3), "target": t, "met": measured[k] <= t}
                        for k, t in limits.items()},
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2))
        return summary

    save(False)
    table_its = 5 if args.quick else 20
    configs = [(10000, 3072, g) for g in (1, 8, 32, 100)] + [(2500, 3072, 8), (5000, 3072, 8), (10000, 784, 8)]
    print(f"\n{'N':>6} {'d':>5} {'votes':>6} {'ms / vote-it':>13} {'peak MiB':>9}")
    for n, d, g in configs:
        cost = _in_fresh_process(_group_cost, n, d, g, table_its, device)
        per = cost["seconds"] / g / table_its * 1e3
        scaling.append({"n": n, "d": d, "votes_per_group": g, "ms_per_vote_iteration": round(per, 3),
                        "setup_seconds": round(cost["setup_seconds"], 3), "peak_mib": round(cost["peak_mib"], 1)})
        print(f"{n:>6} {d:>5} {g:>6} {per:>13.2f} {cost['peak_mib']:>9.0f}", flush=True)
        save(False)
    print(json.dumps(save(True)["targets"], indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
