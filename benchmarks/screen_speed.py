"""The float32 screen of the hidden move search against the float64 search it replaces, in one process.

    python benchmarks/screen_speed.py [--iterations 15] [--rounds 2] [--scale cifar|quickstart] [--out PATH]

Both paths give the same votes bit for bit (tests/engine/test_group.py); this measures what the screen
saves. Per family (SCD01, SCDCE) and group size (1, 8): CPU seconds per vote-iteration over iterations
1..m of a 1000-iteration vote (as train_speed.py times them), screen off and on alternating, the
minimum over --rounds rounds, and their ratio. CPU time and alternation make the ratio usable on a
loaded machine; absolute figures are only meaningful on a quiet one.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_speed import RESULTS, coded, dataset, loop_cost  # noqa: E402


def measure(X, y, codes, family, votes, iterations, screen):
    from scd_plugins.engine import search

    saved = search.SCREEN_MIN
    search.SCREEN_MIN = saved if screen else 1 << 62
    try:
        return loop_cost(X, y, family, votes, iterations, codes=codes)["s_per_vote_iteration"]
    finally:
        search.SCREEN_MIN = saved


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scale", default="cifar", choices=["cifar", "quickstart"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    real_clock = time.perf_counter
    time.perf_counter = time.process_time  # loop_cost's timer: CPU seconds of this process
    try:
        X, y = dataset(args.scale)
        codes = coded(X)
        best = {}
        for _ in range(args.rounds):
            for family in ("SCD01", "SCDCE"):
                for votes in (1, 8):
                    for screen in (False, True):
                        s = measure(X, y, codes, family, votes, args.iterations, screen)
                        key = (family, votes, screen)
                        best[key] = min(best.get(key, float("inf")), s)
    finally:
        time.perf_counter = real_clock
    rows = []
    print(f"{'family':8} {'group':>5} {'float64 ms':>11} {'screen ms':>10} {'ratio':>6}")
    for family in ("SCD01", "SCDCE"):
        for votes in (1, 8):
            a, b = best[(family, votes, False)], best[(family, votes, True)]
            rows.append({"family": family, "votes_per_group": votes, "float64_s_per_vote_iteration": a,
                         "screen_s_per_vote_iteration": b, "ratio": a / b})
            print(f"{family:8} {votes:5d} {1e3 * a:11.2f} {1e3 * b:10.2f} {a / b:6.2f}")
    out = Path(args.out) if args.out else RESULTS / f"screen_speed_{args.scale}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"scale": args.scale, "iterations": args.iterations, "rounds": args.rounds,
                               "clock": "process CPU time", "machine": platform.processor() or platform.machine(),
                               "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
