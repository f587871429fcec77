"""transfer (T6): attack each single vote of an ensemble with HopSkipJump and count how many other votes the
adversary also fools; probability = fooled (i != j) pairs / R(R-1), averaged over images. One unit = one
model x attack x image x vote, measured by `scd_plugins.attacks.transfer_row`; the probability by
`scd_plugins.attacks.transfer_probability`."""
from __future__ import annotations

import numpy as np

from scd_plugins.repro.checks import members_of, need, only
from scd_plugins.repro.protocols import fmt, pyplot, save_figure, table
from scd_plugins.repro.protocols.min_l2 import MinL2, attack_kwargs, paper_value


class Transfer(MinL2):
    name = "transfer"
    sections = ("transfer",)

    def check(self, recipe):
        t = recipe.setdefault("transfer", {})
        only(t, ("votes",), "[transfer]")
        t.setdefault("votes", "all")
        need(t["votes"] == "all" or (isinstance(t["votes"], int) and t["votes"] >= 2),
             "transfer.votes must be \"all\" or an integer >= 2 (the first k votes)")
        for m in recipe["models"]:
            r = members_of(m)
            need(r is None or r >= 2, f"model {m['label']!r}: transferability needs at least 2 members, has {r}")

    def units(self, recipe, part, ds):
        out = []
        for m in recipe["models"]:
            info = part.models[m["label"]]
            if info.get("missing"):
                continue
            r = info["members"]
            votes = r if recipe["transfer"]["votes"] == "all" else min(r, recipe["transfer"]["votes"])
            for a in recipe["attacks"]:
                for p in part.points:
                    for v in range(votes):
                        out.append({"key": f"{m['label']}|{a['label']}|{p}|vote={v}", "model": m["label"],
                                    "attack": a["label"], "point": int(p), "vote": v, "model_path": info["path"]})
        return out

    def run(self, unit, x, ctx):
        from scd_plugins.attacks import transfer_row
        from scd_plugins.repro.models import load_cached, members

        est = load_cached(unit["model_path"])
        row = transfer_row(est, x, unit["vote"], index=unit["point"], members=members(unit["model_path"]),
                           **attack_kwargs(ctx["attacks"][unit["attack"]], ctx))
        return {**{k: unit[k] for k in ("model", "attack", "point", "vote")}, **row.to_dict()}

    @staticmethod
    def probability(records):
        """Mean over images of fooled (i != j) pairs over the votes attacked so far: R_attacked x (R - 1)."""
        from scd_plugins.attacks import transfer_probability

        per_image = {}
        for p in records:
            per_image.setdefault(p["point"], {})[p["vote"]] = np.asarray(p["fooled"], dtype=bool)
        probs = []
        for rows in per_image.values():
            r = len(next(iter(rows.values())))
            m = np.zeros((r, r), dtype=bool)
            for v, row in rows.items():
                m[v] = row
            probs.append(transfer_probability(m) * r / len(rows))
        return float(np.mean(probs)) if probs else float("nan")

    def summarize(self, recipe, parts):
        lines, rows, findings = [], [], []
        for part in parts:
            if part.status == "skipped":
                lines += [f"### {part.label}: skipped", "", part.note, ""]
                continue
            for m in recipe["models"]:
                info = part.models.get(m["label"], {})
                for a in recipe["attacks"]:
                    recs = [r for r in part.records if r["model"] == m["label"] and r["attack"] == a["label"]]
                    rows.append({"data": part.label, "model": m["label"], "attack": a["label"],
                                 "status": info.get("missing", "ran"), "members": info.get("members"),
                                 "transfer_probability": self.probability(recs) if recs else float("nan"),
                                 "paper": paper_value(recipe, "transfer", part.label, m["label"]),
                                 "single_votes_fooled": sum(bool(r["success"]) for r in recs), "units": len(recs)})
            lines += [f"### {part.label} ({part.data_name}, images {part.points})", ""]
            lines += table(["model", "attack", "members", "transfer probability", "paper", "single votes fooled"],
                           [[r["model"], r["attack"], fmt(r["members"]),
                             fmt(r["transfer_probability"], 4) if r["status"] == "ran" else r["status"],
                             fmt(r["paper"]), f"{r['single_votes_fooled']}/{r['units']}"]
                            for r in rows if r["data"] == part.label]) + [""]
            got = sorted((r for r in rows if r["data"] == part.label and np.isfinite(r["transfer_probability"])),
                         key=lambda r: r["transfer_probability"])
            if len(got) >= 2:
                findings.append(f"{part.label}: adversaries transfer least between the votes of {got[0]['model']} "
                                f"({got[0]['transfer_probability']:.4f}) and most in {got[-1]['model']} "
                                f"({got[-1]['transfer_probability']:.4f}); paper: SCD01 .006, MLP .39.")
        return {"lines": lines, "rows": rows, "findings": findings}

    def figures(self, recipe, parts, out):
        plt = pyplot()
        files = []
        for part in parts:
            vals = [(m["label"], self.probability([r for r in part.records if r["model"] == m["label"]]))
                    for m in recipe["models"] if any(r["model"] == m["label"] for r in part.records)]
            if not vals:
                continue
            fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(vals) + 1), 3.2))
            ax.bar([v[0] for v in vals], [v[1] for v in vals])
            ax.set_ylabel("transfer probability")
            ax.set_title(f"{recipe['id']} {part.label}", fontsize=9)
            files.append(save_figure(fig, out, f"transfer_{part.label}.png"))
        return files
