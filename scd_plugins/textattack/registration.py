"""Teach TextAttack's command line our model names, their datasets and the offline recipe.

TextAttack looks names up in module-level dicts and builds objects in three classmethods; there is no
plug-in API. `patch_module` is called by the import hook (`_hook.py`) right after each of these modules
runs, and `_hook.register()` does the same by hand (used by `scd-textattack` and in tests):

- `textattack.model_args`: our names join `TEXTATTACK_MODELS` (so `textattack list models` and the
  `--model` help show them) and `ModelArgs._create_model_from_args` returns `SCDModelWrapper` for them,
  training a missing canonical model first (`named.train_named`); stock names go to the stock code.
- `textattack.dataset_args`: `DatasetArgs._create_dataset_from_args` gives our models their own test set
  (unless `--dataset-from-huggingface` / `--dataset-from-file` is given, which the stock code handles).
- `textattack.attack_args`: `textfooler-offline` joins `ATTACK_RECIPE_NAMES`, and the stock `textfooler`,
  when it cannot fetch its resources, stops with one line that names `textfooler-offline`. The CLI
  evaluates `<value>.build(model_wrapper)` in that module's namespace; our recipe classes import TextAttack,
  which is still initialising when this module is patched, so the namespace gets a `DeferredRecipe` that
  resolves the class through `scd_plugins.registry` only when the CLI builds the attack. (Importing the
  recipe module here broke TextAttack's initialisation; importing the package made an import cycle.)

Each module is patched once (marked with `_scd_plugins_patched`).
"""
from __future__ import annotations

import contextlib
import sys
import types

from scd_plugins import registry

#: Name of the object put into `textattack.attack_args`' namespace; recipe values are "<it>.<class name>".
NAMESPACE = "scd_plugins_recipes"
#: Our recipes by TextAttack name -> registry attack name.
REGISTRY_NAMES = {"textfooler-offline": "textfooler-offline"}
_MARK = "_scd_plugins_patched"


class DeferredRecipe:
    """Stands for a registered recipe class in `ATTACK_RECIPE_NAMES`; `build` resolves and builds it."""

    def __init__(self, registry_name: str):
        self.registry_name = registry_name

    def resolve(self):
        return registry.resolve("attack", self.registry_name)

    def build(self, model_wrapper, **kwargs):
        return self.resolve().build(model_wrapper, **kwargs)


def _class_name(registry_name: str) -> str:
    return registry.entry("attack", registry_name).class_name


#: What `textattack list attack-recipes` shows for our recipes, e.g. "scd_plugins_recipes.TextFoolerOffline".
RECIPES = {ta: f"{NAMESPACE}.{_class_name(reg)}" for ta, reg in REGISTRY_NAMES.items()}


@contextlib.contextmanager
def _one_line_errors():
    """A named model that cannot be loaded or trained is a command-line error: one line, exit status 2."""
    from scd_plugins.textattack.named import NamedModelError

    try:
        yield
    except NamedModelError as err:
        print(f"textattack: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def _model_entries() -> dict[str, str]:
    from scd_plugins.textattack import named

    entries = {name: named.describe(name) for name in named.canonical_names()}
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

            with _one_line_errors():
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

            with _one_line_errors():
                dataset = named_dataset(name, split=getattr(args, "dataset_split", None) or "test")
            if getattr(args, "filter_by_labels", None):
                dataset.filter_by_labels_(args.filter_by_labels)
            return dataset
        return original(cls, args)

    _create_dataset_from_args.__doc__ = original.__doc__
    module.DatasetArgs._create_dataset_from_args = classmethod(_create_dataset_from_args)


def _patch_attack_args(module) -> None:
    module.ATTACK_RECIPE_NAMES.update(RECIPES)
    module.__dict__.setdefault(NAMESPACE, types.SimpleNamespace(
        **{_class_name(reg): DeferredRecipe(reg) for reg in REGISTRY_NAMES.values()}))
    owner = module._CommandLineAttackArgs
    original = owner.__dict__["_create_attack_from_args"].__func__

    def _create_attack_from_args(cls, args, model_wrapper):
        recipe = str(getattr(args, "attack_recipe", None) or "").split("^")[0]
        if recipe not in NEEDS_DOWNLOADS:
            return original(cls, args, model_wrapper)
        try:
            attack = original(cls, args, model_wrapper)
            preflight(attack)
        except Exception as err:  # noqa: BLE001  (any failure to fetch or load a resource)
            print(offline_message(recipe, err), file=sys.stderr)
            raise SystemExit(2) from None
        return attack

    _create_attack_from_args.__doc__ = original.__doc__
    owner._create_attack_from_args = classmethod(_create_attack_from_args)


#: Stock recipes whose resources are downloaded at run time, and the offline recipe to use instead.
NEEDS_DOWNLOADS = {"textfooler": "textfooler-offline"}


def offline_message(recipe: str, err: BaseException) -> str:
    first = (str(err).strip().splitlines() or [""])[0][:200]
    return (f"textattack: error: recipe '{recipe}' could not get its downloaded resources (counter-fitted word "
            f"vectors, TF-Hub Universal Sentence Encoder + TensorFlow, NLTK POS tagger): {type(err).__name__}: "
            f"{first}. Offline, use --recipe {NEEDS_DOWNLOADS[recipe]} (same attack on resources installed "
            "from PyPI)")


def preflight(attack) -> None:
    """Load what the stock recipe would otherwise fetch in the middle of the first document: the TF-Hub
    sentence encoder and NLTK's tagger (the counter-fitted vectors are fetched while building)."""
    for constraint in attack.constraints:
        kind = type(constraint).__name__
        if kind == "UniversalSentenceEncoder":
            constraint.encode(["scd-plugins checks that the sentence encoder loads"])
        elif kind == "PartOfSpeech" and getattr(constraint, "tagger_type", None) == "nltk":
            import nltk

            nltk.pos_tag(["check"], tagset="universal")


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
