"""`scd-repro`: run the paper's recipes.

    scd-repro list
    scd-repro run quickstart                      # a packaged recipe by name
    scd-repro run recipes/t2_min_l2.toml --out runs/t2 --n-jobs 2 --backend loky
"""
from __future__ import annotations

import argparse
import logging
import sys


def _parser():
    p = argparse.ArgumentParser(prog="scd-repro", description="Run scd-plugins experiment recipes (resumable).")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run or resume a recipe and write its report")
    run.add_argument("recipe", help="recipe file, or the name of a packaged recipe (see `scd-repro list`)")
    run.add_argument("--out", default=None, help="output folder (default: runs/<recipe file name>)")
    run.add_argument("--n-jobs", type=int, default=None, help="parallel units of work (default: the recipe's)")
    run.add_argument("--backend", default=None,
                     help="joblib backend: loky (default), threading, dask, ray, or any registered name")
    run.add_argument("--scheduler", default=None, help="dask scheduler address (backend dask)")
    run.add_argument("--models", default=None, help="model cache folder (default: $SCD_MODEL_HOME/repro)")
    run.add_argument("--max-units", type=int, default=None, help="stop after this many new units (smoke runs)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    sub.add_parser("list", help="list the packaged recipes")
    return p


def main(argv=None) -> int:
    """Entry point: user errors are one line on stderr and status 2 (SCD_DEBUG=1: the traceback)."""
    from scd_plugins.cli import run_main

    return run_main("scd-repro", _main, argv)


def _main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from scd_plugins.repro.recipe import DELEGATED, available_recipes, find_recipe, load_recipe, read_toml

    if args.command == "list":
        for name, path in available_recipes().items():
            r = read_toml(path)
            print(f"{name:22s} {r.get('id', '?'):10s} {r.get('paper', ''):15s} {r.get('title', '')}")
        return 0
    try:
        path = find_recipe(args.recipe)
        protocol = read_toml(path).get("protocol")
    except (FileNotFoundError, ValueError) as err:
        print(f"scd-repro: {err}", file=sys.stderr)
        return 2
    if protocol in DELEGATED:                       # e.g. T7 (TextFooler) has its own runner
        import importlib

        module, _, func = DELEGATED[protocol].partition(":")
        forwarded = [str(path)] + (["--out", args.out] if args.out else [])
        return getattr(importlib.import_module(module), func)(forwarded)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s")
    from scd_plugins.repro.runner import run_recipe

    try:
        recipe = load_recipe(args.recipe)
    except (FileNotFoundError, ValueError) as err:
        print(f"scd-repro: {err}", file=sys.stderr)
        return 2
    out = args.out or f"runs/{find_recipe(args.recipe).stem}"
    summary = run_recipe(recipe, out, n_jobs=args.n_jobs, backend=args.backend, scheduler=args.scheduler,
                         models_dir=args.models, verbose=not args.quiet, max_units=args.max_units)
    print(summary["markdown"])
    print(f"report: {out}/report.md, {out}/results.csv, plots: {', '.join(summary['plots']) or 'none'}")
    return 0
