"""The Slack interactivity endpoint: only signed, fresh, first-time requests get in; the ack is immediate;
the inbox survives a stopped worker. Every request travels over real HTTP to the real endpoint (uvicorn on
127.0.0.1), signed like Slack signs them; Slack's Web API and Google's reply API are loopback fakes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts import action_ids
from alerts.interactivity import INTERACTIVITY_PATH, MAX_BODY_BYTES, InteractivityWorker
from alerts.message_sync import sync_updates
from alerts.outbox import deliver_pending
from alerts.slack_sender import SlackSender
from alerts.socket_mode import SocketModeReceiver
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, Mention, SlackRequest
from monitor.core.timeutil import utcnow
from monitor.slack_app import InteractivityError, serve_interactivity
from monitor.web.app import bound_port, shutdown_web
from sentiment.embeddings import Embedder
from tests.alerts.fake_slack import (
    DEFAULT_USER,
    VERIFICATION_TOKEN,
    AppResponse,
    FakeSlack,
    StoredMessage,
    interaction_body,
    post_to_app,
    signed_headers,
)
from tests.alerts.fake_sources import FakeReplyApi
from tests.alerts.helpers import PUBLIC_URL, add_mention

SECRET = "8f742231b10e8888abcd99yyyzzz85a5-earshot"
REVIEW = "accounts/A/locations/L/reviews/R"
SUGGESTED = "Dzień dobry, bardzo przepraszamy za opóźnienie i uszkodzoną paczkę. Prosimy o kontakt."


# ------------------------------------------------------------------------------------------ harness


@dataclass
class Harness:
    """A running endpoint + worker wired to the fake Slack and the fake Google reply API."""

    engine: Engine
    settings: EarshotSettings
    slack: FakeSlack
    replies: FakeReplyApi
    sender: SlackSender
    worker: InteractivityWorker
    url: str
    changed: list[int] = field(default_factory=list)

    def alert(
        self,
        key: str = "pl_negative",
        *,
        review: str = REVIEW,
        suggested: str | None = SUGGESTED,
        source: str | None = None,
    ) -> Alert:
        """A negative review with a delivered alert message in #earshot-alerts."""
        mention_id = add_mention(self.engine, key, external_id=review.rsplit("/", 1)[-1])
        with Session(self.engine) as session:
            mention = session.get(Mention, mention_id)
            assert mention is not None
            mention.raw = {"name": review, "reviewId": review.rsplit("/", 1)[-1]}
            if source is not None:
                mention.source = source
            alert = Alert(
                dedupe_key=f"mention:{mention_id}:alert",
                mention_id=mention_id,
                mention_version=1,
                source=mention.source,
                target="Sklep Zielony",
                kind="negative",
                rule="negative",
                severity="negative",
                reason="rated 1★; sentiment negative (-0.91)",
                channel="#earshot-alerts",
                suggested_reply=suggested,
            )
            session.add(mention)
            session.add(alert)
            session.commit()
            alert_id = alert.id
        self.replies.add_google_review(review)
        deliver_pending(self.engine, self.settings, self.sender)
        return self.get(alert_id)

    def get(self, alert_id: int | None) -> Alert:
        with Session(self.engine) as session:
            alert = session.get(Alert, alert_id)
        assert alert is not None and alert.slack_ts, alert
        return alert

    def message(self, alert: Alert) -> StoredMessage:
        assert alert.slack_ts is not None
        return self.slack.message(alert.slack_ts)

    def click(self, alert: Alert, action_id: str, **kwargs: Any) -> AppResponse:
        assert alert.slack_ts is not None
        response = self.slack.click(alert.slack_ts, action_id, **kwargs)
        assert response.status == 200, response
        self.drain()
        return response

    def drain(self) -> None:
        assert self.worker.drain(timeout=20), "the worker did not finish in 20 s"

    def post(self, payload: dict[str, Any], **kwargs: Any) -> AppResponse:
        body = interaction_body(payload)
        return post_to_app(self.url, body, signed_headers(SECRET, body, **kwargs))

    def requests(self) -> list[SlackRequest]:
        with Session(self.engine) as session:
            return list(session.exec(select(SlackRequest).order_by(col(SlackRequest.id))).all())


def make_interactive_settings(
    tmp_path: Path,
    slack: FakeSlack,
    replies: FakeReplyApi,
    signing_secret: str | None = SECRET,
    sources: dict[str, Any] | None = None,
) -> EarshotSettings:
    """``sources`` adds other sources' settings (their reply APIs) to Google's, which is the fake's."""
    return EarshotSettings(
        data_dir=tmp_path,
        public_url=PUBLIC_URL,
        slack={
            "bot_token": slack.token,
            "api_url": slack.url,
            "timeout_seconds": 2.0,
            "max_attempts": 3,
            "signing_secret": signing_secret,
            "interactivity_host": "127.0.0.1",
            "interactivity_port": 0,
            "per_channel_interval_seconds": 0,
        },
        sources={
            "google_business": {"base_url": replies.url, "access_token": replies.google_token},
            **(sources or {}),
        },
    )


@contextmanager
def running(
    engine: Engine,
    tmp_path: Path,
    slack: FakeSlack,
    replies: FakeReplyApi,
    *,
    signing_secret: str | None = SECRET,
    on_changed: Callable[[int], None] | None = None,
    embedder: Embedder | None = None,
    sources: dict[str, Any] | None = None,
) -> Iterator[Harness]:
    """``serve_interactivity()`` for real (uvicorn on a free loopback port); the Slack message is re-rendered
    on change."""
    settings = make_interactive_settings(tmp_path, slack, replies, signing_secret, sources)
    sender = SlackSender(settings)
    changed: list[int] = []

    def resync(alert_id: int) -> None:
        changed.append(alert_id)
        if on_changed is not None:
            on_changed(alert_id)
        sync_updates(engine, settings, sender, alert_ids=[alert_id])

    worker = InteractivityWorker(engine, settings, sender, resync, embedder=embedder)
    server, thread = serve_interactivity(settings, engine, sender, resync, worker=worker)
    url = f"http://127.0.0.1:{bound_port(server)}{INTERACTIVITY_PATH}"
    slack.connect_app(url, SECRET)
    try:
        yield Harness(engine, settings, slack, replies, sender, worker, url, changed)
    finally:
        shutdown_web(server, thread)


@pytest.fixture
def replies() -> Iterator[FakeReplyApi]:
    with FakeReplyApi() as api:
        yield api


@pytest.fixture
def app(engine: Engine, tmp_path: Path, fake_slack: FakeSlack, replies: FakeReplyApi) -> Iterator[Harness]:
    with running(engine, tmp_path, fake_slack, replies) as harness:
        yield harness


def handled_payload(alert: Alert, user: str = DEFAULT_USER) -> dict[str, Any]:
    """A Mark handled click as Slack sends it (for the tests that alter the raw request)."""
    return {
        "type": "block_actions",
        "user": {"id": user},
        "token": VERIFICATION_TOKEN,
        "container": {"type": "message", "message_ts": alert.slack_ts, "channel_id": alert.slack_channel_id},
        "channel": {"id": alert.slack_channel_id},
        "trigger_id": "1.2.3",
        "actions": [
            {
                "type": "button",
                "action_id": action_ids.MARK_HANDLED,
                "block_id": f"{action_ids.ACTIONS_BLOCK_PREFIX}{alert.id}",
                "value": str(alert.id),
            }
        ],
    }


# ------------------------------------------------------------------------------------------ security


def test_a_signed_click_is_acknowledged_empty_and_takes_effect(app: Harness) -> None:
    alert = app.alert()
    response = app.click(alert, action_ids.MARK_HANDLED)
    assert response.body == b""
    assert app.get(alert.id).handled_by == DEFAULT_USER
    (row,) = app.requests()
    assert (row.kind, row.status, row.error) == ("block_actions", "done", None)
    assert "token" not in row.payload and VERIFICATION_TOKEN not in json.dumps(row.payload)


def test_an_expired_request_is_refused_and_does_nothing(
    app: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    alert = app.alert()
    with caplog.at_level(logging.WARNING, logger="alerts.interactivity"):
        response = app.post(handled_payload(alert), timestamp=int(time.time()) - 301)
    assert response.status == 401
    app.drain()
    assert app.get(alert.id).handled_at is None and app.requests() == []
    assert "old" in caplog.text and "127.0.0.1" in caplog.text
    assert SECRET not in caplog.text and "v0=" not in caplog.text


def test_a_tampered_body_is_refused(app: Harness) -> None:
    alert = app.alert()
    other = app.alert("en_low_rating", review="accounts/A/locations/L/reviews/R2")
    body = interaction_body(handled_payload(alert))
    headers = signed_headers(SECRET, body)
    tampered = body.replace(f"%22{alert.id}%22".encode(), f"%22{other.id}%22".encode())
    assert tampered != body
    assert post_to_app(app.url, tampered, headers).status == 401
    app.drain()
    assert app.get(alert.id).handled_at is None and app.get(other.id).handled_at is None


def test_a_replayed_request_is_refused_and_runs_once(app: Harness) -> None:
    alert = app.alert()
    body = interaction_body(handled_payload(alert))
    headers = signed_headers(SECRET, body)
    assert post_to_app(app.url, body, headers).status == 200
    app.drain()
    assert post_to_app(app.url, body, headers).status == 409
    app.drain()
    assert len(app.requests()) == 1
    assert len(app.message(alert).updates) == 1  # one re-render, not two


def test_unsigned_and_wrongly_signed_requests_are_refused(app: Harness) -> None:
    alert = app.alert()
    body = interaction_body(handled_payload(alert))
    assert post_to_app(app.url, body, {"Content-Type": "application/x-www-form-urlencoded"}).status == 401
    assert post_to_app(app.url, body, signed_headers("a-different-secret", body)).status == 401
    app.drain()
    assert app.get(alert.id).handled_at is None and app.requests() == []


def test_an_oversized_body_is_refused_before_anything_else(app: Harness) -> None:
    body = b"payload=" + b"a" * MAX_BODY_BYTES
    assert post_to_app(app.url, body, signed_headers(SECRET, body)).status == 413
    assert app.requests() == []


def test_without_a_signing_secret_every_request_is_refused_with_the_fix(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack, replies: FakeReplyApi
) -> None:
    with running(engine, tmp_path, fake_slack, replies, signing_secret=None) as app:
        alert = app.alert()
        response = app.post(handled_payload(alert))
        assert response.status == 503
        assert b"EARSHOT_SLACK__SIGNING_SECRET" in response.body
        assert app.get(alert.id).handled_at is None and app.requests() == []


def test_a_signed_but_malformed_payload_is_a_bad_request(app: Harness) -> None:
    for body in (b"payload=not-json", b"nothing=here", b"payload=[1,2]"):
        assert post_to_app(app.url, body, signed_headers(SECRET, body)).status == 400
    assert app.requests() == []


def test_healthz_reports_the_worker(app: Harness) -> None:
    health_url = app.url.replace(INTERACTIVITY_PATH, "/healthz")
    with urllib.request.urlopen(health_url, timeout=5) as resp:
        data = json.loads(resp.read())
    assert data == {"ok": True, "worker": "running", "signing_secret": True}


def test_a_taken_port_is_reported_with_the_setting_to_change(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack, replies: FakeReplyApi
) -> None:
    settings = make_interactive_settings(tmp_path, fake_slack, replies)
    settings.slack.interactivity_port = fake_slack.port  # the fake Slack already listens there
    with pytest.raises(InteractivityError, match="EARSHOT_SLACK__INTERACTIVITY_PORT"):
        serve_interactivity(settings, engine, SlackSender(settings), lambda _id: None)


# ------------------------------------------------------------------------------------------ ack and inbox


def test_the_ack_returns_in_under_3_s_while_a_slow_reply_post_takes_5(app: Harness) -> None:
    alert = app.alert()
    app.click(alert, action_ids.REPLY)
    app.replies.delay_next(5.0)
    started = time.monotonic()
    response = app.slack.submit_view({action_ids.REPLY_BLOCK: {action_ids.REPLY_INPUT: SUGGESTED}})
    assert response.status == 200 and response.body == b""
    assert response.seconds < 3.0  # Slack's limit: the one timed assertion these tests make
    assert app.get(alert.id).handled_at is None  # the post is still in flight
    app.drain()
    assert time.monotonic() - started >= 5.0
    assert app.get(alert.id).handled_action == "replied"
    assert app.replies.google_reply(REVIEW) is not None


def test_a_modal_opens_while_a_slow_reply_is_still_being_posted(app: Harness) -> None:
    """Reply clicks skip the queue: a modal must open within Slack's 3 s, a reply post may take longer."""
    first, second = app.alert(), app.alert("en_low_rating", review="accounts/A/locations/L/reviews/R2")
    app.click(first, action_ids.REPLY)
    app.replies.delay_next(5.0)
    app.slack.submit_view({action_ids.REPLY_BLOCK: {action_ids.REPLY_INPUT: SUGGESTED}})
    assert second.slack_ts is not None
    assert app.slack.click(second.slack_ts, action_ids.REPLY).status == 200
    deadline = time.monotonic() + 20
    while len(app.slack.views()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    # Ordering, not timing: the second modal was open before the first reply reached Google.
    assert len(app.slack.views()) == 2 and app.replies.google_reply(REVIEW) is None
    app.drain()
    assert app.replies.google_reply(REVIEW) is not None


def test_a_stored_request_survives_a_stopped_worker_and_runs_once_after_restart(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack, replies: FakeReplyApi
) -> None:
    with running(engine, tmp_path, fake_slack, replies) as app:
        alert = app.alert()
        app.worker.stop()  # the process is going down: the endpoint still stores and acknowledges
        assert app.post(handled_payload(alert)).status == 200
        settings, sender = app.settings, app.sender
    (row,) = _requests(engine)
    assert row.status == "pending"
    assert _alert(engine, alert.id).handled_at is None

    changed: list[int] = []
    workers = [InteractivityWorker(engine, settings, sender, changed.append) for _ in range(2)]
    for w in workers:  # two workers racing over the same inbox: the compare-and-set lets one run it
        w.start()
    try:
        assert all(w.drain(timeout=20) for w in workers)
    finally:
        for w in workers:
            w.stop()
    assert changed == [alert.id]
    assert _alert(engine, alert.id).handled_by == DEFAULT_USER
    assert [r.status for r in _requests(engine)] == ["done"]


def test_an_action_that_crashes_is_recorded_and_the_worker_goes_on(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack, replies: FakeReplyApi
) -> None:
    calls: list[int] = []

    def flaky(alert_id: int) -> None:
        calls.append(alert_id)
        if len(calls) == 1:
            raise RuntimeError("outbox exploded")

    with running(engine, tmp_path, fake_slack, replies, on_changed=flaky) as app:
        first, second = app.alert(), app.alert("en_low_rating", review="accounts/A/locations/L/reviews/R2")
        app.click(first, action_ids.MARK_HANDLED)
        app.click(second, action_ids.MARK_HANDLED)
        statuses = [(r.status, r.error) for r in app.requests()]
        assert statuses == [("failed", "RuntimeError: outbox exploded"), ("done", None)]
        assert app.worker.alive
        assert app.get(second.id).handled_at is not None


def test_unknown_actions_are_recorded_as_failed_with_the_reason(app: Harness) -> None:
    alert = app.alert()
    payload = handled_payload(alert)
    payload["actions"][0]["action_id"] = "someone_elses_button"
    assert app.post(payload).status == 200
    missing = handled_payload(alert)
    missing["actions"][0]["value"] = "999999"
    assert app.post(missing).status == 200
    app.drain()
    errors = [r.error or "" for r in app.requests()]
    assert "unknown action id 'someone_elses_button'" in errors[0]
    assert "alert 999999 does not exist" in errors[1]
    assert [r.status for r in app.requests()] == ["failed", "failed"]


def test_old_finished_requests_are_purged(app: Harness) -> None:
    alert = app.alert()
    app.click(alert, action_ids.MARK_HANDLED)
    assert app.worker.purge(utcnow()) == 0
    assert app.worker.purge(utcnow() + timedelta(days=1, minutes=1)) == 1
    assert app.requests() == []


# ------------------------------------------------------------------------------------------ socket mode


@dataclass
class RecordingClient:
    """Stands in for SocketModeClient: records the acknowledgements the receiver sends."""

    responses: list[SocketModeResponse] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send_socket_mode_response(self, response: SocketModeResponse | dict[str, Any]) -> None:
        assert isinstance(response, SocketModeResponse)
        with self.lock:
            self.responses.append(response)


def test_socket_mode_envelopes_go_through_the_same_inbox_and_are_acked(app: Harness) -> None:
    alert = app.alert()
    receiver = SocketModeReceiver(app.engine, app.worker)
    client = RecordingClient()
    envelope = SocketModeRequest(type="interactive", envelope_id="env-1", payload=handled_payload(alert))
    receiver(client, envelope)
    receiver(client, envelope)  # Slack redelivers an envelope it thinks was not acknowledged
    app.drain()
    assert [r.envelope_id for r in client.responses] == ["env-1", "env-1"]
    assert all(r.payload in (None, {}) for r in client.responses)
    (row,) = app.requests()
    assert row.signature == "socket:env-1" and row.status == "done"
    assert app.get(alert.id).handled_by == DEFAULT_USER
    receiver(client, SocketModeRequest(type="events_api", envelope_id="env-2", payload={}))
    assert client.responses[-1].envelope_id == "env-2" and len(app.requests()) == 1


def test_socket_mode_returns_modal_errors_in_the_ack(app: Harness) -> None:
    alert = app.alert()
    app.click(alert, action_ids.REPLY)
    view = app.slack.views()[-1].view
    payload = {
        "type": "view_submission",
        "user": {"id": DEFAULT_USER},
        "view": {
            **view,
            "state": {"values": {action_ids.REPLY_BLOCK: {action_ids.REPLY_INPUT: {"value": "  "}}}},
        },
    }
    client = RecordingClient()
    SocketModeReceiver(app.engine, app.worker)(client, SocketModeRequest("interactive", "env-3", payload))
    body = client.responses[0].payload
    assert isinstance(body, dict) and body["response_action"] == "errors"
    assert "empty" in body["errors"][action_ids.REPLY_BLOCK]


def _requests(engine: Engine) -> list[SlackRequest]:
    with Session(engine) as session:
        return list(session.exec(select(SlackRequest).order_by(col(SlackRequest.id))).all())


def _alert(engine: Engine, alert_id: int | None) -> Alert:
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
    assert alert is not None
    return alert
