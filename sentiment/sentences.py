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
from typing import Final, Literal, NamedTuple

from sentiment.embeddings import safe_text

__all__ = [
    "MIN_CLAUSE_WORDS",
    "Clause",
    "Section",
    "clean_text",
    "names_nothing",
    "section_header",
    "split_clauses",
    "split_sentences",
    "word_count",
]

Section = Literal["positive", "negative"]

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
# Pros/cons section headers ("Zalety: cena", "Wady: opóźnienie dostawy", "Cons: late"): Ceneo and many shops
# ask for them apart, and the header says how the author judges what follows, whatever its words alone say.
_SECTION_WORDS: Final[dict[str, Section]] = {
    "zalety": "positive",
    "plusy": "positive",
    "pros": "positive",
    "advantages": "positive",
    "wady": "negative",
    "minusy": "negative",
    "cons": "negative",
    "disadvantages": "negative",
}
_BULLET: Final = r"[-*•–—+]"
_SECTION_HEADER: Final = re.compile(
    rf"^\s*(?:{_BULLET}\s*)?({'|'.join(_SECTION_WORDS)})\s*:\s*", re.IGNORECASE
)
# What "Zalety: brak" / "Cons: none" say: there are none, about nothing.
_NOTHING: Final = re.compile(
    r"^\W*(?:brak|nie\s+ma|nie\s+zauważyłe?[mn]|żadn[eay]|nic|none|nothing|no\s+cons|no\s+pros|n/?a)?\W*$",
    re.IGNORECASE,
)
_BULLET_LINE: Final = re.compile(rf"^\s*{_BULLET}\s*\S")  # ends on the first character of the item
# A capitalised header inside a line ("Zalety: cena Wady: głośny") starts a sentence of its own.
_INLINE_HEADER: Final = "|".join(f"{w.capitalize()}|{w.upper()}" for w in _SECTION_WORDS)
_BOUNDARY: Final = re.compile(
    rf"(?:[.!?…]+[\"'”’)\]]*(?=\s|$)|\n|(?<=\S)[ \t]+(?=(?:{_INLINE_HEADER})[ \t]*:))\s*"
)
_CONTRAST: Final = re.compile(
    r"(?:,\s*|\s+|;\s*|\s+[-–—]\s+)(?=(?:ale|lecz|jednak|natomiast|chociaż|choć|but|however|although|though|"
    r"whereas)\b)|,\s+(?=a\s)|;\s+|\s+[-–—]\s+",
    re.IGNORECASE,
)
_CONTRAST_START: Final = re.compile(
    r"^(?:ale|lecz|jednak|natomiast|chociaż|choć|a|but|however|although|though|whereas)\b", re.IGNORECASE
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
    ("3.5") do not end a sentence; newlines do, and so does a capitalised pros/cons header inside a line
    ("Zalety: cena Wady: głośny"). A clause introduced by "ale", "lecz", "jednak", "but", "however"..., or
    after "; " or a dash, becomes its own item when both parts have at least two words, because the two
    halves usually judge different aspects.
    """
    return [clause.text for clause in split_clauses(text)]


class Clause(NamedTuple):
    """One clause of a review and the pros/cons section it stands in."""

    text: str  # as written, its "Wady:" header included: what a person reads as evidence
    start: int  # where the words after a pros/cons header begin (0 without one)
    section: Section | None  # "Zalety"/"Plusy"/"Pros" -> positive, "Wady"/"Minusy"/"Cons" -> negative

    @property
    def body(self) -> str:
        """The clause without its header: the header word "Wady" ("flaws") names no aspect of its own."""
        return self.text[self.start :]


def section_header(sentence: str) -> tuple[int, Section | None]:
    """(where the words after a leading pros/cons header begin, its judgement), or (0, None) without one."""
    match = _SECTION_HEADER.match(sentence)
    if match is None:
        return 0, None
    return match.end(), _SECTION_WORDS[match.group(1).lower()]


def names_nothing(body: str) -> bool:
    """True for a pros/cons item that says there are none ("brak", "żadne", "none", "-") or is empty."""
    return _NOTHING.match(body) is not None


def _starts_contrast(clause: str) -> bool:
    return _CONTRAST_START.match(clause) is not None


def split_clauses(text: str) -> list[Clause]:
    """:func:`split_sentences` with each clause's pros/cons section.

    Why: "Zalety: szybka wysyłka. Wady: opóźnienie dostawy" is the author's own verdict per aspect; the
    header decides the polarity, and its word ("wady" also means "defects") must not be read as a topic. A
    header's section covers its sentence up to a contrasting clause ("Wady: karton pognieciony, ale dysk
    cały" leaves "ale dysk cały" unjudged), and a header alone on its line ("Zalety:") covers the bulleted
    lines ("- cena") right below it.
    """
    if not isinstance(text, str):
        return []
    clauses: list[Clause] = []
    listing: Section | None = None  # a header alone on its line: its bulleted lines belong to it
    for sentence in _raw_sentences(text):
        start, section = section_header(sentence)
        if section is not None and start >= len(sentence):
            listing = section
            clauses.append(Clause(sentence, len(sentence), section))
            continue
        bullet = _BULLET_LINE.match(sentence)
        if section is None and listing is not None and bullet is not None:
            section, start = listing, bullet.end() - 1  # the bullet is no word of the clause either
        else:
            listing = None
        for k, piece in enumerate(_split_clauses(sentence)):
            if k > 0 and _starts_contrast(piece):
                section = None  # "..., ale dysk cały": the contrast leaves the section's verdict
            clauses.append(Clause(piece, min(start, len(piece)) if k == 0 else 0, section))
    return clauses
