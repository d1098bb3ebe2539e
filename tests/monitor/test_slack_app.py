"""`earshot run`'s Slack interactivity: off without secrets, and on, a click handled end to end."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.enqueue import enqueue_alerts
from alerts.outbox import deliver_pending
from alerts.slack_sender import SlackSender
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert
from monitor.slack_app import start_slack_app
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.helpers import Sleeps, add_mention

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def test_nothing_starts_without_a_signing_secret_or_app_token(sqlite_engine: Engine, tmp_path: Path) -> None:
    assert start_slack_app(EarshotSettings(data_dir=tmp_path), sqlite_engine) is None


def test_click_on_mark_handled_updates_database_and_message(sqlite_engine: Engine, tmp_path: Path) -> None:
    with FakeSlack() as slack:
        settings = EarshotSettings(
            data_dir=tmp_path,
            slack={
                "bot_token": slack.token,
                "api_url": slack.url,
                "signing_secret": SECRET,
                "interactivity_port": 0,
                "timeout_seconds": 2,
            },
        )
        add_mention(sqlite_engine, "pl_negative")
        enqueue_alerts(sqlite_engine, settings)
        deliver_pending(sqlite_engine, settings, SlackSender(settings), sleep=Sleeps())
        [message] = slack.messages()

        app = start_slack_app(settings, sqlite_engine)
        assert app is not None and app.mode == "http"
        try:
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
        finally:
            app.stop()
        assert alert.handled_by == "U0AGENT01" and alert.handled_action == "handled"
        [updated] = slack.messages()
        assert "<@U0AGENT01>" in json.dumps(updated.blocks) and "Handled by" in json.dumps(updated.blocks)
