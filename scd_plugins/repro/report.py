"""The report of a recipe run: a markdown table beside the paper's numbers, CSV of every unit, JSON
summary and PNG plots (distortion per model, the F1 curve, example adversarial images)."""
from __future__ import annotations

import json
import math

import numpy as np


def _fmt(v, digits=3):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _frame(store):
    import pandas as pd

    rows = []
    for key, run_id, p in store.rows():
        rows.append({"key": key, "run_id": run_id, "kind": p.get("kind"), "model": p.get("model"),
                     "attack": p.get("attack"), "point": p.get("point"), "size": p.get("size"),
                     "vote": p.get("vote"), "min_l2": p.get("min_l2", p.get("l2")), "success": p.get("success"),
                     "queries": p.get("queries"), "seconds": p.get("seconds"),
                     "n_fooled": int(np.sum(p["fooled"])) if p.get("fooled") is not None else None})
    return pd.DataFrame(rows, columns=["key", "run_id", "kind", "model", "attack", "point", "size", "vote",
                                       "min_l2", "success", "queries", "seconds", "n_fooled"])


def _mean_success(group):
    ok = group[group["success"].astype(bool)]
    return float(ok["min_l2"].mean()) if len(ok) else float("nan")


def summarize(store, recipe, units):
    """Summary numbers per model (and attack / ensemble size) from the stored units."""
    df = _frame(store)
    models_meta = store.get_meta("models") or {}
    figures = recipe.get("paper_figures", {})
    summary = {"id": recipe["id"], "title": recipe["title"], "paper": recipe["paper"],
               "protocol": recipe["protocol"], "data": (store.get_meta("data") or {}).get("note"),
               "units_done": int(len(df)), "units_planned": len(units), "models": []}
    for m in recipe["models"]:
        label = m["label"]
        entry = {"model": label, "accuracy": models_meta.get(label, {}).get("accuracy"),
                 "paper_accuracy": figures.get("accuracy", {}).get(label), "attacks": []}
        for a in recipe["attacks"]:
            g = df[(df["model"] == label) & (df["attack"] == a["label"])]
            item = {"attack": a["label"], "n": int(len(g)), "n_success": int(g["success"].astype(bool).sum())
                    if len(g) else 0, "mean_queries": float(g["queries"].mean()) if len(g) else float("nan"),
                    "mean_seconds": float(g["seconds"].mean()) if len(g) else float("nan")}
            if recipe["protocol"] == "min_l2":
                item["mean_min_l2"] = _mean_success(g)
                item["paper_min_l2"] = figures.get("min_l2", {}).get(f"{label}/{a['label']}")
            elif recipe["protocol"] == "ensemble_size":
                item["curve"] = {int(k): _mean_success(gk) for k, gk in g.groupby("size")}
            else:
                item["transfer_probability"] = _transfer_probability(store, label, a["label"])
                item["paper_transfer"] = figures.get("transfer", {}).get(label)
            entry["attacks"].append(item)
        summary["models"].append(entry)
    return summary, df


def _transfer_probability(store, model, attack):
    """Mean over images of fooled (i != j) pairs / R(R-1), over the votes attacked so far."""
    from scd_plugins.attacks import transfer_probability

    per_image = {}
    for _, _, p in store.rows():
        if p.get("kind") == "transfer" and p["model"] == model and p["attack"] == attack:
            per_image.setdefault(p["point"], {})[p["vote"]] = np.asarray(p["fooled"], dtype=bool)
    if not per_image:
        return float("nan")
    probs = []
    for rows in per_image.values():
        r = len(next(iter(rows.values())))
        m = np.zeros((r, r), dtype=bool)
        for v, row in rows.items():
            m[v] = row
        k = len(rows)           # only attacked votes count as adversary sources: R_attacked x (R - 1)
        probs.append(transfer_probability(m) * r * (r - 1) / (k * (r - 1)))
    return float(np.mean(probs))


def markdown(summary):
    lines = [f"## {summary['id']}: {summary['title']}", "",
             f"Paper: {summary['paper']}. Data: {summary['data']}. Units done: {summary['units_done']} of "
             f"{summary['units_planned']}.", ""]
    if "fallback" in str(summary["data"]):
        lines += ["Paper columns hold the paper's numbers for its own data set; this run used the fallback data, "
                  "so compare them as orders of magnitude, not digit by digit.", ""]
    proto = summary["protocol"]
    attacks = [a["attack"] for a in summary["models"][0]["attacks"]] if summary["models"] else []
    if proto == "min_l2":
        head = ["model", "clean acc %", "paper acc %"]
        for a in attacks:
            head += [f"{a} mean min L2", f"{a} paper", f"{a} fooled", f"{a} queries/pt", f"{a} s/pt"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in summary["models"]:
            row = [m["model"], _fmt(None if m["accuracy"] is None else 100 * m["accuracy"], 1),
                   _fmt(m["paper_accuracy"])]
            for a in m["attacks"]:
                row += [_fmt(a["mean_min_l2"]), _fmt(a["paper_min_l2"]), f"{a['n_success']}/{a['n']}",
                        _fmt(a["mean_queries"], 0), _fmt(a["mean_seconds"], 1)]
            lines.append("| " + " | ".join(row) + " |")
    elif proto == "ensemble_size":
        sizes = sorted({k for m in summary["models"] for a in m["attacks"] for k in a["curve"]})
        head = ["model", "attack"] + [f"{k} votes" for k in sizes]
        lines += ["Mean min L2 by ensemble size:", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in summary["models"]:
            for a in m["attacks"]:
                lines.append("| " + " | ".join([m["model"], a["attack"]] + [_fmt(a["curve"].get(k)) for k in sizes])
                             + " |")
    else:
        head = ["model", "attack", "transfer probability", "paper", "single votes fooled"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in summary["models"]:
            for a in m["attacks"]:
                lines.append("| " + " | ".join([m["model"], a["attack"], _fmt(a["transfer_probability"], 4),
                                                _fmt(a["paper_transfer"]), f"{a['n_success']}/{a['n']}"]) + " |")
    lines.append("")
    return "\n".join(lines)


def _plots(store, summary, df, ds, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    if summary["protocol"] == "min_l2" and len(df):
        fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(summary["models"]) * len(summary["models"][0]["attacks"])),
                                        3.5))
        labels, values = [], []
        for m in summary["models"]:
            for a in m["attacks"]:
                g = df[(df["model"] == m["model"]) & (df["attack"] == a["attack"]) & df["success"].astype(bool)]
                labels.append(f"{m['model']}\n{a['attack']}")
                values.append(g["min_l2"].to_numpy(dtype=float))
        ax.boxplot([v if len(v) else [np.nan] for v in values], tick_labels=labels)
        for i, v in enumerate(values):
            ax.scatter(np.full(len(v), i + 1), v, s=10, alpha=0.6)
        ax.set_ylabel("min L2 distortion")
        ax.set_title(f"{summary['id']}: minimum L2 per point")
        fig.tight_layout()
        fig.savefig(out / "min_l2.png", dpi=120)
        plt.close(fig)
        files.append("min_l2.png")
    if summary["protocol"] == "ensemble_size" and len(df):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for m in summary["models"]:
            for a in m["attacks"]:
                ks = sorted(a["curve"])
                ax.plot(ks, [a["curve"][k] for k in ks], marker="o", label=f"{m['model']} ({a['attack']})")
        ax.set_xlabel("number of votes")
        ax.set_ylabel("mean min L2")
        ax.set_title(f"{summary['id']}: ensemble size vs robustness")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "ensemble_size.png", dpi=120)
        plt.close(fig)
        files.append("ensemble_size.png")
    shape = tuple(ds.sample_shape)
    examples = [(k, p) for k, _, p in store.rows() if p.get("x_adv")]
    if examples and len(shape) in (2, 3) and (len(shape) == 2 or shape[-1] in (1, 3)):
        from scd_plugins.repro.runner import decode_array

        first_point = examples[0][1]["point"]
        chosen = [p for _, p in examples if p["point"] == first_point][:8]
        x = ds.x_test[first_point].reshape(shape)
        fig, axes = plt.subplots(2, len(chosen) + 1, figsize=(1.8 * (len(chosen) + 1), 3.8), squeeze=False)
        axes[0, 0].imshow(x.squeeze(), cmap="gray" if x.squeeze().ndim == 2 else None, vmin=0, vmax=1)
        axes[0, 0].set_title("original", fontsize=8)
        axes[1, 0].axis("off")
        for j, p in enumerate(chosen, start=1):
            xa = decode_array(p["x_adv"]).reshape(shape)
            axes[0, j].imshow(np.clip(xa, 0, 1).squeeze(), cmap="gray" if xa.squeeze().ndim == 2 else None,
                              vmin=0, vmax=1)
            axes[0, j].set_title(f"{p['model']} {p['attack']}\nL2={p['min_l2']:.2f}", fontsize=7)
            diff = np.abs(xa - x).sum(axis=-1) if len(shape) == 3 else np.abs(xa - x)
            axes[1, j].imshow(diff, cmap="magma")
            axes[1, j].set_title("|difference|", fontsize=7)
        for a in axes.ravel():
            a.set_xticks([])
            a.set_yticks([])
        fig.tight_layout()
        fig.savefig(out / "examples.png", dpi=120)
        plt.close(fig)
        files.append("examples.png")
    return files


def write_report(store, recipe, ds, out, units):
    """Write report.md, results.csv, summary.json and PNG plots into `out`; returns the summary dict."""
    summary, df = summarize(store, recipe, units)
    text = markdown(summary)
    df.to_csv(out / "results.csv", index=False)
    summary["plots"] = _plots(store, summary, df, ds, out)
    summary["markdown"] = text
    (out / "report.md").write_text(text + "\n" + "".join(f"\n![{f}]({f})\n" for f in summary["plots"]))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary
