"""ensemble_size (F1): min L2 (HopSkipJump) of the sub-ensemble made of the first k members, as a function of
k. One unit = one model x attack x size x point, measured by `scd_plugins.attacks.ensemble_size_curve`
(whose rule, 1 <= k <= members, is checked when the recipe loads)."""
from __future__ import annotations

import numpy as np

from scd_plugins.repro.checks import members_of, need, only
from scd_plugins.repro.protocols import encode_array, fmt, pyplot, save_figure, table
from scd_plugins.repro.protocols.min_l2 import MinL2, attack_kwargs, mean_success


class EnsembleSize(MinL2):
    name = "ensemble_size"
    sections = ("ensemble_size",)

    def check(self, recipe):
        es = recipe.get("ensemble_size")
        need(isinstance(es, dict), "protocol ensemble_size needs [ensemble_size] sizes = [1, 5, ...]")
        only(es, ("sizes",), "[ensemble_size]")
        sizes = es.get("sizes")
        need(isinstance(sizes, list) and sizes and all(isinstance(k, int) and k >= 1 for k in sizes),
             "ensemble_size.sizes must be a non-empty list of integers >= 1")
        for m in recipe["models"]:
            r = members_of(m)
            bad = [k for k in sizes if r is not None and k > r]
            need(not bad, f"model {m['label']!r} has {r} members; ensemble sizes {bad} are larger")

    def units(self, recipe, part, ds):
        out = []
        for m in recipe["models"]:
            info = part.models[m["label"]]
            if info.get("missing"):
                continue
            for a in recipe["attacks"]:
                for k in recipe["ensemble_size"]["sizes"]:
                    for p in part.points:
                        out.append({"key": f"{m['label']}|{a['label']}|k={k}|{p}", "model": m["label"],
                                    "attack": a["label"], "size": int(k), "point": int(p),
                                    "model_path": info["path"]})
        return out

    def run(self, unit, x, ctx):
        from scd_plugins.attacks import ensemble_size_curve
        from scd_plugins.repro.models import load_cached

        est = load_cached(unit["model_path"])
        res = ensemble_size_curve(est, x[None], [unit["size"]], indices=[unit["point"]], verbose=False,
                                  **attack_kwargs(ctx["attacks"][unit["attack"]], ctx))[unit["size"]][0]
        payload = {k: unit[k] for k in ("model", "attack", "point", "size")}
        payload.update(res.to_dict())
        payload["x_adv"] = None if res.x_adv is None else encode_array(res.x_adv)
        return payload

    def _curves(self, recipe, part):
        sizes = recipe["ensemble_size"]["sizes"]
        out = {}
        for m in recipe["models"]:
            for a in recipe["attacks"]:
                recs = [r for r in part.records if r["model"] == m["label"] and r["attack"] == a["label"]]
                if recs:
                    out[(m["label"], a["label"])] = {k: mean_success([r for r in recs if r["size"] == k])
                                                     for k in sizes}
        return out

    def summarize(self, recipe, parts):
        lines, rows, findings = [], [], []
        sizes = recipe["ensemble_size"]["sizes"]
        for part in parts:
            if part.status == "skipped":
                lines += [f"### {part.label}: skipped", "", part.note, ""]
                continue
            curves = self._curves(recipe, part)
            lines += [f"### {part.label}: mean min L2 by ensemble size ({len(part.points)} points)", ""]
            lines += table(["model", "attack"] + [f"{k} votes" for k in sizes],
                           [[mo, at] + [fmt(c[k]) for k in sizes] for (mo, at), c in curves.items()]) + [""]
            for (mo, at), c in curves.items():
                rows += [{"data": part.label, "model": mo, "attack": at, "size": k, "mean_min_l2": v}
                         for k, v in c.items()]
                first, last = c[sizes[0]], c[sizes[-1]]
                if np.isfinite(first) and np.isfinite(last):
                    findings.append(f"{part.label}, {mo}: mean min L2 {first:.3f} with {sizes[0]} votes -> "
                                    f"{last:.3f} with {sizes[-1]} ({last / first:.2f}x).")
        return {"lines": lines, "rows": rows, "findings": findings}

    def figures(self, recipe, parts, out):
        plt = pyplot()
        files = []
        for part in parts:
            curves = self._curves(recipe, part)
            if not curves:
                continue
            fig, ax = plt.subplots(figsize=(5, 3.4))
            for (mo, at), c in curves.items():
                ax.plot(list(c), list(c.values()), marker="o", label=mo if len(recipe["attacks"]) == 1 else f"{mo} {at}")
            ax.set_xlabel("number of votes")
            ax.set_ylabel("mean min L2")
            ax.legend(fontsize=8)
            ax.set_title(f"{recipe['id']} {part.label}", fontsize=9)
            files.append(save_figure(fig, out, f"ensemble_size_{part.label}.png"))
        return files
