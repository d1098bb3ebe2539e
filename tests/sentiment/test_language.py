"""Polish / English / other detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Paczka przyszła uszkodzona, nikt nie odpisuje. Żenada.", "pl"),
        ("Super obsługa, szybka wysyłka, polecam!", "pl"),
        ("Towar zgodny z opisem, ale dostawa trwała tydzień", "pl"),
        ("Zamowienie nie doszlo, nie polecam tego sklepu", "pl"),
        ("The order arrived two weeks late and support ignored me.", "en"),
        ("Great product, works as described", "en"),
        ("Das Paket ist nicht angekommen, sehr enttäuschend.", "other"),
        ("Zásilka nedorazila, špatná komunikace.", "other"),
        ("Объект не доставлен, очень плохо", "other"),
        ("配送が遅すぎる", "other"),
        ("😀😀😀", "other"),
        ("", "other"),
        ("   \n\t ", "other"),
        ("12345 !!!", "other"),
        ("lone \ud800 surrogate in a sentence", "en"),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_mixed_language_picks_the_dominant_one() -> None:
    assert detect_language("Kurier był bardzo miły, ale paczka przyszła późno. Anyway, thanks!") == "pl"
    assert detect_language("The courier was nice but it was late, so I would not order again. Dzięki") == "en"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_crashes_on_any_text(text: str) -> None:
    assert detect_language(text) in {"pl", "en", "other"}


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["L"]), max_size=200))
def test_text_without_letters_is_other(text: str) -> None:
    assert detect_language(text) == "other"
