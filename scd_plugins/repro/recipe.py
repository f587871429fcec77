"""Recipe files: one declarative TOML file per experiment. `load_recipe` checks everything a run will use
(names against the registry, model and attack parameters against their classes, ranges, `[run]`) and
fills defaults, so every mistake is one `RecipeError` before any data loads or model trains.

What every recipe has is checked here; each protocol checks its own tables (`Protocol.check`).
"""
from __future__ import annotations

import copy
import hashlib
import importlib.resources
import json
import sys
from pathlib import Path

from scd_plugins import registry
from scd_plugins.repro.checks import _labels, check_attacks, check_run_settings, model_params_ok, need, only, positive_int
from scd_plugins.repro.errors import RecipeError
from scd_plugins.repro.protocols import get_protocol

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

COMMON = {"id", "title", "paper", "protocol", "seed", "description", "data", "points", "models", "attacks",
          "paper_figures", "run"}
_DATA_KEYS = ("spec", "fallback", "options", "train_size", "label", "skip_reason")


def recipe_dirs() -> list[Path]:
    """Where named recipes live: `scd_plugins/recipes/` inside the installed package (the wheel ships the
    top-level `recipes/` folder there), then the source tree's `recipes/` (editable install or checkout)."""
    dirs = [Path(str(importlib.resources.files("scd_plugins") / "recipes")),
            Path(__file__).resolve().parents[2] / "recipes"]
    return [d for d in dirs if d.is_dir()]


def available_recipes() -> dict[str, Path]:
    found = {}
    for d in reversed(recipe_dirs()):
        for p in sorted(d.glob("*.toml")):
            found[p.stem] = p
    return found


def find_recipe(name_or_path) -> Path:
    """A recipe file from a path, or from a name such as "t2_min_l2" / "quickstart" (packaged recipes)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    known = available_recipes()
    stem = p.name[:-5] if p.name.endswith(".toml") else p.name
    if stem in known:
        return known[stem]
    raise RecipeError(f"no recipe file {str(name_or_path)!r} and no packaged recipe named {stem!r}; "
                      f"packaged: {sorted(known)}")


def read_toml(path) -> dict:
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as err:
            raise RecipeError(f"{path} is not valid TOML: {err}") from None


def _check_dataset_name(spec, where):
    need(isinstance(spec, str) and spec.strip(), f"{where} must be a dataset spec like \"fmnist:2,4\"")
    import pipelines

    try:
        pipelines.get_loader(spec.split(":")[0])
    except ValueError as err:
        raise RecipeError(f"{where}: {err}") from None


def _data(r):
    data = r.get("data")
    parts = [data] if isinstance(data, dict) else data
    need(isinstance(parts, list) and parts and all(isinstance(d, dict) for d in parts),
         "[data] (one table) or [[data]] (one per data set) with spec = \"...\" is required")
    for d in parts:
        only(d, _DATA_KEYS, f"[data] {d.get('spec')!r}")
        _check_dataset_name(d.get("spec"), "data.spec")
        fb = d.get("fallback") or []
        d["fallback"] = [fb] if isinstance(fb, str) else list(fb)
        for f in d["fallback"]:
            _check_dataset_name(f, f"data.fallback of {d['spec']!r}")
        d.setdefault("options", {})
        need(isinstance(d["options"], dict), f"data.options of {d['spec']!r} must be a table of loader options")
        d.setdefault("train_size", 0)
        positive_int(d["train_size"], f"data.train_size of {d['spec']!r}", minimum=0)
        d.setdefault("label", d["spec"].split(":")[0])
    labels = [d["label"] for d in parts]
    need(len(set(labels)) == len(labels), f"[[data]] labels must be unique, got {labels}")
    r["data"] = parts


def _points(r):
    pts = r.setdefault("points", {})
    only(pts, ("select", "n", "indices", "correct"), "[points]")
    pts.setdefault("select", "random")
    need(pts["select"] in ("random", "first", "indices"),
         f"points.select must be 'random', 'first' or 'indices', got {pts['select']!r}")
    # A misclassified point is already adversarial (distortion about 0): the paper attacks correctly
    # classified test points. Listed indices are taken as listed unless `correct = true`.
    pts.setdefault("correct", pts["select"] != "indices")
    need(isinstance(pts["correct"], bool), f"points.correct must be true or false, got {pts['correct']!r}")
    if pts["select"] == "indices":
        need(isinstance(pts.get("indices"), list) and pts["indices"]
             and all(isinstance(i, int) and i >= 0 for i in pts["indices"]),
             "points.indices must be a non-empty list of test-set positions")
    else:
        positive_int(pts.get("n"), "points.n")


def _models(r):
    models = r.get("models")
    need(isinstance(models, list) and models, "at least one [[models]] entry is required")
    _labels(models, "models")
    for m in models:
        where = f"model {m.get('label')!r}"
        only(m, ("label", "name", "params"), f"[[models]] {m.get('label')!r}")
        try:
            m["name"] = registry.canonical("model", m.get("name", ""))
        except ValueError as err:
            raise RecipeError(f"{where}: {err}") from None
        m.setdefault("params", {})
        need(isinstance(m["params"], dict), f"{where}: params must be a table")
        need("random_state" not in m["params"], f"{where}: random_state comes from the recipe's seed")


def _annotate_models(r):
    """Mark models whose class is not in this version as missing; check the parameters of the others."""
    for m in r["models"]:
        try:
            cls = registry.resolve("model", m["name"])
        except registry.NotAvailable:
            m["missing"] = "missing (not in this version)"
            continue
        model_params_ok(cls, m["params"], f"model {m['label']!r}")


def _run(r, protocol):
    run = r.setdefault("run", {})
    only(run, ("n_jobs", "backend", "blas_threads"), "[run]")
    run.setdefault("n_jobs", 1)
    run.setdefault("backend", "loky")
    run.setdefault("blas_threads", 1)
    check_run_settings(run, protocol)


def recipe_hash(r) -> str:
    content = {k: v for k, v in r.items() if k not in ("path", "run", "hash")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_recipe(name_or_path) -> dict:
    """Read and validate a recipe; returns it with defaults filled in, `path`, `hash` and missing models marked.

    Every error is a `RecipeError` whose message starts with the file name."""
    path = find_recipe(name_or_path)
    return validate_recipe(read_toml(path), source=path)


def validate_recipe(raw: dict, source="<recipe>") -> dict:
    """`load_recipe` for a recipe already read into a dict (e.g. a packaged recipe with smaller settings)."""
    try:
        r = _validated(copy.deepcopy(raw))
    except RecipeError as err:
        raise RecipeError(f"{source}: {err}") from None
    r["path"] = str(source)
    return r


def _validated(r) -> dict:
    need(isinstance(r.get("id"), str) and r["id"], "`id` (e.g. \"T2\") is required")
    try:
        protocol = get_protocol(r.get("protocol", "min_l2"))
    except ValueError as err:
        raise RecipeError(str(err)) from None
    r["protocol"] = protocol.name
    unknown = set(r) - COMMON - set(protocol.sections)
    need(not unknown, f"unknown top-level keys {sorted(unknown)}; allowed: {sorted(COMMON | set(protocol.sections))}")
    r.setdefault("title", r["id"])
    r.setdefault("paper", "")
    r.setdefault("description", "")
    r.setdefault("seed", 0)
    positive_int(r["seed"], "seed", minimum=0)
    _data(r)
    if protocol.uses_points:
        _points(r)
    _models(r)
    if protocol.attacks:
        check_attacks(r, protocol.attacks)
    else:
        need("attacks" not in r, f"protocol {protocol.name!r} takes no [[attacks]]")
    r.setdefault("paper_figures", {})
    need(isinstance(r["paper_figures"], dict), "[paper_figures] must be a table")
    _run(r, protocol)
    _annotate_models(r)
    protocol.check(r)
    r["hash"] = recipe_hash({k: v for k, v in r.items()
                             if k != "models"} | {"models": [{k: v for k, v in m.items() if k != "missing"}
                                                             for m in r["models"]]})
    return r
