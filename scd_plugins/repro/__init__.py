"""The recipe runner behind `scd-repro`: recipes (TOML) -> models -> resumable units of work -> report.

Imports ART and the attack protocols when a recipe runs; `import scd_plugins` does not import it.
"""
from scd_plugins.repro.cli import main
from scd_plugins.repro.recipe import available_recipes, find_recipe, load_recipe
from scd_plugins.repro.runner import run_recipe

__all__ = ["main", "run_recipe", "load_recipe", "find_recipe", "available_recipes"]
