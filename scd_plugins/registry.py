"""Lazy registry of models (RobustBench style): names resolve to classes only when asked for.

`MODELS` maps a CLI model name to the estimator class that builds it, as "module:Class"; a model file
names its class, which must be one of these (`estimator_class`), so `scd_plugins.load` never
unpickles anything. Adding a model family is one line here.
"""
from __future__ import annotations

import importlib

MODELS: dict[str, str] = {
    "scd01": "scd_plugins.estimators:SCD01Classifier",
    "scdce": "scd_plugins.estimators:SCDCEClassifier",
    "scd01bnn": "scd_plugins.estimators:SCD01BNNClassifier",
    "scdcebnn": "scd_plugins.estimators:SCDCEBNNClassifier",
    "mlp": "scd_plugins.estimators:MLPEnsembleClassifier",
    "rf": "scd_plugins.estimators:RandomForestBaseline",
    "lenet": "scd_plugins.estimators:LeNetEnsembleClassifier",
    "resnet50": "scd_plugins.estimators:ResNet50EnsembleClassifier",
    "cnn1d": "scd_plugins.estimators:CNN1DEnsembleClassifier",
    "wordcnn": "scd_plugins.estimators:WordCNNClassifier",
}

#: Class name stored in a model file -> import path (derived: one line per family above).
ESTIMATOR_CLASSES: dict[str, str] = {path.partition(":")[2]: path for path in MODELS.values()}


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
