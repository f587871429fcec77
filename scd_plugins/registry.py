"""Lazy registries: names are resolved to classes only when asked for (RobustBench style).

`MODELS` maps a CLI model name to the estimator class that builds it; `ESTIMATOR_CLASSES` maps the
class name stored in a model file to its import path, so `scd_plugins.load` never unpickles anything.
"""
from __future__ import annotations

import importlib

MODELS: dict[str, str] = {
    "scd01": "scd_plugins.estimators:SCD01Classifier",
    "scdce": "scd_plugins.estimators:SCDCEClassifier",
    "scd01bnn": "scd_plugins.estimators:SCD01BNNClassifier",
    "scdcebnn": "scd_plugins.estimators:SCDCEBNNClassifier",
    "mlp": "scd_plugins.baselines:MLPEnsembleClassifier",
    "rf": "scd_plugins.baselines:RandomForestBaseline",
}

ESTIMATOR_CLASSES: dict[str, str] = {
    "SCD01Classifier": "scd_plugins.estimators:SCD01Classifier",
    "SCDCEClassifier": "scd_plugins.estimators:SCDCEClassifier",
    "SCD01BNNClassifier": "scd_plugins.estimators:SCD01BNNClassifier",
    "SCDCEBNNClassifier": "scd_plugins.estimators:SCDCEBNNClassifier",
    "MLPEnsembleClassifier": "scd_plugins.baselines:MLPEnsembleClassifier",
    "RandomForestBaseline": "scd_plugins.baselines:RandomForestBaseline",
}


def _resolve(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def model_class(name: str):
    """The estimator class registered under a CLI model name."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return _resolve(MODELS[name])


def estimator_class(class_name: str):
    """The estimator class a model file names (only registered classes can be loaded)."""
    if class_name not in ESTIMATOR_CLASSES:
        raise ValueError(f"model file names class {class_name!r}, which is not a registered estimator; "
                         f"known: {sorted(ESTIMATOR_CLASSES)}")
    return _resolve(ESTIMATOR_CLASSES[class_name])
