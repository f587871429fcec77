"""The recipe runner behind `scd-repro`: recipes (TOML) -> models -> resumable units of work -> report.

One generic runner (`runner`), one module per protocol (`protocols`), the store, the report. Nothing in
the package imports `scd_plugins.repro`; importing it loads neither ART nor TextAttack.
"""
from scd_plugins.repro.errors import RecipeError, RunError
from scd_plugins.repro.recipe import available_recipes, find_recipe, load_recipe
from scd_plugins.repro.runner import run_recipe

__all__ = ["run_recipe", "load_recipe", "find_recipe", "available_recipes", "RecipeError", "RunError"]
