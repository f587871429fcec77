"""Faster TextAttack bookkeeping for word-swap attacks, with results identical to the stock code.

TextAttack 0.3.11 builds every candidate text with `AttackedText.generate_new_attacked_text`, which walks
all words of the document, calls `words_from_text` twice per word and re-copies the remaining text at each
step: O(words) Python calls and O(words^2) character copies per candidate. On an IMDB review (230 words,
50 candidates per swap step) that bookkeeping costs more than the sentence encoder. Locating a word in the
text (`_text_index_of_word_index`, used for the encoder's 15-word windows) is another O(words) scan.

`FastAttackedText` computes the same texts and attack attributes from word offsets found once per text:
a single-word swap or a single-word deletion is a string splice. Anything else (several indices at once,
multi-part inputs, CJK text, a "word" that splits into more words) goes to the stock code unchanged.
`tests/textattack/test_textattack_fast.py` checks texts, words and attributes against the stock code.
"""
from __future__ import annotations

import bisect
import re
from collections import OrderedDict

import numpy as np
from textattack.search_methods import GreedyWordSwapWIR
from textattack.shared import AttackedText
from textattack.shared.utils import words_from_text
from textattack.transformations import WordSwapEmbedding

_CJK = re.compile("[\u4e00-\u9fff]")


def _single_word(word: str) -> bool:
    """True when `words_from_text(word) == [word]`, cached (the candidates repeat across steps)."""
    hit = _SINGLE.get(word)
    if hit is None:
        hit = _SINGLE[word] = words_from_text(word) == [word]
        if len(_SINGLE) > 200_000:
            _SINGLE.clear()
    return hit


_SINGLE: dict[str, bool] = {}


class FastAttackedText(AttackedText):
    """`AttackedText` whose one-word swaps and deletions are string splices (same results as the stock code)."""

    @classmethod
    def _make(cls, text_input, attack_attrs, words=None) -> "FastAttackedText":
        """Build without `__init__`, which would tokenize the text at once (the stock code does, we go lazy)."""
        new = cls.__new__(cls)
        new._text_input = text_input
        new._words = words
        new._words_per_input = None
        new._pos_tags = None
        new._ner_tags = None
        new.attack_attrs = attack_attrs
        if "original_index_map" not in attack_attrs:       # setdefault would tokenize even when present
            attack_attrs["original_index_map"] = np.arange(new.num_words)
        attack_attrs.setdefault("modified_indices", set())
        return new

    @classmethod
    def from_text(cls, text) -> "FastAttackedText":
        if isinstance(text, AttackedText):
            return cls._make(OrderedDict(text._text_input), dict(text.attack_attrs), text._words)
        return cls(text)

    def _fast_ok(self) -> bool:
        ok = self.__dict__.get("_scd_fast_ok")
        if ok is None:
            text = self.text
            ok = len(self._text_input) == 1 and AttackedText.SPLIT_TOKEN not in text and not _CJK.search(text)
            self._scd_fast_ok = ok
        return ok

    def _splice_starts(self) -> list[int]:
        """Where `generate_new_attacked_text` finds each word: the first match after the previous word's end."""
        starts = self.__dict__.get("_scd_starts")
        if starts is None:
            text, pos, starts = self.text, 0, []
            for word in self.words:
                pos = text.index(word, pos)
                starts.append(pos)
                pos += len(word)
            self._scd_starts = starts
        return starts

    def _text_index_of_word_index(self, i: int) -> int:
        """Same value as the stock method (a lower-case `find` chain over the first i+1 words), each link
        computed once and only as far as asked (the sentence check asks for a 15-word window around one word).
        A swap's text starts with the links of the text it came from that end before the swapped word."""
        words = self.words
        if not 0 <= i < len(words):
            return super()._text_index_of_word_index(i)
        found = self.__dict__.get("_scd_found")
        if found is None:
            found = self._scd_found = []
        if len(found) <= i:
            lower = self.__dict__.get("_scd_lower")
            if lower is None:
                lower = self._scd_lower = self.text.lower()
            look = found[-1] + len(words[len(found) - 1]) if found else 0
            for word in words[len(found):i + 1]:
                look = lower.find(word.lower(), look) + len(word)
                found.append(look - len(word))
        return found[i]

    def _inherited_links(self, i: int, start: int) -> list:
        """The find-chain links 0..i-1 of a text whose word i (at `start`) is swapped: the same in the new
        text when every one of them matched inside the unchanged prefix text[:start] (plain-ASCII text, so
        lower-casing keeps offsets), else none (the new text computes its own)."""
        found = self.__dict__.get("_scd_found")
        if not found or i == 0 or len(found) < i or not self.text.isascii():
            return []
        if found[i - 1] + len(self.words[i - 1]) > start or min(found[:i]) < 0:
            return []
        return found[:i]

    def generate_new_attacked_text(self, new_words) -> "FastAttackedText":
        new = super().generate_new_attacked_text(new_words)
        return self._make(new._text_input, new.attack_attrs, new._words)

    def replace_words_at_indices(self, indices, new_words) -> "FastAttackedText":
        if len(indices) != 1 or len(new_words) != 1 or not isinstance(new_words[0], str) or not self._fast_ok():
            return super().replace_words_at_indices(indices, new_words)
        i, new_word = indices[0], new_words[0]
        words = self.words
        if not (isinstance(i, (int, np.integer)) and 0 <= i < len(words)) or not _single_word(words[i]):
            return super().replace_words_at_indices(indices, new_words)
        i = int(i)
        if new_word == "":
            return self._deleted(i)
        if not _single_word(new_word):
            return super().replace_words_at_indices(indices, new_words)
        return self._swapped(i, new_word)

    def _new_attrs(self) -> dict:
        attrs = {}
        if "label_names" in self.attack_attrs:
            attrs["label_names"] = self.attack_attrs["label_names"]
        attrs["newly_modified_indices"] = set()
        attrs["previous_attacked_text"] = self
        attrs["modified_indices"] = self.attack_attrs["modified_indices"].copy()
        attrs["original_index_map"] = self.attack_attrs["original_index_map"].copy()
        return attrs

    def _swapped(self, i: int, new_word: str) -> "FastAttackedText":
        text, words = self.text, self.words
        start = self._splice_starts()[i]
        end = start + len(words[i])
        new_text = text[:start] + new_word + text[end:]
        attrs = self._new_attrs()
        if new_word != words[i]:
            attrs["modified_indices"].add(i)
            attrs["newly_modified_indices"].add(i)
        new_words = self._words_after_swap(i, start, end, new_word)
        key = next(iter(self._text_input))
        new = self._make(OrderedDict([(key, new_text)]), attrs, new_words)
        if new_words is not None and new_words[:i] == words[:i]:
            new._scd_found = self._inherited_links(i, start)
        return new

    def _words_after_swap(self, i, start, end, new_word):
        """`words_from_text` of the swapped text without re-reading it, or None (then computed when asked).

        `words_from_text` reads each whitespace-separated chunk on its own, and a swap inside one word changes
        one chunk: the new words are the old ones with that chunk's words replaced by those of the new chunk.
        Word i was found by the splice at its own place (a word starts with a character that never lies
        between words), so the chunk around `start` is the one holding it."""
        text, words = self.text, self.words
        if _CJK.search(new_word):                      # the stock code would segment the whole text
            return None
        if (start == 0 or text[start - 1].isspace()) and (end == len(text) or text[end].isspace()):
            return words[:i] + [new_word] + words[i + 1:]           # the chunk is the word itself
        lo, hi = start, end
        while lo > 0 and not text[lo - 1].isspace():
            lo -= 1
        while hi < len(text) and not text[hi].isspace():
            hi += 1
        starts = self._splice_starts()
        first, last = bisect.bisect_left(starts, lo), bisect.bisect_left(starts, hi)
        if not first <= i < last or words_from_text(text[lo:hi]) != words[first:last]:
            return None
        return words[:first] + words_from_text(text[lo:start] + new_word + text[end:hi]) + words[last:]

    def _deleted(self, i: int) -> "FastAttackedText":
        text, words = self.text, self.words
        start = self._splice_starts()[i]
        prefix, rest = text[:start], text[start + len(words[i]):]
        if rest:                                        # drop one space, as the stock code does
            if i == 0:
                if rest[0] == " ":
                    rest = rest[1:]
            elif prefix[-1] == " ":
                prefix = prefix[:-1]
        attrs = self._new_attrs()
        attrs["modified_indices"] = {m if m < i else m - 1 for m in attrs["modified_indices"] if m != i}
        index_map = attrs["original_index_map"]
        index_map[index_map == i] = -1
        index_map[index_map > i] -= 1
        key = next(iter(self._text_input))
        return self._make(OrderedDict([(key, prefix + rest)]), attrs, None)


class FastWordSwapEmbedding(WordSwapEmbedding):
    """`WordSwapEmbedding` whose candidates are `FastAttackedText` splices (same candidates, same order)."""

    def _get_transformations(self, current_text, indices_to_modify):
        if not isinstance(current_text, FastAttackedText):
            current_text = FastAttackedText.from_text(current_text)
        return super()._get_transformations(current_text, indices_to_modify)


class FastGreedyWordSwapWIR(GreedyWordSwapWIR):
    """`GreedyWordSwapWIR` that starts from a `FastAttackedText`, so its deletions and swaps are splices."""

    def perform_search(self, initial_result):
        if not isinstance(initial_result.attacked_text, FastAttackedText):
            initial_result.attacked_text = FastAttackedText.from_text(initial_result.attacked_text)
        return super().perform_search(initial_result)
