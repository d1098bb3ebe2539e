"""Review text into sentences and clauses: abbreviations, numbers, newlines, contrasting clauses."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.sentences import split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kupiłem m.in. buty, np. Nike. Polecam!", ["Kupiłem m.in. buty, np. Nike.", "Polecam!"]),
        ("Zamówienie tzn. paczka itp. rzeczy przyszły.", ["Zamówienie tzn. paczka itp. rzeczy przyszły."]),
        ("Buty, kurtki itp. Wszystko ok.", ["Buty, kurtki itp.", "Wszystko ok."]),
        ("Ask Mr. Smith, e.g. by phone. Done.", ["Ask Mr. Smith, e.g. by phone.", "Done."]),
        ("Ocena 4.5 na 5!! Super", ["Ocena 4.5 na 5!!", "Super"]),
        ("Przyszło\nSuper", ["Przyszło", "Super"]),
        ("Szybka dostawa, ale jakość słaba", ["Szybka dostawa", "ale jakość słaba"]),
        ("Fast delivery but poor quality", ["Fast delivery", "but poor quality"]),
        ("Tanio ale dobrze", ["Tanio ale dobrze"]),  # too short to split
        ("Paczka przyszła uszkodzona, a obsługa milczy", ["Paczka przyszła uszkodzona", "a obsługa milczy"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


_CONJUNCTIONS = {
    "ale",
    "lecz",
    "jednak",
    "natomiast",
    "chociaż",
    "choć",
    "but",
    "however",
    "although",
    "though",
}
_WORD = st.text(alphabet="abcdefghijklmnoprstuwyzóąęłśżźćń", min_size=1, max_size=8).filter(
    lambda w: w not in _CONJUNCTIONS
)
_ABBREVIATION = st.sampled_from(["np.", "tzn.", "m.in.", "e.g.", "i.e.", "Mr.", "Dr.", "tj.", "tzw."])


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORD, min_size=1, max_size=5), _ABBREVIATION, st.lists(_WORD, min_size=1, max_size=5))
def test_abbreviations_stay_inside_their_sentence(
    before: list[str], abbreviation: str, after: list[str]
) -> None:
    text = " ".join([*before, abbreviation, *after]) + "."
    assert split_sentences(text) == [text]  # the abbreviation's full stop never ends the sentence


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_split_sentences_keeps_every_word_in_order(text: str) -> None:
    sentences = split_sentences(text)
    assert all(s and s == s.strip() for s in sentences)
    assert re.findall(r"\w+", " ".join(sentences)) == re.findall(r"\w+", text)
