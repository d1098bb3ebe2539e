"""Replies that fit their channel: the three failures of issue 16 item 2, the source table, the defaults.

Before: a Mastodon reply opened with "Szanowna Pani / Szanowny Panie,"; a reviewer who wrote "Zamówiłam"
was addressed "Pani / Panie"; Google and Ceneo reviews were told "Prosimy o kontakt w prywatnej
wiadomości", where no private messages exist.
"""

from __future__ import annotations

import re

import pytest

from alerts.replies import suggest_reply
from alerts.reply_channels import CHANNELS, SOCIAL_SOFT_LIMIT, channel_profile, contact_route
from monitor.core.config import EarshotSettings, ReplySettings
from spiders.catalogue import spider_classes
from tests.alerts.test_replies import mention, score

PRIVATE = re.compile(r"prywatn|private message", re.IGNORECASE)
LETTER_GREETING = re.compile(r"^(?:Szanown|Dzień dobry|Hello|Cześć)")
REVIEW_SITES = ("google_business", "google_places", "ceneo", "allegro", "trustpilot")
DM_SOURCES = ("mastodon", "bluesky", "reddit")
CONTACT = ReplySettings(
    contact_email="pomoc@sklep.example", contact_phone="+48 22 100 20 30", signature="Zespół Sklepu"
)


# --- the three failures of the issue ---------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["pl", "en"])
@pytest.mark.parametrize("severity", ["negative", "info", "urgent", "positive"])
def test_a_mastodon_reply_has_no_letter_greeting_and_no_signature(lang: str, severity: str) -> None:
    reply = suggest_reply(
        mention(source="mastodon", lang=lang, text="Zamówiłam buty, nie doszły"),
        score(lang, ("delivery", "negative")),
        CONTACT,
        severity=severity,
    )
    assert not LETTER_GREETING.search(reply.text), reply.text
    assert "\n" not in reply.text  # one paragraph: no greeting line, no signature line
    assert "Zespół Sklepu" not in reply.text
    assert len(reply.text) <= SOCIAL_SOFT_LIMIT


def test_a_google_review_keeps_its_letter_form() -> None:
    reply = suggest_reply(mention(source="google_business"), score("pl", ("delivery", "negative")), CONTACT)
    assert reply.text.startswith("Dzień dobry,\n") and reply.text.endswith("\nZespół Sklepu")


@pytest.mark.parametrize(
    ("text", "greeting", "thanks"),
    [
        ("Zamówiłam buty, nie doszły", "Szanowna Pani,", "Dziękujemy Pani za opinię."),
        ("zamowilam buty, nie doszly", "Szanowna Pani,", "Dziękujemy Pani za opinię."),
        ("Zamówiłem buty, nie doszły", "Szanowny Panie,", "Dziękujemy Panu za opinię."),
        ("Buty nie doszły", "Dzień dobry,", "Dziękujemy za opinię."),
        ("Żona zamówiła buty, nie doszły", "Dzień dobry,", "Dziękujemy za opinię."),
    ],
)
def test_a_formal_polish_reply_addresses_the_writer_by_the_gender_the_text_shows(
    text: str, greeting: str, thanks: str
) -> None:
    reply = suggest_reply(mention(source="ceneo", text=text), score("pl", ("delivery", "negative")), CONTACT)
    assert reply.text.startswith(f"{greeting}\n")
    assert thanks in reply.text
    assert "/" not in reply.text.split("\n")[0]  # never "Pani / Panie"
    assert "Pan/Pani" not in reply.text and "Panu/Pani" not in reply.text


def test_praise_from_a_woman_hopes_she_comes_back_as_pani() -> None:
    reply = suggest_reply(
        mention(source="google_business", text="Kupiłam sukienkę, jestem zachwycona!", rating=5.0),
        score("pl", ("product_quality", "positive"), label="positive", value=0.9),
        ReplySettings(),
        severity="positive",
        brand="Sklep Kowalski",
    )
    assert "wybierze Pani markę Sklep Kowalski" in reply.text


def test_the_informal_tone_is_left_as_it_is_whatever_the_gender() -> None:
    reply = suggest_reply(
        mention(source="google_business", text="Zamówiłam buty"),
        score("pl", ("delivery", "negative")),
        ReplySettings(formal=False),
    )
    assert reply.text.startswith("Cześć,\n") and "Pani" not in reply.text


@pytest.mark.parametrize("source", ["google_business", "ceneo"])
@pytest.mark.parametrize("lang", ["pl", "en"])
@pytest.mark.parametrize("severity", ["negative", "info", "urgent"])
def test_a_review_site_reply_offers_the_configured_contact_and_never_a_private_message(
    source: str, lang: str, severity: str
) -> None:
    reply = suggest_reply(
        mention(source=source, lang=lang),
        score(lang, ("delivery", "negative" if severity != "info" else "neutral")),
        CONTACT,
        severity=severity,
    )
    assert "pomoc@sklep.example" in reply.text
    assert not PRIVATE.search(reply.text), reply.text


@pytest.mark.parametrize("source", REVIEW_SITES)
@pytest.mark.parametrize("lang", ["pl", "en"])
@pytest.mark.parametrize("severity", ["negative", "urgent"])
def test_a_review_site_without_configured_contact_points_to_customer_service(
    source: str, lang: str, severity: str
) -> None:
    reply = suggest_reply(
        mention(source=source, lang=lang),
        score(lang, ("delivery", "negative")),
        ReplySettings(),
        severity=severity,
    )
    assert not PRIVATE.search(reply.text), reply.text
    assert re.search(r"obsług\w* klienta|customer service team", reply.text), reply.text


@pytest.mark.parametrize("source", DM_SOURCES)
def test_private_messages_are_offered_only_where_the_platform_has_them(source: str) -> None:
    reply = suggest_reply(mention(source=source), score("pl", ("delivery", "negative")), ReplySettings())
    assert "prywatnej wiadomości" in reply.text


def test_a_thread_without_private_messages_asks_for_a_reply_there() -> None:
    reply = suggest_reply(
        mention(source="youtube", lang="en"), score("en", ("delivery", "negative")), ReplySettings()
    )
    assert "Please reply here" in reply.text and not PRIVATE.search(reply.text)


def test_a_long_reddit_reply_is_kept_short_while_a_review_keeps_its_sentences() -> None:
    settings = ReplySettings(contact_url="https://sklep.example/" + "pomoc/" * 20, signature="Zespół")
    aspects = score("pl", ("delivery", "negative"), ("returns", "negative"), ("price", "positive"))
    social = suggest_reply(mention(source="reddit"), aspects, settings)
    review = suggest_reply(mention(source="trustpilot"), aspects, settings)
    assert len(social.text) <= SOCIAL_SOFT_LIMIT < len(review.text)
    assert "https://sklep.example/" in social.text  # the contact stays; optional sentences went


# --- the table --------------------------------------------------------------------------------------------


def test_every_source_the_spiders_know_has_a_profile() -> None:
    assert set(spider_classes()) <= set(CHANNELS)


def test_review_sites_have_no_private_messages_and_social_sites_no_letter_greeting() -> None:
    for source in REVIEW_SITES:
        profile = channel_profile(source)
        assert profile.kind == "review" and not profile.private_messages and profile.greeting
    for source in (*DM_SOURCES, "youtube", "hackernews"):
        profile = channel_profile(source)
        assert profile.is_social and not profile.greeting and not profile.sign_off
    assert [s for s, p in CHANNELS.items() if p.private_messages] == list(DM_SOURCES)


def test_an_unknown_source_promises_no_private_message() -> None:
    profile = channel_profile("a_new_source")
    assert contact_route(profile, has_configured_contact=False) == "service"
    assert contact_route(profile, has_configured_contact=True) == "channels"


# --- contact defaults --------------------------------------------------------------------------------------


def test_a_target_without_its_own_contact_uses_the_defaults_and_its_own_values_win() -> None:
    settings = EarshotSettings(
        reply={
            "contact_email": "pomoc@grupa.example",
            "signature": "Grupa",
            "next_steps": {"delivery": "A."},
        },
        targets=[
            {"name": "Sklep A"},
            {
                "name": "Sklep B",
                "reply": {"contact_email": "b@sklep.example", "next_steps": {"returns": "B."}},
            },
        ],
    )
    a, b = settings.reply_for("Sklep A"), settings.reply_for("Sklep B")
    assert (a.contact_email, a.signature) == ("pomoc@grupa.example", "Grupa")
    assert (b.contact_email, b.signature) == ("b@sklep.example", "Grupa")
    assert b.next_steps == {"delivery": "A.", "returns": "B."}
    assert settings.reply_for(None).contact_email == "pomoc@grupa.example"
    reply = suggest_reply(mention(source="ceneo"), score("pl", ("delivery", "negative")), a)
    assert "pomoc@grupa.example" in reply.text


def test_the_contact_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARSHOT_REPLY__CONTACT_PHONE", "+48 22 555 00 00")
    settings = EarshotSettings(targets=[{"name": "Sklep"}])
    assert settings.reply_for("Sklep").contact_phone == "+48 22 555 00 00"
