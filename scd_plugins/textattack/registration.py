"""Teach TextAttack's command line our model names, their datasets and the offline recipe.

TextAttack looks names up in module-level dicts and builds objects in three classmethods; there is no
plug-in API. `patch_module` is called by the import hook (`_hook.py`) right after each of these modules
runs, and `register()` does the same by hand (used by `scd-textattack` and in tests):

- `textattack.model_args`: our names join `TEXTATTACK_MODELS` (so `textattack list models` and the
  `--model` help show them) and `ModelArgs._create_model_from_args` returns `SCDModelWrapper` for them;
  stock names go to the stock code unchanged.
- `textattack.dataset_args`: `DatasetArgs._create_dataset_from_args` gives our models their own test set
  (unless `--dataset-from-huggingface` / `--dataset-from-file` is given, which the stock code handles).
- `textattack.attack_args`: `textfooler-offline` joins `ATTACK_RECIPE_NAMES` (the CLI evaluates the
  value in that module's namespace, so the `scd_plugins` package is put there).

Each module is patched once (marked with `_scd_plugins_patched`).
"""
from __future__ import annotations

import sys

RECIPES = {"textfooler-offline": "scd_plugins.textattack.TextFoolerOffline"}
_MARK = "_scd_plugins_patched"


def _model_entries() -> dict[str, str]:
    from scd_plugins.textattack import named

    entries = {name: f"scd-plugins model store: {named.train_command(name)}" for name in named.canonical_names()}
    for name in named.stored_names():
        entries[name] = f"scd-plugins model store: {named.model_dir(name)}"
    return entries


def _is_ours(name, stock: dict) -> bool:
    from scd_plugins.textattack import named

    return isinstance(name, str) and name not in stock and named.is_named_model(name)


def _patch_model_args(module) -> None:
    stock = {**module.HUGGINGFACE_MODELS, **module.TEXTATTACK_MODELS}
    for name, description in _model_entries().items():
        if name not in stock:
            module.TEXTATTACK_MODELS[name] = description
    original = module.ModelArgs.__dict__["_create_model_from_args"].__func__

    def _create_model_from_args(cls, args):
        name = getattr(args, "model", None)
        if not getattr(args, "model_from_file", None) and not getattr(args, "model_from_huggingface", None) \
                and _is_ours(name, stock):
            from scd_plugins.textattack.named import load_wrapper

            return load_wrapper(name)
        return original(cls, args)

    _create_model_from_args.__doc__ = original.__doc__
    module.ModelArgs._create_model_from_args = classmethod(_create_model_from_args)


def _patch_dataset_args(module) -> None:
    stock = {**module.HUGGINGFACE_DATASET_BY_MODEL, **module.TEXTATTACK_DATASET_BY_MODEL}
    original = module.DatasetArgs.__dict__["_create_dataset_from_args"].__func__

    def _create_dataset_from_args(cls, args):
        name = getattr(args, "model", None) or getattr(args, "dataset_by_model", None)
        explicit = getattr(args, "dataset_from_huggingface", None) or getattr(args, "dataset_from_file", None)
        if not explicit and _is_ours(name, stock):
            from scd_plugins.textattack.named import named_dataset

            dataset = named_dataset(name, split=getattr(args, "dataset_split", None) or "test")
            if getattr(args, "filter_by_labels", None):
                dataset.filter_by_labels_(args.filter_by_labels)
            return dataset
        return original(cls, args)

    _create_dataset_from_args.__doc__ = original.__doc__
    module.DatasetArgs._create_dataset_from_args = classmethod(_create_dataset_from_args)


def _patch_attack_args(module) -> None:
    import scd_plugins.textattack  # noqa: F401  (makes `scd_plugins.textattack` an attribute of the package)

    module.ATTACK_RECIPE_NAMES.update(RECIPES)
    module.__dict__.setdefault("scd_plugins", sys.modules["scd_plugins"])


_PATCHERS = {
    "textattack.model_args": _patch_model_args,
    "textattack.dataset_args": _patch_dataset_args,
    "textattack.attack_args": _patch_attack_args,
}


def patch_module(fullname: str, module) -> None:
    """Patch one freshly loaded TextAttack module (idempotent)."""
    if fullname in _PATCHERS and not getattr(module, _MARK, False):
        _PATCHERS[fullname](module)
        setattr(module, _MARK, True)


def register() -> None:
    """Install the import hook and patch TextAttack, importing it if needed (the `.pth`-free path)."""
    from scd_plugins.textattack import _hook

    if "textattack" not in sys.modules:
        try:
            _hook.add_nltk_fallback()
        except ImportError:
            pass
    _hook.install()
    import textattack.attack_args  # noqa: F401  (loads all three modules)

    for name in _PATCHERS:
        patch_module(name, sys.modules[name])
