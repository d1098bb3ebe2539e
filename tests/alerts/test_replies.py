"""Suggested replies: language, tone, structure per aspect and severity, no invented facts, source limits."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from alerts import replies
from alerts.replies import REPLY_LIMITS, reply_length, reply_limit, suggest_reply
from alerts.reply_templates import phrases_for
from alerts.rules import AspectView, MentionView, ScoreView, UrgencyReasonView
from monitor.core.config import ReplySettings

ASPECTS = ("delivery", "returns", "customer_service", "product_quality", "price", "payment", "website")
TONES = {
    "pl_formal": ("pl", True),
    "pl_informal": ("pl", False),
    "en": ("en", True),
}
# How each aspect is named in words (a stem that must appear in a complaint or remark about it).
NAMED = {
    "pl": {
        "delivery": "dostaw",
        "returns": "zwrot",
        "customer_service": "obsług",
        "product_quality": "jakości",
        "price": "cen",
        "payment": "płatnoś",
        "website": "stron",
    },
    "en": {
        "delivery": "delivery",
        "returns": "return",
        "customer_service": "customer service",
        "product_quality": "quality",
        "price": "pric",
        "payment": "payment",
        "website": "website",
    },
}
# What the detector gives a clearly negative / positive / neutral aspect (p(pos) - p(neg) of its clauses).
ASPECT_SCORES: dict[str | None, float] = {"negative": -0.9, "positive": 0.9, "neutral": 0.0}


FORBIDDEN = re.compile(
    r"refund|discount|voucher|coupon|compensat|zwrot pieni|zwrot koszt|rabat|kupon|rekompens|bon |"
    r"order (?:no|number)|numer zamówienia|nr zamówienia|\d",
    re.IGNORECASE,
)
INFORMAL_PL = re.compile(r"\b(?:Cię|Ci|Ciebie|Twój|Twoja|Twoje|Twoich|Twoim|Napisz|Dzięki|jesteś)\b")
FORMAL_PL = re.compile(r"\bPan(?:a|u|i|em)?\b|\bPaństw")
ADMITS = re.compile(r"przeprasz|przykro|sorry|apolog|fault|win[aąy]\b|our mistake|nasz błąd", re.IGNORECASE)


def mention(
    source: str = "google_business", lang: str | None = "pl", text: str = "", **kw: Any
) -> MentionView:
    values: dict[str, Any] = {
        "id": 1,
        "source": source,
        "target": "Sklep Kowalski",
        "text": text,
        "author": "Anna Nowak",
        "url": "https://example.com/review/1",
        "rating": 1.0,
        "lang": lang,
        "created_at": None,
        "version": 1,
    }
    values.update(kw)
    return MentionView(**values)


def score(
    lang: str | None,
    *aspects: tuple[str, str | None],
    label: str = "negative",
    value: float = -0.9,
    reasons: tuple[str, ...] = (),
) -> ScoreView:
    return ScoreView(
        label=label,
        score=value,
        confidence=0.9,
        urgency="critical" if reasons else "none",
        urgency_reasons=tuple(UrgencyReasonView(code, "", "critical") for code in reasons),
        aspects=tuple(AspectView(a, s, "", ASPECT_SCORES.get(s)) for a, s in aspects),
        lang=lang,
    )


def body(text: str, settings: ReplySettings) -> str:
    """The reply without the configured parts (which may legitimately hold digits or any word)."""
    for value in (settings.contact_email, settings.contact_phone, settings.contact_url, settings.signature):
        if value:
            text = text.replace(value, "")
    return text


CONTACT = ReplySettings(contact_email="pomoc@sklep.example", signature="Zespół Obsługi Klienta")


# --- language and tone ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("severity", ["negative", "info", "urgent"])
def test_every_aspect_tone_and_severity(tone: str, aspect: str, severity: str) -> None:
    lang, formal = TONES[tone]
    settings = CONTACT.model_copy(update={"formal": formal})
    sentiment = "neutral" if severity == "info" else "negative"
    reply = suggest_reply(
        mention(lang=lang),
        score(
            lang,
            (aspect, sentiment),
            label="neutral" if severity == "info" else "negative",
            value=0.0 if severity == "info" else -0.9,
        ),
        settings,
        severity=severity,
    )
    text = reply.text
    assert reply.lang == lang
    assert reply.max_chars == 4096
    assert not FORBIDDEN.search(body(text, settings)), text
    assert "pomoc@sklep.example" in text  # the configured channel
    assert text.endswith("\nZespół Obsługi Klienta")
    if lang == "pl":
        assert reply.formal is formal
        if formal:  # the empty text says no gender: formal, and no gendered form at all
            assert not FORMAL_PL.search(text) and not INFORMAL_PL.search(text), text
            assert text.startswith("Dzień dobry,\n") or severity == "urgent", text
        else:
            assert INFORMAL_PL.search(text) and not FORMAL_PL.search(text), text
        assert not re.search(r"\b(?:We|We're|Please|Thank)\b", text)
    else:
        assert re.search(r"\bWe\b|\bWe're\b|\bPlease\b|\bThank\b", text)
        assert not re.search(r"[ąćęłńóśźż]", body(text, settings))
    if severity == "urgent":
        assert not ADMITS.search(text), text
        assert NAMED[lang][aspect] not in body(text, settings).lower() or aspect == "customer_service"
    else:
        assert NAMED[lang][aspect] in text.lower(), text
    if severity == "negative":
        assert re.search(r"Przepraszamy|sorry", text)


def test_polish_formal_negative_reads_as_expected() -> None:
    settings = ReplySettings(
        formal=True,
        contact_email="pomoc@sklep.example",
        contact_url="https://sklep.example/kontakt",
        signature="Zespół Sklepu Kowalski",
    )
    reply = suggest_reply(
        mention(text="Paczka nie dotarła, czekam już dwa tygodnie!"),
        score("pl", ("delivery", "negative")),
        settings,
    )
    assert reply.text == (
        "Dzień dobry,\n"
        "Przepraszamy za opóźnienie dostawy. Przyjrzymy się tej sprawie. "
        "Prosimy o kontakt: pomoc@sklep.example lub https://sklep.example/kontakt. "
        "Dziękujemy za opinię.\n"
        "Zespół Sklepu Kowalski"
    )


def test_polish_informal_negative_reads_as_expected() -> None:
    reply = suggest_reply(
        mention(text="Zwrot trwa wieki"), score("pl", ("returns", "negative")), ReplySettings(formal=False)
    )
    assert reply.text == (
        "Cześć,\nPrzepraszamy Cię za trudności ze zwrotem lub reklamacją. Sprawdzimy to. "
        "Zapraszamy do kontaktu z naszą obsługą klienta. Dzięki za opinię!"
    )
    assert reply.formal is False


def test_english_negative_reads_as_expected() -> None:
    reply = suggest_reply(
        mention(lang="en", text="Support never answered my emails"),
        score("en", ("customer_service", "negative"), ("price", "positive")),
        ReplySettings(contact_phone="+44 20 7946 0000"),
    )
    assert reply.text == (
        "Hello,\nWe're sorry about your experience with our customer service. We will look into it. "
        "We're glad, though, that you found the price fair. Please contact us: phone +44 20 7946 0000. "
        "Thank you for your feedback."
    )


@pytest.mark.parametrize(
    ("mention_lang", "score_lang", "expected"),
    [
        ("pl", None, "pl"),
        ("pl-PL", None, "pl"),
        ("PL", None, "pl"),
        ("en", "pl", "pl"),  # the detected language wins over the source's label
        ("pl", "en", "en"),
        ("de", None, "en"),
        (None, None, "en"),
        ("", "", "en"),
    ],
)
def test_language_choice(mention_lang: str | None, score_lang: str | None, expected: str) -> None:
    reply = suggest_reply(mention(lang=mention_lang), score(score_lang), ReplySettings())
    assert reply.lang == expected
    assert ("Przepraszamy" in reply.text) is (expected == "pl")


def test_formal_setting_does_not_change_english() -> None:
    formal = suggest_reply(mention(lang="en"), score("en"), ReplySettings(formal=True))
    informal = suggest_reply(mention(lang="en"), score("en"), ReplySettings(formal=False))
    assert formal.text == informal.text


# --- structure ------------------------------------------------------------------------------------------


def test_negative_aspects_come_first_and_positive_ones_are_thanked() -> None:
    reply = suggest_reply(
        mention(),
        score("pl", ("price", "positive"), ("payment", "negative"), ("delivery", "negative")),
        ReplySettings(),
    )
    assert "Przepraszamy za problemy z płatnością i kłopoty z dostawą." in reply.text
    assert "Cieszymy się jednak, że cena okazała się atrakcyjna." in reply.text
    assert reply.text.index("płatnością") < reply.text.index("cena")


def test_without_aspects_the_apology_is_generic() -> None:
    pl = suggest_reply(mention(), score("pl"), ReplySettings())
    en = suggest_reply(mention(lang="en"), None, ReplySettings())
    assert "Przepraszamy, że nasze usługi nie spełniły tym razem oczekiwań." in pl.text
    assert "We're sorry to hear that your experience was not what you expected." in en.text


def test_unknown_aspects_are_ignored() -> None:
    reply = suggest_reply(mention(lang="en"), score("en", ("teleportation", "negative")), ReplySettings())
    assert "teleportation" not in reply.text
    assert "We're sorry to hear" in reply.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Opóźnienie dostawy o tydzień", "opóźnienie dostawy"),
        ("opoznienie dostawy, paczka nie dotarla", "opóźnienie dostawy"),  # typed without diacritics
        ("Paczka przyszła zgnieciona", "kłopoty z dostawą"),
    ],
)
def test_a_late_delivery_is_named_a_delay(text: str, expected: str) -> None:
    reply = suggest_reply(mention(text=text), score("pl", ("delivery", "negative")), ReplySettings())
    assert f"Przepraszamy za {expected}." in reply.text


def test_delay_in_english() -> None:
    late = suggest_reply(
        mention(lang="en", text="Still waiting for my parcel"),
        score("en", ("delivery", "negative")),
        ReplySettings(),
    )
    broken = suggest_reply(
        mention(lang="en", text="The box was crushed"), score("en", ("delivery", "negative")), ReplySettings()
    )
    assert "the delay with your delivery" in late.text
    assert "the trouble with your delivery" in broken.text


def test_next_steps_only_from_config_language_specific_first() -> None:
    settings = ReplySettings(
        next_steps={
            "delivery.pl": "Sprawdzimy status przesyłki u przewoźnika w ciągu 24 godzin",
            "delivery": "We will check the parcel with the carrier.",
            "returns": "Zwrot pieniędzy zlecimy w ciągu 14 dni!",
        }
    )
    pl = suggest_reply(mention(), score("pl", ("delivery", "negative")), settings)
    en = suggest_reply(mention(lang="en"), score("en", ("delivery", "negative")), settings)
    both = suggest_reply(mention(), score("pl", ("delivery", "negative"), ("returns", "negative")), settings)
    partly = suggest_reply(mention(), score("pl", ("delivery", "negative"), ("price", "negative")), settings)

    assert "Sprawdzimy status przesyłki u przewoźnika w ciągu 24 godzin." in pl.text
    assert "Przyjrzymy się tej sprawie" not in pl.text
    assert "We will check the parcel with the carrier." in en.text
    assert "w ciągu 24 godzin. Zwrot pieniędzy zlecimy w ciągu 14 dni!" in both.text  # configured: allowed
    assert "w ciągu 24 godzin. Przyjrzymy się tej sprawie." in partly.text  # price has no configured step


def test_without_next_steps_nothing_is_promised() -> None:
    for lang in ("pl", "en"):
        for aspect in ASPECTS:
            reply = suggest_reply(mention(lang=lang), score(lang, (aspect, "negative")), ReplySettings())
            assert not FORBIDDEN.search(reply.text), reply.text
            assert re.search(r"Przyjrzymy się tej sprawie\.|We will look into it\.", reply.text)


@pytest.mark.parametrize(
    ("settings", "pl", "en"),
    [
        (  # a Google review: no private messages there, so customer service (nothing configured)
            ReplySettings(),
            "Zapraszamy do kontaktu z naszym działem obsługi klienta.",
            "Please get in touch with our customer service team.",
        ),
        (
            ReplySettings(contact_email="a@b.example"),
            "Prosimy o kontakt: a@b.example.",
            "Please contact us: a@b.example.",
        ),
        (
            ReplySettings(
                contact_email="a@b.example",
                contact_phone="+48 22 100 20 30",
                contact_url="https://b.example/k",
            ),
            "Prosimy o kontakt: a@b.example, tel. +48 22 100 20 30 lub https://b.example/k.",
            "Please contact us: a@b.example, phone +48 22 100 20 30 or https://b.example/k.",
        ),
    ],
)
def test_contact_channels(settings: ReplySettings, pl: str, en: str) -> None:
    assert pl in suggest_reply(mention(), score("pl"), settings).text
    assert en in suggest_reply(mention(lang="en"), score("en"), settings).text


def test_signature_only_when_configured() -> None:
    plain = suggest_reply(mention(), score("pl"), ReplySettings())
    signed = suggest_reply(mention(), score("pl"), ReplySettings(signature="Zespół Sklepu X"))
    assert signed.text == plain.text + "\nZespół Sklepu X"


def test_control_characters_in_config_do_not_reach_the_reply() -> None:
    settings = ReplySettings(signature="Zespół\u202e X\x07", contact_email="a@b.example\r\nBcc: evil@x")
    reply = suggest_reply(mention(), score("pl"), settings)
    assert "\u202e" not in reply.text and "\x07" not in reply.text and "\r" not in reply.text
    assert "a@b.example Bcc: evil@x" in reply.text  # one line: no header or paragraph injection


# --- positive and info ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "formal", "expected"),
    [
        (
            "pl",
            True,
            "Dzień dobry,\nDziękujemy za miłe słowa! Cieszymy się, że dostawa przebiegła "
            "sprawnie i nasza obsługa klienta okazała się pomocna. Mamy nadzieję, że marka Sklep Kowalski "
            "jeszcze nieraz spełni oczekiwania.",
        ),
        (
            "pl",
            False,
            "Cześć,\nDzięki za miłe słowa! Cieszymy się, że dostawa przebiegła sprawnie i nasza obsługa klienta "
            "okazała się pomocna. Mamy nadzieję, że wkrótce znów wybierzesz markę Sklep Kowalski.",
        ),
        (
            "en",
            True,
            "Hello,\nThank you for your kind words! We're glad your delivery went smoothly and our customer service "
            "team could help. We hope to see you again at Sklep Kowalski soon.",
        ),
    ],
)
def test_positive_items_are_thanked(lang: str, formal: bool, expected: str) -> None:
    reply = suggest_reply(
        mention(lang=lang, rating=5.0),
        score(
            lang,
            ("delivery", "positive"),
            ("customer_service", None),
            ("price", "neutral"),
            label="positive",
            value=0.9,
        ),
        ReplySettings(formal=formal),
        severity="info",
        brand="Sklep Kowalski",
    )
    assert reply.text == expected
    assert not ADMITS.search(reply.text)


def test_unscored_five_stars_are_positive() -> None:
    reply = suggest_reply(mention(lang="en", rating=5.0), None, ReplySettings(), severity="info")
    assert reply.text == "Hello,\nThank you for your kind words! We hope to see you again soon."


def test_info_remarks_name_the_topic() -> None:
    reply = suggest_reply(
        mention(rating=3.0),
        score("pl", ("website", "neutral"), label="neutral", value=0.0),
        ReplySettings(),
        severity="info",
    )
    assert reply.text == (
        "Dzień dobry,\nDziękujemy za opinię. "
        "Przyjrzymy się uwagom dotyczącym naszej strony internetowej i aplikacji."
    )


# --- urgent ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["legal_threat", "health_safety", "data_leak"])
@pytest.mark.parametrize("lang", ["pl", "en"])
def test_urgent_reasons_get_a_careful_reply_even_when_the_rule_says_negative(reason: str, lang: str) -> None:
    reply = suggest_reply(
        mention(lang=lang, text="Mój prawnik wyśle pozew, zatrucie!"),
        score(lang, ("product_quality", "negative"), reasons=(reason,)),
        ReplySettings(next_steps={"product_quality": "Wymienimy produkt."}),
        severity="negative",
    )
    assert not ADMITS.search(reply.text), reply.text
    assert "Wymienimy" not in reply.text  # no promises in a careful reply
    # A Google review has no private messages: the careful reply sends the customer to customer service.
    assert re.search(r"działem obsługi klienta – tam omówimy|customer service team so we can", reply.text)
    assert not re.search(r"prywatn|private message", reply.text)
    assert re.search(r"danych osobowych|personal details", reply.text)
    assert len(reply.text) < 350  # short


def test_urgent_reply_moves_to_the_configured_channel() -> None:
    settings = ReplySettings(contact_email="prawny@sklep.example", formal=True)
    reply = suggest_reply(mention(), score("pl"), settings, severity="urgent")
    assert reply.text == (
        "Dzień dobry,\nDziękujemy za wiadomość. Traktujemy tę sprawę poważnie i chcemy ją "
        "dokładnie wyjaśnić. Prosimy o kontakt bezpośrednio: prawny@sklep.example – tam omówimy szczegóły. "
        "Prosimy nie podawać tutaj danych osobowych."
    )


# --- never the customer's words -------------------------------------------------------------------------


@hsettings(max_examples=150, deadline=None)
@given(
    text=st.text(min_size=0, max_size=400),
    lang=st.sampled_from(["pl", "en", None, "de"]),
    severity=st.sampled_from(["negative", "info", "urgent", "positive"]),
    aspects=st.lists(
        st.tuples(st.sampled_from(ASPECTS), st.sampled_from(["negative", "positive", "neutral", None])),
        max_size=4,
    ),
    formal=st.booleans(),
)
def test_customer_text_is_never_copied_and_no_digits_appear(
    text: str, lang: str | None, severity: str, aspects: list[tuple[str, str | None]], formal: bool
) -> None:
    marker = "Zqxv7731 <!channel> zamówienie nr 48213"
    customer_text = f"{text} {marker} {text}"
    reply = suggest_reply(
        mention(lang=lang, text=customer_text, author="Zqxv Author"),
        score(lang, *aspects),
        ReplySettings(formal=formal),
        severity=severity,
        brand="Sklep",
    )
    assert "Zqxv" not in reply.text
    assert "<" not in reply.text
    assert not re.search(r"\d", reply.text)
    assert not FORBIDDEN.search(reply.text)
    assert reply.text.strip() == reply.text and reply.text


# --- source limits --------------------------------------------------------------------------------------


def test_documented_limits() -> None:
    assert reply_limit("google_business") == 4096
    assert reply_limit("bluesky") == 300
    assert reply_limit("mastodon") == 500
    assert reply_limit("youtube") == 10_000
    assert reply_limit("reddit") == 10_000
    for source in ("rss", "ceneo", "hackernews", "google_places", "nope"):
        assert reply_limit(source) is None
    assert reply_length("google_business", "żółć") == 8  # bytes
    assert reply_length("bluesky", "żółć") == 4


LONG_BRAND = "Wielka Hurtownia Artykułów Gospodarstwa Domowego i Ogrodniczych Spółka Komandytowa " * 2
LONG_URL = "https://pomoc.wielka-hurtownia-artykulow-gospodarstwa-domowego.example/" + "kontakt/" * 20
NEAR_LIMIT = ReplySettings(
    contact_email="biuro.obslugi.klienta@wielka-hurtownia-artykulow.example",
    contact_phone="+48 22 123 45 67",
    contact_url=LONG_URL,
    signature="Zespół Obsługi Klienta " + LONG_BRAND,
    next_steps={a: f"Sprawdzimy sprawę dotyczącą {a} i odezwiemy się z informacją " * 3 for a in ASPECTS},
)


_PUNCT = ".,!?:;–()…"


def _words(text: str) -> set[str]:
    """Words without the punctuation around them (placeholders such as ``{brand}`` dropped)."""
    text = re.sub(r"\{\w+\}", " ", text)
    return {w.strip(_PUNCT) for w in text.split() if w.strip(_PUNCT)}


def _vocabulary(settings: ReplySettings, brand: str) -> set[str]:
    """Every word a reply may use: all phrases of every language and tone, and the configured values."""
    words: set[str] = set()
    for lang, formal in TONES.values():
        phrases = phrases_for(lang, formal)
        for f in dataclasses.fields(phrases):
            value = getattr(phrases, f.name)
            for text in value.values() if isinstance(value, dict) else [value]:
                words |= _words(text)
    configured = [
        settings.contact_email,
        settings.contact_phone,
        settings.contact_url,
        settings.signature,
        brand,
    ]
    for value in [*configured, *settings.next_steps.values()]:
        words |= _words(value or "")
    return words


@pytest.mark.parametrize("source", sorted(REPLY_LIMITS))
@pytest.mark.parametrize("severity", ["negative", "info", "urgent", "positive"])
@pytest.mark.parametrize("lang", ["pl", "en"])
def test_each_source_limit_is_respected(source: str, severity: str, lang: str) -> None:
    m = mention(source=source, lang=lang)
    s = score(lang, *((a, "negative") for a in ASPECTS))
    reply = suggest_reply(m, s, NEAR_LIMIT, severity=severity, brand=LONG_BRAND)
    limit = REPLY_LIMITS[source]
    assert reply.max_chars == limit
    if limit is not None:
        assert reply_length(source, reply.text) <= limit
    assert _words(reply.text) <= _vocabulary(NEAR_LIMIT, LONG_BRAND)  # whole words only, nothing invented
    assert re.search(r"Przepraszamy|Dziękujemy|Sorry|sorry|Thank|Przyjrzymy|look into", reply.text)


def test_bluesky_drops_optional_sentences_before_the_contact() -> None:
    settings = ReplySettings(contact_url=LONG_URL[:176], signature="Zespół Obsługi Klienta")
    reply = suggest_reply(
        mention(source="bluesky"), score("pl", ("delivery", "negative"), ("returns", "negative")), settings
    )
    assert len(reply.text) <= 300
    assert "Przepraszamy za" in reply.text
    assert "Dziękujemy za opinię" not in reply.text  # the closing went first
    assert LONG_URL[:176] in reply.text  # the contact stayed
    assert "Zespół" not in reply.text and not reply.text.startswith("Dzień")  # social: no letter parts


def test_a_contact_too_long_for_the_source_becomes_a_private_message() -> None:
    reply = suggest_reply(
        mention(source="bluesky", lang="en"),
        score("en", ("payment", "negative")),
        ReplySettings(contact_url=LONG_URL * 2),
    )
    assert len(reply.text) <= 300
    assert "Please send us a private message or reply here." in reply.text


def test_last_resort_cuts_at_a_word(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(replies.REPLY_LIMITS, "bluesky", 60)
    reply = suggest_reply(mention(source="bluesky"), score("pl", ("delivery", "negative")), ReplySettings())
    full = suggest_reply(mention(source="rss"), score("pl", ("delivery", "negative")), ReplySettings())
    assert len(reply.text) <= 60
    assert reply.text.endswith("…")
    words = reply.text.removesuffix("…").split()
    without_greeting = full.text.split("\n", 1)[1]  # optional sentences go first, then the cut
    assert words == without_greeting.split()[: len(words)]  # a prefix of whole words


@hsettings(max_examples=60, deadline=None)
@given(
    brand=st.text(min_size=0, max_size=300),
    signature=st.text(min_size=0, max_size=300),
    url=st.text(min_size=0, max_size=300),
    source=st.sampled_from(["bluesky", "mastodon", "google_business"]),
    severity=st.sampled_from(["negative", "info", "urgent", "positive"]),
)
def test_any_config_fits_the_limit(brand: str, signature: str, url: str, source: str, severity: str) -> None:
    settings = ReplySettings(signature=signature or None, contact_url=url or None)
    reply = suggest_reply(
        mention(source=source),
        score("pl", ("delivery", "negative")),
        settings,
        severity=severity,
        brand=brand,
    )
    limit = REPLY_LIMITS[source]
    assert limit is not None and reply_length(source, reply.text) <= limit


def _with_aspects(*aspects: AspectView) -> ScoreView:
    base = score("pl")
    return ScoreView(
        label=base.label,
        score=base.score,
        confidence=base.confidence,
        urgency=base.urgency,
        urgency_reasons=base.urgency_reasons,
        aspects=aspects,
        lang="pl",
    )


def test_reply_apologises_only_for_confident_complaints_never_for_praise() -> None:
    settings = ReplySettings(contact_email="pomoc@sklep.example")
    reply = suggest_reply(
        mention(text="Kurier szybki, ale produkt uszkodzony."),
        _with_aspects(
            AspectView("delivery", "positive", "Kurier szybki", 0.9, False),
            AspectView("product_quality", "negative", "produkt uszkodzony", -0.95, True),
            AspectView("website", "negative", "na stronie", -0.3, None),  # not confident
            AspectView("payment", "negative", "zapłaciłam", -0.9, False),  # named, not complained about
        ),
        settings,
    ).text
    assert "Przepraszamy za problem z jakością produktu." in reply
    for wrong in ("dostaw", "płatnoś", "stron"):
        assert f"Przepraszamy za {wrong}" not in reply and f"problemy z {wrong}" not in reply, reply


def test_reply_without_a_confident_complaint_apologises_in_general() -> None:
    reply = suggest_reply(
        mention(text="Nie jestem zadowolona."),
        _with_aspects(AspectView("delivery", "negative", "dostawa", -0.9, False)),
        ReplySettings(),
    ).text
    assert "Przepraszamy, że nasze usługi nie spełniły" in reply
    assert "dostaw" not in reply.lower()
