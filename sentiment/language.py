"""Cheap Polish / English / other detection for routing and reporting, with no model or download.

Earshot only needs to tell its two customer languages apart (for per-language dashboards and evaluation),
so a few hundred microseconds of counting is enough: Polish-only letters and Polish function words against
English function words. Anything without enough evidence, or written mostly in a non-Latin script, is
``"other"``. It is deliberately conservative: a short text with no stopwords and no diacritics is "other".
"""

from __future__ import annotations

import re
from typing import Final, Literal

Language = Literal["pl", "en", "other"]

_POLISH_LETTERS: Final = frozenset("ąćęłńśźżĄĆĘŁŃŚŹŻ")
# ó also occurs in Spanish, Hungarian, Czech...; it counts, but less than the letters only Polish uses.
_WEAK_POLISH_LETTERS: Final = frozenset("óÓ")
# Letters that Czech/Slovak/Baltic/Romanian/German use and Polish does not: evidence against Polish.
_NON_POLISH_LATIN: Final = frozenset("ěřůčšžťďňľĺŕäöüßåæøœçàèìòùâêîôûãõñëïÿăşţğış")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_POLISH_STOPWORDS: Final = _words(
    """
    i w z na nie się to że do jest jak o co ale po tak za od już jestem są być był była było mi mnie
    ja ty on ona my wy oni one ten ta te tego tej tym tych ze we dla przez przy bez pod nad tylko też
    czy bo lub albo więc jednak bardzo może można mam ma mają nic nikt nigdy zawsze jeszcze który która
    które których gdzie kiedy dlaczego jeśli żeby aby gdy oraz tu tam tutaj teraz dziś wszystko każdy
    sam swój moje mój moja nasz wasz jego jej ich polecam dziękuję proszę niestety także
    były zostać został została sklep zamówienie paczka obsługa produkt cena towar
    """
)
_ENGLISH_STOPWORDS: Final = _words(
    """
    the a an and or but of to in on at for with from by about as is are was were be been being am
    it its this that these those i you he she we they me him her us them my your his our their
    not no do does did done have has had will would can could should shall may might must
    what which who whom when where why how all any some very just so than then there here
    if because while after before again also only too more most out up down over under
    order product service delivery shop great good bad never always thanks please
    """
)
_WORD: Final = re.compile(r"[^\W\d_]+", re.UNICODE)
_MIN_EVIDENCE: Final = 1.0


def _is_latin_letter(ch: str) -> bool:
    return ch.isalpha() and (ch.isascii() or "\u00c0" <= ch <= "\u024f" or "\u1e00" <= ch <= "\u1eff")


def detect_language(text: str) -> Language:
    """Return ``"pl"``, ``"en"`` or ``"other"`` for ``text``; never raises, linear in ``len(text)``.

    Only the first 5,000 characters are inspected: the language of a review does not change halfway.
    """
    sample = text[:5000]
    letters = [ch for ch in sample if ch.isalpha()]
    if not letters:
        return "other"
    latin = sum(1 for ch in letters if _is_latin_letter(ch))
    if latin < 0.6 * len(letters):
        return "other"
    words = [w.lower() for w in _WORD.findall(sample)]
    pl = sum(1.0 for w in words if w in _POLISH_STOPWORDS)
    en = sum(1.0 for w in words if w in _ENGLISH_STOPWORDS)
    pl += 2.0 * sum(1 for w in words if any(ch in _POLISH_LETTERS for ch in w))
    pl += 0.5 * sum(1 for w in words if any(ch in _WEAK_POLISH_LETTERS for ch in w))
    foreign = sum(1 for w in words if any(ch in _NON_POLISH_LATIN for ch in w))
    pl -= 2.0 * foreign
    en -= 2.0 * foreign
    if max(pl, en) < _MIN_EVIDENCE or pl == en:
        return "other"
    return "pl" if pl > en else "en"
