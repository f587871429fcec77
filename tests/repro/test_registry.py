"""One registry answers which models, attacks, datasets and protocols exist, and resolves them lazily."""
from __future__ import annotations

import pytest

from scd_plugins import registry


def test_every_kind_lists_its_names():
    assert {"scd01", "scdce", "scd01bnn", "scdcebnn", "mlp", "rf", "bnn", "lenet", "resnet50", "cnn1d",
            "wordcnn"} <= set(registry.names("model"))
    assert {"hsj", "boundary", "rays", "substitute", "textfooler", "textfooler-offline"} <= set(registry.names("attack"))
    assert {"min_l2", "transfer", "ensemble_size", "accuracy", "beat_figure", "substitute", "textfooler"} == \
        set(registry.names("protocol"))
    assert {"digits", "fmnist-sample", "fmnist", "cifar10", "ptbdb", "mitdb", "mr"} <= set(registry.names("dataset"))


def test_resolve_and_the_model_file_lookup():
    from scd_plugins.estimators import MLPEnsembleClassifier, SCD01Classifier

    assert registry.resolve("model", "scd01") is SCD01Classifier
    assert registry.model_class("mlp") is MLPEnsembleClassifier
    assert registry.estimator_class("SCD01Classifier") is SCD01Classifier
    assert registry.canonical("attack", "HopSkipJump") == "hsj"
    for protocol in registry.names("protocol"):
        assert registry.resolve("protocol", protocol)().name == protocol
    with pytest.raises(ValueError, match=r"unknown model 'nope'; known: \["):
        registry.resolve("model", "nope")
    with pytest.raises(ValueError, match="not a registered estimator"):
        registry.estimator_class("Pickle")


def test_a_registered_but_absent_model_is_not_available():
    e = registry.entry("model", "cnn1d")
    assert e.meta["input"] == "ecg" and e.class_name == "CNN1DEnsembleClassifier"
    try:
        registry.resolve("model", "cnn1d")
    except registry.NotAvailable as err:
        assert "not available in this version" in str(err)
        assert not registry.available("model", "cnn1d")
    else:
        assert registry.available("model", "cnn1d")

