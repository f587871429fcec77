"""Checks shared by the recipe loader and the protocols: each failure is one `RecipeError` naming the field."""
from __future__ import annotations

import inspect

from scd_plugins import registry
from scd_plugins.repro.errors import RecipeError

BACKENDS = ("loky", "threading", "multiprocessing", "sequential", "dask", "ray")


def need(cond, msg):
    if not cond:
        raise RecipeError(msg)


def only(table, allowed, where):
    need(isinstance(table, dict), f"{where} must be a table")
    unknown = set(table) - set(allowed)
    need(not unknown, f"unknown keys {sorted(unknown)} in {where}; allowed: {sorted(allowed)}")


def positive_int(value, what, minimum=1):
    need(isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
         f"{what} must be an integer >= {minimum}, got {value!r}")


def _labels(items, what):
    labels = [it.get("label") for it in items]
    need(all(isinstance(lb, str) and lb and "|" not in lb for lb in labels),
         f"every [[{what}]] needs a non-empty `label` without '|'")
    need(len(set(labels)) == len(labels), f"[[{what}]] labels must be unique, got {labels}")


def model_params_ok(cls, params, where):
    """Parameter names against the class's constructor, values against its own constraints."""
    accepted = cls().get_params(deep=False)
    typos = sorted(set(params) - set(accepted))
    need(not typos, f"{where}: unknown parameters {typos} for {cls.__name__}; accepted: {sorted(accepted)}")
    est = cls(**params)
    if hasattr(est, "_validate_params"):
        try:
            est._validate_params()
        except (ValueError, TypeError) as err:
            raise RecipeError(f"{where}: {err}") from None


def members_of(model) -> int | None:
    """The member count a recipe model will have (its members parameter, else the class default)."""
    e = registry.entry("model", model["name"])
    param = e.meta.get("members_param")
    if param in model["params"]:
        return int(model["params"][param])
    if model.get("missing"):
        return e.meta.get("members")
    return int(registry.resolve("model", model["name"])().get_params()[param])


def attack_param_names(name):
    cls = registry.resolve("attack", name)
    sig = inspect.signature(cls.__init__ if inspect.isclass(cls) else cls)
    return {k: p.default for k, p in sig.parameters.items() if k not in ("self", "estimator", "classifier")}


def check_attacks(r, names=("hsj", "boundary", "rays")):
    attacks = r.get("attacks")
    need(isinstance(attacks, list) and attacks, "at least one [[attacks]] entry is required")
    _labels(attacks, "attacks")
    for a in attacks:
        where = f"attack {a.get('label')!r}"
        only(a, ("label", "name", "restarts", "init", "init_size", "params"), f"[[attacks]] {a.get('label')!r}")
        try:
            a["name"] = registry.canonical("attack", a.get("name", ""))
        except ValueError as err:
            raise RecipeError(f"{where}: {err}") from None
        need(a["name"] in names, f"{where}: this protocol takes the attacks {list(names)}, got {a['name']!r}")
        a.setdefault("restarts", 1)
        a.setdefault("init", "random")
        a.setdefault("init_size", 1000)
        a.setdefault("params", {})
        positive_int(a["restarts"], f"{where}: restarts")
        positive_int(a["init_size"], f"{where}: init_size")
        need(a["init"] in ("random", "fixed"), f"{where}: init must be 'random' or 'fixed', got {a['init']!r}")
        settings = a["params"] if isinstance(a["params"], list) else [a["params"]]
        need(settings and all(isinstance(s, dict) for s in settings),
             f"{where}: params must be a table or a list of tables")
        try:
            accepted = attack_param_names(a["name"])
        except registry.NotAvailable as err:
            raise RecipeError(f"{where}: {err}") from None
        for s in settings:
            typos = sorted(set(s) - set(accepted))
            need(not typos, f"{where}: unknown parameters {typos}; accepted: {sorted(accepted)}")
            need(not s.get("targeted"), f"{where}: the protocols measure untargeted attacks (targeted = false)")
            for k, v in s.items():
                default = accepted[k]
                if isinstance(default, int) and not isinstance(default, bool):
                    positive_int(v, f"{where}: {k}", minimum=0 if default == 0 else 1)
                elif isinstance(default, float):
                    need(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
                         f"{where}: {k} must be a number >= 0, got {v!r}")


def check_run_settings(run, protocol):
    n = run["n_jobs"]
    need(isinstance(n, int) and not isinstance(n, bool) and (n >= 1 or n == -1),
         f"run.n_jobs must be a positive integer or -1 (all cores), got {n!r}")
    need(run["backend"] in BACKENDS, f"run.backend must be one of {list(BACKENDS)}, got {run['backend']!r}")
    positive_int(run["blas_threads"], "run.blas_threads")
    if protocol.global_random and run["backend"] == "threading" and n != 1:
        raise RecipeError(f"protocol {protocol.name!r} runs ART attacks, which draw from the global NumPy random "
                          "state: the 'threading' backend would make results depend on thread timing; use loky")
