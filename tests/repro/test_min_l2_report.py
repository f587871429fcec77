"""The min_l2 report: misclassified points never enter a mean or the paired test, and the SCD01 vs MLP finding
says plainly whether the run shows the paper's effect (ratio, paired test, p-value, points)."""
from __future__ import annotations

import math

from scd_plugins.repro.protocols import Part
from scd_plugins.repro.protocols.min_l2 import MinL2

RECIPE = {"id": "X", "models": [{"label": "SCD01"}, {"label": "MLP"}], "attacks": [{"label": "HSJ"}],
          "paper_figures": {"min_l2": {"SCD01/HSJ": 3.2, "MLP/HSJ": 0.77}}}


def _part(scd, mlp, wrong=()):
    recs = []
    for model, values in (("SCD01", scd), ("MLP", mlp)):
        for p, v in enumerate(values):
            label = 1 if (model, p) in wrong else 0                  # true label y = 0 everywhere
            recs.append({"model": model, "attack": "HSJ", "point": p, "y": 0, "label": label, "min_l2": v,
                         "success": True, "queries": 10, "seconds": 1.0})
    info = {"members": 3, "accuracy": 0.9}
    return Part(label="d", spec="d", note="d (primary)", data_name="d", points=list(range(len(scd))),
                models={"SCD01": info, "MLP": info}, records=recs)


def test_misclassified_points_are_left_out():
    part = _part([2.0, 2.5, 0.01], [1.0, 1.0, 1.0], wrong={("SCD01", 2)})
    out = MinL2().summarize(RECIPE, [part])
    rows = {r["model"]: r for r in out["rows"]}
    assert rows["SCD01"]["mean_min_l2"] == 2.25 and rows["SCD01"]["misclassified"] == 1
    assert rows["MLP"]["mean_min_l2"] == 1.0
    text = "\n".join(out["lines"])
    assert "| 2 | 0 | misclassified | 1.000 |" in text                 # per-point table
    finding = next(f for f in out["findings"] if "paired Wilcoxon" in f)
    assert "Over the 2 points" in finding and "ratio 2.25x" in finding


def test_the_finding_says_whether_the_effect_shows():
    big = MinL2().summarize(RECIPE, [_part([3.0 + 0.1 * i for i in range(10)], [1.0] * 10)])
    found = next(f for f in big["findings"] if "paired Wilcoxon" in f)
    assert "shows the paper's effect" in found and "p = 0.002" in found and "10 of 10 points" in found
    assert "Paper (HSJ): 4.2x (3.2 vs 0.77)" in found
    mixed = [1.0 + (0.2 if i % 2 else -0.2) * (i + 1) / 10 for i in range(10)]
    none = MinL2().summarize(RECIPE, [_part(mixed, [1.0] * 10)])
    found = next(f for f in none["findings"] if "paired Wilcoxon" in f)
    assert "does NOT show the paper's effect" in found
    assert not math.isnan(float(found.split("p = ")[1].split(",")[0]))
