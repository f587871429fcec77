"""Run `scd-repro run quickstart` from scratch (empty output and model folders) and record what it found and
what it cost: wall seconds, CPU seconds of the run and all its worker processes, the load average, and the
report's numbers per model and per point. Writes benchmarks/results/quickstart.json.

    python benchmarks/quickstart.py [--out runs/quickstart-bench] [--note "machine shared with ..."]

On a shared machine wall time is not the cost: CPU seconds / 2 estimates the run on 2 quiet cores.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/quickstart-bench", help="output folder (emptied first)")
    ap.add_argument("--note", default="", help="what else ran on the machine")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "quickstart.json"))
    args = ap.parse_args(argv)
    out, models = Path(args.out), Path(args.out + "-models")
    for d in (out, models):
        shutil.rmtree(d, ignore_errors=True)
    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "scd_plugins.repro", "run", "quickstart", "--out", str(out),
                           "--models", str(models), "--quiet"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_after = os.getloadavg()
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.loads((out / "summary.json").read_text())
    with sqlite3.connect(out / "fmnist-sample" / "results.sqlite") as con:
        recs = [json.loads(p) for (p,) in con.execute("SELECT payload FROM units ORDER BY rowid")]
    per_point = sorted(({k: r[k] for k in ("model", "point", "y", "label", "min_l2", "success", "queries", "seconds")}
                        | {"restarts_l2": [run["l2"] for run in r["runs"]]} for r in recs),
                       key=lambda r: (r["model"], r["point"]))
    doc = {"benchmark": "quickstart (scd-repro run quickstart, packaged settings, empty model cache)",
           "hardware": {"machine": platform.machine(), "cpus": os.cpu_count(), "note": args.note,
                        "load_average_before": [round(v, 2) for v in load_before],
                        "load_average_after": [round(v, 2) for v in load_after]},
           "wall_seconds_this_machine": round(wall, 1), "cpu_seconds": round(cpu, 1),
           "estimate_2_quiet_cores_seconds": round(cpu / 2, 1),
           "findings": summary["findings"], "models": summary["data"][0]["models"],
           "notes": [n for n in (summary["data"][0].get("note"),)],
           "rows": summary["rows"], "per_point": per_point}
    Path(args.json).write_text(json.dumps(doc, indent=1, default=str) + "\n")
    print(f"{'model':8s} {'members':>7s} {'acc %':>6s} {'mean min L2':>11s} {'fooled':>7s}")
    for r in summary["rows"]:
        print(f"{r['model']:8s} {r['members']:7d} {r['clean_accuracy_pct']:6.1f} {r['mean_min_l2']:11.3f} "
              f"{r['fooled']:>3d}/{r['points']:<3d}")
    for f in summary["findings"]:
        print("-", f)
    print(f"wall {wall:.0f} s on this machine (load {load_before[0]:.1f} -> {load_after[0]:.1f}); CPU {cpu:.0f} s "
          f"-> about {cpu / 2:.0f} s on 2 quiet cores; wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
