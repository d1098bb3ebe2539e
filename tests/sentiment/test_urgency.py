"""Urgency detection: reasons in Polish and English, inflected forms, levels, and hostile input."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.urgency import REASONS, Urgency, UrgencyReason, assess_urgency

LEVELS = ("none", "elevated", "critical")
RANK = {level: i for i, level in enumerate(LEVELS)}


def codes(urgency: Urgency) -> set[str]:
    return {r.code for r in urgency.reasons}


def reason(urgency: Urgency, code: str) -> UrgencyReason:
    return next(r for r in urgency.reasons if r.code == code)


# --- each reason, Polish (with inflections) and English ----------------------------------------------------

LEGAL = [
    "Mój prawnik już się tym zajmuje.",
    "Przekazałem sprawę prawnikowi.",
    "Rozmawiałam dziś z prawnikiem.",
    "Skonsultuję to z adwokatem.",
    "Pozwę was!",
    "Złożę pozew w przyszłym tygodniu.",
    "Pozwiemy ten sklep razem z sąsiadami.",
    "Pozwałem już jeden sklep i wygrałem.",
    "Jeśli nie zwrócicie pieniędzy, sprawa trafi do sądu.",
    "Spotkamy się w sądzie.",
    "Skieruję sprawę na drogę sądową.",
    "Sprawa w sadzie, bez polskich znaków też się liczy.",
    "Zaraz skierujemy pozew do sadu",
    "Wezwanie przedsądowe wysłane.",
    "I will sue you.",
    "My lawyer will contact you tomorrow.",
    "I'm taking you to small claims court.",
    "We are considering legal action.",
    "Expect a letter from my solicitor.",
]
HEALTH = [
    "Dziecko się zatruło po tych słodyczach.",
    "Zatrucie pokarmowe po zjedzeniu tego sera.",
    "Po kolacji mieliśmy objawy zatrucia.",
    "Poparzyłam się tym czajnikiem.",
    "Syn ma poparzoną rękę.",
    "Ładowarka zapaliła się w nocy.",
    "Telefon wybuchł podczas ładowania.",
    "Z ładowarki poszedł dym.",
    "Dostałam reakcji alergicznej po kremie.",
    "Skończyło się w szpitalu.",
    "Trafiłam do szpitala po tym suplemencie.",
    "Dziecko mogło się zadławić tą zabawką.",
    "I got food poisoning from your meal.",
    "The charger caught fire on my desk.",
    "My son had an allergic reaction.",
    "The kettle burned my hand.",
    "This toy is a choking hazard.",
    "Battery exploded while charging.",
]
DATA_LEAK = [
    "Wyciek danych osobowych!",
    "Moje dane wyciekły po zakupie u was.",
    "Dostałem fakturę z cudzymi danymi.",
    "W paczce były dane innego klienta.",
    "Ktoś zhakował moje konto w waszym sklepie.",
    "Zgłaszam sprawę do UODO.",
    "There was a data breach at your shop.",
    "My personal data was leaked.",
    "I received someone else's invoice with their address.",
    "My account was hacked after ordering.",
]
PUBLIC = [
    "Zgłaszam to do UOKiK.",
    "Skarga do UOKiKu już poszła.",
    "Napiszę do Rzecznika Praw Konsumentów.",
    "Sprawę prowadzi miejski rzecznik konsumentów.",
    "Robię chargeback.",
    "Złożę reklamację w banku.",
    "Opiszę to w mediach społecznościowych.",
    "Wyślę to do dziennikarzy.",
    "Zgłoszę sprawę do TVN Uwaga.",
    "Zgłoszę to na policję.",
    "Sprawa jest już na policji.",
    "Zawiadomienie do prokuratury złożone.",
    "I've reported this to trading standards.",
    "I will file a chargeback with my bank.",
    "I'll tell the press about this.",
    "I'm going to post this all over social media.",
    "I'm reporting you to the police.",
]
FRAUD = [
    "Oszuści!",
    "Oszukali mnie na 300 zł.",
    "Zostałam oszukana przez ten sklep.",
    "To zwykłe oszustwo.",
    "Wyłudzili ode mnie pieniądze.",
    "Złodzieje, tyle w temacie.",
    "Ukradli mi pieniądze.",
    "Sklep naciąga klientów.",
    "Przyszła podróbka zamiast oryginału.",
    "This is a scam.",
    "They scammed me.",
    "Total fraud, avoid.",
    "They stole my money.",
    "I received a counterfeit product.",
]
REPEATED = [
    "Piszę już trzeci raz w tej sprawie.",
    "Kolejny raz piszę i nikt nie odpowiada.",
    "Ponownie zgłaszam tę samą reklamację.",
    "Pisałam do was już kilka razy.",
    "To moja kolejna reklamacja tego produktu.",
    "Nadal brak odpowiedzi na mojego maila.",
    "This is the third time I'm writing to you.",
    "I'm writing again because nobody answered.",
    "I have emailed you several times.",
    "Still no reply to my email.",
]
HIGH_REACH = [
    "Mam 15 tys. obserwujących na Instagramie.",
    "Mój kanał ma 120 000 subskrybentów.",
    "I have 50k followers.",
    "My blog has 25,000 readers.",
]


@pytest.mark.parametrize(
    ("code", "text"),
    [("legal_threat", t) for t in LEGAL]
    + [("health_safety", t) for t in HEALTH]
    + [("data_leak", t) for t in DATA_LEAK]
    + [("public_escalation", t) for t in PUBLIC]
    + [("fraud_scam", t) for t in FRAUD]
    + [("repeated_complaint", t) for t in REPEATED]
    + [("high_reach", t) for t in HIGH_REACH],
)
def test_reason_is_found(code: str, text: str) -> None:
    urgency = assess_urgency(text)
    assert code in codes(urgency)
    assert urgency.level != "none"


@pytest.mark.parametrize("text", LEGAL)
def test_legal_threats_are_critical(text: str) -> None:
    assert assess_urgency(text).level == "critical"


@pytest.mark.parametrize("text", HEALTH)
def test_health_and_safety_incidents_are_critical(text: str) -> None:
    assert assess_urgency(text).level == "critical"


@pytest.mark.parametrize("text", [t for t in FRAUD] + ["Zgłaszam to do UOKiK.", "Piszę już trzeci raz."])
def test_fraud_escalation_and_repeats_alone_are_elevated(text: str) -> None:
    assert assess_urgency(text).level == "elevated"


@pytest.mark.parametrize(
    ("stem_forms", "code"),
    [
        (["prawnik", "prawnika", "prawnikiem", "prawnikowi", "prawnicy"], "legal_threat"),
        (["pozew", "pozwu", "pozwę", "pozwać", "pozwiemy", "pozwie"], "legal_threat"),
        (["sądu", "sądzie", "sądem", "sądowi"], "legal_threat"),
        (["oszust", "oszustwo", "oszustwem", "oszukali", "oszukano", "oszuści"], "fraud_scam"),
        (["wyłudzenie", "wyłudzili", "wyłudzać"], "fraud_scam"),
        (["zatrucie", "zatruł", "zatruty", "zatruła"], "health_safety"),
        (["policja", "policji", "policję", "policją"], "public_escalation"),
        (["UOKiK", "UOKiKu", "UOKiK-u"], "public_escalation"),
    ],
)
def test_polish_inflected_forms(stem_forms: list[str], code: str) -> None:
    for form in stem_forms:
        assert code in codes(assess_urgency(f"No i {form} w tej sprawie")), form


@pytest.mark.parametrize(
    ("with_diacritics", "without"),
    [
        ("Oszuści!", "Oszusci!"),
        ("Wyłudzili pieniądze", "Wyludzili pieniadze"),
        ("Złodzieje", "Zlodzieje"),
        ("Pozwę was", "Pozwe was"),
        ("Poparzyłam się", "Poparzylam sie"),
        ("Zgłoszę na policję", "Zgloszę na policje"),
        ("Piszę już trzeci raz", "Pisze juz trzeci raz"),
    ],
)
def test_polish_typed_without_diacritics_matches_the_same(with_diacritics: str, without: str) -> None:
    assert codes(assess_urgency(without)) == codes(assess_urgency(with_diacritics)) != set()


# --- what must stay "none" ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Paczka się spóźniła.",
        "Produkt słaby, nie polecam.",
        "Sądzę, że to słaby produkt.",
        "Sądząc po opiniach, nie warto.",
        "Sklep pozwala na zwrot w 30 dni.",
        "Pozwolę sobie napisać opinię.",
        "Zatrudnienie nowych pracowników by się przydało.",
        "Dioda się nie zapala.",
        "Materiał się naciąga po praniu.",
        "Na stole leżała paczka.",
        "Unikać jak ognia.",
        "Zamówię ponownie, polecam!",
        "Kolejny raz zamawiam, super sklep.",
        "Po raz kolejny zamawiam i jestem zadowolona.",
        "Używam tego w sadzie, sprawdza się.",
        "Gazetka promocyjna była nieaktualna.",
        "The product is bad.",
        "I feel sad about this order.",
        "Sad to see the quality drop.",
        "Sue from support was great.",
        "I will definitely order again!",
        "Privacy policy link is broken.",
        "It was wrapped in newspaper, cute.",
        "Tennis court shoes, fit well.",
        "This mold makes perfect cupcakes.",
        "",
        "😀😀😀",
    ],
)
def test_ordinary_text_is_not_urgent(text: str) -> None:
    urgency = assess_urgency(text)
    assert urgency == Urgency("none", ())


# --- levels ------------------------------------------------------------------------------------------------


def test_fraud_with_strong_negativity_is_critical() -> None:
    text = "Oszuści, nie wysłali towaru."
    assert assess_urgency(text, sentiment_score=-0.9).level == "critical"
    assert reason(assess_urgency(text, sentiment_score=-0.9), "fraud_scam").severity == "critical"
    assert assess_urgency(text, sentiment_score=-0.2).level == "elevated"
    assert assess_urgency(text).level == "elevated"


def test_fraud_with_high_reach_is_critical() -> None:
    urgency = assess_urgency("This shop is a scam.", reach=50_000)
    assert urgency.level == "critical"
    assert reason(urgency, "fraud_scam").severity == "critical"
    assert codes(urgency) == {"fraud_scam", "high_reach"}


def test_two_different_elevated_reasons_are_critical() -> None:
    urgency = assess_urgency("Zgłaszam to do UOKiK.", prior_complaints=3)
    assert codes(urgency) == {"public_escalation", "repeated_complaint"}
    assert all(r.severity == "elevated" for r in urgency.reasons)
    assert urgency.level == "critical"


def test_one_reason_found_twice_does_not_escalate() -> None:
    urgency = assess_urgency("Piszę już trzeci raz w tej sprawie.", prior_complaints=5)
    assert codes(urgency) == {"repeated_complaint"}
    assert urgency.level == "elevated"


def test_highest_severity_wins_and_comes_first() -> None:
    urgency = assess_urgency("Piszę już trzeci raz, a teraz przekazuję sprawę prawnikowi.")
    assert urgency.level == "critical"
    assert [r.code for r in urgency.reasons] == ["legal_threat", "repeated_complaint"]
    assert [r.severity for r in urgency.reasons] == ["critical", "elevated"]


@pytest.mark.parametrize(
    ("reach", "expected"), [(None, "none"), (0, "none"), (9_999, "none"), (10_000, "elevated")]
)
def test_reach_threshold(reach: int | None, expected: str) -> None:
    urgency = assess_urgency("Zamówienie dotarło.", reach=reach)
    assert urgency.level == expected
    assert (codes(urgency) == {"high_reach"}) == (expected == "elevated")


def test_reach_evidence_and_custom_threshold() -> None:
    urgency = assess_urgency("ok", reach=12_000)
    assert urgency.reasons == (UrgencyReason("high_reach", "12,000 followers", "elevated"),)
    assert assess_urgency("ok", reach=600, high_reach_threshold=500).level == "elevated"
    assert assess_urgency("ok", reach=400, high_reach_threshold=500).level == "none"


def test_claimed_reach_below_threshold_is_not_high_reach() -> None:
    assert assess_urgency("Mam 300 obserwujących i to mi wystarcza.").level == "none"
    assert assess_urgency("Mam 15 tys. obserwujących", high_reach_threshold=20_000).level == "none"


@pytest.mark.parametrize(("prior", "expected"), [(0, "none"), (1, "none"), (2, "elevated"), (7, "elevated")])
def test_prior_complaints(prior: int, expected: str) -> None:
    urgency = assess_urgency("Gdzie jest moja paczka?", prior_complaints=prior)
    assert urgency.level == expected
    if expected != "none":
        assert urgency.reasons == (
            UrgencyReason("repeated_complaint", f"{prior} earlier complaints", "elevated"),
        )


# --- negation and positive texts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "evidence"),
    [
        ("Nie zgłaszam do UOKiK, ale obsługa słaba.", "public_escalation", "Nie zgłaszam do UOKiK"),
        ("I'm not going to sue, I just want a refund.", "legal_threat", "not going to sue"),
        ("Na szczęście nie było poparzeń.", "health_safety", "nie było poparzeń"),
    ],
)
def test_negated_phrase_is_reported_but_only_elevated(text: str, code: str, evidence: str) -> None:
    urgency = assess_urgency(text, sentiment_score=-0.9)
    assert urgency.level == "elevated"
    assert urgency.reasons == (UrgencyReason(code, evidence, "elevated"),)


def test_negated_phrase_does_not_count_towards_two_reasons() -> None:
    urgency = assess_urgency("Nie pójdę do UOKiK, ale piszę już trzeci raz.")
    assert codes(urgency) == {"public_escalation", "repeated_complaint"}
    assert urgency.level == "elevated"


def test_negation_in_another_clause_does_not_count() -> None:
    urgency = assess_urgency("Nie dostałem towaru, to oszustwo!", sentiment_score=-0.9)
    assert urgency.level == "critical"
    assert reason(urgency, "fraud_scam").evidence == "oszustwo"


def test_positive_text_drops_negated_and_fraud_mentions() -> None:
    assert assess_urgency("Nie uczula, polecam!", sentiment_score=0.9).level == "none"
    assert assess_urgency("Nie uczula, polecam!").level == "elevated"
    feared = "Bałam się, że to oszustwo, ale wszystko doszło. Polecam!"
    assert assess_urgency(feared, sentiment_score=0.8).level == "none"
    assert assess_urgency(feared).level == "elevated"
    # a real threat in a positive-sounding text is kept
    assert assess_urgency("Dziękuję, mój prawnik to załatwi.", sentiment_score=0.8).level == "critical"


# --- evidence and output shape ---------------------------------------------------------------------------


def test_evidence_is_the_input_words_as_written() -> None:
    text = "PIERWSZY raz tak: Oszuści   i ZŁODZIEJE, pozwę WAS do SĄDU"
    urgency = assess_urgency(text)
    assert reason(urgency, "fraud_scam").evidence == "Oszuści"
    assert reason(urgency, "legal_threat").evidence == "pozwę"
    for r in urgency.reasons:
        assert r.evidence in text


def test_evidence_is_capped_at_80_characters() -> None:
    text = "Piszę " + "już " * 60 + "trzeci raz"
    evidence = reason(assess_urgency(text), "repeated_complaint").evidence
    assert len(evidence) == 80
    assert evidence.startswith("Piszę już już") and evidence.endswith("…")


def test_to_dict_shape() -> None:
    urgency = assess_urgency("Oszuści! Zgłaszam to do UOKiK.", reach=20_000)
    data = urgency.to_dict()
    assert set(data) == {"level", "reasons"}
    assert data["level"] == urgency.level == "critical"
    reasons = data["reasons"]
    assert isinstance(reasons, list)
    assert [r["code"] for r in reasons] == [r.code for r in urgency.reasons]
    assert all(set(r) == {"code", "evidence", "severity"} for r in reasons)
    assert json.loads(json.dumps(data)) == data
    assert assess_urgency("").to_dict() == {"level": "none", "reasons": []}


# --- hostile input ---------------------------------------------------------------------------------------


def test_one_megabyte_reads_head_and_tail_only() -> None:
    filler = "Zamówienie nr 123 nie dotarło, proszę o informację. " * 20_000
    assert len(filler) > 1_000_000
    assert assess_urgency(filler).level == "none"
    assert codes(assess_urgency(filler + " Pozwę was.")) == {"legal_threat"}
    assert codes(assess_urgency("Pozwę was. " + filler)) == {"legal_threat"}
    # the middle of a huge text is not read (bounded cost per mention); documented in the module
    half = len(filler) // 2
    assert assess_urgency(filler[:half] + " Pozwę was. " + filler[half:]).level == "none"


def test_lone_surrogates_are_replaced_in_evidence() -> None:
    urgency = assess_urgency("\ud800Oszuści\udfff oszukali")
    assert codes(urgency) == {"fraud_scam"}
    json.dumps(urgency.to_dict(), ensure_ascii=False).encode("utf-8")


def test_html_tags_are_ignored_and_entities_decoded() -> None:
    assert assess_urgency('<a href="https://x.pl/policja/prawnik">link</a> ok').level == "none"
    urgency = assess_urgency("<p>Sprawa trafi do s&#261;du.</p>")
    assert urgency.reasons == (UrgencyReason("legal_threat", "do s&#261;du", "critical"),)
    assert codes(assess_urgency("<b>Oszuści</b> &amp; <i>złodzieje</i>")) == {"fraud_scam"}


def test_decomposed_and_fullwidth_text() -> None:
    decomposed = unicodedata.normalize("NFD", "Pozwę was do sądu")
    urgency = assess_urgency(decomposed)
    assert urgency.level == "critical"
    assert reason(urgency, "legal_threat").evidence in decomposed
    fullwidth = "ＳＣＡＭ ｓｈｏｐ"
    assert reason(assess_urgency(fullwidth), "fraud_scam").evidence == "ＳＣＡＭ"


def test_bad_arguments_raise_specific_errors() -> None:
    with pytest.raises(TypeError):
        assess_urgency(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reach"):
        assess_urgency("x", reach=-1)
    with pytest.raises(ValueError, match="prior_complaints"):
        assess_urgency("x", prior_complaints=-1)
    with pytest.raises(ValueError, match="high_reach_threshold"):
        assess_urgency("x", high_reach_threshold=0)


# --- properties --------------------------------------------------------------------------------------------


def check_valid(urgency: Urgency) -> None:
    assert urgency.level in LEVELS
    assert len({r.code for r in urgency.reasons}) == len(urgency.reasons)
    for r in urgency.reasons:
        assert r.code in REASONS
        assert r.severity in ("elevated", "critical")
        assert 0 < len(r.evidence) <= 80
        assert RANK[urgency.level] >= RANK[r.severity]
    assert (urgency.level == "none") == (not urgency.reasons)
    json.dumps(urgency.to_dict(), ensure_ascii=False).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(
    st.text(),
    st.one_of(st.none(), st.integers(0, 10**8)),
    st.integers(0, 10),
    st.one_of(st.none(), st.floats(-1, 1)),
)
def test_never_raises_and_output_is_valid(
    text: str, reach: int | None, prior: int, score: float | None
) -> None:
    check_valid(assess_urgency(text, reach=reach, prior_complaints=prior, sentiment_score=score))


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "Z", "S"]), max_size=300)
)
def test_reach_and_prior_complaints_never_lower_the_level(text: str) -> None:
    base = RANK[assess_urgency(text).level]
    assert RANK[assess_urgency(text, reach=10**6).level] >= max(base, 1)
    assert RANK[assess_urgency(text, prior_complaints=3).level] >= max(base, 1)


FILLER = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="<>&"), max_size=200)
TRIGGERS = {
    "fraud_scam": ["oszustwo", "OSZUŚCI", "scam"],
    "legal_threat": ["pozwę", "do sądu", "lawyer"],
    "data_leak": ["wyciek danych", "data breach"],
}


@settings(max_examples=200, deadline=None)
@given(FILLER, st.sampled_from([(c, t) for c, ts in TRIGGERS.items() for t in ts]), FILLER)
def test_trigger_is_found_anywhere_with_its_own_words_as_evidence(
    before: str, trigger: tuple[str, str], after: str
) -> None:
    code, phrase = trigger
    # Its own sentence: a question mark, a joke or a group's name in the same sentence changes the reading.
    text = f"{before}. {phrase}. {after}"
    urgency = assess_urgency(text)
    assert code in codes(urgency)
    flat = re.sub(r"\s+", " ", re.sub("[\ud800-\udfff]", "\ufffd", text))
    for r in urgency.reasons:
        assert r.evidence.rstrip("…") in flat


def _grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 999_999_999),
    st.sampled_from([",", ".", " ", "\u00a0", "\u202f", ""]),
    st.sampled_from(["Mam {} obserwujących", "I have {} followers", "mój kanał ma {} subskrybentów"]),
)
def test_written_follower_counts_are_parsed(n: int, sep: str, template: str) -> None:
    text = template.format(_grouped(n, sep))
    assert "high_reach" in codes(assess_urgency(text, high_reach_threshold=n))
    assert "high_reach" not in codes(assess_urgency(text, high_reach_threshold=n + 1))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 99_999),
    st.sampled_from(
        [
            ("Mam {},{} tys. obserwujących", 100),
            ("my {}.{}k followers", 100),
            ("mamy {},{} mln fanów", 100_000),
        ]
    ),
)
def test_abbreviated_follower_counts_are_parsed(tenths: int, template: tuple[str, int]) -> None:
    pattern, per_tenth = template
    text = pattern.format(tenths // 10, tenths % 10)
    count = tenths * per_tenth
    assert "high_reach" in codes(assess_urgency(text, high_reach_threshold=count))
    assert "high_reach" not in codes(assess_urgency(text, high_reach_threshold=count + 1))


# --- issue 11: elevated reasons customers use, and keywords that are not threats (both languages) ----------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Jak nie oddacie kasy do piątku, to opisuję całą historię na grupie 🙂", "public_escalation"),
        (
            "@Sklep refund me by Monday or the whole thread goes up on reddit with screenshots 🙂",
            "public_escalation",
        ),
        ("Nie kupujcie w tym sklepie, szkoda nerwów.", "public_escalation"),
        ("Do not order from them. Spread the word.", "public_escalation"),
        ("#bojkot tego sklepu, traktują ludzi jak śmieci", "public_escalation"),
        ("Mam 40 tys. obserwujących i zaraz to wszystko pokażę.", "high_reach"),
        ("Trzeci tydzień czekam na zwrot. Na maile nikt nie odpisuje.", "repeated_complaint"),
        ("dzwonie 5 dzien z rzedu i nikt nie oddzwonil", "repeated_complaint"),
        ("Fourth email to support, not a single reply since October.", "repeated_complaint"),
        ("Called three times this week, nobody ever calls back.", "repeated_complaint"),
    ],
)
def test_escalation_reach_and_unanswered_contact_are_elevated(text: str, code: str) -> None:
    urgency = assess_urgency(text, sentiment_score=-0.7)
    assert code in codes(urgency)
    assert urgency.level in ("elevated", "critical")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Someone else's name and address were printed on my parcel label.", "data_leak"),
        (
            "Dostałam SMS z linkiem do dopłaty i moim numerem zamówienia, ktoś ma waszą bazę klientów.",
            "data_leak",
        ),
        ("ktos wlamal mi sie na konto w sklepie i zamowil rzeczy na moja karte", "data_leak"),
        ("Ładowarka stopiła się w gniazdku, czuć było spaleniznę w całym pokoju.", "health_safety"),
        ("Po wyjęciu został ostry drucik, dziecko mogło się pokaleczyć.", "health_safety"),
        ("Złodzieje!!! Kasa pobrana, towaru brak, nie kupujcie tu.", "fraud_scam"),
    ],
)
def test_data_leaks_injuries_and_angry_fraud_are_critical(text: str, code: str) -> None:
    urgency = assess_urgency(text, sentiment_score=-0.9)
    assert code in codes(urgency)
    assert urgency.level == "critical"


@pytest.mark.parametrize(
    "text",
    [
        "Czy rzecznik konsumentów pomaga, jak sklep nie odpowiada na reklamację? Pytam na zapas.",
        "Does the consumer ombudsman help foreigners too?",
        "Na FB jest grupa „Oszukani przez kurierów”, ale z tym sklepem zawsze było ok.",
        "Joined a group called 'Scammed by couriers' for research, none of my shops there.",
        "Cena złodziejska, ale jakość świetna.",
        "UOKiK nałożył karę na sklep internetowy za fałszywe promocje.",
        "haha pozwę was za to, że te ciastka są tak dobre 😂",
        "I'd sue them for making me addicted to their pickles 😂",
        "To nie scam, po prostu mała firma, która wolno wysyła.",
        "It's not a scam, they're just slow.",
    ],
)
def test_keywords_are_not_threats(text: str) -> None:
    assert assess_urgency(text, sentiment_score=0.0).level == "none"


def test_a_fraud_claim_next_to_a_price_is_still_a_fraud_claim() -> None:
    urgency = assess_urgency("Oszuści, cena na stronie inna niż pobrana z karty.", sentiment_score=-0.9)
    assert "fraud_scam" in codes(urgency)
    assert assess_urgency("Ludzie piszą, że ta cena to złodziejstwo.", sentiment_score=0.0).level == "none"
