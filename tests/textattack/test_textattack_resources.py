"""The offline TextFooler: its local resources on real data, and the recipe's parts and thresholds."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def embedding(ta_env):
    from scd_plugins.textattack.resources import glove_word_embedding

    return glove_word_embedding()


def test_glove_embedding_neighbours_are_exact_cosine_ranking(embedding):
    from scd_plugins.textattack.resources import COUNTER_FITTED_VOCAB_SIZE

    words = embedding._index2word
    assert len(words) == COUNTER_FITTED_VOCAB_SIZE and all(w.isalpha() for w in words)
    assert words[:3] == ["the", "of", "to"]                       # GloVe's frequency order, punctuation dropped
    m = embedding.embedding_matrix
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, rtol=1e-5)
    for word in ("good", "movie", "terrible"):
        i = embedding.word2index(word)
        brute = np.argsort(-(m @ m[i]), kind="stable")
        brute = [j for j in brute if j != i][:50]
        got = embedding.nearest_neighbours(i, 50)
        assert len(got) == 50 and i not in got
        np.testing.assert_allclose((m[got] @ m[i]), (m[brute] @ m[i]), rtol=1e-6)
    neighbours = {embedding.index2word(j) for j in embedding.nearest_neighbours("movie", 10)}
    assert {"film", "movies"} & neighbours                        # real GloVe: related words come first
    assert embedding.get_cos_sim("movie", "film") > 0.5


def test_pattern_pos_tags_in_universal_tagset(ta_env):
    from scd_plugins.textattack.resources import PatternPartOfSpeech

    pos = PatternPartOfSpeech()
    words = "the movie was a great waste of time".split()
    tags = [pos._get_pos(words[max(i - 4, 0):i], w, words[i + 1:i + 5]) for i, w in enumerate(words)]
    assert tags == ["DET", "NOUN", "VERB", "DET", "ADJ", "NOUN", "ADP", "NOUN"]
    assert pos._can_replace_pos("NOUN", "VERB") and not pos._can_replace_pos("ADJ", "ADV")


def test_numpy_use_scores_paraphrases_above_unrelated_text(ta_env):
    import torch
    from scd_plugins.textattack.resources import NumpyUSE

    use = NumpyUSE(window_size=15)
    e = use.encode(["the film was wonderful", "the movie was great", "stock prices fell sharply on monday"])
    assert isinstance(e, torch.Tensor) and e.shape == (3, 512)
    sim = use.sim_metric(e[[0, 0]], e[[1, 2]])                  # angular similarity, as TextAttack computes it
    assert sim[0] > 0.840845057 > sim[1]


def test_offline_recipe_matches_textfooler_parts(ta_env, embedding):
    from sklearn.linear_model import LogisticRegression
    from textattack.constraints.grammaticality import PartOfSpeech
    from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
    from textattack.constraints.semantics import WordEmbeddingDistance
    from textattack.search_methods import GreedyWordSwapWIR

    from pipelines.text import GloveFeaturizer
    from scd_plugins.textattack import SCDModelWrapper, TextFoolerOffline, textfooler_stopwords
    from scd_plugins.textattack.resources import NumpyUSE

    featurizer = GloveFeaturizer()
    texts = ["a wonderful , moving film", "a dull and tedious mess", "great acting and a fine story",
             "boring , silly and far too long"]
    model = LogisticRegression().fit(featurizer.transform(texts), [1, 0, 1, 0])
    attack = TextFoolerOffline.build(SCDModelWrapper(model, featurizer), embedding=embedding)
    assert attack.transformation.max_candidates == 50 and attack.transformation.embedding is embedding
    assert isinstance(attack.search_method, GreedyWordSwapWIR) and attack.search_method.wir_method == "delete"
    by_type = {type(c): c for c in attack.pre_transformation_constraints + attack.constraints}
    assert RepeatModification in by_type
    assert by_type[StopwordModification].stopwords == set(textfooler_stopwords())
    assert len(textfooler_stopwords()) == 266 and {"the", "not", "however"} <= textfooler_stopwords()
    assert by_type[WordEmbeddingDistance].min_cos_sim == 0.5
    pos = next(c for c in attack.constraints if isinstance(c, PartOfSpeech))
    assert pos.allow_verb_noun_swap
    use = by_type[NumpyUSE]
    assert (use.threshold, use.metric, use.window_size) == (0.840845057, "angular", 15)
    assert use.skip_text_shorter_than_window and not use.compare_against_original
