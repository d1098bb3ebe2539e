"""`earshot run`'s one server: pages and Slack interactivity on one port; `slack serve`: the Slack part alone."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.enqueue import enqueue_alerts
from alerts.outbox import deliver_pending
from alerts.slack_sender import SlackSender
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert
from monitor.slack_app import SlackApp, start_app, start_slack_app
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.helpers import Sleeps, add_mention

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _settings(tmp_path: Path, slack: FakeSlack, interactivity_port: int, **web: object) -> EarshotSettings:
    return EarshotSettings(
        data_dir=tmp_path,
        slack={
            "bot_token": slack.token,
            "api_url": slack.url,
            "signing_secret": SECRET,
            "interactivity_port": interactivity_port,
            "timeout_seconds": 2,
            "language": "en",  # the English button and state text is checked
        },
        web={"port": 0, **web},
    )


def _click_mark_handled(
    sqlite_engine: Engine, settings: EarshotSettings, slack: FakeSlack, app: SlackApp
) -> None:
    """An alert is posted, its Mark handled pressed at ``app.address``; the row and the message follow."""
    add_mention(sqlite_engine, "pl_negative")
    enqueue_alerts(sqlite_engine, settings)
    deliver_pending(sqlite_engine, settings, SlackSender(settings), sleep=Sleeps())
    [message] = slack.messages()
    slack.connect_app(app.address, SECRET)
    response = slack.click(message.ts, "earshot_mark_handled", user="U0AGENT01")
    assert response.status == 200 and response.seconds < 3
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with Session(sqlite_engine) as session:
            alert = session.exec(select(Alert)).one()
        if alert.handled_at is not None and alert.synced_version == alert.state_version:
            break
        time.sleep(0.1)
    assert alert.handled_by == "U0AGENT01" and alert.handled_action == "handled"
    [updated] = slack.messages()
    assert "<@U0AGENT01>" in json.dumps(updated.blocks) and "Handled by" in json.dumps(updated.blocks)


def test_nothing_starts_without_a_signing_secret_or_app_token(sqlite_engine: Engine, tmp_path: Path) -> None:
    assert start_slack_app(EarshotSettings(data_dir=tmp_path), sqlite_engine) is None
    # `earshot run` without Slack and without anyone who could sign in to the pages: no server at all
    assert start_app(EarshotSettings(data_dir=tmp_path, web={"port": 0}), sqlite_engine) is None


def test_run_serves_the_pages_and_the_slack_endpoint_on_one_port(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """`earshot run`: a click on the web port is handled end to end; nothing listens on the interactivity port."""
    interactivity_port = _free_port()
    with FakeSlack() as slack:
        settings = _settings(tmp_path, slack, interactivity_port, shared_token="a-long-shared-token-1")
        app = start_app(settings, sqlite_engine)
        assert app is not None and app.mode == "http" and app.pages is not None
        try:
            assert app.address == app.pages.rstrip("/") + "/slack/interactivity"
            with urllib.request.urlopen(app.pages + "login", timeout=5) as page:  # the pages, same port
                assert page.status == 200 and "<form" in page.read().decode()
            assert _refused(interactivity_port), "earshot run started a second server"
            _click_mark_handled(sqlite_engine, settings, slack, app)
        finally:
            app.stop()


def test_run_without_pages_still_serves_the_slack_endpoint_on_the_web_port(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """Nobody can sign in (no users, no token): the same app with only its Slack router, where public_url points."""
    with FakeSlack() as slack:
        settings = _settings(tmp_path, slack, _free_port())
        app = start_app(settings, sqlite_engine)
        assert app is not None and app.mode == "http" and app.pages is None
        try:
            base = app.address.removesuffix("/slack/interactivity")
            with urllib.request.urlopen(base + "/healthz", timeout=5) as health:
                assert health.status == 200
            _click_mark_handled(sqlite_engine, settings, slack, app)
        finally:
            app.stop()


def test_slack_serve_runs_the_slack_only_app_on_the_interactivity_port(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    with FakeSlack() as slack:
        settings = _settings(tmp_path, slack, 0)
        app = start_slack_app(settings, sqlite_engine)
        assert app is not None and app.mode == "http" and app.pages is None
        try:
            _click_mark_handled(sqlite_engine, settings, slack, app)
        finally:
            app.stop()
