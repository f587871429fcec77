"""min_l2: the smallest L2 distortion that flips each model's label, per test point and attack (T2, T3, T4,
T5, T8, quickstart). One unit = one model x attack x point, measured by `scd_plugins.attacks.min_l2`.

Optional `[significance]` (T8): a paired test of one model's per-point min L2 against the next most robust
model's over the same points."""
from __future__ import annotations

import math

import numpy as np

from scd_plugins.repro.checks import need, only
from scd_plugins.repro.protocols import Protocol, encode_array, fmt, pyplot, save_figure, table


def paper_value(recipe, key, part_label, name):
    """The paper's figure `name` ("MODEL" or "MODEL/ATTACK") from [paper_figures.<key>] (or .<key>.<data>)."""
    figs = recipe.get("paper_figures", {}).get(key, {})
    if isinstance(figs.get(part_label), dict):
        figs = figs[part_label]
    return figs.get(name)


def misclassified(rec) -> bool:
    """The model's clean label is not the true one: the point is adversarial already (distortion about 0)."""
    return "y" in rec and rec["label"] != rec["y"]


def measured(rec) -> bool:
    """A min L2 that counts: the attack flipped a correctly classified point."""
    return bool(rec.get("success")) and not misclassified(rec)


def mean_success(recs):
    ok = [r["min_l2"] for r in recs if measured(r)]
    return float(np.mean(ok)) if ok else float("nan")


def init_pool(ds, seed, n=200):
    """Starting images when no uniform-noise draw is adversarial: n training images (seeded choice)."""
    idx = np.sort(np.random.default_rng(seed).choice(len(ds.x_train), min(n, len(ds.x_train)), replace=False))
    return ds.x_train[idx]


def attack_kwargs(atk, ctx):
    return dict(attack=atk["name"], settings=atk["params"], restarts=atk["restarts"], init=atk["init"],
                init_size=atk["init_size"], seed=ctx["seed"], input_shape=ctx["input_shape"],
                clip_values=ctx["clip_values"], init_pool=ctx.get("init_pool"))


def paired_test(a, b):
    """Wilcoxon signed-rank test (two-sided) of paired samples a vs b, and the paired t-test beside it."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    out = {"n": int(len(a)), "median_difference": float(np.median(a - b)) if len(a) else float("nan")}
    if len(a) < 2 or np.allclose(a, b):
        return {**out, "wilcoxon_p": float("nan"), "t_p": float("nan")}
    out["wilcoxon_p"] = float(stats.wilcoxon(a, b, alternative="two-sided").pvalue)
    out["t_p"] = float(stats.ttest_rel(a, b).pvalue)
    return out


class MinL2(Protocol):
    name = "min_l2"
    sections = ("significance",)

    def check(self, recipe):
        sig = recipe.get("significance")
        if sig is None:
            return
        only(sig, ("reference", "attack"), "[significance]")
        labels = [m["label"] for m in recipe["models"]]
        need(sig.get("reference") in labels, f"significance.reference must be a model label {labels}")
        sig.setdefault("attack", recipe["attacks"][0]["label"])
        need(sig["attack"] in [a["label"] for a in recipe["attacks"]], "significance.attack must be an attack label")
        need(len(labels) >= 2, "[significance] needs at least two models")

    def context(self, recipe, part, ds):
        return {**super().context(recipe, part, ds), "init_pool": init_pool(ds, recipe["seed"])}

    def units(self, recipe, part, ds):
        out = []
        for m in recipe["models"]:
            info = part.models[m["label"]]
            if info.get("missing"):
                continue
            for a in recipe["attacks"]:
                for p in part.points:
                    out.append({"key": f"{m['label']}|{a['label']}|{p}", "model": m["label"], "attack": a["label"],
                                "point": int(p), "y": np.asarray(ds.y_test[p]).item(), "model_path": info["path"]})
        return out

    def run(self, unit, x, ctx):
        from scd_plugins.attacks import min_l2
        from scd_plugins.repro.models import load_cached

        est = load_cached(unit["model_path"])
        res = min_l2(est, x[None], indices=[unit["point"]], verbose=False,
                     **attack_kwargs(ctx["attacks"][unit["attack"]], ctx))[0]
        payload = {k: unit[k] for k in ("model", "attack", "point", "y")}
        payload.update(res.to_dict())
        payload["x_adv"] = None if res.x_adv is None else encode_array(res.x_adv)
        return payload

    # ----- report ---------------------------------------------------------------------------------------
    def _rows(self, recipe, part):
        rows = []
        for m in recipe["models"]:
            info = part.models.get(m["label"], {})
            for a in recipe["attacks"]:
                recs = [r for r in part.records if r["model"] == m["label"] and r["attack"] == a["label"]]
                rows.append({"data": part.label, "model": m["label"], "attack": a["label"],
                             "status": info.get("missing", "ran" if recs else "no units yet"),
                             "clean_accuracy_pct": None if info.get("accuracy") is None else 100 * info["accuracy"],
                             "paper_accuracy_pct": paper_value(recipe, "accuracy", part.label, m["label"]),
                             "mean_min_l2": mean_success(recs),
                             "paper_min_l2": paper_value(recipe, "min_l2", part.label, f"{m['label']}/{a['label']}"),
                             "fooled": sum(bool(r.get("success")) for r in recs), "points": len(recs),
                             "misclassified": sum(misclassified(r) for r in recs),
                             "mean_queries": float(np.mean([r["queries"] for r in recs])) if recs else float("nan"),
                             "seconds_per_point": float(np.mean([r["seconds"] for r in recs])) if recs else float("nan"),
                             "members": info.get("members")})
        return rows

    def summarize(self, recipe, parts):
        lines, rows, findings = [], [], []
        for part in parts:
            if part.status == "skipped":
                lines += [f"### {part.label}: skipped", "", part.note, ""]
                continue
            prow = self._rows(recipe, part)
            rows += prow
            lines += [f"### {part.label} ({part.data_name}, {len(part.points)} test points)", ""]
            lines += table(["model", "attack", "members", "clean acc %", "paper acc %", "mean min L2", "paper",
                            "fooled", "queries/pt", "s/pt"],
                           [[r["model"], r["attack"], fmt(r["members"]),
                             fmt(r["clean_accuracy_pct"], 1) if r["status"] == "ran" or r["clean_accuracy_pct"]
                             else r["status"], fmt(r["paper_accuracy_pct"], 1), fmt(r["mean_min_l2"]),
                             fmt(r["paper_min_l2"], 2), f"{r['fooled']}/{r['points']}", fmt(r["mean_queries"], 0),
                             fmt(r["seconds_per_point"], 1)] for r in prow]) + [""]
            lines += self._per_point(recipe, part)
            findings += self._findings(recipe, part, prow)
            if recipe.get("significance"):
                lines_sig, f_sig = self._significance(recipe, part, prow)
                lines += lines_sig
                findings += f_sig
        return {"lines": lines, "rows": rows, "findings": findings}

    def _findings(self, recipe, part, prow):
        out = []
        for a in recipe["attacks"]:
            got = [r for r in prow if r["attack"] == a["label"] and math.isfinite(r["mean_min_l2"])]
            if len(got) < 2:
                continue
            got.sort(key=lambda r: -r["mean_min_l2"])
            hi, lo = got[0], got[-1]
            text = (f"{part.label}, {a['label']}: the most robust model is {hi['model']} (mean min L2 "
                    f"{hi['mean_min_l2']:.3f}), the least {lo['model']} ({lo['mean_min_l2']:.3f}); ratio "
                    f"{hi['mean_min_l2'] / lo['mean_min_l2']:.2f}x")
            out.append(text + ".")
            by = {r["model"]: r for r in got}
            if "SCD01" in by and "MLP" in by:
                out.append(self._scd_vs_mlp(recipe, part, a["label"], by))
        return out

    def _scd_vs_mlp(self, recipe, part, atk, by):
        """The paper's central comparison in one plain sentence: ratio of means, paired test, points."""
        pts = {m: {r["point"]: r["min_l2"] for r in part.records
                   if r["model"] == m and r["attack"] == atk and measured(r)} for m in ("SCD01", "MLP")}
        common = sorted(set(pts["SCD01"]) & set(pts["MLP"]))
        a, b = [pts["SCD01"][q] for q in common], [pts["MLP"][q] for q in common]
        test = paired_test(a, b)
        ratio = float(np.mean(a) / np.mean(b)) if common else float("nan")
        p = test["wilcoxon_p"]
        larger = sum(x > y for x, y in zip(a, b))
        if p < 0.05 and ratio > 1:
            verdict = "shows the paper's effect: SCD01 is the harder model to fool"
        elif p < 0.05:
            verdict = "shows the opposite of the paper's effect: MLP is the harder model to fool"
        else:
            verdict = ("does NOT show the paper's effect: the difference is not significant at 0.05 on these "
                       "points")
        paper_scd, paper_mlp = (paper_value(recipe, "min_l2", part.label, f"{m}/{atk}") for m in ("SCD01", "MLP"))
        paper = (f" Paper ({atk}): {paper_scd / paper_mlp:.1f}x ({paper_scd} vs {paper_mlp})."
                 if paper_scd and paper_mlp else "")
        return (f"{part.label}, {atk}: this run {verdict}. Over the {len(common)} points both were fooled on "
                f"(correctly classified by both), mean min L2 SCD01 {fmt(float(np.mean(a)) if a else None)} vs MLP "
                f"{fmt(float(np.mean(b)) if b else None)}, ratio {fmt(ratio, 2)}x; SCD01 needs more distortion on "
                f"{larger} of {len(common)} points; paired Wilcoxon signed-rank (two-sided) p = {fmt(p, 3)}, "
                f"paired t-test p = {fmt(test['t_p'], 3)}.{paper}")

    def _per_point(self, recipe, part):
        """min L2 of every model and attack at every point (small runs only: up to 40 points)."""
        combos = [(m["label"], a["label"]) for m in recipe["models"] for a in recipe["attacks"]
                  if not part.models.get(m["label"], {}).get("missing")]
        if not part.records or len(part.points) > 40 or not combos:
            return []
        got = {(r["model"], r["attack"], r["point"]): r for r in part.records}

        def cell(rec):
            if rec is None:
                return "—"
            if misclassified(rec):
                return "misclassified"
            return fmt(rec["min_l2"]) if rec.get("success") else "not fooled"

        head = ["point", "label"] + [mo if len(recipe["attacks"]) == 1 else f"{mo}/{at}" for mo, at in combos]
        body = []
        for p in part.points:
            recs = [got.get((mo, at, p)) for mo, at in combos]
            y = next((r["y"] for r in recs if r is not None and "y" in r), "—")
            body.append([str(p), str(y)] + [cell(r) for r in recs])
        return ["min L2 per test point:", ""] + table(head, body) + [""]

    def _significance(self, recipe, part, prow):
        sig = recipe["significance"]
        ref, atk = sig["reference"], sig["attack"]
        others = [r for r in prow if r["attack"] == atk and r["model"] != ref and math.isfinite(r["mean_min_l2"])]
        if not others or not any(r["model"] == ref for r in prow):
            return [], []
        best = max(others, key=lambda r: r["mean_min_l2"])

        def per_point(model):
            return {r["point"]: r for r in part.records if r["model"] == model and r["attack"] == atk}

        a, b = per_point(ref), per_point(best["model"])
        common = sorted(p for p in set(a) & set(b) if measured(a[p]) and measured(b[p]))
        test = paired_test([a[p]["min_l2"] for p in common], [b[p]["min_l2"] for p in common])
        dropped = len(set(a) & set(b)) - len(common)
        lines = [f"Paired test, {ref} vs the next most robust model ({best['model']}), {atk} min L2 over the same "
                 f"{test['n']} points" + (f" ({dropped} points where either was not fooled or misclassified are left out)"
                                          if dropped else "") + ":", "",
                 f"- Wilcoxon signed-rank, two-sided: p = {fmt(test['wilcoxon_p'], 4)} (median difference "
                 f"{fmt(test['median_difference'], 4)}). Chosen because the pairs are the same points, min L2 is "
                 "skewed and bounded below, and n is small: the signed-rank test needs no normality.",
                 f"- Paired t-test for comparison: p = {fmt(test['t_p'], 4)}. The paper reports p = .008 "
                 "(SCD01 vs RF) without naming its test.", ""]
        finding = (f"{part.label}: {ref} vs {best['model']} (next most robust), Wilcoxon signed-rank p = "
                   f"{fmt(test['wilcoxon_p'], 4)} over {test['n']} paired points (paper: p = .008).")
        part.notes.append(f"significance: {ref} vs {best['model']}: Wilcoxon p = {fmt(test['wilcoxon_p'], 4)}, "
                          f"paired t p = {fmt(test['t_p'], 4)}, n = {test['n']}")
        return lines, [finding]

    def figures(self, recipe, parts, out):
        plt = pyplot()
        files = []
        for part in parts:
            if not part.records:
                continue
            combos = [(m["label"], a["label"]) for m in recipe["models"] for a in recipe["attacks"]]
            vals = [[r["min_l2"] for r in part.records if r["model"] == mo and r["attack"] == at and measured(r)]
                    for mo, at in combos]
            keep = [i for i, v in enumerate(vals) if v]
            if not keep:
                continue
            fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(keep) + 1), 3.4))
            ax.boxplot([vals[i] for i in keep], showmeans=True)
            ax.set_xticks(range(1, len(keep) + 1),
                          [combos[i][0] if len(recipe["attacks"]) == 1 else f"{combos[i][0]}\n{combos[i][1]}"
                           for i in keep], fontsize=8)
            ax.set_ylabel("min L2 distortion")
            ax.set_title(f"{recipe['id']} {part.label}: min L2 per point", fontsize=9)
            files.append(save_figure(fig, out, f"min_l2_{part.label}.png"))
        return files
