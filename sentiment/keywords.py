"""Keyword and phrase matching that finds Polish (and English) inflected forms.

One matcher for every place that asks "does this text mention the keyword?": the alert rules' ``keywords``
trigger and the Reddit spider's filter over a subreddit's comments, so a comment is kept exactly when a
rule with the same keywords would fire on it. Standard library only (plus :mod:`sentiment.textfold`), so
spiders and alerts import it without the model.

A rule saying ``keywords = ["zwrot", "reklamacja"]`` must fire on "czekam na zwrot**u**" and
"moja reklamacj**ę** odrzucono", typed with or without Polish diacritics, in any case. How:

1. **Folding.** Keyword and text are folded the same way, by :func:`sentiment.textfold.fold` (case and
   diacritics dropped). "Pieniędzy", "PIENIEDZY" and "pieniedzy" become one form.
2. **Stemming the keyword.** Each word of a keyword loses the longest ending from :data:`ENDINGS` (a small
   list of Polish case / number / adjective endings plus English ``-e`` / ``-y``), provided at least
   :data:`MIN_STEM` letters remain: ``reklamacja`` → ``reklamacj``, ``awaria`` → ``awar``,
   ``delivery`` → ``deliver``; ``zwrot`` and ``kurier`` stay as they are.
3. **Matching.** A word matches where a text word *starts* with its stem and has at most
   :data:`MAX_ENDING` more letters (after the stem, or after the whole keyword word, since a stripped
   "ending" may be part of the word: "problem" → ``probl(?:em)?\\w{0,4}`` still finds "problemami"):
   ``(?<!\\w)zwrot\\w{0,4}(?!\\w)`` finds zwrot, zwrotu, zwrotem,
   zwrotów, zwroty, but not "odwrotnie" (no word start) nor "zwrotnicowy" (too long an ending). Words
   shorter than :data:`MIN_STEM` letters take only the endings in :data:`SHORT_WORD_ENDINGS`, so "kot"
   finds "kota", "koty", "kotem" but not "kotlet" (and never "szkoda"). The words of a phrase are
   joined by ``\\s+``: "zwrot pieniędzy" finds "zwrotu pieniedzy" and "Zwrotem  pieniędzy".

Syntax: ``word*`` accepts any ending (no stemming, no length cap); ``"a phrase"`` in double quotes
matches only the forms written (still case- and diacritics-insensitive). Every other character of a
keyword is literal: ``a+b(`` is not a regular expression.

Known limits (deliberate, to stay small and predictable):

- No stem alternations: "paczka" finds "paczki", "paczkę" but not "paczce" (k → c); "pieniądze" does not
  find "pieniędzy" (ą → ę). An alternation after the stem is fine ("kurier" finds "kurierzy"). Write both
  forms, or ``pieni*``.
- Folding diacritics merges words that differ only by them ("sąd" court, "sad" orchard/English): quotes
  do not help; prefer longer phrases ("do sądu").
- Prefixed forms are other words: "zwrot" does not find "nadzwrot"; English irregular forms
  ("paid" for "pay") need their own keyword.
- An ending of up to four letters can also be another word sharing the stem ("zwrotny", "refunder").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sentiment.textfold import fold

__all__ = [
    "ENDINGS",
    "MAX_ENDING",
    "MIN_STEM",
    "SHORT_WORD_ENDINGS",
    "KeywordMatcher",
    "compile_keywords",
    "keyword_pattern",
]

MIN_STEM: Final = 4
"""Letters a stem keeps at least: shorter stems would start too many unrelated words."""
MAX_ENDING: Final = 4
"""Letters a matched word may have after the stem (Polish endings are at most four: -owie, -iami)."""
ENDINGS: Final[tuple[str, ...]] = tuple(
    sorted(
        {
            # nouns: cases and numbers (folded: ó → o, ę → e, ą → a)
            "ami", "iami", "ach", "iach", "owi", "owie", "ow", "om", "iom", "em", "iem", "ie", "ia", "iu",
            "ii", "a", "e", "i", "o", "u", "y",
            # adjectives and participles
            "ego", "emu", "ej", "ym", "ymi", "ych", "ich", "imi", "im",
        },
        key=lambda e: (-len(e), e),
    )
)  # fmt: skip
"""Endings stripped from a keyword word (longest first); ``e``/``y`` also cover English package/delivery."""
SHORT_WORD_ENDINGS: Final[tuple[str, ...]] = (
    "a", "u", "y", "i", "e", "o", "em", "om", "ow", "ach", "ami", "owi", "ie", "s", "es", "ed", "ing",
)  # fmt: skip
"""The only endings a word shorter than :data:`MIN_STEM` letters may take (no free ``\\w{0,4}``)."""

_SPACE: Final = re.compile(r"\s+")


def _stem(word: str) -> str:
    """The word without its longest listed ending, if at least :data:`MIN_STEM` letters remain."""
    for ending in ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)]
    return word


def _word_pattern(word: str, *, exact: bool) -> str:
    """The regex for one folded keyword word: a literal stem and, for a word ending in a letter, an ending."""
    if word.endswith("*") and not exact:
        stem = word.rstrip("*")
        return re.escape(stem) + r"\w*" if stem else ""
    if exact or not word[-1].isalpha():
        return re.escape(word)
    if len(word) < MIN_STEM:
        return re.escape(word) + "(?:" + "|".join(SHORT_WORD_ENDINGS) + ")?"
    stem = _stem(word)
    # The stripped ending stays optional: "problem" is not "probl-" + "-em", and "problemami" must match.
    ending = f"(?:{re.escape(word[len(stem) :])})?" if len(stem) < len(word) else ""
    return re.escape(stem) + ending + rf"\w{{0,{MAX_ENDING}}}"


def keyword_pattern(keyword: str) -> str | None:
    """The regular expression (over folded text) that finds ``keyword``; None for a blank keyword."""
    raw = keyword.strip()
    exact = len(raw) >= 2 and raw.startswith('"') and raw.endswith('"')
    if exact:
        raw = raw[1:-1]
    pairs = [(w, _word_pattern(w, exact=exact)) for w in _SPACE.split(fold(raw)) if w]
    pairs = [(w, p) for w, p in pairs if p]
    if not pairs:
        return None
    first, last = pairs[0][0], pairs[-1][0].rstrip("*") if not exact else pairs[-1][0]
    # Lookarounds instead of \b: a keyword may start or end with a non-word character ("a+b(").
    start = r"(?<!\w)" if _is_word_char(first[0]) else ""
    end = r"(?!\w)" if _is_word_char(last[-1]) else ""
    return start + r"\s+".join(p for _, p in pairs) + end


def _is_word_char(ch: str) -> bool:
    """What ``\\w`` matches in a str pattern: letters, digits (any script) and the underscore."""
    return ch.isalnum() or ch == "_"


@dataclass(frozen=True)
class KeywordMatcher:
    """Compiled keywords: :meth:`find` lists those present in a text, in configuration order."""

    keywords: tuple[str, ...]
    patterns: tuple[re.Pattern[str] | None, ...]

    def find(self, text: str) -> list[str]:
        """The configured keywords (as written in the config) that occur in ``text``, each once."""
        if not text:
            return []
        folded = fold(text)
        found: list[str] = []
        for keyword, pattern in zip(self.keywords, self.patterns, strict=True):
            if pattern is not None and keyword not in found and pattern.search(folded):
                found.append(keyword)
        return found

    def __bool__(self) -> bool:
        return any(p is not None for p in self.patterns)


def compile_keywords(keywords: Sequence[str]) -> KeywordMatcher:
    """Compile ``keywords`` once; blank ones (or a lone ``*``) never match."""
    kept = tuple(keywords)
    patterns = []
    for keyword in kept:
        pattern = keyword_pattern(keyword)
        patterns.append(re.compile(pattern) if pattern is not None else None)
    return KeywordMatcher(keywords=kept, patterns=tuple(patterns))
