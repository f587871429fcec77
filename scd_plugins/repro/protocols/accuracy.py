"""accuracy (T1): seconds to train one vote, and the full ensemble's test accuracy, per model and data set.
One unit = one model: a one-member copy of it trained from scratch in a worker (timed); the ensemble is the
runner's cached model, whose test accuracy the runner measures."""
from __future__ import annotations

import math
import time

import numpy as np

from scd_plugins.repro.protocols import Protocol, fmt, pyplot, save_figure, table
from scd_plugins.repro.protocols.min_l2 import paper_value


class Accuracy(Protocol):
    name = "accuracy"
    attacks = ()
    uses_points = False
    global_random = False

    def context(self, recipe, part, ds):
        return {"seed": recipe["seed"]}

    def units(self, recipe, part, ds):
        return [{"key": f"{m['label']}|one_vote", "model": m["label"], "cfg": {"name": m["name"], "params": m["params"]}}
                for m in recipe["models"] if not part.models[m["label"]].get("missing")]

    def unit_input(self, unit, ds):
        return ds.x_train, ds.y_train, ds.x_test, ds.y_test

    def run(self, unit, x, ctx):
        from scd_plugins import registry
        from scd_plugins.repro.models import build

        x_tr, y_tr, x_te, y_te = x
        meta = registry.entry("model", unit["cfg"]["name"]).meta
        override = {meta["members_param"]: 1}
        if "n_jobs" in unit["cfg"]["params"]:
            override["n_jobs"] = 1                      # one vote on one core, as the paper's per-vote seconds
        est = build(unit["cfg"], ctx["seed"], **override)
        t0 = time.perf_counter()
        est.fit(x_tr, y_tr)
        seconds = time.perf_counter() - t0
        return {"model": unit["model"], "seconds_one_vote": seconds,
                "one_vote_accuracy": float(np.mean(np.asarray(est.predict(x_te)) == y_te)),
                "n_train": int(len(x_tr)), "n_features": int(x_tr.shape[1])}

    def summarize(self, recipe, parts):
        lines, rows, findings = [], [], []
        for part in parts:
            if part.status == "skipped":
                lines += [f"### {part.label}: skipped", "", part.note, ""]
                rows += [{"data": part.label, "model": m["label"], "status": part.note} for m in recipe["models"]]
                continue
            by = {r["model"]: r for r in part.records}
            prow = []
            for m in recipe["models"]:
                info, rec = part.models.get(m["label"], {}), by.get(m["label"], {})
                prow.append({"data": part.label, "model": m["label"], "status": info.get("missing", "ran"),
                             "members": info.get("members"),
                             "seconds_one_vote": rec.get("seconds_one_vote"),
                             "paper_seconds": paper_value(recipe, "seconds", part.label, m["label"]),
                             "ensemble_accuracy_pct": None if info.get("accuracy") is None else 100 * info["accuracy"],
                             "paper_accuracy_pct": paper_value(recipe, "accuracy", part.label, m["label"]),
                             "one_vote_accuracy_pct": None if "one_vote_accuracy" not in rec
                             else 100 * rec["one_vote_accuracy"],
                             "ensemble_train_seconds": info.get("train_seconds")})
            rows += prow
            n_train = next((r["n_train"] for r in part.records), None)
            lines += [f"### {part.label} ({part.data_name}, {n_train} training rows)", ""]
            lines += table(["model", "s / vote", "paper s / vote", "members", "ensemble acc %", "paper acc %",
                            "one-vote acc %", "ensemble train s"],
                           [[r["model"], fmt(r["seconds_one_vote"], 2) if r["status"] == "ran" else r["status"],
                             fmt(r["paper_seconds"], 0), fmt(r["members"]), fmt(r["ensemble_accuracy_pct"], 1),
                             fmt(r["paper_accuracy_pct"], 0), fmt(r["one_vote_accuracy_pct"], 1),
                             fmt(r["ensemble_train_seconds"], 1)] for r in prow]) + [""]
            got = {r["model"]: r for r in prow if r["seconds_one_vote"]}
            if "SCD01" in got and "MLP" in got:
                ours = got["SCD01"]["seconds_one_vote"] / got["MLP"]["seconds_one_vote"]
                paper = (got["SCD01"]["paper_seconds"] or math.nan) / (got["MLP"]["paper_seconds"] or math.nan)
                findings.append(f"{part.label}: one SCD01 vote takes {ours:.2f}x the time of one MLP "
                                f"(paper: {paper:.2f}x, on its hardware and data).")
        lines += ["Seconds are wall time on this machine (one vote, one core); the paper's are on its GPU/CPU, so "
                  "compare ratios between models, not absolute seconds."]
        return {"lines": lines, "rows": rows, "findings": findings}

    def figures(self, recipe, parts, out):
        plt = pyplot()
        files = []
        for part in parts:
            by = {r["model"]: r for r in part.records}
            labels = [m["label"] for m in recipe["models"] if m["label"] in by]
            if not labels:
                continue
            fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
            ax[0].bar(labels, [by[m]["seconds_one_vote"] for m in labels])
            ax[0].set_ylabel("seconds per vote")
            ax[1].bar(labels, [100 * (part.models[m].get("accuracy") or 0) for m in labels])
            ax[1].set_ylabel("ensemble test accuracy %")
            fig.suptitle(f"{recipe['id']} {part.label}", fontsize=9)
            files.append(save_figure(fig, out, f"accuracy_{part.label}.png"))
        return files
