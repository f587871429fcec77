"""`scd-repro`: run the paper's recipes.

    scd-repro list
    scd-repro run quickstart                      # a packaged recipe by name
    scd-repro run recipes/t2_min_l2.toml --out runs/t2 --n-jobs 2 --backend loky

A wrong recipe or option is one line on stderr and exit code 2, before any data loads; units that fail
are listed in the report and give exit code 1.
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
                     help="joblib backend: loky (default), multiprocessing, threading, sequential, dask, ray")
    run.add_argument("--scheduler", default=None, help="dask scheduler address (backend dask)")
    run.add_argument("--models", default=None, help="model cache folder (default: $SCD_MODEL_HOME/repro)")
    run.add_argument("--max-units", type=int, default=None, help="stop after this many new units (smoke runs)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    sub.add_parser("list", help="list the packaged recipes")
    return p


def _list() -> int:
    from scd_plugins.repro.recipe import available_recipes, read_toml

    for name, path in available_recipes().items():
        r = read_toml(path)
        print(f"{name:24s} {r.get('id', '?'):11s} {r.get('paper', ''):16s} {r.get('protocol', 'min_l2'):14s} "
              f"{r.get('title', '')}")
    return 0


def main(argv=None) -> int:
    """Entry point: user errors are one line on stderr and status 2 (SCD_DEBUG=1: the traceback)."""
    from scd_plugins._cli_errors import run_main

    return run_main("scd-repro", _main, argv)


def _main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from scd_plugins.repro.errors import RecipeError, RunError

    try:
        if args.command == "list":
            return _list()
        from scd_plugins.repro.recipe import find_recipe, load_recipe
        from scd_plugins.repro.runner import run_recipe

        if args.max_units is not None and args.max_units < 1:
            raise RecipeError(f"--max-units must be >= 1, got {args.max_units}")
        recipe = load_recipe(args.recipe)
        logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                            format="%(levelname)s %(message)s")
        out = args.out or f"runs/{find_recipe(args.recipe).stem}"
        result = run_recipe(recipe, out, n_jobs=args.n_jobs, backend=args.backend, scheduler=args.scheduler,
                            models_dir=args.models, verbose=not args.quiet, max_units=args.max_units)
    except (RecipeError, RunError) as err:
        print(f"scd-repro: {err}", file=sys.stderr)
        return 2
    print(result["markdown"])
    print(f"report: {out}/report.md, {out}/results.csv, plots: {', '.join(result['plots']) or 'none'}")
    if result["failures"]:
        print(f"scd-repro: {len(result['failures'])} units failed; see {out}/report.md", file=sys.stderr)
        return 1
    return 0
