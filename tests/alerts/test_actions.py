"""What each button and the reply modal do, seen where a user sees it: the database, the alert's Slack
message (re-rendered with chat.update), the modal, and the review's reply on Google.

Clicks press elements found in the delivered message's blocks and are POSTed signed to the running
endpoint (see tests/alerts/test_interactivity.py for the harness); Slack and Google are loopback fakes.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts import action_ids
from alerts.interactivity import PayloadError, parse_payload
from alerts.reply_library import PastReply
from alerts.reply_modal import ModalLimits, reply_modal
from monitor.core.models import Alert, ReplyRecord, SentimentCorrection
from sentiment.embeddings import FloatMatrix
from tests.alerts.fake_slack import DEFAULT_USER, FakeSlack, StoredMessage
from tests.alerts.fake_sources import FakeReplyApi
from tests.alerts.test_interactivity import REVIEW, SUGGESTED, Harness, handled_payload, running

COLLEAGUE = "U0KOLEGA01"
REPLY_PL = "Dzień dobry Panie Łukaszu, przepraszamy! Zwrot pieniędzy zlecony — Zespół Sklepu Zielonego."


@pytest.fixture
def replies() -> Iterator[FakeReplyApi]:
    with FakeReplyApi() as api:
        yield api


@pytest.fixture
def app(engine: Engine, tmp_path: Path, fake_slack: FakeSlack, replies: FakeReplyApi) -> Iterator[Harness]:
    with running(engine, tmp_path, fake_slack, replies) as harness:
        yield harness


def action_ids_shown(message: StoredMessage) -> set[str]:
    return {
        el["action_id"]
        for block in message.blocks
        if block.get("type") == "actions"
        for el in block.get("elements", [])
        if "action_id" in el
    }


def shown_text(message: StoredMessage) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def reply_records(engine: Engine) -> list[ReplyRecord]:
    with Session(engine) as session:
        return list(session.exec(select(ReplyRecord).order_by(col(ReplyRecord.id))).all())


def submit(app: Harness, text: str, user: str = DEFAULT_USER) -> Any:
    response = app.slack.submit_view({action_ids.REPLY_BLOCK: {action_ids.REPLY_INPUT: text}}, user=user)
    assert response.status == 200
    app.drain()
    return response


# ------------------------------------------------------------------------------------------ buttons


@pytest.mark.parametrize("key", ["pl_negative", "en_low_rating"])
def test_mark_handled_records_who_and_updates_the_message(app: Harness, key: str) -> None:
    alert = app.alert(key)
    assert action_ids.MARK_HANDLED in action_ids_shown(app.message(alert))
    app.click(alert, action_ids.MARK_HANDLED)
    after = app.get(alert.id)
    assert (after.handled_by, after.handled_action, after.state_version) == (DEFAULT_USER, "handled", 1)
    assert after.handled_at is not None and after.synced_version == 1
    message = app.message(alert)
    assert len(message.updates) == 1
    assert f"<@{DEFAULT_USER}>" in shown_text(message)
    assert action_ids.REOPEN in action_ids_shown(message)
    assert action_ids.MARK_HANDLED not in action_ids_shown(message)
    assert app.changed == [alert.id]


def test_handling_a_handled_alert_changes_nothing_and_edits_nothing(app: Harness) -> None:
    alert = app.alert()
    app.click(alert, action_ids.MARK_HANDLED)
    first = app.get(alert.id)
    # A second agent's click from a stale copy of the message (or a double click) arrives later.
    assert app.post(handled_payload(alert, user=COLLEAGUE)).status == 200
    app.drain()
    again = app.get(alert.id)
    assert (again.handled_by, again.handled_at, again.state_version) == (
        DEFAULT_USER,
        first.handled_at,
        1,
    )
    assert len(app.message(alert).updates) == 1 and app.changed == [alert.id]
    assert [r.status for r in app.requests()] == ["done", "done"]


def test_reopen_makes_the_alert_open_again_and_restores_the_buttons(app: Harness) -> None:
    alert = app.alert()
    app.click(alert, action_ids.MARK_HANDLED)
    app.click(alert, action_ids.REOPEN, user=COLLEAGUE)
    after = app.get(alert.id)
    assert (after.handled_at, after.handled_by, after.handled_action, after.state_version) == (
        None,
        None,
        None,
        2,
    )
    message = app.message(alert)
    assert len(message.updates) == 2
    assert {action_ids.MARK_HANDLED, action_ids.REPLY} <= action_ids_shown(message)
    assert action_ids.REOPEN not in action_ids_shown(message)


def test_assign_sets_the_assignee_and_shows_them(app: Harness) -> None:
    alert = app.alert()
    app.click(alert, action_ids.ASSIGN, selected_user=COLLEAGUE)
    after = app.get(alert.id)
    assert (after.assignee, after.assigned_by, after.state_version) == (COLLEAGUE, DEFAULT_USER, 1)
    assert after.handled_at is None  # assigning is not handling
    message = app.message(alert)
    assert f"<@{COLLEAGUE}>" in shown_text(message)
    selects = [
        el
        for b in message.blocks
        if b.get("type") == "actions"
        for el in b["elements"]
        if el["type"] == "users_select"
    ]
    assert selects[0].get("initial_user") == COLLEAGUE
    app.click(alert, action_ids.ASSIGN, selected_user=COLLEAGUE)  # the same person again: no change
    assert app.get(alert.id).state_version == 1 and len(app.message(alert).updates) == 1


def test_wrong_sentiment_records_a_training_correction_via_slack(app: Harness) -> None:
    alert = app.alert()
    app.click(alert, action_ids.WRONG_SENTIMENT, option="neutral")
    with Session(app.engine) as session:
        (row,) = session.exec(select(SentimentCorrection)).all()
    assert (row.mention_id, row.label, row.previous_label, row.corrected_by, row.via) == (
        alert.mention_id,
        "neutral",
        "negative",
        DEFAULT_USER,
        "slack",
    )
    after = app.get(alert.id)
    assert (after.corrected_label, after.corrected_by, after.state_version) == ("neutral", DEFAULT_USER, 1)
    assert "neutral" in shown_text(app.message(alert)) and len(app.message(alert).updates) == 1


# ------------------------------------------------------------------------------------------ reply


def test_reply_opens_a_prefilled_modal_then_posts_to_google_and_marks_the_alert_replied(app: Harness) -> None:
    alert = app.alert()
    app.click(alert, action_ids.REPLY)
    (opened,) = app.slack.views()
    view = opened.view
    assert view["callback_id"] == action_ids.REPLY_MODAL and view["title"]["text"] == "Reply"
    assert json.loads(view["private_metadata"]) == {
        "alert_id": alert.id,
        "channel_id": alert.slack_channel_id,
    }
    (input_block,) = [b for b in view["blocks"] if b.get("block_id") == action_ids.REPLY_BLOCK]
    assert input_block["element"]["initial_value"] == SUGGESTED
    assert "Posted to Google Business Profile" in json.dumps(view, ensure_ascii=False)
    assert app.get(alert.id).state_version == 0  # opening the modal changes nothing

    submit(app, REPLY_PL)
    assert app.replies.google_reply(REVIEW) is not None
    put = [r for r in app.replies.requests if r.method == "PUT"]
    assert [(r.path, r.body) for r in put] == [(f"/v4/{REVIEW}/reply", {"comment": REPLY_PL})]
    (record,) = reply_records(app.engine)
    assert (record.status, record.text, record.author, record.via, record.alert_id) == (
        "posted",
        REPLY_PL,
        DEFAULT_USER,
        "slack",
        alert.id,
    )
    after = app.get(alert.id)
    assert (after.handled_action, after.handled_by, after.state_version) == ("replied", DEFAULT_USER, 1)
    message = app.message(alert)
    assert len(message.updates) == 1 and "Replied" in shown_text(message)
    assert app.slack.ephemerals() == []


def test_a_refused_reply_tells_the_agent_and_leaves_the_alert_open(app: Harness) -> None:
    alert = app.alert()
    app.click(alert, action_ids.REPLY)
    app.replies.fail_next(403)
    submit(app, "Thank you for your feedback, we are sorry.")
    (record,) = reply_records(app.engine)
    assert record.status == "failed" and record.error
    after = app.get(alert.id)
    assert after.handled_at is None and after.state_version == 0
    (note,) = app.slack.ephemerals(DEFAULT_USER)
    assert note.channel == alert.slack_channel_id
    assert "not posted to Google Business Profile" in note.text and "403" in note.text
    assert app.message(alert).updates == []
    (_click, submission) = app.requests()
    assert submission.status == "failed" and "refused the reply" in (submission.error or "")


@pytest.mark.parametrize(
    ("text", "says"),
    [("   \n ", "empty"), ("ą" * 2100, "4096 bytes")],  # 2,100 Polish letters are 4,200 UTF-8 bytes
)
def test_an_invalid_reply_is_refused_in_the_modal_and_nothing_is_posted(
    app: Harness, text: str, says: str
) -> None:
    alert = app.alert()
    app.click(alert, action_ids.REPLY)
    response = app.slack.submit_view({action_ids.REPLY_BLOCK: {action_ids.REPLY_INPUT: text}})
    assert response.status == 200
    body = response.json()
    assert body["response_action"] == "errors"
    assert says in body["errors"][action_ids.REPLY_BLOCK]
    app.drain()
    assert [r for r in app.replies.requests if r.method == "PUT"] == []
    assert reply_records(app.engine) == [] and app.get(alert.id).handled_at is None
    assert [r.status for r in app.requests()] == ["done", "done"]


def test_a_source_without_a_reply_api_records_the_reply_for_the_agent_to_post(app: Harness) -> None:
    alert = app.alert(source="ceneo")
    app.click(alert, action_ids.REPLY)
    view = json.dumps(app.slack.views()[-1].view, ensure_ascii=False)
    assert "no reply API" in view and "post it yourself" in view
    submit(app, "Dziękujemy za opinię, skontaktujemy się mailowo.")
    assert app.replies.requests == []
    (record,) = reply_records(app.engine)
    assert record.status == "recorded"
    assert app.get(alert.id).handled_action == "replied"


def test_an_expired_trigger_is_reported_and_the_agent_asked_to_click_again(app: Harness) -> None:
    alert = app.alert()
    app.slack.expire_trigger(app.slack.next_trigger())
    app.click(alert, action_ids.REPLY)
    assert app.slack.views() == []
    (request,) = app.requests()
    assert request.status == "failed" and "expired_trigger_id" in (request.error or "")
    (note,) = app.slack.ephemerals(DEFAULT_USER)
    assert "Click Reply again" in note.text


class WordsEmbedder:
    """A tiny deterministic embedder: hashed bag of lower-cased words, L2-normalised (no model needed)."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        self.calls += 1
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, zlib.crc32(word.encode()) % 64] += 1.0
            norm = float(np.linalg.norm(out[i]))
            if norm:
                out[i] /= norm
        return out


def test_the_modal_shows_the_reply_given_to_a_similar_item(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack, replies: FakeReplyApi
) -> None:
    embedder = WordsEmbedder()
    with running(engine, tmp_path, fake_slack, replies, embedder=embedder) as app:
        first = app.alert()
        app.click(first, action_ids.REPLY)
        submit(app, REPLY_PL)
        (record,) = reply_records(engine)
        assert record.embedding is not None  # the item was embedded for later look-ups
        second = app.alert(review="accounts/A/locations/L/reviews/R2")  # the same complaint, again
        app.click(second, action_ids.REPLY)
        view = app.slack.views()[-1].view
        shown = json.dumps(view, ensure_ascii=False)
        assert "Similar past replies" in shown and "Zwrot pieniędzy zlecony" in shown


# ------------------------------------------------------------------------------------------ the modal


def _alert(suggested: str | None = SUGGESTED) -> Alert:
    return Alert(
        id=42, dedupe_key="k", channel="#c", slack_channel_id="C0ALERTS01", suggested_reply=suggested
    )


def _texts(view: dict[str, Any]) -> list[str]:
    return [el["text"] for b in view["blocks"] if b["type"] == "context" for el in b["elements"]]


def test_modal_respects_block_kit_limits_and_shows_at_most_three_similar_replies() -> None:
    similar = [PastReply(f"Odpowiedź nr {i}: przepraszamy <!channel>", 0.9 - i / 100, i) for i in range(5)]
    view = reply_modal(
        _alert("x" * 5000), "Zła obsługa <!here> & długie czekanie", "google_business", similar
    )
    assert all(len(view[k]["text"]) <= 24 for k in ("title", "submit", "close"))
    assert view["submit"]["text"] == "Post reply" and view["close"]["text"] == "Cancel"
    element = next(b for b in view["blocks"] if b["type"] == "input")["element"]
    assert element["multiline"] is True and element["max_length"] == 3000
    assert len(element["initial_value"]) == 3000
    texts = _texts(view)
    assert sum("Odpowiedź nr" in t for t in texts) == 3
    assert all("<!" not in t for t in texts) and "&lt;!here&gt; &amp; długie" in texts[0]
    assert len(view["private_metadata"]) <= ModalLimits.PRIVATE_METADATA


def test_modal_input_is_limited_by_the_source_and_omits_an_empty_suggestion() -> None:
    view = reply_modal(_alert(None), "too slow", "mastodon", [])
    element = next(b for b in view["blocks"] if b["type"] == "input")["element"]
    assert element["max_length"] == 500 and "initial_value" not in element
    assert not any("similar" in t.lower() for t in _texts(view))


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=1200), suggested=st.text(max_size=3500))
def test_modal_never_breaks_limits_or_lets_markup_through(text: str, suggested: str) -> None:
    view = reply_modal(_alert(suggested), text, "google_business", [PastReply(text, 0.95, 1)])
    element = next(b for b in view["blocks"] if b["type"] == "input")["element"]
    assert len(element.get("initial_value", "")) <= element["max_length"] <= 3000
    for t in _texts(view):
        assert "<" not in t and ">" not in t and len(t) <= ModalLimits.CONTEXT_TEXT


@given(body=st.binary(max_size=400))
def test_payload_parsing_either_yields_an_object_or_says_why(body: bytes) -> None:
    try:
        payload = parse_payload(body)
    except PayloadError as exc:
        assert str(exc)
    else:
        assert isinstance(payload, dict) and isinstance(payload["type"], str)


def test_building_the_modal_leaves_the_alert_untouched() -> None:
    alert = _alert()
    before = alert.model_dump()
    reply_modal(alert, "tekst", "google_business", [])
    assert alert.model_dump() == before
