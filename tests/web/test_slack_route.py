"""One app, one process: ``earshot web`` serves the pages and ``POST /slack/interactivity`` side by side.

The Slack route is public (Slack signs, it cannot sign in) and verifies with slack_sdk's
``SignatureVerifier`` on the clock the factory is given; the pages keep their guard and their ``/healthz``.
The Slack-only flavour (``pages=False``) serves no page at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.signature import Clock as SlackClock
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts import action_ids
from alerts.interactivity import INTERACTIVITY_PATH, InteractivityWorker
from alerts.slack_sender import ConsoleSender
from monitor.core.models import Alert, SlackRequest
from monitor.web.app import bound_port, create_app, serve_web, shutdown_web
from tests.alerts.fake_slack import AppResponse, interaction_body, post_to_app, signed_headers
from tests.web.conftest import Client, Clock, make_web_settings
from tests.web.seed import SeedInfo, seed_demo

SECRET = "8f742231b10e8888abcd99yyyzzz85a5-web"


class SettableSlackClock(SlackClock):
    """The signature verifier's clock (epoch seconds): real time plus an offset the test sets."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


@dataclass
class Both:
    engine: Engine
    seed: SeedInfo
    port: int
    worker: InteractivityWorker
    slack_clock: SettableSlackClock
    changed: list[int]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{INTERACTIVITY_PATH}"

    def click(self, alert_id: int, **signing: Any) -> AppResponse:
        body = interaction_body(_handled(alert_id))
        return post_to_app(self.url, body, signed_headers(SECRET, body, **signing))

    def alert(self, alert_id: int) -> Alert:
        with Session(self.engine) as session:
            alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert

    def requests(self) -> list[SlackRequest]:
        with Session(self.engine) as session:
            return list(session.exec(select(SlackRequest).order_by(col(SlackRequest.id))).all())


def _handled(alert_id: int) -> dict[str, Any]:
    """A Mark handled click on ``alert_id`` as Slack posts it."""
    return {
        "type": "block_actions",
        "user": {"id": "U0AGENT07"},
        "trigger_id": "1.2.3",
        "actions": [
            {
                "type": "button",
                "action_id": action_ids.MARK_HANDLED,
                "block_id": f"{action_ids.ACTIONS_BLOCK_PREFIX}{alert_id}",
                "value": str(alert_id),
            }
        ],
    }


@pytest.fixture
def both(sqlite_engine: Engine, tmp_path: Path) -> Iterator[Both]:
    """The pages and the Slack route in one app (as ``earshot web`` builds it), with a running worker."""
    settings = make_web_settings(tmp_path, slack={"bot_token": None, "signing_secret": SECRET})
    seed = seed_demo(sqlite_engine)
    changed: list[int] = []
    worker = InteractivityWorker(sqlite_engine, settings, ConsoleSender(settings), changed.append).start()
    slack_clock = SettableSlackClock()
    app = create_app(settings, sqlite_engine, clock=Clock(), slack_worker=worker, slack_clock=slack_clock)
    server, thread = serve_web(settings, sqlite_engine, app=app)
    try:
        yield Both(sqlite_engine, seed, bound_port(server), worker, slack_clock, changed)
    finally:
        shutdown_web(server, thread)
        worker.stop()


def test_one_server_answers_pages_and_slack(both: Both) -> None:
    client = Client(both.port)
    assert client.get("/login").status == 200
    assert client.get("/inbox").status == 303  # the pages keep their guard
    health = client.get("/healthz")
    assert health.status == 200 and json.loads(health.body) == {"status": "ok"}

    alert_id = both.seed.alerts["gbp_en_negative"]
    response = both.click(alert_id)
    assert response.status == 200 and response.body == b""
    assert both.worker.drain(timeout=20)
    assert both.alert(alert_id).handled_by == "U0AGENT07"
    assert both.changed == [alert_id]
    assert [(r.kind, r.status) for r in both.requests()] == [("block_actions", "done")]


def test_the_slack_route_refuses_stale_wrong_and_replayed_requests(both: Both) -> None:
    alert_id = both.seed.alerts["gbp_en_negative"]
    both.slack_clock.offset = 301  # the verifier's clock is 301 s ahead of the signer's
    assert both.click(alert_id).status == 401
    both.slack_clock.offset = -301
    assert both.click(alert_id).status == 401
    both.slack_clock.offset = 0
    body = interaction_body(_handled(alert_id))
    assert post_to_app(both.url, body, signed_headers("another-secret", body)).status == 401
    unsigned = post_to_app(both.url, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert unsigned.status == 401 and unsigned.body == b"invalid Slack signature"
    assert both.requests() == []

    headers = signed_headers(SECRET, body)
    assert post_to_app(both.url, body, headers).status == 200
    replay = post_to_app(both.url, body, headers)
    assert replay.status == 409 and replay.body == b"request already received"
    assert both.worker.drain(timeout=20)
    assert len(both.requests()) == 1 and both.changed == [alert_id]


def test_pages_without_a_worker_have_no_slack_route(make_site: Any, sqlite_engine: Engine) -> None:
    site = make_site(sqlite_engine)
    client = site.client()
    body = interaction_body(_handled(1))
    refused = client.request("POST", INTERACTIVITY_PATH, body, signed_headers(SECRET, body))
    assert refused.status == 401 and "Sign in first" in refused.text  # the guard's page, as any POST
    assert client.get(INTERACTIVITY_PATH).status == 303


def test_the_slack_only_app_serves_no_pages(sqlite_engine: Engine, tmp_path: Path) -> None:
    settings = make_web_settings(
        tmp_path, slack={"bot_token": None, "signing_secret": SECRET}, web={"users": []}
    )
    worker = InteractivityWorker(sqlite_engine, settings, ConsoleSender(settings), lambda _id: None).start()
    app = create_app(settings, sqlite_engine, slack_worker=worker, pages=False)  # nobody to sign in: fine
    server, thread = serve_web(settings, sqlite_engine, app=app)
    try:
        client = Client(bound_port(server))
        assert client.get("/login").status == 404
        assert client.get("/inbox").status == 404
        health = json.loads(client.get("/healthz").body)
        assert health == {"ok": True, "worker": "running", "signing_secret": True}
        body = interaction_body(_handled(1))
        stale = signed_headers(SECRET, body, timestamp=int(time.time()) - 301)
        assert client.request("POST", INTERACTIVITY_PATH, body, stale).status == 401
    finally:
        shutdown_web(server, thread)
        worker.stop()
