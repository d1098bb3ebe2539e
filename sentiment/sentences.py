"""Review text into the sentences and clauses that aspect detection reads, one by one.

Why clauses and not whole texts: "Szybka dostawa, ale jakość słaba" judges two aspects in opposite ways, so
each half must be scored on its own. Why by hand and not with a tokenizer library: Polish abbreviations
("np.", "m.in.", "itp.") and review habits (a newline per point, "!!" for emphasis) decide where a sentence
ends, and the rules fit in a few regular expressions.

:func:`clean_text` first turns whatever a spider delivered (HTML, entities, lone surrogates, control
characters, a 1 MB paste) into plain text of bounded size; :func:`split_sentences` then cuts it up.
"""

from __future__ import annotations

import html
import re
from typing import Final

from sentiment.embeddings import safe_text

__all__ = ["MIN_CLAUSE_WORDS", "clean_text", "split_sentences", "word_count"]

# Characters kept before splitting (head + tail): the 40 sentences aspect detection examines never need more,
# and regex work stays bounded.
_MAX_TEXT_CHARS: Final = 40_000
_TAG: Final = re.compile(r"<[^<>]{0,400}>")
_SCRIPT: Final = re.compile(r"<(script|style)\b[^>]{0,400}>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Plain text out of whatever a spider delivered: surrogates fixed, HTML tags and entities resolved."""
    if len(text) > _MAX_TEXT_CHARS:
        text = text[: _MAX_TEXT_CHARS - _MAX_TEXT_CHARS // 4] + "\n" + text[-(_MAX_TEXT_CHARS // 4) :]
    text = safe_text(text, max_chars=_MAX_TEXT_CHARS + 1)
    if "<" in text:
        text = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    if "&" in text:
        text = html.unescape(text)
    return _CONTROL.sub(" ", text)


# Abbreviations after which a full stop never ends a sentence.
_NEVER_FINAL: Final = frozenset(
    {"np", "tzn", "tj", "tzw", "m.in", "e.g", "i.e", "mr", "mrs", "ms", "dr", "prof", "nr", "ul", "al", "vs"}
    | {"approx", "wg", "przyp", "ds"}
)
# Abbreviations that may also end a sentence ("buty, kurtki itp. Polecam"): split only before a capital.
_MAYBE_FINAL: Final = frozenset(
    {"itp", "itd", "etc", "ok", "zł", "zl", "r", "godz", "min", "max", "tys", "mln", "gr", "szt", "st"}
    | {"jr", "sr", "inc", "ltd"}
)
_BOUNDARY: Final = re.compile(r"(?:[.!?…]+[\"'”’)\]]*(?=\s|$)|\n)\s*")
_CONTRAST: Final = re.compile(
    r"(?:,\s*|\s+|;\s*|\s+[-–—]\s+)(?=(?:ale|lecz|jednak|natomiast|chociaż|choć|but|however|although|though|"
    r"whereas)\b)|,\s+(?=a\s)|;\s+|\s+[-–—]\s+",
    re.IGNORECASE,
)
_WORDS: Final = re.compile(r"\w+")
MIN_CLAUSE_WORDS: Final = 2
"""Fewest words on each side of a split; fewer ("Tanio ale dobrze") name no topic of their own."""


def _is_abbreviation_stop(text: str, dot: int, following: str) -> bool:
    """True when the full stop at ``dot`` belongs to an abbreviation and does not end the sentence."""
    start = dot
    while start > max(0, dot - 20) and not text[start - 1].isspace() and text[start - 1] not in "([\"'":
        start -= 1
    token = text[start:dot].lower().rstrip(".")
    if not token:
        return False
    if token in _NEVER_FINAL:
        return True
    if token in _MAYBE_FINAL:
        return not following[:1].isupper()
    # single-letter initials ("J. Kowalski", "p. Anna") never end a review sentence
    return len(token) == 1 and token.isalpha() and bool(following[:1].isalpha())


def _raw_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        mark = match.group(0)
        single_stop = mark.rstrip().rstrip("\"'”’)]") == "."
        if single_stop and end < len(text) and _is_abbreviation_stop(text, match.start(), text[end:]):
            continue
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def word_count(text: str) -> int:
    """Words (``\\w+`` runs) in ``text``: a clause needs :data:`MIN_CLAUSE_WORDS` of them to stand alone."""
    return len(_WORDS.findall(text))


def _split_clauses(sentence: str) -> list[str]:
    """Split before "ale"/"but"/"; "/" - " when both sides keep >= 2 words, else keep the sentence whole."""
    if word_count(sentence) < 2 * MIN_CLAUSE_WORDS:
        return [sentence]
    clauses: list[str] = []
    start = 0
    for match in _CONTRAST.finditer(sentence):
        left = sentence[start : match.start()].strip()
        right = sentence[match.end() :]
        if word_count(left) >= MIN_CLAUSE_WORDS and word_count(right) >= MIN_CLAUSE_WORDS:
            clauses.append(left)
            start = match.end()
    clauses.append(sentence[start:].strip())
    return [c for c in clauses if c]


def split_sentences(text: str) -> list[str]:
    """Sentences of a Polish or English review, with contrasting clauses ("..., ale ...") split apart.

    Full stops after abbreviations ("np.", "itp.", "tzn.", "m.in.", "e.g.", "Mr.") and inside numbers
    ("3.5") do not end a sentence; newlines do. A clause introduced by "ale", "lecz", "jednak", "but",
    "however"..., or after "; " or a dash, becomes its own item when both parts have at least two words,
    because the two halves usually judge different aspects.
    """
    if not isinstance(text, str):
        return []
    return [clause for sentence in _raw_sentences(text) for clause in _split_clauses(sentence)]
