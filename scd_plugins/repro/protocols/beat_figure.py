"""beat_figure (F3): the original ECG beat and each model's adversarial beat (HopSkipJump min L2, as T2) in
one figure, and the perturbation's smoothness as numbers: total variation TV(d) = sum |d[t+1] - d[t]| and
TV(d) / ||d||_2 (roughness per unit of distortion; a smooth, beat-like change scores low, spiky noise high).
Units are min_l2 units."""
from __future__ import annotations

import numpy as np

from scd_plugins.repro.protocols import decode_array, fmt, pyplot, save_figure, table
from scd_plugins.repro.protocols.min_l2 import MinL2


def total_variation(d) -> float:
    return float(np.abs(np.diff(np.asarray(d, float).ravel())).sum())


class BeatFigure(MinL2):
    name = "beat_figure"
    sections = ()

    def context(self, recipe, part, ds):
        ctx = super().context(recipe, part, ds)
        part.notes.append("clean beats: " + ", ".join(f"test point {p}" for p in part.points))
        return ctx

    def _smoothness(self, recipe, part, ds_x=None):
        rows = []
        for r in part.records:
            if not r.get("success") or r.get("x_adv") is None or "x_clean" not in r:
                continue
            d = decode_array(r["x_adv"]).ravel() - np.asarray(r["x_clean"], float)
            l2 = float(np.linalg.norm(d))
            rows.append({"data": part.label, "model": r["model"], "attack": r["attack"], "point": r["point"],
                         "min_l2": l2, "tv": total_variation(d), "tv_per_l2": total_variation(d) / l2 if l2 else None})
        return rows

    def run(self, unit, x, ctx):
        payload = super().run(unit, x, ctx)
        payload["x_clean"] = [float(v) for v in np.asarray(x).ravel()]
        return payload

    def summarize(self, recipe, parts):
        base = super().summarize(recipe, parts)
        rows, lines, findings = [], [], []
        for part in parts:
            srows = self._smoothness(recipe, part)
            rows += srows
            if srows:
                lines += [f"Smoothness of the adversarial perturbation d ({part.label}):", ""]
                lines += table(["model", "point", "min L2", "TV(d)", "TV(d) / L2"],
                               [[r["model"], str(r["point"]), fmt(r["min_l2"]), fmt(r["tv"]), fmt(r["tv_per_l2"])]
                                for r in srows]) + [""]
                by = sorted(srows, key=lambda r: r["tv_per_l2"])
                findings.append(f"{part.label}: smoothest perturbation (lowest TV / L2) {by[0]['model']} "
                                f"{by[0]['tv_per_l2']:.2f}, roughest {by[-1]['model']} {by[-1]['tv_per_l2']:.2f}.")
        return {"lines": base["lines"] + lines, "rows": base["rows"] + rows, "findings": base["findings"] + findings}

    def figures(self, recipe, parts, out):
        plt = pyplot()
        files = []
        for part in parts:
            recs = [r for r in part.records if r.get("success") and "x_clean" in r]
            if not recs:
                continue
            point = recs[0]["point"]
            recs = [r for r in recs if r["point"] == point]
            fig, axes = plt.subplots(len(recs), 1, figsize=(6, 1.9 * len(recs)), sharex=True, squeeze=False)
            clean = np.asarray(recs[0]["x_clean"])
            for ax, r in zip(axes[:, 0], recs):
                adv = decode_array(r["x_adv"]).ravel()
                ax.plot(clean, color="0.4", lw=1.2, label="original")
                ax.plot(adv, color="tab:red", lw=1.0, label=f"adversarial ({r['model']})")
                ax.set_title(f"{r['model']}: min L2 {r['min_l2']:.3f}, TV(d) {total_variation(adv - clean):.3f}",
                             fontsize=8)
                ax.legend(fontsize=7, loc="upper right")
            axes[-1, 0].set_xlabel("sample (125 Hz)")
            files.append(save_figure(fig, out, f"beats_{part.label}.png"))
        return files
