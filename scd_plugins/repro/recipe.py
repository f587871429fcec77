"""Recipe files: one declarative TOML file per experiment (data, models, attacks, points, seeds, the
paper's numbers). `load_recipe` checks every field and fills defaults, so a typo fails before any
model is trained."""
from __future__ import annotations

import hashlib
import importlib.resources
import json
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PROTOCOLS = ("min_l2", "transfer", "ensemble_size")
# Protocols whose recipes another module runs (its own schema); `scd-repro run` hands them over.
DELEGATED: dict[str, str] = {"textfooler": "scd_plugins.textattack.t7:main"}
_TOP = {"id", "title", "paper", "protocol", "seed", "data", "points", "models", "attacks", "ensemble_size",
        "transfer", "paper_figures", "run", "description"}


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
    raise FileNotFoundError(f"no recipe file {str(name_or_path)!r} and no packaged recipe named {stem!r}; "
                            f"packaged: {sorted(known)}")


def read_toml(path) -> dict:
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path} is not valid TOML: {err}") from err


def _need(cond, msg):
    if not cond:
        raise ValueError(msg)


def _only(table, allowed, where, path):
    unknown = set(table) - set(allowed)
    _need(not unknown, f"{path}: unknown keys {sorted(unknown)} in {where}; allowed: {sorted(allowed)}")


def _check_labels(items, what, path):
    labels = [it.get("label") for it in items]
    _need(all(isinstance(lb, str) and lb and "|" not in lb for lb in labels),
          f"{path}: every [[{what}]] needs a non-empty `label` without '|'")
    _need(len(set(labels)) == len(labels), f"{path}: [[{what}]] labels must be unique, got {labels}")


def load_recipe(name_or_path) -> dict:
    """Read and validate a recipe; returns a dict with defaults filled in and `hash` (of the content)."""
    from scd_plugins.attacks._protocols import ATTACKS, _attack_name
    from scd_plugins.registry import MODELS

    path = find_recipe(name_or_path)
    r = read_toml(path)
    if r.get("protocol") in DELEGATED:
        raise ValueError(f"{path}: protocol {r['protocol']!r} is run by {DELEGATED[r['protocol']]}, "
                         "not by the attack-protocol runner")
    unknown = set(r) - _TOP
    _need(not unknown, f"{path}: unknown top-level keys {sorted(unknown)}; allowed: {sorted(_TOP)}")
    _need(isinstance(r.get("id"), str) and r["id"], f"{path}: `id` (e.g. \"T2\") is required")
    r.setdefault("title", r["id"])
    r.setdefault("paper", "")
    r.setdefault("protocol", "min_l2")
    _need(r["protocol"] in PROTOCOLS, f"{path}: protocol must be one of {PROTOCOLS}, got {r['protocol']!r}")
    r.setdefault("seed", 0)
    _need(isinstance(r["seed"], int) and r["seed"] >= 0, f"{path}: seed must be a non-negative integer")

    data = r.get("data")
    _need(isinstance(data, dict) and isinstance(data.get("spec"), str), f"{path}: [data] spec = \"...\" is required")
    _only(data, ("spec", "fallback", "options", "train_size"), "[data]", path)
    data.setdefault("fallback", None)
    data.setdefault("options", {})
    data.setdefault("train_size", 0)
    _need(isinstance(data["train_size"], int) and data["train_size"] >= 0, f"{path}: data.train_size must be >= 0")

    pts = r.setdefault("points", {})
    _only(pts, ("select", "n", "indices"), "[points]", path)
    pts.setdefault("select", "random")
    _need(pts["select"] in ("random", "first", "indices"),
          f"{path}: points.select must be 'random', 'first' or 'indices', got {pts['select']!r}")
    if pts["select"] == "indices":
        _need(isinstance(pts.get("indices"), list) and pts["indices"] and all(isinstance(i, int) and i >= 0
                                                                              for i in pts["indices"]),
              f"{path}: points.indices must be a non-empty list of test-set positions")
    else:
        _need(isinstance(pts.get("n"), int) and pts["n"] >= 1, f"{path}: points.n must be a positive integer")

    models = r.get("models")
    _need(isinstance(models, list) and models, f"{path}: at least one [[models]] entry is required")
    _check_labels(models, "models", path)
    for m in models:
        _only(m, ("label", "name", "params"), f"[[models]] {m.get('label')!r}", path)
        _need(m.get("name") in MODELS, f"{path}: model {m.get('label')!r} names {m.get('name')!r}; "
                                       f"known models: {sorted(MODELS)}")
        m.setdefault("params", {})

    attacks = r.get("attacks")
    _need(isinstance(attacks, list) and attacks, f"{path}: at least one [[attacks]] entry is required")
    _check_labels(attacks, "attacks", path)
    for a in attacks:
        _only(a, ("label", "name", "restarts", "init", "init_size", "params"), f"[[attacks]] {a.get('label')!r}",
              path)
        try:
            a["name"] = _attack_name(a.get("name", ""))
        except ValueError:
            raise ValueError(f"{path}: attack {a.get('label')!r} names {a.get('name')!r}; "
                             f"known: {sorted(ATTACKS)}") from None
        a.setdefault("restarts", 1)
        a.setdefault("init", "random")
        a.setdefault("init_size", 1000)
        a.setdefault("params", {})
        s = a["params"]
        _need(isinstance(s, dict) or (isinstance(s, list) and all(isinstance(x, dict) for x in s)),
              f"{path}: attack {a['label']!r}: params must be a table or a list of tables")
        _need(isinstance(a["restarts"], int) and a["restarts"] >= 1, f"{path}: restarts must be >= 1")
        _need(a["init"] in ("random", "fixed"), f"{path}: init must be 'random' or 'fixed'")

    if r["protocol"] == "ensemble_size":
        sizes = r.get("ensemble_size", {}).get("sizes")
        _need(isinstance(sizes, list) and sizes and all(isinstance(k, int) and k >= 1 for k in sizes),
              f"{path}: protocol ensemble_size needs [ensemble_size] sizes = [1, 5, ...]")
    if r["protocol"] == "transfer":
        t = r.setdefault("transfer", {})
        t.setdefault("votes", "all")
        _need(t["votes"] == "all" or (isinstance(t["votes"], int) and t["votes"] >= 2),
              f"{path}: transfer.votes must be \"all\" or an integer >= 2 (the first k votes)")
    r.setdefault("paper_figures", {})
    run = r.setdefault("run", {})
    run.setdefault("n_jobs", 1)
    run.setdefault("backend", "loky")
    run.setdefault("blas_threads", 1)
    r["path"] = str(path)
    r["hash"] = hashlib.sha256(json.dumps({k: v for k, v in r.items() if k not in ("path", "run")},
                                          sort_keys=True, default=str).encode()).hexdigest()[:16]
    return r
