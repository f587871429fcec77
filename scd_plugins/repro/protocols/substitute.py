"""substitute (F2): Papernot et al. (2017) substitute-model black-box attack. The first `n_seed` test points
seed an MLP substitute trained on the target's labels with Jacobian augmentation; FGSM on the substitute
attacks the rest; the control adds Gaussian noise of the same L2. One unit = one model, measured by
`scd_plugins.attacks.substitute_curve` (records per round and epsilon)."""
from __future__ import annotations

import inspect

import numpy as np

from scd_plugins.repro.checks import need, only, positive_int
from scd_plugins.repro.protocols import Protocol, fmt, pyplot, save_figure, table

# substitute_curve's keyword parameters (scd_plugins.attacks), checked when it is not importable yet.
PARAMS = ("clip_values", "rounds", "lmbda", "epochs", "batch_size", "learning_rate", "hidden", "max_growth",
          "epsilons", "random_state", "verbose", "device")


def _curve_fn():
    try:
        from scd_plugins.attacks import substitute_curve
    except ImportError:
        return None
    return substitute_curve


class Substitute(Protocol):
    name = "substitute"
    sections = ("substitute",)
    attacks = ()
    uses_points = False

    def check(self, recipe):
        s = recipe.setdefault("substitute", {})
        only(s, ("n_seed", "max_attack", "params"), "[substitute]")
        s.setdefault("n_seed", 200)
        s.setdefault("max_attack", 0)
        s.setdefault("params", {})
        positive_int(s["n_seed"], "substitute.n_seed")
        positive_int(s["max_attack"], "substitute.max_attack (0: every remaining test point)", minimum=0)
        fn = _curve_fn()
        accepted = set(PARAMS) if fn is None else set(inspect.signature(fn).parameters) - {
            "estimator", "X_seed", "X_attack", "y_attack", "input_shape"}
        typos = sorted(set(s["params"]) - accepted)
        need(not typos, f"substitute.params: unknown parameters {typos}; accepted: {sorted(accepted)}")
        p = s["params"]
        for k in ("rounds", "epochs", "batch_size", "max_growth"):
            if k in p:
                positive_int(p[k], f"substitute.params.{k}", minimum=0 if k == "rounds" else 1)
        if "epsilons" in p:
            need(isinstance(p["epsilons"], list) and p["epsilons"] and all(
                isinstance(e, (int, float)) and e > 0 for e in p["epsilons"]),
                "substitute.params.epsilons must be a non-empty list of numbers > 0")

    def context(self, recipe, part, ds):
        return {"seed": recipe["seed"], "input_shape": tuple(ds.sample_shape),
                "clip_values": tuple(float(c) for c in ds.clip_values), "substitute": recipe["substitute"]}

    def units(self, recipe, part, ds):
        n_seed = recipe["substitute"]["n_seed"]
        if n_seed >= len(ds.x_test):
            part.notes.append(f"substitute: n_seed {n_seed} >= {len(ds.x_test)} test points; nothing left to attack")
            return []
        return [{"key": f"{m['label']}|substitute", "model": m["label"], "model_path": part.models[m["label"]]["path"]}
                for m in recipe["models"] if not part.models[m["label"]].get("missing")]

    def unit_input(self, unit, ds):
        return ds.x_test, ds.y_test

    def run(self, unit, x, ctx):
        from scd_plugins.repro.models import load_cached

        fn = _curve_fn()
        if fn is None:
            return {"_unavailable": "scd_plugins.attacks.substitute_curve is not available in this version"}
        s = ctx["substitute"]
        x_test, y_test = x
        x_seed, x_att, y_att = x_test[:s["n_seed"]], x_test[s["n_seed"]:], y_test[s["n_seed"]:]
        if s["max_attack"]:
            x_att, y_att = x_att[:s["max_attack"]], y_att[:s["max_attack"]]
        params = {"clip_values": ctx["clip_values"], "random_state": ctx["seed"], **s["params"]}
        if "hidden" in params:
            params["hidden"] = tuple(params["hidden"])
        if "epsilons" in params:
            params["epsilons"] = tuple(params["epsilons"])
        recs = fn(load_cached(unit["model_path"]), x_seed, x_att, y_att, input_shape=ctx["input_shape"], **params)
        return {"model": unit["model"], "n_attack": int(len(x_att)),
                "records": [{k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in r.items()}
                            for r in recs]}

    @staticmethod
    def _final(records):
        """The last round's records, one per epsilon."""
        if not records:
            return []
        last = max(r["round"] for r in records)
        return sorted((r for r in records if r["round"] == last), key=lambda r: r["distortion"])

    def summarize(self, recipe, parts):
        lines, rows, findings = [], [], []
        fig = recipe.get("paper_figures", {})
        for part in parts:
            if part.status == "skipped":
                lines += [f"### {part.label}: skipped", "", part.note, ""]
                continue
            lines += [f"### {part.label}: after the last substitute round", ""]
            trows = []
            for m in recipe["models"]:
                info = part.models.get(m["label"], {})
                rec = next((r for r in part.records if r["model"] == m["label"]), None)
                if rec is None:
                    trows.append([m["label"], info.get("missing", "not run"), "", "", "", ""])
                    continue
                for r in self._final(rec["records"]):
                    rows.append({"data": part.label, "model": m["label"], **r})
                    trows.append([m["label"], fmt(r["epsilon"], 4), fmt(r["distortion"]),
                                  fmt(100 * r["accuracy"], 1), fmt(100 * r["noise_accuracy"], 1),
                                  fmt(100 * r["clean_accuracy"], 1)])
                fin = self._final(rec["records"])
                if fin:
                    top = fin[-1]
                    findings.append(f"{part.label}, {m['label']}: at distortion {top['distortion']:.3f} accuracy "
                                    f"{100 * top['accuracy']:.1f}% under the substitute attack vs "
                                    f"{100 * top['noise_accuracy']:.1f}% under Gaussian noise of the same L2.")
            lines += table(["model", "epsilon", "distortion", "accuracy %", "noise control %", "clean %"], trows)
            lines += ["", f"Paper (F2): {fig.get('note', 'at distortion 0.125 MLP and BNN near 0%, SCD01 about 40%; noise barely changes any model')}.", ""]
        return {"lines": lines, "rows": rows, "findings": findings}

    def figures(self, recipe, parts, out):
        plt = pyplot()
        files = []
        for part in parts:
            if not part.records:
                continue
            fig, ax = plt.subplots(figsize=(5.5, 3.6))
            for i, rec in enumerate(part.records):
                fin = self._final(rec["records"])
                if not fin:
                    continue
                c = f"C{i}"
                ax.plot([r["distortion"] for r in fin], [100 * r["accuracy"] for r in fin], "-o", color=c,
                        label=f"{rec['model']} substitute FGSM")
                ax.plot([r["distortion"] for r in fin], [100 * r["noise_accuracy"] for r in fin], "--", color=c,
                        alpha=0.6, label=f"{rec['model']} Gaussian noise")
            ax.set_xlabel("distortion")
            ax.set_ylabel("target accuracy %")
            ax.set_ylim(0, 100)
            ax.legend(fontsize=6)
            files.append(save_figure(fig, out, f"substitute_{part.label}.png"))
        return files
