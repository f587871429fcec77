"""What one training iteration asks of a GPU, measured here on the CPU: `python benchmarks/device_traffic.py`.

A GPU is lent rarely, so the accelerator path is run on CPU tensors (`engine.host.accelerator_path()`,
the path tests/engine/test_device_path.py checks) and a TorchDispatchMode records every aten
operation of one iteration (CIFAR scale, N 10000, d 3072, after a few warm iterations):
- operations per iteration: each is a kernel launch on a GPU, whatever the group size;
- bytes read and written per vote-iteration: views are free; a gather counts its index and twice
  its output, not its whole source. Per vote this does not depend on the group size (188.5 MB for
  SCD01BNN in groups of 8 and of 100), so groups of --votes stand for the GPU's group of 100;
- the floor it implies for 100 votes (1000 iterations, BNN 10000) at --bandwidth bytes per second
  (default 4.8e12, an H200's peak): bytes / bandwidth, a lower bound, not a measurement;
- the source lines that move the most bytes.
Written to benchmarks/results/device_traffic.json. A few minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_speed import FAMILIES, RESULTS, cifar_like  # noqa: E402

VIEWS = {"view", "expand", "as_strided", "transpose", "slice", "select", "unsqueeze", "t", "permute", "_unsafe_view",
         "alias", "squeeze", "detach", "lift_fresh", "_reshape_alias", "unbind", "split", "split_with_sizes"}
GATHERS = {"gather", "index", "index_select", "take", "take_along_dim"}


def _bytes(x) -> int:
    if isinstance(x, torch.Tensor):
        return x.numel() * x.element_size()
    if isinstance(x, (list, tuple)):
        return sum(_bytes(v) for v in x)
    return 0


class Traffic(TorchDispatchMode):
    """Counts the aten operations run inside the block, the bytes they touch, and both by engine source line."""

    def __init__(self):
        super().__init__()
        self.ops, self.bytes, self.lines = 0, 0, {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.__name__.split(".")[0]
        if name in VIEWS:
            return out
        moved = 2 * _bytes(out) + _bytes(args[1:]) if name in GATHERS else _bytes(out) + _bytes(args)
        self.ops += 1
        self.bytes += moved
        frames = [f for f in traceback.extract_stack() if "scd_plugins" in f.filename]
        line = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "other"
        ops, total = self.lines.get(line, (0, 0))
        self.lines[line] = (ops + 1, total + moved)
        return out


def iteration_traffic(XT, y, family, votes, warm=3):
    from scd_plugins.engine.config import VoteConfig
    from scd_plugins.engine.group import GroupTrainer
    from scd_plugins.engine.host import accelerator_path

    loss, binary = FAMILIES[family]
    with accelerator_path():
        trainer = GroupTrainer(XT, y, VoteConfig(loss=loss, binary_weights=binary), list(range(votes)))
        trainer.start()
        for it in range(warm):
            trainer.iterate(it)
        traffic = Traffic()
        with traffic:
            trainer.iterate(warm)
    return traffic


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=8, help="votes per group (the bytes per vote do not depend on it)")
    parser.add_argument("--bandwidth", type=float, default=4.8e12, help="GPU memory bandwidth, bytes per second")
    parser.add_argument("--top", type=int, default=5, help="source lines listed per family")
    parser.add_argument("--out", default=str(RESULTS / "device_traffic.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    X, y = cifar_like()
    XT = torch.from_numpy(np.ascontiguousarray(X.T))
    yt = torch.from_numpy(y.astype(np.int64))
    rows = []
    print(f"accelerator path on the CPU, CIFAR scale, groups of {args.votes}; floor at {args.bandwidth:.2g} B/s")
    print(f"{'family':<9} {'ops / it':>8} {'MB / vote-it':>12} {'floor, 100 votes (s)':>21}")
    for family, (_, binary) in FAMILIES.items():
        start = time.perf_counter()
        traffic = iteration_traffic(XT, yt, family, args.votes)
        iterations = 10000 if binary else 1000
        per_vote = traffic.bytes / args.votes
        floor = 100 * per_vote * iterations / args.bandwidth
        lines = sorted(traffic.lines.items(), key=lambda kv: -kv[1][1])[:args.top]
        rows.append({"family": family, "ops_per_iteration": traffic.ops, "mb_per_vote_iteration": round(per_vote / 1e6, 1),
                     "iterations": iterations, "floor_s_100_votes": round(floor, 2),
                     "heaviest_lines": [{"line": k, "ops": o, "share": round(b / traffic.bytes, 3)} for k, (o, b) in lines],
                     "seconds_to_measure": round(time.perf_counter() - start, 1)})
        print(f"{family:<9} {traffic.ops:>8} {per_vote / 1e6:>12.1f} {floor:>21.1f}   "
              + ", ".join(f"{k} {b / traffic.bytes:.0%}" for k, (_, b) in lines[:3]), flush=True)
    summary = {"command": "python benchmarks/device_traffic.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               "what": "one iteration of the accelerator path run on CPU tensors (engine.host.accelerator_path); "
                       "floor = 100 votes x iterations x bytes per vote-iteration / bandwidth: a lower bound, not "
                       "a GPU measurement",
               "votes_per_group": args.votes, "bandwidth_bytes_per_s": args.bandwidth, "families": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
