"""textfooler (T7): TextFooler (Jin et al. 2020) against classifiers on mean-GloVe document features. One unit =
one model x test document (the first `documents` of a seeded permutation of the test set). Online (TensorFlow
Hub importable, Hugging Face reachable) the attack is TextAttack's stock `textfooler`; otherwise
`textfooler-offline` (GloVe neighbours, NumPy USE, Pattern POS tagger; `scd_plugins.textattack.recipes`)."""
from __future__ import annotations

import functools
import json
import math
import os
import time

import numpy as np

from scd_plugins.repro.checks import need, only, positive_int
from scd_plugins.repro.protocols import Protocol, fmt, pyplot, save_figure, table

ATTACK_RECIPES = ("textfooler", "textfooler-offline")


def choose_recipe(requested: str = "auto") -> str:
    """'auto' -> the stock recipe when it can run (TensorFlow Hub importable and not offline), else the offline one."""
    if requested != "auto":
        return requested
    import importlib.util

    offline = any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return "textfooler" if not offline and importlib.util.find_spec("tensorflow_hub") else "textfooler-offline"


@functools.lru_cache(maxsize=4)
def _featurizer(config_json):
    from pipelines.text import GloveFeaturizer

    return GloveFeaturizer.from_config(json.loads(config_json))


@functools.lru_cache(maxsize=4)
def _attack(model_path, recipe, query_budget, config_json):
    import scd_plugins.textattack  # noqa: F401  (installs the import hook before textattack is imported)
    from scd_plugins import registry
    from scd_plugins.repro.models import load_cached
    from scd_plugins.textattack.wrapper import SCDModelWrapper

    model = load_cached(model_path)
    # Raw-text models (WordCNN) read the documents themselves; the others take mean-GloVe features.
    featurizer = None if getattr(model, "input_kind", None) == "text" else _featurizer(config_json)
    wrapper = SCDModelWrapper(model, featurizer)
    attack = registry.resolve("attack", recipe).build(wrapper)
    if query_budget:
        attack.goal_function.query_budget = query_budget
    return attack


def attack_document(attack, text: str, label: int, seed: int) -> dict:
    """One TextFooler run: result type, queries, seconds, perturbed word count and text."""
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult
    from textattack.shared.utils import set_seed

    set_seed(seed)
    start = time.perf_counter()
    result = attack.attack(text, label)
    seconds = time.perf_counter() - start
    kind = ("skipped" if isinstance(result, SkippedAttackResult)
            else "failed" if isinstance(result, FailedAttackResult) else "succeeded")
    original, perturbed = result.original_result.attacked_text, result.perturbed_result.attacked_text
    return {"result": kind, "queries": int(result.perturbed_result.num_queries), "seconds": seconds,
            "words": len(original.words),
            "changed_words": len(original.all_words_diff(perturbed)) if kind == "succeeded" else 0,
            "perturbed_text": perturbed.text if kind == "succeeded" else None}


def summarize_docs(recs) -> dict:
    """TextAttack's definitions: adversarial accuracy over all documents; queries and words over attacked ones."""
    n = len(recs)
    kinds = [x["result"] for x in recs]
    attacked = [x for x in recs if x["result"] != "skipped"]
    succeeded = [x for x in attacked if x["result"] == "succeeded"]
    return {"n_docs": n, "clean_acc_docs": (n - kinds.count("skipped")) / n if n else math.nan,
            "adv_acc": kinds.count("failed") / n if n else math.nan,
            "success_rate": len(succeeded) / len(attacked) if attacked else math.nan,
            "mean_queries": float(np.mean([x["queries"] for x in attacked])) if attacked else math.nan,
            "perturbed_word_pct": float(np.mean([100 * x["changed_words"] / max(x["words"], 1) for x in succeeded]))
            if succeeded else math.nan,
            "sec_per_doc": float(np.mean([x["seconds"] for x in attacked])) if attacked else math.nan}


class TextFooler(Protocol):
    name = "textfooler"
    sections = ("textfooler",)
    attacks = ()
    uses_points = False

    def check(self, recipe):
        t = recipe.setdefault("textfooler", {})
        only(t, ("documents", "recipe", "query_budget"), "[textfooler]")
        t.setdefault("documents", 1000)
        t.setdefault("recipe", "auto")
        t.setdefault("query_budget", 0)
        positive_int(t["documents"], "textfooler.documents")
        positive_int(t["query_budget"], "textfooler.query_budget (0: none)", minimum=0)
        need(t["recipe"] in ("auto", *ATTACK_RECIPES),
             f"textfooler.recipe must be 'auto' or one of {list(ATTACK_RECIPES)}, got {t['recipe']!r}")

    def context(self, recipe, part, ds):
        t = recipe["textfooler"]
        name = choose_recipe(t["recipe"])
        part.notes.append(f"attack recipe: {name}; vectors: {ds.featurizer.source}")
        return {"seed": recipe["seed"], "recipe": name, "query_budget": t["query_budget"],
                "featurizer": json.dumps(ds.featurizer.get_config(), sort_keys=True)}

    def units(self, recipe, part, ds):
        from scd_plugins.textattack.named import test_order

        if ds.texts_test is None:
            part.notes.append(f"{ds.name} has no documents: TextFooler needs a text data set")
            return []
        order = test_order(len(ds.texts_test), recipe["seed"])[:recipe["textfooler"]["documents"]]
        from scd_plugins.repro.models import load_cached

        out = []
        for m in recipe["models"]:
            info = part.models[m["label"]]
            if info.get("missing"):
                continue
            column = {c: i for i, c in enumerate(load_cached(info["path"]).classes_.tolist())}
            for position, doc in enumerate(order):
                out.append({"key": f"{m['label']}|{position}", "model": m["label"], "position": position,
                            "doc": int(doc), "label": column[int(ds.y_test[doc])], "model_path": info["path"]})
        return out

    def unit_input(self, unit, ds):
        from scd_plugins.textattack.named import attack_text

        return attack_text(ds.texts_test[unit["doc"]])

    def run(self, unit, x, ctx):
        attack = _attack(unit["model_path"], ctx["recipe"], ctx["query_budget"], ctx["featurizer"])
        rec = attack_document(attack, x, unit["label"], ctx["seed"])
        return {**{k: unit[k] for k in ("model", "position", "doc", "label")}, "recipe": ctx["recipe"], **rec}

    def summarize(self, recipe, parts):
        lines, rows, findings = [], [], []
        figs = recipe.get("paper_figures", {})
        head = ["model", "clean acc % (test set)", "clean acc % (docs)", "adv acc %", "success %", "mean queries",
                "perturbed words %", "s / doc", "docs", "paper clean %", "paper adv %", "paper queries"]
        for part in parts:
            if part.status == "skipped":
                lines += [f"### {part.label}: skipped", "", part.note, ""]
                continue
            prow = []
            for m in recipe["models"]:
                info = part.models.get(m["label"], {})
                recs = [r for r in part.records if r["model"] == m["label"]]
                paper = figs.get(part.label, {}).get(m["label"], {})
                prow.append({"data": part.label, "model": m["label"], "status": info.get("missing", "ran"),
                             "clean_acc_test": info.get("accuracy"), **summarize_docs(recs),
                             "paper_clean_pct": paper.get("clean"), "paper_adv_pct": paper.get("adv"),
                             "paper_queries": paper.get("queries")})
            rows += prow
            pct = (lambda v: fmt(None if v is None else 100 * v, 1))
            lines += [f"### {part.label} ({part.data_name})", ""]
            lines += table(head, [[r["model"], pct(r["clean_acc_test"]) if r["status"] == "ran" else r["status"],
                                   pct(r["clean_acc_docs"]), pct(r["adv_acc"]), pct(r["success_rate"]),
                                   fmt(r["mean_queries"], 0), fmt(r["perturbed_word_pct"], 1),
                                   fmt(r["sec_per_doc"], 2), str(r["n_docs"]), fmt(r["paper_clean_pct"], 1),
                                   fmt(r["paper_adv_pct"], 1), fmt(r["paper_queries"], 0)] for r in prow]) + [""]
            got = sorted((r for r in prow if r["n_docs"] and not math.isnan(r["adv_acc"])), key=lambda r: -r["adv_acc"])
            if len(got) >= 2:
                findings.append(f"{part.label}: highest accuracy under TextFooler {got[0]['model']} "
                                f"{100 * got[0]['adv_acc']:.1f}%, lowest {got[-1]['model']} "
                                f"{100 * got[-1]['adv_acc']:.1f}% ({got[0]['n_docs']} documents).")
        lines += ["adv acc = documents still classified correctly after the attack / documents (skipped ones were "
                  "already wrong); queries and seconds are over attacked (not skipped) documents."]
        return {"lines": lines, "rows": rows, "findings": findings}

    def figures(self, recipe, parts, out):
        plt = pyplot()
        rows = [r for r in self.summarize(recipe, parts)["rows"] if r.get("n_docs")]
        if not rows:
            return []
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(rows), 3.2))
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [100 * r["clean_acc_docs"] for r in rows], 0.4, label="clean")
        ax.bar(x + 0.2, [100 * r["adv_acc"] for r in rows], 0.4, label="under TextFooler")
        ax.set_xticks(x, [f"{r['data']}\n{r['model']}" for r in rows], fontsize=8)
        ax.set_ylabel("accuracy on attacked documents (%)")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8)
        return [save_figure(fig, out, "textfooler_accuracy.png")]
