"""Imports point down the layers and form no cycle, including imports inside functions (read with ast).

Layers, bottom up (docs/architecture.md): registry, engine, pipelines, _compat -> estimators and model files
-> integrations (art, textattack) -> attacks -> repro and the CLIs. A module may import its own group and
lower layers only; two groups of one layer do not import each other.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# module prefix -> (group, layer); the longest matching prefix wins.
LAYERS = {
    "scd_plugins.registry": ("registry", 0), "scd_plugins.engine": ("engine", 0),
    "scd_plugins._compat": ("compat", 0), "scd_plugins._version": ("version", 0), "pipelines": ("pipelines", 0),
    "scd_plugins._cli_errors": ("cli_errors", 0),
    "scd_plugins.estimators": ("estimators", 1), "scd_plugins.io": ("estimators", 1),
    "scd_plugins": ("estimators", 1),
    "scd_plugins.art": ("art", 2), "scd_plugins.textattack": ("textattack", 2),
    "scd_plugins.attacks": ("attacks", 3),
    "scd_plugins.repro": ("repro", 4), "scd_plugins.cli": ("cli", 4),
}


def _group(module: str) -> tuple[str, int]:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"{module} is in no layer; add it to LAYERS in {__file__}")
    return LAYERS[best]


def _modules() -> dict[str, Path]:
    mods = {}
    for top in ("scd_plugins", "pipelines"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _target(name: str) -> str | None:
    """The package module an import name refers to (longest known prefix), or None for outside modules."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        cand = ".".join(parts[:i])
        if cand in MODULES:
            return cand
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            names = [f"{stem}.{a.name}" for a in node.names if f"{stem}.{a.name}" in MODULES] or [stem]
        else:
            continue
        for n in names:
            t = _target(n)
            if t is not None and t != module:
                out.add(t)
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    group, layer = _group(module)
    bad = []
    for t in sorted(GRAPH[module]):
        tg, tl = _group(t)
        if tl > layer or (tl == layer and tg != group):
            bad.append(f"{t} (layer {tl}, {tg})")
    assert not bad, f"{module} (layer {layer}, {group}) imports upwards or sideways: {bad}"


def test_pipelines_import_nothing_of_scd_plugins():
    bad = {m: sorted(t for t in GRAPH[m] if t.startswith("scd_plugins")) for m in MODULES if m.startswith("pipelines")}
    assert not {m: t for m, t in bad.items() if t}


def test_registry_imports_nothing_of_the_package():
    assert GRAPH["scd_plugins.registry"] == set()


def _cycles(graph=None):
    """Tarjan's strongly connected components over the import edges (module level and inside functions)."""
    graph = GRAPH if graph is None else graph
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles():
    cycles = _cycles()
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_an_upward_import(tmp_path):
    """The checker itself: an import inside a function, from a lower layer to a higher one, is found."""
    src = tmp_path / "x.py"
    src.write_text("def f():\n    from scd_plugins.repro import runner\n")
    found = _imports("scd_plugins.engine.fake", src)
    assert "scd_plugins.repro.runner" in found
    assert _group("scd_plugins.repro.runner")[1] > _group("scd_plugins.engine.fake")[1]


def test_the_checker_sees_a_cycle():
    """A package importing its hook, which imports a module that imports the package back, is a cycle."""
    graph = {"pkg": {"pkg._hook"}, "pkg._hook": {"pkg.registration"}, "pkg.registration": {"pkg", "pkg.leaf"},
             "pkg.leaf": set()}
    assert _cycles(graph) == [["pkg", "pkg._hook", "pkg.registration"]]
