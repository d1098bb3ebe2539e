"""Keyword matching as a customer-service lead configures it: Polish inflections, no diacritics, phrases."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sentiment.keywords import compile_keywords, keyword_pattern


def found(keyword: str, text: str) -> bool:
    return compile_keywords([keyword]).find(text) == [keyword]


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("zwrot", "Kiedy dostanę zwrot?"),
        ("zwrot", "Czekam na zwrot**u** od tygodnia".replace("**", "")),
        ("zwrot", "Ze zwrotem był problem"),
        ("zwrot", "Trzy zwrotów w miesiąc"),
        ("zwrot", "Zwroty działają fatalnie"),
        ("reklamacja", "Złożyłam reklamację 3 tygodnie temu"),
        ("reklamacja", "Brak odpowiedzi na reklamacji"),
        ("reklamacja", "z reklamacją było źle"),
        ("reklamacja", "REKLAMACJE ignorowane"),
        ("reklamacja", "reklamacje bez ogonkow, reklamacje"),
        ("kurier", "Kuriera nie było"),
        ("kurier", "rozmowa z kurierem"),
        ("kurier", "kurierzy rzucają paczkami"),
        ("zwrot pieniędzy", "czekam na zwrotu pieniędzy"),
        ("zwrot pieniędzy", "ze zwrotem pieniedzy"),
        ("zwrot pieniędzy", "ZWROT\n  PIENIĘDZY"),
        ("refund", "Two refunds later"),
        ("refund", "I was never refunded"),
        ("refund", "still refunding"),
        ("delivery", "Deliveries are late"),
        ("delivery", "delivered broken"),
        ("Zamówienie", "moje zamowienia nie ma"),
        ("problem", "same problemy i problemami"),
        ("awaria", "kolejna awarii strony"),
        ("kot", "mój kot"),
        ("kot", "dla kota"),
        ("zwrot*", "zwrotnicowy"),
        ('"zwrot"', "Zwrot?"),
        ("a+b(", "ktoś wpisał a+b( w formularz"),
        ("łódź", "Lodz"),
        ("Łódź", "ŁÓDŹ"),
    ],
)
def test_inflected_and_unaccented_forms_are_found(keyword: str, text: str) -> None:
    assert found(keyword, text)


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("zwrot", "odwrotnie niż myślałem"),  # not at a word start
        ("zwrot", "zwrotnicowy"),  # too long an ending: another word
        ("kot", "szkoda"),
        ("kot", "kotlet schabowy"),  # short keywords take only listed endings
        ('"zwrot"', "czekam na zwrotu"),  # quoted: the written form only
        ("zwrot pieniędzy", "zwrot za paczkę, pieniędzy brak"),  # phrase words must be adjacent
        ("refund", "leki refundowane przez NFZ"),  # an ending too long for the stem
        ("a+b(", "aab("),
        ("a+b(", "ab"),
        ("reklamacja", "reklama"),
    ],
)
def test_other_words_do_not_match(keyword: str, text: str) -> None:
    assert not found(keyword, text)


def test_find_lists_config_order_once_each() -> None:
    matcher = compile_keywords(["reklamacja", "zwrot", "kurier", "zwrot"])
    text = "Zwrot? Kurier zgubił zwrot, a reklamację odrzucono. Zwrotu brak."
    assert matcher.find(text) == ["reklamacja", "zwrot", "kurier"]


def test_blank_and_star_only_keywords_never_match() -> None:
    matcher = compile_keywords(["", "   ", "*", '""'])
    assert matcher.find('cokolwiek * "" tu jest') == []
    assert not matcher
    assert keyword_pattern("  ") is None


def test_regex_characters_are_literal() -> None:
    matcher = compile_keywords([".*", "(", "[a-z]+", "a|b", "\\d"])
    assert matcher.find("zwykły tekst bez znaków") == []
    assert matcher.find("wzór [a-z]+ oraz a|b") == ["[a-z]+", "a|b"]


# --- properties ------------------------------------------------------------------------------------------

_LETTERS = st.characters(categories=["L", "N"], exclude_characters="_")
_KEYWORD = st.lists(st.text(_LETTERS, min_size=1, max_size=12), min_size=1, max_size=3).map(" ".join)
_ANY = st.text(max_size=60)


@given(keyword=_KEYWORD, before=_ANY, after=_ANY)
@example(keyword="reklamacja", before="Moja", after="wciąż leży")
@example(keyword="ΣΑΣ", before="", after="ς")
@example(keyword="İstanbul", before="x", after="")
def test_a_keyword_is_found_wherever_it_stands(keyword: str, before: str, after: str) -> None:
    """The keyword as written, with any text around it (separated by a space), is always found."""
    assert found(keyword, f"{before} {keyword} {after}")


@given(
    keyword=st.text(min_size=1, max_size=20).filter(lambda k: keyword_pattern(k) is not None),
    before=_ANY,
    after=_ANY,
)
@example(keyword="a+b(", before="", after="")
@example(keyword="(?P<x>", before="a", after="b")
def test_any_keyword_text_is_literal_and_found(keyword: str, before: str, after: str) -> None:
    """Regex syntax in a keyword is escaped; an unquoted keyword (no trailing ``*``) finds itself."""
    stripped = keyword.strip()
    if any(w.endswith("*") for w in stripped.split()) or (
        stripped.startswith('"') and stripped.endswith('"')
    ):
        return  # wildcard / quote syntax, covered above
    assert found(keyword, f"{before} {keyword} {after}")


@given(keywords=st.lists(st.text(max_size=15), max_size=5), text=st.text(max_size=300))
def test_matching_never_raises(keywords: list[str], text: str) -> None:
    result = compile_keywords(keywords).find(text)
    assert all(k in keywords for k in result)
    assert len(result) == len(set(result))
