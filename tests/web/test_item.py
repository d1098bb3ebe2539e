"""The item page and its actions through HTTP, on SQLite and PostgreSQL: what it shows, what each button
changes in the database, and that the Slack message is brought up to date afterwards."""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.slack_errors import SlackTransientError
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, ReplyRecord, SentimentCorrection
from tests.alerts.fake_sources import FakeReplyApi
from tests.web.conftest import USER, Client, Site, SiteFactory
from tests.web.seed import GOOGLE_REVIEW_NAME, HOSTILE_TEXT

WEB_USER = f"web:{USER}"


def _alert(engine: Engine, alert_id: int) -> Alert:
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert


def _replies(engine: Engine, mention_id: int) -> list[ReplyRecord]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(ReplyRecord).where(ReplyRecord.mention_id == mention_id).order_by(col(ReplyRecord.id))
            ).all()
        )


def _flash(client: Client, item: int) -> str:
    page = client.get(f"/items/{item}").text
    start = page.index('id="flash"')
    return html.unescape(page[start : page.index("</div>", start)])


@pytest.fixture
def fake_google() -> Iterator[FakeReplyApi]:
    with FakeReplyApi() as api:
        api.add_google_review(GOOGLE_REVIEW_NAME)
        yield api


@pytest.fixture
def reply_site(make_site: SiteFactory, engine: Engine, fake_google: FakeReplyApi) -> Site:
    """The seeded app whose Google replies go to the fake GBP API."""
    sources = {"google_business": {"base_url": fake_google.url, "access_token": fake_google.google_token}}
    return make_site(engine, sources=sources)


# ------------------------------------------------------------------------------------------- showing


def test_item_page_shows_text_facts_analysis_history_and_suggested_reply(site: Site) -> None:
    item = site.seed.mentions["gbp_pl_negative"]
    page = site.logged_in().get(f"/items/{item}").text
    assert "Kurier zostawił paczkę pod drzwiami w deszczu" in page and "Żądam zwrotu pieniędzy!" in page
    assert 'id="item-author">Zofia Wójcik<' in page
    assert "★☆☆☆☆" in page and "1/5" in page
    assert 'id="source-link" href="https://www.google.com/maps/reviews/pl-neg-1"' in page
    assert 'id="item-confidence">93%<' in page and 'id="item-urgency">elevated<' in page
    assert "public escalation" in page and "Customer service" in page  # the aspect by its name
    history = page[page.index('id="thread-history"') :]
    assert "Version 1, 2★" in history and "karton trochę zamoknięty" in history  # the edit's old text
    assert f"Alert #{site.seed.alerts['gbp_pl_negative_edited']}: edited" in history  # the follow-up
    reply_form = page[page.index('id="reply-form"') :]
    assert "Dzień dobry, bardzo przepraszamy za uszkodzoną przesyłkę" in reply_form
    assert 'data-limit="4096" data-unit="bytes"' in reply_form
    assert 'id="post-reply">Post reply on Google Business Profile<' in reply_form
    assert 'id="mark-handled"' in page and 'id="reopen"' not in page


def test_history_lists_replies_sent_and_handling(site: Site) -> None:
    item = site.seed.mentions["tp_en_negative"]
    page = site.logged_in().get(f"/items/{item}").text
    history = page[page.index('id="thread-history"') :]
    assert "Reply by U0AGENT01 via slack: posted" in history
    assert "It was sent today." in history
    assert "replied by U0AGENT01" in history
    assert 'id="reopen"' in page and 'id="mark-handled"' not in page
    assert 'id="post-reply">Post reply on Trustpilot<' in page


def test_hostile_text_author_and_link_are_inert(site: Site) -> None:
    item = site.seed.mentions["mastodon_hostile"]
    page = site.logged_in().get(f"/items/{item}").text
    assert html.escape(HOSTILE_TEXT, quote=False) in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;b&gt;troll&lt;/b&gt;@mastodon.example" in page
    assert "javascript:" not in page and 'id="source-link"' not in page
    assert 'id="no-source-link"' in page
    assert 'id="post-reply">Post reply on Mastodon<' in page  # Mastodon takes replies through its API


def test_item_without_alert_offers_reply_and_correction_only(site: Site) -> None:
    item = site.seed.mentions["ceneo_pl_positive"]
    page = site.logged_in().get(f"/items/{item}").text
    assert "No alert was raised" in page
    assert 'id="mark-handled"' not in page and 'id="assign-form"' not in page
    assert 'id="correct-form"' in page
    textarea = page[page.index("<textarea") : page.index("</textarea>")]
    assert len(textarea.split(">", 1)[1].strip()) > 20  # a suggestion made on the fly


def test_unknown_item_is_404(site: Site) -> None:
    reply = site.logged_in().get("/items/999999")
    assert reply.status == 404 and "There is no mention 999999" in reply.text


# ------------------------------------------------------------------------------------------- actions


def test_mark_handled_then_reopen(site: Site) -> None:
    client = site.logged_in()
    item, alert_id = site.seed.mentions["gbp_en_negative"], site.seed.alerts["gbp_en_negative"]
    before = _alert(site.engine, alert_id).state_version
    reply = client.act(item, "handle")
    assert reply.status == 303 and reply.location == f"/items/{item}"
    alert = _alert(site.engine, alert_id)
    assert alert.handled_by == WEB_USER and alert.handled_action == "handled" and alert.handled_at is not None
    assert alert.state_version == before + 1
    page = client.get(f"/items/{item}").text
    assert 'id="flash"' in page and "Marked handled." in page
    assert 'id="reopen"' in page and f"handled</strong> by {WEB_USER}" in page
    assert 'id="flash"' not in client.get(f"/items/{item}").text  # shown once
    assert client.act(item, "handle").status == 303  # handled twice: nothing changes
    assert _alert(site.engine, alert_id).state_version == before + 1
    assert client.act(item, "reopen").status == 303
    alert = _alert(site.engine, alert_id)
    assert alert.handled_at is None and alert.handled_by is None
    assert "Reopened." in _flash(client, item)


def test_an_escalated_items_actions_act_on_its_own_alert(site: Site) -> None:
    """SLA escalation rows carry the item's mention too (thread reply + critical channel message); the
    page and its buttons must still show and change the item's own alert, and the inbox must list it."""
    item, alert_id = site.seed.mentions["ceneo_pl_negative"], site.seed.alerts["ceneo_pl_negative"]
    own = _alert(site.engine, alert_id)
    with Session(site.engine) as db:
        for key, parent in ((f"alert:{alert_id}:sla", alert_id), (f"alert:{alert_id}:sla:critical", None)):
            db.add(
                Alert(
                    dedupe_key=key,
                    mention_id=item,
                    kind=AlertKind.SLA_ESCALATION,
                    channel="#cs-critical",
                    parent_id=parent,
                    severity=own.severity,
                    payload={"alert_id": alert_id},
                )
            )
        db.commit()
    client = site.logged_in()
    page = client.get(f"/items/{item}").text
    assert f"Alert #{alert_id}" in page
    assert client.act(item, "handle").status == 303
    assert _alert(site.engine, alert_id).handled_by == WEB_USER
    listed = client.get("/inbox?status=handled").text
    assert f'data-id="{item}"' in listed


def test_assign_and_find_by_assignee(site: Site) -> None:
    client = site.logged_in()
    item, alert_id = site.seed.mentions["ceneo_pl_negative"], site.seed.alerts["ceneo_pl_negative"]
    assert client.act(item, "assign", assignee="  Zuzanna Łukasiewicz ").status == 303
    alert = _alert(site.engine, alert_id)
    assert alert.assignee == "Zuzanna Łukasiewicz" and alert.assigned_by == WEB_USER
    assert "Assigned to Zuzanna Łukasiewicz." in _flash(client, item)
    inbox = client.get("/inbox?assignee=Zuzanna+%C5%81ukasiewicz").text
    assert f'data-id="{item}"' in inbox and inbox.count('class="mention-row"') == 1
    assert client.act(item, "assign", assignee="").status == 303
    assert _alert(site.engine, alert_id).assignee is None


def test_correct_sentiment_records_training_data_via_web(site: Site) -> None:
    client = site.logged_in()
    item, alert_id = site.seed.mentions["gbp_en_negative"], site.seed.alerts["gbp_en_negative"]
    assert client.act(item, "correct", label="neutral").status == 303
    assert "Sentiment recorded as neutral" in _flash(client, item)
    plain = site.seed.mentions["mastodon_pl_neutral"]  # no alert: still recorded
    assert client.act(plain, "correct", label="positive").status == 303
    assert client.act(plain, "correct", label="furious").status == 303
    assert "Pick one of" in _flash(client, plain)
    with Session(site.engine) as session:
        rows = session.exec(select(SentimentCorrection).order_by(col(SentimentCorrection.id))).all()
    assert [(r.mention_id, r.label, r.previous_label, r.via, r.corrected_by) for r in rows] == [
        (item, "neutral", "negative", "web", WEB_USER),
        (plain, "positive", "neutral", "web", WEB_USER),
    ]
    alert = _alert(site.engine, alert_id)
    assert alert.corrected_label == "neutral" and alert.corrected_by == WEB_USER


def test_reply_is_posted_to_google_recorded_and_handles_the_alert(
    reply_site: Site, fake_google: FakeReplyApi
) -> None:
    client = reply_site.logged_in()
    item, alert_id = reply_site.seed.mentions["gbp_pl_negative"], reply_site.seed.alerts["gbp_pl_negative"]
    text = "Dzień dobry Pani Zofio, przepraszamy — zwrot pieniędzy wysłaliśmy dziś. Zespół Sklepu Kowalski"
    reply = client.act(item, "reply", text=text + "\n")
    assert reply.status == 303
    puts = [r for r in fake_google.requests if r.method == "PUT"]
    assert len(puts) == 1 and puts[0].path == f"/v4/{GOOGLE_REVIEW_NAME}/reply"
    assert puts[0].body == {"comment": text}
    stored = fake_google.google_reply(GOOGLE_REVIEW_NAME)
    assert stored is not None and stored["comment"] == text
    [record] = _replies(reply_site.engine, item)
    assert (record.text, record.status, record.via, record.author, record.alert_id) == (
        text,
        "posted",
        "web",
        WEB_USER,
        alert_id,
    )
    alert = _alert(reply_site.engine, alert_id)
    assert alert.handled_action == "replied" and alert.handled_by == WEB_USER
    assert "Reply posted." in _flash(client, item)


def test_reply_refused_by_google_keeps_the_alert_open(reply_site: Site, fake_google: FakeReplyApi) -> None:
    client = reply_site.logged_in()
    item, alert_id = reply_site.seed.mentions["gbp_pl_negative"], reply_site.seed.alerts["gbp_pl_negative"]
    fake_google.fail_next(401)
    assert client.act(item, "reply", text="Przepraszamy za kłopot.").status == 303
    [record] = _replies(reply_site.engine, item)
    assert record.status == "failed" and record.error and "token rejected" in record.error
    assert _alert(reply_site.engine, alert_id).handled_at is None
    flash = _flash(client, item)
    assert "Reply not posted" in flash and "EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN" in flash
    assert fake_google.google_token not in flash


def test_a_sources_refusal_reads_in_the_pages_language(reply_site: Site, fake_google: FakeReplyApi) -> None:
    client = reply_site.logged_in()
    item = reply_site.seed.mentions["gbp_pl_negative"]
    polish, english = {"Accept-Language": "pl"}, {"Accept-Language": "en"}

    def flash_after(status: int, headers: dict[str, str], retry_after: str | None = None) -> str:
        fake_google.fail_next(status, retry_after=retry_after)
        assert client.act(item, "reply", text="Przepraszamy za kłopot.").status == 303
        page = client.get(f"/items/{item}", headers=headers).text
        start = page.index('id="flash"')
        return html.unescape(page[start : page.index("</div>", start)])

    limited = flash_after(429, polish, retry_after="30")
    assert "Odpowiedź nie została opublikowana:" in limited and "spróbuj ponownie za 30 s" in limited
    for status in (404, 503):
        flash = flash_after(status, polish)
        assert "Odpowiedź nie została opublikowana:" in flash, flash
        assert not any(word in flash for word in ("gone", "no longer", "unavailable", "try again")), flash
    assert "is unavailable (HTTP 503); try again." in flash_after(503, english)


def test_reply_too_long_or_empty_is_not_sent(reply_site: Site, fake_google: FakeReplyApi) -> None:
    client = reply_site.logged_in()
    item = reply_site.seed.mentions["gbp_pl_negative"]
    assert client.act(item, "reply", text="ż" * 2049).status == 303  # 4098 bytes > 4096
    assert "at most 4096 bytes" in _flash(client, item)
    assert client.act(item, "reply", text="   ").status == 303
    assert "empty" in _flash(client, item)
    assert _replies(reply_site.engine, item) == []
    assert not [r for r in fake_google.requests if r.method == "PUT"]


def test_reply_on_a_source_without_api_is_recorded(site: Site) -> None:
    client = site.logged_in()
    item, alert_id = site.seed.mentions["ceneo_pl_negative"], site.seed.alerts["ceneo_pl_negative"]
    assert client.act(item, "reply", text="Przepraszamy, wymienimy książkę.").status == 303
    [record] = _replies(site.engine, item)
    assert record.status == "recorded" and record.via == "web"
    assert _alert(site.engine, alert_id).handled_action == "replied"
    assert "Reply recorded" in _flash(client, item)


# ------------------------------------------------------------------------------------ Slack message


class _RecordingSender:
    """Stands in for the Slack sender: records chat.update calls, or fails them."""

    def __init__(self, fail: bool = False) -> None:
        self.updates: list[tuple[str, str]] = []
        self.fail = fail

    def post(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the web app never posts new messages")

    def update(self, channel_id: str, ts: str, message: Any) -> None:
        if self.fail:
            raise SlackTransientError("Slack is down (test)")
        self.updates.append((channel_id, ts))


def _wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_an_action_updates_the_slack_message(make_site: SiteFactory, engine: Engine) -> None:
    sender = _RecordingSender()

    def factory(settings: EarshotSettings) -> Any:
        return sender

    site = make_site(engine, sender_factory=factory)
    item, alert_id = site.seed.mentions["gbp_en_negative"], site.seed.alerts["gbp_en_negative"]
    assert site.logged_in().act(item, "handle").status == 303
    ts = _alert(engine, alert_id).slack_ts
    assert _wait_for(lambda: sender.updates == [("C0ALERTS", ts)])
    assert _wait_for(
        lambda: _alert(engine, alert_id).synced_version == _alert(engine, alert_id).state_version
    )


def test_a_slack_outage_never_breaks_the_page(make_site: SiteFactory, engine: Engine) -> None:
    sender = _RecordingSender(fail=True)
    site = make_site(engine, sender_factory=lambda settings: sender)
    client = site.logged_in()
    item, alert_id = site.seed.mentions["gbp_en_negative"], site.seed.alerts["gbp_en_negative"]
    assert client.act(item, "assign", assignee="U0AGENT03").status == 303
    assert client.get(f"/items/{item}").status == 200
    assert _alert(engine, alert_id).assignee == "U0AGENT03"
