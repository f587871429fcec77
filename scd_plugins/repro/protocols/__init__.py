"""Recipe protocols: one module per protocol, each owning its schema (`sections`, `check`), how it splits into
units of work (`units`), how one unit runs (`run`, in a worker, calling `scd_plugins.attacks`) and how its
records become tables and plots (`summarize`, `figures`). The generic runner (`scd_plugins.repro.runner`)
does everything else. Protocols are found by name through `scd_plugins.registry`."""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Part:
    """One data set of a recipe run, as the report sees it."""

    label: str
    spec: str
    note: str
    status: str = "ran"                  # "ran" or "skipped"
    data_name: str | None = None
    checksum: str | None = None
    sample_shape: tuple = ()
    points: list = field(default_factory=list)
    models: dict = field(default_factory=dict)    # label -> {"accuracy", "train_seconds", "path", "missing", ...}
    records: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    units_planned: int = 0


class Protocol:
    """Base class; a protocol module subclasses it and is registered in `scd_plugins.registry`."""

    name = ""
    sections: tuple = ()                  # top-level TOML tables this protocol owns
    attacks: tuple = ("hsj", "boundary", "rays")   # attacks it accepts; () = takes no [[attacks]]
    uses_points = True
    global_random = True                  # runs ART attacks (global np.random): no threading backend

    def check(self, recipe) -> None:
        """Validate and fill this protocol's own tables (raise RecipeError)."""

    def context(self, recipe, part, ds) -> dict:
        """What every unit of this part needs in the worker (picklable)."""
        return {"seed": recipe["seed"], "input_shape": tuple(ds.sample_shape),
                "clip_values": None if ds.clip_values is None else tuple(float(c) for c in ds.clip_values),
                "attacks": {a["label"]: a for a in recipe.get("attacks", [])}}

    def units(self, recipe, part, ds) -> list[dict]:
        raise NotImplementedError

    def unit_input(self, unit, ds):
        """The sample a unit works on, sent to the worker with it."""
        return ds.x_test[unit["point"]].reshape(ds.sample_shape)

    def run(self, unit, x, ctx) -> dict:
        raise NotImplementedError

    def summarize(self, recipe, parts) -> dict:
        """{"lines": markdown lines, "rows": table rows for results.csv, "findings": one-line conclusions}."""
        raise NotImplementedError

    def figures(self, recipe, parts, out) -> list[str]:
        return []


def get_protocol(name) -> Protocol:
    from scd_plugins import registry

    return registry.resolve("protocol", registry.canonical("protocol", name))()


# ----- helpers protocols share --------------------------------------------------------------------------
def encode_array(a):
    a = np.ascontiguousarray(a, dtype=np.float32)
    return {"b64": base64.b64encode(a.tobytes()).decode(), "shape": list(a.shape)}


def decode_array(d):
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=np.float32).reshape(d["shape"])


def fmt(v, digits=3):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{digits}f}"
    return str(v)


def table(head, rows) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
        ["| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in row) + " |" for row in rows]


def model_status(part, label):
    """"missing (...)" / "no data" for a model without results, else None."""
    info = part.models.get(label, {})
    return info.get("missing")


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out, name: str) -> str:
    """Lay out, write `out/name` (PNG, 120 dpi) and close `fig`; returns the file name for the report."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out / name, dpi=120)
    plt.close(fig)
    return name
