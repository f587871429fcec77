"""Attack many documents in parallel processes, with the same per-document results as one process.

A TextFooler attack is single-threaded Python, so documents are spread over worker processes. Each worker
loads the model from its model directory and builds the attack once, then attacks the documents it is
sent. Per-document results do not depend on which worker ran which document, nor on the documents before:
every document starts from `set_seed(seed)`, and TextAttack clears the attack's caches after each one
(`Attack.clear_cache`, which also empties our sentence-embedding cache); the caches that remain across
documents (word neighbours, POS tags) hold values that do not depend on order. Results come back in input
order; `on_result` sees each one as soon as it is known (for resumable runs).

    from scd_plugins.textattack.parallel import attack_documents
    records = attack_documents("models/scd01-mr", texts, labels, n_jobs=2)
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time

_WORKER: dict = {}


def _build(model_path, featurizer_config, recipe, query_budget, fast):
    """(attack, column of each class label) for a stored model; the same in the parent and in workers."""
    from scd_plugins.io import load
    from scd_plugins.textattack.named import featurizer_from_config
    from scd_plugins.textattack.wrapper import SCDModelWrapper

    est = load(model_path)
    featurizer = featurizer_from_config(featurizer_config) if featurizer_config is not None else None
    wrapper = SCDModelWrapper(est, featurizer, fast=fast)
    if recipe == "textfooler-offline":
        from scd_plugins.textattack.recipes import TextFoolerOffline

        attack = TextFoolerOffline.build(wrapper, fast=fast)
    elif recipe == "textfooler":
        from textattack.attack_recipes import TextFoolerJin2019

        attack = TextFoolerJin2019.build(wrapper)
    else:
        raise ValueError(f"recipe must be 'textfooler' or 'textfooler-offline', got {recipe!r}")
    if query_budget:
        attack.goal_function.query_budget = int(query_budget)
    return attack, {c: i for i, c in enumerate(est.classes_.tolist())}


def _init(setup):
    import threadpoolctl

    threadpoolctl.threadpool_limits(1)                      # one core per worker
    _WORKER["attack"], _WORKER["column"] = _build(*setup)


def attack_one(attack, column, text, label, seed=0) -> dict:
    """One document's record: result kind, queries, seconds, words, changed words, adversarial text."""
    import textattack
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult

    textattack.shared.utils.set_seed(seed)
    start = time.perf_counter()
    result = attack.attack(text, column[label])
    seconds = time.perf_counter() - start
    kind = {SuccessfulAttackResult: "succeeded", FailedAttackResult: "failed",
            SkippedAttackResult: "skipped"}[type(result)]
    original, perturbed = result.original_result.attacked_text, result.perturbed_result.attacked_text
    return {"result": kind, "queries": int(result.perturbed_result.num_queries), "seconds": seconds,
            "words": len(original.words),
            "changed_words": len(original.all_words_diff(perturbed)) if kind == "succeeded" else 0,
            "original_output": int(result.original_result.output),
            "perturbed_output": int(result.perturbed_result.output),
            "perturbed_text": perturbed.text if kind == "succeeded" else None}


def _work(item):
    position, text, label, seed = item
    return position, attack_one(_WORKER["attack"], _WORKER["column"], text, label, seed)


def attack_documents(model_path, texts, labels, *, featurizer_config=None, recipe="textfooler-offline",
                     query_budget=0, seed=0, n_jobs=1, fast=True, on_result=None, progress=True) -> list[dict]:
    """Attack `texts` (true `labels`) against the model stored at `model_path`; records in input order.

    featurizer_config: the GloVe featurizer config of a feature model (the model's metadata
    `extra["featurizer"]`, read from `model_path` when None and present); raw-text models have none.
    n_jobs: worker processes (-1: one per CPU; 1: this process).
    """
    from tqdm.auto import tqdm

    from scd_plugins.io import read_metadata

    texts, labels = list(texts), [v.item() if hasattr(v, "item") else v for v in labels]
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if featurizer_config is None:
        featurizer_config = (read_metadata(model_path).get("extra") or {}).get("featurizer")
    n_jobs = os.cpu_count() if n_jobs == -1 else int(n_jobs)
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or -1, got {n_jobs}")
    setup = (str(model_path), featurizer_config, recipe, query_budget, fast)
    items = [(i, t, y, seed) for i, (t, y) in enumerate(zip(texts, labels))]
    records: list = [None] * len(items)
    bar = tqdm(total=len(items), desc="attacking", disable=not progress)

    def take(position, record):
        records[position] = record
        if on_result is not None:
            on_result(position, record)
        bar.update()

    try:
        if n_jobs == 1 or len(items) <= 1:
            attack, column = _build(*setup)
            for position, text, label, s in items:
                take(position, attack_one(attack, column, text, label, s))
        else:
            with mp.get_context("spawn").Pool(min(n_jobs, len(items)), initializer=_init, initargs=(setup,)) as pool:
                for position, record in pool.imap_unordered(_work, items):
                    take(position, record)
    finally:
        bar.close()
    return records
