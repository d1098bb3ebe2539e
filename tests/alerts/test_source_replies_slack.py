"""Replying on a social source from Slack: the Reply button's modal, submitted over real HTTP to the real
interactivity endpoint, posts on the loopback Mastodon / Bluesky fake through ``reply_to_item``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts import action_ids
from alerts.outbox import deliver_pending
from monitor.core.models import Alert
from tests.alerts.fake_slack import DEFAULT_USER, FakeSlack
from tests.alerts.fake_social import MASTODON_TOKEN, FakeSocialApi
from tests.alerts.fake_sources import FakeReplyApi, fixture
from tests.alerts.social_items import TARGET, store_mention, stored_item
from tests.alerts.test_actions import reply_records, submit
from tests.alerts.test_interactivity import Harness, running

TEXT = "Dzień dobry, przepraszamy. Prosimy o numer zamówienia w wiadomości prywatnej."


@pytest.fixture
def social() -> Iterator[FakeSocialApi]:
    with FakeSocialApi() as fake:
        fake.state.mastodon_statuses.add(str(stored_item("mastodon")["raw"]["id"]))
        yield fake


@pytest.fixture
def app(engine: Engine, tmp_path: Path, fake_slack: FakeSlack, social: FakeSocialApi) -> Iterator[Harness]:
    with (
        FakeReplyApi() as google,
        running(engine, tmp_path, fake_slack, google, sources=social.sources()) as h,
    ):
        yield h


def _alert(app: Harness, kind: str) -> Alert:
    mention_id = store_mention(app.engine, kind)
    with Session(app.engine) as session:
        alert = Alert(
            dedupe_key=f"mention:{mention_id}:alert",
            mention_id=mention_id,
            mention_version=1,
            source=stored_item(kind)["source"],
            target=TARGET,
            kind="negative",
            rule="negative",
            severity="negative",
            reason="sentiment negative (-0.88)",
            channel="#earshot-alerts",
            suggested_reply="Przepraszamy za kłopot.",
        )
        session.add(alert)
        session.commit()
        alert_id = alert.id
    deliver_pending(app.engine, app.settings, app.sender)
    return app.get(alert_id)


def test_slack_reply_is_posted_as_a_mastodon_status(app: Harness, social: FakeSocialApi) -> None:
    alert = _alert(app, "mastodon")
    app.click(alert, action_ids.REPLY)
    view = json.dumps(app.slack.views()[-1].view, ensure_ascii=False)
    assert "no reply API" not in view
    submit(app, TEXT)
    [status] = [r for r in social.requests if r.path == "/api/v1/statuses"]
    assert status.headers["Authorization"] == f"Bearer {MASTODON_TOKEN}"
    assert status.body["in_reply_to_id"] == stored_item("mastodon")["raw"]["id"]
    assert status.body["status"] == f"@kuba@101010.pl {TEXT}"
    [record] = reply_records(app.engine)
    assert (record.status, record.via, record.text, record.error) == ("posted", "slack", TEXT, None)
    handled = app.get(alert.id)
    assert handled.handled_action == "replied" and handled.handled_by == DEFAULT_USER


def test_slack_reply_refused_by_mastodon_keeps_the_alert_open(app: Harness, social: FakeSocialApi) -> None:
    alert = _alert(app, "mastodon")
    social.fail_next(403, "/api/v1/statuses", body=fixture("mastodon")["errors"]["403"])
    app.click(alert, action_ids.REPLY)
    submit(app, TEXT)
    [record] = reply_records(app.engine)
    assert record.status == "failed" and record.error is not None
    assert "EARSHOT_SOURCES__MASTODON__REPLY_ACCESS_TOKEN" in record.error
    assert MASTODON_TOKEN not in record.error
    assert app.get(alert.id).handled_at is None
    told = [e for e in app.slack.ephemerals() if e.user == DEFAULT_USER]
    assert told and "was not posted to Mastodon" in told[-1].text
