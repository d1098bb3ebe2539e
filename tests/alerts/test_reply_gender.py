"""The writer's grammatical gender from Polish first-person forms: Pani, Pan, or the neutral form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from alerts.reply_gender import writer_gender

FEMALE = [
    "Zamówiłam buty dwa tygodnie temu i nadal nic.",
    "Kupiłam telewizor, przyszedł uszkodzony.",
    "Byłam w sklepie w sobotę, obsługa niemiła.",
    "Jestem bardzo zadowolona z zakupu!",
    "Bardzo zadowolona. Polecam.",
    "zamowilam kurtke i nie dostalam",  # no Polish letters
    "Nie mogłam się dodzwonić na infolinię.",  # consonant before ł, negated
    "Poszłam odebrać paczkę, nie było jej.",
    "Chciałabym zwrócić towar.",
    "chcialabym zwrocic towar",
    "Wzięłam rozmiar M, za mały.",
    "Jako stała klientka jestem rozczarowana.",
    "Czuję się oszukana przez ten sklep.",
    "Mąż kupił, ale to ja odebrałam i reklamowałam.",  # the writer's own form, not the husband's
    "Nie jestem zadowolona z jakości.",
    "ZAMÓWIŁAM I CZEKAM",
    "Znalazłam tańszy produkt gdzie indziej.",
    "Kupiłam, mąż napisał: byłem zły na kuriera.",  # what someone else wrote after a colon is his
]
MALE = [
    "Zamówiłem buty dwa tygodnie temu i nadal nic.",
    "Kupiłem telewizor, przyszedł uszkodzony.",
    "Byłem w sklepie w sobotę.",
    "Jestem bardzo zadowolony z zakupu!",
    "kupilem laptopa, dzialal dwa dni",
    "Poszedłem do punktu odbioru.",
    "Mógłbym to opisać dłużej.",
    "Czułem się zignorowany.",
    "Zacząłem reklamację w poniedziałek.",
    "Rozmawiałem z działem obsługi i nic.",  # "z działem" is a noun, "rozmawiałem" the verb
    "Zostałem oszukany.",
    "Jako klient od lat jestem rozczarowany.",
]
NEUTRAL = [
    "",
    "Paczka nie dotarła.",
    "Żona zamówiła, jest zadowolona.",  # someone else
    "Mąż był bardzo zadowolony.",  # someone else's adjective
    "Kontakt z działem obsługi fatalny.",  # an instrumental noun, not a verb
    "Problem z hasłem do konta i z personelem.",
    "Za dużo reklam na stronie, problem z zespołem.",
    "Zamówiliśmy meble, przyszły porysowane.",  # plural: a couple writing
    'Kurier napisał "byłem pod drzwiami", a nie był.',  # a quote
    "„Zamówiłam i czekam” – tak pisze moja siostra.",  # a quote
    "Zamówiłam, a potem mój mąż zamówiłem... znaczy zamówił.",  # conflicting
    "Zamówiłam to ja, kupiłem to ja.",  # conflicting
    "The delivery was late and I am not happy.",
    "Sklep ok, cena ok, polecam.",
    "Jestem z Warszawy i polecam.",
    "Pod stołem znalazłem... nie, to nie było tu.",  # "pod stołem" is a noun; "znalazłem" counts →
]


@pytest.mark.parametrize("text", FEMALE)
def test_female_first_person_forms_say_pani(text: str) -> None:
    assert writer_gender(text) == "female"


@pytest.mark.parametrize("text", MALE)
def test_male_first_person_forms_say_pan(text: str) -> None:
    assert writer_gender(text) == "male"


@pytest.mark.parametrize("text", NEUTRAL[:-1])
def test_no_signal_or_conflicting_signals_say_nothing(text: str) -> None:
    assert writer_gender(text) is None


def test_a_noun_after_an_instrumental_preposition_is_skipped_but_the_verb_still_counts() -> None:
    assert writer_gender(NEUTRAL[-1]) == "male"
    assert writer_gender("Pod stołem i z działem.") is None


def test_there_are_at_least_thirty_hand_written_cases() -> None:
    assert len(FEMALE) + len(MALE) + len(NEUTRAL) >= 30


_NOISE = st.text(alphabet=st.sampled_from("abcdefghijklmnoprstuwyz ąęóśźżćń.,!?"), max_size=80)


@hsettings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_gives_an_answer_without_raising(text: str) -> None:
    assert writer_gender(text) in ("female", "male", None)


@hsettings(max_examples=150, deadline=None)
@given(before=_NOISE, after=_NOISE)
def test_both_genders_in_one_text_are_never_guessed(before: str, after: str) -> None:
    assert writer_gender(f"{before}. Zamówiłam. {after}. Kupiłem.") is None


@hsettings(max_examples=150, deadline=None)
@given(text=st.sampled_from(FEMALE + MALE), quoted=st.sampled_from(FEMALE + MALE))
def test_quoted_text_never_changes_the_answer(text: str, quoted: str) -> None:
    clean = quoted.replace('"', "").replace("„", "").replace("”", "")
    assert writer_gender(f'{text} Ktoś napisał "{clean}"') == writer_gender(text)


@hsettings(max_examples=100, deadline=None)
@given(text=st.sampled_from(FEMALE + MALE))
def test_case_does_not_matter(text: str) -> None:
    assert writer_gender(text.upper()) == writer_gender(text) == writer_gender(text.lower())
