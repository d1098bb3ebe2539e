"""The one text fold: case and diacritics ignored, the same for keywords, the aspect lexicon and datasets."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment.textfold import fold

# Plain letters and forms of them with diacritics a customer might type (Polish first).
_DIACRITIC_FORMS = {
    "a": "ąáàâäãå",
    "c": "ćčç",
    "d": "đď",
    "e": "ęéèêëě",
    "i": "íìîï",
    "l": "ł",
    "n": "ńñň",
    "o": "óöôòõø",
    "r": "ř",
    "s": "śšş",
    "t": "ť",
    "u": "üúùûů",
    "y": "ýÿ",
    "z": "źżž",
}
_PLAIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.!?0123456789-'", max_size=60)


@st.composite
def _plain_and_typed(draw: st.DrawFn) -> tuple[str, str]:
    """A diacritic-free lower-case text and the same text with some diacritics and capitals added."""
    plain = draw(_PLAIN)
    typed = []
    for ch in plain:
        forms = _DIACRITIC_FORMS.get(ch, "")
        if forms and draw(st.booleans()):
            ch = draw(st.sampled_from(forms))
        typed.append(ch.upper() if draw(st.booleans()) else ch)
    return plain, "".join(typed)


@given(st.text(max_size=50))
def test_fold_is_idempotent_and_has_no_combining_marks(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert not re.search(r"[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]", folded)


@given(_plain_and_typed())
def test_a_text_with_diacritics_and_capitals_folds_like_its_plain_form(pair: tuple[str, str]) -> None:
    plain, typed = pair
    assert fold(typed) == fold(plain) == plain


@given(st.text(max_size=80))
def test_fold_never_grows_beyond_the_nfkd_form_of_its_casefold(text: str) -> None:
    assert len(fold(text)) <= len(unicodedata.normalize("NFKD", text.casefold()))
    assert not any(unicodedata.combining(ch) for ch in fold(text))


@given(st.text(max_size=40), st.text(max_size=40))
def test_every_character_folds_on_its_own(left: str, right: str) -> None:
    assert fold(left + right) == fold(left) + fold(right)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Reklamację", "reklamacje"),
        ("REKLAMACJĘ", "reklamacje"),
        ("Łódź, ŻÓŁĆ", "lodz, zolc"),
        ("İstanbul", "istanbul"),
        ("Straße", "strasse"),
        ("𝓐ﬁ", "afi"),
        ("Đakovo, Ørsted", "dakovo, orsted"),
        ("  tabs\tand\nlines  ", "  tabs\tand\nlines  "),
    ],
)
def test_fold_examples(text: str, folded: str) -> None:
    assert fold(text) == folded
