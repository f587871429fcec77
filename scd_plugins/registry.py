"""The one table of what exists: models, attacks, datasets and recipe protocols, by name.

Every entry is a "module:attr" string with a little metadata; nothing is imported until `resolve` is
asked for it (RobustBench style), so this module sits below everything and imports nothing of the
package. A name that is registered but whose module is not in this version (a model another part of
the project adds later) resolves to `NotAvailable`, which callers report instead of crashing.

    resolve("model", "scd01")            -> SCD01Classifier
    entry("model", "bnn").meta["members"] -> 100
    names("protocol")                    -> ["accuracy", "beat_figure", ...]
    estimator_class("SCD01Classifier")   -> the class a model file names (io.load)
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    """A registered thing: `target` is "module:attr"; `meta` says what callers need to know about it."""

    kind: str
    name: str
    target: str
    meta: dict = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return self.target.partition(":")[2]


class NotAvailable(ImportError):
    """A registered name whose implementation is not importable in this installation."""


def _models():
    # input: what rows the model takes ("any": flat rows of any kind; "image": needs sample_shape (H, W, C);
    # "ecg": 1-D signals). members: the paper's ensemble size; members_param: the parameter that sets it.
    est = "scd_plugins.estimators"
    scd = {"input": "any", "members": 100, "members_param": "n_votes"}
    return [
        ("scd01", f"{est}:SCD01Classifier", scd),
        ("scdce", f"{est}:SCDCEClassifier", scd),
        ("scd01bnn", f"{est}:SCD01BNNClassifier", scd),
        ("scdcebnn", f"{est}:SCDCEBNNClassifier", scd),
        ("mlp", "scd_plugins.estimators:MLPEnsembleClassifier",
         {"input": "any", "members": 100, "members_param": "n_estimators"}),
        ("rf", "scd_plugins.estimators:RandomForestBaseline",
         {"input": "any", "members": 100, "members_param": "n_estimators"}),
        # Added by other parts of the project; reported as missing until their classes exist.
        ("bnn", f"{est}:BNNEnsembleClassifier", {"input": "any", "members": 100, "members_param": "n_estimators"}),
        ("lenet", f"{est}:LeNetEnsembleClassifier",
         {"input": "image", "members": 100, "members_param": "n_estimators"}),
        ("resnet50", f"{est}:ResNet50EnsembleClassifier",
         {"input": "image", "members": 10, "members_param": "n_estimators"}),
        ("cnn1d", f"{est}:CNN1DEnsembleClassifier", {"input": "ecg", "members": 10, "members_param": "n_estimators"}),
        ("wordcnn", f"{est}:WordCNNClassifier", {"input": "text", "members": 8, "members_param": "n_estimators"}),
    ]


def _attacks():
    # decision: sees predicted labels only. init: takes a seeded starting image (x_adv_init).
    return [
        ("hsj", "art.attacks.evasion:HopSkipJump", {"decision": True, "init": True, "aliases": ("hopskipjump",)}),
        ("boundary", "art.attacks.evasion:BoundaryAttack",
         {"decision": True, "init": True, "aliases": ("boundaryattack",)}),
        ("rays", "scd_plugins.attacks._rays:RayS", {"decision": True, "init": False, "aliases": ("ray_s",)}),
        ("substitute", "scd_plugins.attacks:substitute_curve", {"decision": True, "init": False}),
        ("textfooler", "textattack.attack_recipes:TextFoolerJin2019", {"decision": False, "text": True}),
        ("textfooler-offline", "scd_plugins.textattack.recipes:TextFoolerOffline", {"decision": False, "text": True}),
    ]


def _protocols():
    p = "scd_plugins.repro.protocols"
    return [
        ("min_l2", f"{p}.min_l2:MinL2", {"what": "min L2 per point, model and attack (T2, T3, T4, T5, T8)"}),
        ("transfer", f"{p}.transfer:Transfer", {"what": "transferability between the votes of one ensemble (T6)"}),
        ("ensemble_size", f"{p}.ensemble_size:EnsembleSize", {"what": "min L2 of the first k votes (F1)"}),
        ("accuracy", f"{p}.accuracy:Accuracy", {"what": "seconds per vote and ensemble test accuracy (T1)"}),
        ("beat_figure", f"{p}.beat_figure:BeatFigure", {"what": "adversarial ECG beats and their smoothness (F3)"}),
        ("substitute", f"{p}.substitute:Substitute", {"what": "substitute-model attack vs noise (F2)"}),
        ("textfooler", f"{p}.textfooler:TextFooler", {"what": "TextFooler on mean-GloVe classifiers (T7)"}),
    ]


# Datasets live in `pipelines.DATASETS` (the bottom layer owns its loaders); `names("dataset")` reads it.
_TABLES = {"model": _models(), "attack": _attacks(), "protocol": _protocols()}
_ENTRIES: dict[str, dict[str, Entry]] = {
    kind: {name: Entry(kind, name, target, dict(meta)) for name, target, meta in rows} for kind, rows in _TABLES.items()}
KINDS = ("model", "attack", "dataset", "protocol")


def _datasets() -> dict[str, Entry]:
    table = importlib.import_module("pipelines").DATASETS
    return {name: Entry("dataset", name, target) for name, target in table.items()}


def _table(kind: str) -> dict[str, Entry]:
    if kind == "dataset":
        return _datasets()
    if kind not in _ENTRIES:
        raise ValueError(f"unknown registry kind {kind!r}; known: {list(KINDS)}")
    return _ENTRIES[kind]


def names(kind: str) -> list[str]:
    """Registered names of one kind ("model", "attack", "dataset", "protocol")."""
    return sorted(_table(kind))


def canonical(kind: str, name: str) -> str:
    """The registered name for `name` (case and aliases folded); ValueError listing the known names."""
    table = _table(kind)
    key = str(name).lower()
    if key in table:
        return key
    for e in table.values():
        if key in e.meta.get("aliases", ()):
            return e.name
    raise ValueError(f"unknown {kind} {name!r}; known: {sorted(table)}")


def entry(kind: str, name: str) -> Entry:
    return _table(kind)[canonical(kind, name)]


def resolve_target(target: str):
    """The object a "module:attr" string names (the one resolver of the package)."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def resolve(kind: str, name: str):
    """The registered object; `NotAvailable` when its module or attribute is not in this version."""
    e = entry(kind, name)
    try:
        return resolve_target(e.target)
    except (ImportError, AttributeError) as err:
        raise NotAvailable(f"{kind} {e.name!r} ({e.target}) is not available in this version: {err}") from err


def available(kind: str, name: str) -> bool:
    try:
        resolve(kind, name)
    except NotAvailable:
        return False
    return True


def model_class(name: str):
    """The estimator class registered under a model name (ValueError if unknown, NotAvailable if absent)."""
    return resolve("model", name)


def estimator_class(class_name: str):
    """The estimator class a model file names, found by class name (only registered classes load)."""
    for e in _ENTRIES["model"].values():
        if e.class_name == class_name:
            return resolve_target(e.target)
    raise ValueError(f"model file names class {class_name!r}, which is not a registered estimator; "
                     f"known: {sorted(ESTIMATOR_CLASSES)}")


# Compatibility views (name -> "module:Class"), derived from the table above.
MODELS: dict[str, str] = {name: e.target for name, e in _ENTRIES["model"].items()}
ESTIMATOR_CLASSES: dict[str, str] = {e.class_name: e.target for e in _ENTRIES["model"].values()}
ATTACKS: dict[str, str] = {name: e.target for name, e in _ENTRIES["attack"].items()}
PROTOCOLS: dict[str, str] = {name: e.target for name, e in _ENTRIES["protocol"].items()}
