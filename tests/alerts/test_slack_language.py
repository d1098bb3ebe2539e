"""Slack messages in the target's language: every kind in Polish and English, within Slack's limits.

A Polish team must not meet an English button, label or date; an English target in the same install must
not meet Polish. Each message kind is rendered for a ``language = "pl"`` target and checked for real
Polish words, for none of the English ones, for times shown by Babel in the configured zone (with the
zone), and for every message id it used having a reviewed Polish translation in ``slack.po``. Polish
strings are longer, so hostile, oversized input is rendered in both languages against Slack's limits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from alerts.message_limits import limit_violations
from alerts.preview import preview
from alerts.render import render
from alerts.reply_actions import reply_error
from alerts.reply_modal import reply_modal
from alerts.rules import AspectView, MentionView, ScoreView, UrgencyReasonView
from alerts.slack_format import SlackMessage
from alerts.slack_i18n import SlackText, localize_reason, slack_text
from alerts.source_message import KIND_FAILING, KIND_QUIET, KIND_RECOVERED
from monitor.core.config import EarshotSettings
from monitor.core.i18n import catalogue_path
from monitor.core.models import Alert, AlertKind

SHOP = "Sklep Zielony"
EN_SHOP = "Green Shop"
POSTED = datetime(2024, 5, 1, 14, 3, tzinfo=UTC)  # 16:03 CEST in Warsaw
HANDLED = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
SHOTS = Path("/tmp/shots")

# What an English message says that must not survive in a Polish one (buttons, labels, phrases).
ENGLISH_WORDS = (
    "Mark handled",
    "Reopen",
    "Assign…",
    "Wrong sentiment",
    "Open on source",
    "Open in Earshot",
    "Why:",
    "Suggested reply",
    "edit it in Reply",
    "Negative mention",
    "Low rating",
    "Keyword match",
    "Urgent",
    "*Source*",
    "*Posted*",
    "confidence",
    "severity",
    "Handled by",
    "Assigned to",
    "Sentiment corrected",
    "negative mentions",
    "Storm over",
    "Negative storm",
    "has subsided",
    "Top themes",
    "Examples",
    "SLA escalation",
    "Unhandled past",
    "New reply in the thread",
    "complains again",
    "Another match",
    "Review edited",
    "Before:",
    "Source failing",
    "Source quiet",
    "Source recovered",
    "No action needed",
    " UTC",
    "rated ",
    "sentiment negative",
    "unknown",
)


def settings(slack_language: str = "en") -> EarshotSettings:
    """A Polish target and an English one; everything else (source health) in ``slack_language``."""
    return EarshotSettings(
        public_url="https://earshot.example.com",
        slack={"language": slack_language, "timezone": "Europe/Warsaw"},
        targets=[{"name": SHOP, "language": "pl"}, {"name": EN_SHOP, "language": "en"}],
    )


def mention(target: str = SHOP, text: str = "Paczka przyszła zniszczona, nikt nie odpisuje.") -> MentionView:
    return MentionView(
        id=7,
        source="google_business",
        target=target,
        text=text,
        author="Jan K.",
        url="https://g.page/r/7",
        rating=1.0,
        lang="pl",
        created_at=POSTED,
        version=2,
        reach=12345,
    )


SCORE = ScoreView(
    label="negative",
    score=-0.91,
    confidence=0.87,
    urgency="critical",
    urgency_reasons=(UrgencyReasonView(code="legal_threat", evidence="pozew", severity="critical"),),
    aspects=(AspectView(aspect="delivery", sentiment="negative", evidence="paczka"),),
    lang="pl",
)


def alert(kind: str, target: str = SHOP, **fields: Any) -> Alert:
    values: dict[str, Any] = {
        "id": 42,
        "dedupe_key": f"k:{kind}",
        "mention_id": 7,
        "mention_version": 2,
        "source": "google_business",
        "target": target,
        "kind": kind,
        "rule": "negative",
        "severity": "negative",
        "reason": 'rule "negative": rated 1★; sentiment negative (-0.91)',
        "channel": "#cs",
        "suggested_reply": "Dzień dobry, przepraszamy za uszkodzoną paczkę.",
        "payload": {"reply_lang": "pl", "reply_formal": True},
        "handled_at": HANDLED,
        "handled_by": "U0AGENT",
        "assignee": "U0OTHER",
        "assigned_by": "U0AGENT",
        "corrected_label": "neutral",
        "corrected_by": "U0AGENT",
        "escalated_at": HANDLED,
    }
    values.update(fields)
    return Alert(**values)


STORM_PAYLOAD: dict[str, Any] = {
    "storm_id": 3,
    "target": SHOP,
    "count": 23,
    "baseline": 1.5,
    "window_minutes": 60,
    "since": "2024-05-01T13:05:00+00:00",
    "themes": [{"aspect": "delivery", "count": 12}],
    "sources": {"google_business": 15, "ceneo": 8},
    "examples": [
        {"mention_id": 7, "author": "Ola", "source": "ceneo", "text": "Kurier zgubił paczkę", "rating": 1}
    ],
}


def messages(target: str = SHOP, language: str | None = None) -> dict[str, SlackMessage]:
    """One message of every kind about ``target``."""
    s = settings()
    m, parent = mention(target), alert(AlertKind.NEGATIVE, target, id=40, handled_at=None)
    closed = {**STORM_PAYLOAD, "closed_at": "2024-05-01T15:40:00+00:00", "total": 23, "peak_count": 9}
    escalation = {"alert_id": 40, "severity": "urgent", "sla_minutes": 60, "overdue_minutes": 130}
    built = {
        kind: render(alert(kind, target), m, SCORE, s, language=language) for kind in AlertKind.MENTION_KINDS
    }
    for kind in (AlertKind.REPEAT, AlertKind.COOLDOWN, AlertKind.THREAD_REPLY):
        built[kind] = render(alert(kind, target, parent_id=40), m, SCORE, s, parent, language)
    edited = {"previous_version": 1, "version": 2, "previous_rating": 4, "previous_text": "Było dobrze"}
    built["edited"] = render(alert(AlertKind.EDITED, target, payload=edited), m, SCORE, s, parent, language)
    built["storm"] = render(
        alert(AlertKind.STORM, target, payload=STORM_PAYLOAD), None, None, s, None, language
    )
    built["storm_over"] = render(
        alert(AlertKind.STORM, target, payload=closed), None, None, s, None, language
    )
    subsided = alert(AlertKind.STORM_SUBSIDED, target, payload=closed)
    built["subsided"] = render(subsided, None, None, s, parent, language)
    sla = alert(AlertKind.SLA_ESCALATION, target, payload=escalation, reason="")
    built["sla"] = render(sla, m, SCORE, s, parent, language)
    return built


def text_of(message: SlackMessage) -> str:
    return json.dumps(message.blocks, ensure_ascii=False) + "\n" + message.text + "\n" + message.plain


@pytest.fixture
def used_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Every message id a builder asks SlackText for while the test runs."""
    seen: set[str] = set()
    original_t, original_n = SlackText.t, SlackText.n

    def t(self: SlackText, message: str, **values: object) -> str:
        seen.add(message)
        return original_t(self, message, **values)

    def n(self: SlackText, singular: str, plural: str, quantity: int, **values: object) -> str:
        seen.add(singular)
        return original_n(self, singular, plural, quantity, **values)

    monkeypatch.setattr(SlackText, "t", t)
    monkeypatch.setattr(SlackText, "n", n)
    yield seen


def _catalogue() -> dict[str, Any]:
    with catalogue_path("slack").open("rb") as handle:
        catalog = read_po(handle, locale="pl", domain="slack")
    return {str(m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}


# ------------------------------------------------------------------------------------------ rendering


def test_every_kind_for_a_polish_target_is_polish_with_no_english_left(used_ids: set[str]) -> None:
    for kind, message in messages(SHOP).items():
        text = text_of(message)
        leftovers = [word for word in ENGLISH_WORDS if word in text]
        assert not leftovers, f"{kind}: English left in a Polish message: {leftovers}"
    negative = text_of(messages(SHOP)["negative"])
    for polish in (
        "Negatywna wzmianka: Sklep Zielony",
        "Dlaczego:",
        "reguła „negative”: ocena 1★; wydźwięk negatywny (-0,91)",
        "Proponowana odpowiedź",
        "formalnie",
        "Otwórz ponownie",
        "Przypisz…",
        "Otwórz w Earshot",
        "Otwórz w źródle",
        "✅ Obsłużone przez <@U0AGENT>, 1 maj 2024, 17:00 CEST",
        "👤 Przypisane do <@U0OTHER> przez <@U0AGENT>",
        "🏷 Wydźwięk poprawiony na neutralny",
        "⏰ Minął czas na odpowiedź (SLA) — eskalowano",
        "*Opublikowano*\\n1 maj 2024, 16:03 CEST",
        "*Zasięg*\\n12\u00a0345",
        "pewność 87\u00a0%",
        "🚨 krytyczne: groźba prawna",
        "Dostawa",
    ):
        assert polish in negative, polish
    catalogue = _catalogue()
    missing = sorted(i for i in used_ids if i not in catalogue or not catalogue[i].string)
    assert not missing, f"message ids without a Polish translation in slack.po: {missing}"


def test_an_unhandled_polish_alert_offers_polish_buttons() -> None:
    fresh = alert(AlertKind.NEGATIVE, handled_at=None, assignee=None, corrected_label=None, escalated_at=None)
    message = render(fresh, mention(), SCORE, settings())
    buttons = [el for b in message.blocks if b["type"] == "actions" for el in b["elements"]]
    labels = [el.get("text", el.get("placeholder", {})).get("text") for el in buttons]
    assert labels == [
        "Otwórz w źródle",
        "Otwórz w Earshot",
        "Oznacz jako obsłużone",
        "Przypisz…",
        "Odpowiedz",
        "Zły wydźwięk…",
    ]
    options = [o["text"]["text"] for o in buttons[-1]["options"]]
    assert options == ["🔴 negatywny", "⚪ neutralny", "🟢 pozytywny"]
    assert [o["value"] for o in buttons[-1]["options"]] == ["negative", "neutral", "positive"]  # ids stay


def test_storm_and_escalation_read_polish_with_plural_forms_and_local_times() -> None:
    built = messages(SHOP)
    storm = text_of(built["storm"])
    assert "🌪 Burza negatywnych opinii: Sklep Zielony" in storm
    assert "23 negatywne wzmianki w 60 min" in storm and "od 1 maj 2024, 15:05 CEST" in storm
    subsided = text_of(built["subsided"])
    assert "ucichła: 23 negatywne wzmianki od 1 maj 2024, 15:05 CEST do 1 maj 2024, 17:40 CEST" in subsided
    sla = text_of(built["sla"])
    assert "⏰ Eskalacja SLA: Sklep Zielony" in sla and "cel 60 min, minęło 2 godz. 10 min" in sla
    assert "alert #40 (pilny)" in sla
    five = render(alert(AlertKind.STORM, payload={**STORM_PAYLOAD, "count": 5}), None, None, settings())
    assert "5 negatywnych wzmianek" in text_of(five)


def test_an_english_target_stays_english_beside_polish_ones() -> None:
    for kind, message in messages(EN_SHOP).items():
        text = text_of(message)
        for polish in ("Obsłużone", "Dlaczego", "Przypisz", "Otwórz", "negatyw", "maj 2024"):
            assert polish not in text, f"{kind}: {polish!r} in an English message"
    negative = text_of(messages(EN_SHOP)["negative"])
    assert "Mark handled" not in negative  # handled already: Reopen is offered
    assert "Reopen" in negative and "✅ Handled by <@U0AGENT> at May 1, 2024, 17:00 CEST" in negative
    assert "*Reach*\\n12,345" in negative and "confidence 87%" in negative


@pytest.mark.parametrize(("slack_language", "expected"), [("pl", "Źródło zawodzi"), ("en", "Source failing")])
def test_source_health_follows_slack_language(slack_language: str, expected: str) -> None:
    s = settings(slack_language)
    for kind in (KIND_FAILING, KIND_QUIET, KIND_RECOVERED):
        failing = Alert(id=5, dedupe_key="s", source="ceneo", kind=kind, reason="HTTP 503", channel="#x")
        message = render(failing, None, None, s)
        assert not limit_violations(message)
    first = render(
        Alert(id=5, dedupe_key="s", source="ceneo", kind=KIND_FAILING, reason="", channel="#x"), None, None, s
    )
    assert first.blocks[0]["text"]["text"] == f"{expected}: ceneo"


def _source_health_alerts() -> list[Alert]:
    """Failing (auth, with a first error), quiet, and both recoveries, reasons made by monitor.source_health."""
    from datetime import timedelta

    from monitor.core.config import SourceHealthSettings
    from monitor.source_health import RunView, Silence, SourceHealth, _recovery_reason, problems

    failed = RunView(
        id=41,
        finish_reason="auth_failed",
        items_new=0,
        items_updated=0,
        items_rejected=0,
        requests=2,
        errors=1,
        finished_at=POSTED,
        first_error="401 from 127.0.0.1",
        failure="auth",
    )
    silence = Silence(
        newest_item_id=9,
        newest_item_at=POSTED,
        items_in_window=30,
        median_gap=timedelta(hours=3.5),
        limit=timedelta(hours=21),
        quiet_for=timedelta(hours=52),
    )
    calm = Silence(None, None, 0, None, None, None)
    cfg = SourceHealthSettings()
    failing = SourceHealth("allegro", failed, 3, 39, calm, 3)
    quiet = SourceHealth("ceneo", None, 0, None, silence, 3)
    found = [*problems(failing, cfg), *problems(quiet, cfg)]
    assert [p.kind for p in found] == [KIND_FAILING, KIND_QUIET]
    alerts = [
        Alert(id=i, dedupe_key=p.dedupe_key, source="allegro", kind=p.kind, reason=p.reason, channel="#x")
        for i, p in enumerate(found, 1)
    ]
    healthy = RunView(
        id=42,
        finish_reason="finished",
        items_new=4,
        items_updated=1,
        items_rejected=0,
        requests=3,
        errors=0,
        finished_at=POSTED,
        first_error=None,
    )
    after = SourceHealth("allegro", healthy, 0, None, Silence(10, POSTED, 31, None, None, None), 3)
    for problem in list(alerts):
        reason = _recovery_reason(problem, after)
        alerts.append(
            Alert(id=9, dedupe_key="r", source="allegro", kind=KIND_RECOVERED, reason=reason, channel="#x")
        )
    return alerts


def test_source_health_reasons_read_polish_in_a_polish_message() -> None:
    pl_settings = settings("pl")
    english = (
        "crawls",
        "in a row",
        "last run",
        "error(s)",
        "request(s)",
        "first error",
        "authorise",
        "credentials",
        "no new item",
        "usually",
        "median of",
        "items over",
        "the limit",
        "work again",
        "finished normally",
        "began with",
        "arrive again",
        "newest from",
        "silence",
        "reported in",
        " new,",
        "updated",
    )
    texts = []
    for source_alert in _source_health_alerts():
        assert source_alert.reason
        message = render(source_alert, None, None, pl_settings)
        text = text_of(message)
        why = message.blocks[1]["text"]["text"]
        left = [word for word in english if word in why]
        assert not left, f"{source_alert.kind}: English left in the Polish reason {why!r}: {left}"
        assert not limit_violations(message)
        texts.append(text)
    failing, quiet, works_again, arrives_again = texts
    assert "3 nieudane pobrania z rzędu: dane logowania odrzucone (auth)" in failing
    assert "pierwszy błąd: 401 from 127.0.0.1" in failing  # the source's own words stay
    assert "; uruchom `earshot auth allegro`, aby ponownie się zalogować" in failing
    assert "brak nowych wpisów od 52 godz.; zwykle jeden co 3,5 godz." in quiet
    assert "przebieg #42 zakończony poprawnie: nowe: 4, zaktualizowane: 1" in works_again
    assert "od przebiegu #39" in works_again
    assert "(najnowszy z 1 maj 2024, 16:03 CEST)" in arrives_again
    english_message = render(_source_health_alerts()[0], None, None, settings("en"))
    assert "3 crawls in a row failed: credentials refused (auth)" in english_message.text


def test_every_failure_cause_has_the_polish_words_of_spiders_failures() -> None:
    from spiders.failures import CODES, failure_words

    pl = SlackText("pl", "Europe/Warsaw")
    for code in CODES:
        english = f"3 crawls in a row failed: {failure_words(code)} (last run #1: finished, 1 error(s), 0 request(s))"
        assert localize_reason(english, pl).startswith(
            f"3 nieudane pobrania z rzędu: {failure_words(code, 'pl')} ("
        )


def test_a_target_without_language_follows_slack_language(monkeypatch: pytest.MonkeyPatch) -> None:
    s = EarshotSettings(slack={"language": "en"}, targets=[{"name": SHOP}])
    assert slack_text(s, SHOP).language == "en"
    monkeypatch.delenv("EARSHOT_SLACK__LANGUAGE")  # conftest pins English for the layout tests
    monkeypatch.delenv("EARSHOT_SLACK__TIMEZONE")
    default = slack_text(EarshotSettings(targets=[{"name": SHOP}]), SHOP)
    assert (default.language, default.timezone) == ("pl", "Europe/Warsaw")  # the product's default
    assert slack_text(s, SHOP, language="pl").language == "pl"  # the preview's override


def test_untrusted_text_is_escaped_inside_translated_strings() -> None:
    hostile = "<!channel> %(who)s <https://evil|klik> & co"
    m = mention(text=hostile)
    a = alert(AlertKind.NEGATIVE, reason=f'rule "negative": keyword {hostile}', handled_at=None)
    text = json.dumps(render(a, m, SCORE, settings()).blocks, ensure_ascii=False)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; %(who)s &lt;https://evil|klik&gt; &amp; co" in text
    assert "słowo kluczowe &lt;!channel&gt;" in text


def test_stored_english_reasons_are_read_into_polish() -> None:
    pl = SlackText("pl", "Europe/Warsaw")
    assert localize_reason('rule "urgent": urgent (legal_threat: "pozew")', pl) == (
        'reguła „urgent”: pilny (groźba prawna: "pozew")'
    )
    assert localize_reason("negative alert #5 unhandled for 130 min (target 60 min)", pl) == (
        "alert #5 (negatywny) bez reakcji od 2 godz. 10 min (cel 60 min)"
    )
    assert localize_reason("HTTP 503 from the source", pl) == "HTTP 503 from the source"  # other shapes
    assert localize_reason('rule "x": rated 1★', SlackText()) == 'rule "x": rated 1★'


@pytest.mark.parametrize("language", ["pl", "en"])
def test_hostile_oversized_input_fits_slack_in_both_languages(language: str) -> None:
    huge = "Zażółć gęślą jaźń & <b>x</b> 😀 " * 400
    s = settings()
    m = mention(target=SHOP, text=huge)
    m = MentionView(**{**m.__dict__, "author": huge, "source": huge[:300]})
    long_rule = "r" * 64
    cases = [
        alert(kind, rule=long_rule, reason=f'rule "{long_rule}": keywords {huge}', suggested_reply=huge)
        for kind in (*AlertKind.MENTION_KINDS, AlertKind.REPEAT, AlertKind.EDITED)
    ]
    storm = {**STORM_PAYLOAD, "target": huge, "examples": [{"author": huge, "text": huge}] * 3}
    cases.append(alert(AlertKind.STORM, payload=storm))
    cases.append(alert(AlertKind.SLA_ESCALATION, payload={"alert_id": 1, "original_channel": huge}))
    for case in cases:
        message = render(case, m, SCORE, s, language=language)
        assert not limit_violations(message), (case.kind, limit_violations(message))


@pytest.mark.parametrize("language", ["pl", "en"])
def test_the_reply_modal_and_its_errors_in_both_languages(language: str) -> None:
    voice = SlackText(language, "Europe/Warsaw")  # type: ignore[arg-type]
    view = reply_modal(alert(AlertKind.NEGATIVE), "tekst", "google_business", [], voice)
    for key in ("title", "submit", "close"):
        assert len(view[key]["text"]) <= 24
    expected = {"pl": ("Odpowiedz", "Opublikuj odpowiedź", "Anuluj"), "en": ("Reply", "Post reply", "Cancel")}
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == expected[language]
    error = reply_error("x" * 5000, "google_business", voice)
    assert error is not None
    assert ("4096 bajtów" in error) if language == "pl" else ("4096 bytes" in error)
    assert reply_error(" ", "google_business", voice) == (
        "Najpierw napisz odpowiedź: jest pusta." if language == "pl" else "Write a reply first: it is empty."
    )


# ------------------------------------------------------------------------------------------- preview


def test_preview_follows_the_target_and_language_overrides_it() -> None:
    line = json.dumps(
        {
            "id": 1,
            "source": "google_business",
            "target": SHOP,
            "text": "Tragedia, paczka zniszczona",
            "rating": 1,
        }
    )
    polish = next(preview([line], settings(), None))
    english = next(preview([line], settings(), None, language="en"))
    assert "Oznacz jako obsłużone" in json.dumps(polish, ensure_ascii=False)
    assert "Mark handled" not in json.dumps(polish, ensure_ascii=False)
    english_text = json.dumps(english, ensure_ascii=False)
    assert "Mark handled" in english_text and "Oznacz jako" not in english_text
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "slack_alert_pl.json").write_text(
        json.dumps(polish["payload"], ensure_ascii=False, indent=2), encoding="utf-8"
    )
