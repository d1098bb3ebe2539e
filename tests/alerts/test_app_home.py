"""The App Home tab and ``/earshot``: an agent's open alerts and the unassigned ones, in the team's language.

The Home tab is published through slack-sdk's real ``WebClient`` (``SlackSender``) to the loopback fake
Slack, which checks the view's shape; the HTTP routes run in the real web app on loopback and are
signed with Slack's v0 scheme computed independently of the code under test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts import action_ids
from alerts.app_home import HOME_PER_LIST, publish_home
from alerts.interactivity import InteractivityWorker
from alerts.slack_events import COMMANDS_PATH, EVENTS_PATH
from alerts.slack_sender import SlackSender
from alerts.socket_mode import SocketModeReceiver
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertStatus
from monitor.web.app import bound_port, create_app, serve_web, shutdown_web
from tests.alerts.fake_slack import AppResponse, FakeSlack, post_to_app, signed_headers
from tests.alerts.helpers import add_mention

SECRET = "e3b0c44298fc1c149afbf4c8996fb924-home"
AGENT = "U0AGENT01"
OTHER = "U0OTHER02"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 10:00 CET in Warsaw
SHOTS = Path("/tmp/shots")


def home_settings(tmp_path: Path, slack: FakeSlack, language: str = "pl") -> EarshotSettings:
    return EarshotSettings(
        data_dir=tmp_path,
        public_url="https://earshot.example.com",
        slack={
            "bot_token": slack.token,
            "api_url": slack.url,
            "timeout_seconds": 2.0,
            "signing_secret": SECRET,
            "language": language,
            "timezone": "Europe/Warsaw",
        },
        web={"host": "127.0.0.1", "port": 0, "users": []},
        alerts={"sla": {"urgent_minutes": 60, "negative_minutes": 1440}},
    )


def open_alert(
    engine: Engine,
    *,
    assignee: str | None = None,
    severity: str = "negative",
    sent_minutes_ago: float = 30,
    handled: bool = False,
    key: str = "pl_negative",
) -> int:
    mention_id = add_mention(engine, key)
    with Session(engine) as session:
        row = Alert(
            dedupe_key=f"mention:{mention_id}:alert",
            mention_id=mention_id,
            mention_version=1,
            source="google_business",
            target="Sklep Zielony",
            kind="urgent" if severity == "urgent" else "negative",
            rule=severity,
            severity=severity,
            reason='rule "negative": rated 1★',
            channel="#earshot-alerts",
            status=AlertStatus.SENT,
            sent_at=NOW - timedelta(minutes=sent_minutes_ago),
            created_at=NOW - timedelta(minutes=sent_minutes_ago),
            assignee=assignee,
            handled_at=NOW if handled else None,
            handled_by=AGENT if handled else None,
        )
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def alert_ids_in(blocks: list[dict[str, Any]]) -> list[int]:
    return [
        int(b["block_id"].removeprefix(action_ids.ACTIONS_BLOCK_PREFIX))
        for b in blocks
        if b["type"] == "actions" and b.get("block_id", "").startswith(action_ids.ACTIONS_BLOCK_PREFIX)
    ]


# ------------------------------------------------------------------------------------------ the Home tab


def test_home_tab_lists_mine_and_unassigned_with_clocks_and_buttons(
    sqlite_engine: Engine, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    settings = home_settings(tmp_path, fake_slack)
    mine_overdue = open_alert(sqlite_engine, assignee=AGENT, severity="urgent", sent_minutes_ago=130)
    mine_fresh = open_alert(sqlite_engine, assignee=AGENT, sent_minutes_ago=30)
    nobodys = open_alert(sqlite_engine, sent_minutes_ago=10)
    open_alert(sqlite_engine, assignee=OTHER)  # someone else's: in neither list
    open_alert(sqlite_engine, assignee=AGENT, handled=True)  # handled: not open

    publish_home(sqlite_engine, settings, SlackSender(settings), AGENT, now=NOW)

    (published,) = fake_slack.published()
    assert published.user_id == AGENT
    view = published.view
    text = json.dumps(view, ensure_ascii=False)
    assert view["blocks"][0]["text"]["text"] == "Earshot: otwarte alerty"
    assert "*Przypisane do Ciebie* (2)" in text and "*Nieprzypisane* (1)" in text
    # the overdue urgent one first, with how late and since when (Warsaw time, zone shown)
    assert alert_ids_in(view["blocks"]) == [mine_overdue, mine_fresh, nobodys]
    assert "⏰ po terminie o 70 min (od 7 gru 2026, 08:50 CET)" in text
    assert "⏱ zostało 23 godz. 30 min (do 8 gru 2026, 09:30 CET)" in text
    labels = {
        el["text"]["text"]
        for b in view["blocks"]
        if b["type"] == "actions"
        for el in b["elements"]
        if "text" in el
    }
    assert {"Oznacz jako obsłużone", "Odpowiedz"} <= labels
    for word in ("Mark handled", "Assigned to you", "overdue", " UTC"):
        assert word not in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "app_home_pl.json").write_text(json.dumps(view, ensure_ascii=False, indent=2), encoding="utf-8")


def test_a_long_list_stays_within_the_home_view_limit_and_says_how_many_more(
    sqlite_engine: Engine, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    settings = home_settings(tmp_path, fake_slack, language="en")
    for _ in range(HOME_PER_LIST + 5):
        open_alert(sqlite_engine)
    view = publish_home(sqlite_engine, settings, SlackSender(settings), AGENT, now=NOW)
    assert len(fake_slack.published()) == 1  # the fake refuses more than 100 blocks
    assert len(view["blocks"]) <= 100 and len(alert_ids_in(view["blocks"])) == HOME_PER_LIST
    text = json.dumps(view)
    assert "5 more in the inbox" in text and "*Not assigned to anyone* (25)" in text
    assert "Nothing is assigned to you" in text


# ------------------------------------------------------------------------------------------ over HTTP


@dataclass
class Served:
    url: str
    engine: Engine
    settings: EarshotSettings
    slack: FakeSlack

    def post(self, path: str, body: bytes, content_type: str, **signing: Any) -> AppResponse:
        headers = {**signed_headers(SECRET, body, **signing), "Content-Type": content_type}
        return post_to_app(self.url + path, body, headers)

    def command(self, text: str = "", user: str = AGENT, **signing: Any) -> AppResponse:
        body = urlencode(
            {"command": "/earshot", "text": text, "user_id": user, "channel_id": "C0ALERTS", "team_id": "T1"}
        ).encode()
        return self.post(COMMANDS_PATH, body, "application/x-www-form-urlencoded", **signing)

    def event(self, payload: dict[str, Any], **signing: Any) -> AppResponse:
        return self.post(EVENTS_PATH, json.dumps(payload).encode(), "application/json", **signing)


@pytest.fixture
def served(sqlite_engine: Engine, fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Served]:
    settings = home_settings(tmp_path, fake_slack)
    worker = InteractivityWorker(sqlite_engine, settings, SlackSender(settings), lambda _id: None).start()
    app = create_app(settings, sqlite_engine, slack_worker=worker, pages=False)
    server, thread = serve_web(settings, sqlite_engine, app=app)
    try:
        yield Served(f"http://127.0.0.1:{bound_port(server)}", sqlite_engine, settings, fake_slack)
    finally:
        shutdown_web(server, thread)
        worker.stop()


def test_url_verification_echoes_the_challenge_only_when_signed(served: Served) -> None:
    handshake = {
        "type": "url_verification",
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
    }
    answer = served.event(handshake)
    assert answer.status == 200 and answer.json() == {"challenge": handshake["challenge"]}
    body = json.dumps(handshake).encode()
    unsigned = post_to_app(served.url + EVENTS_PATH, body, {"Content-Type": "application/json"})
    assert unsigned.status == 401
    assert served.event(handshake, timestamp=int(time.time()) - 301).status == 401  # stale


def test_app_home_opened_publishes_the_callers_home_tab(served: Served) -> None:
    mine = open_alert(served.engine, assignee=AGENT)
    opened = {"type": "app_home_opened", "user": AGENT, "channel": "D0HOME", "tab": "home"}
    event: dict[str, Any] = {
        "type": "event_callback",
        "team_id": "T1",
        "event": opened,
        "event_id": "Ev1",
        "event_time": int(time.time()),
    }
    answer = served.event(event)
    assert answer.status == 200
    deadline = time.monotonic() + 10
    while not served.slack.published() and time.monotonic() < deadline:
        time.sleep(0.05)
    (published,) = served.slack.published()
    assert published.user_id == AGENT and alert_ids_in(published.view["blocks"]) == [mine]
    messages_tab = {**event, "event": {**opened, "tab": "messages"}}
    assert served.event(messages_tab).status == 200
    time.sleep(0.3)
    assert len(served.slack.published()) == 1  # only the Home tab is drawn


def test_slash_command_answers_the_caller_alone_in_polish(served: Served) -> None:
    mine = open_alert(served.engine, assignee=AGENT)
    nobodys = open_alert(served.engine)
    answer = served.command()
    assert answer.status == 200
    reply = answer.json()
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == "Otwarte alerty przypisane do Ciebie: 1; nieprzypisane: 1"
    assert alert_ids_in(reply["blocks"]) == [mine, nobodys]
    assert "Widzisz to tylko Ty." in json.dumps(reply, ensure_ascii=False)
    assert len(reply["blocks"]) <= 50
    only_mine = served.command("moje").json()
    assert alert_ids_in(only_mine["blocks"]) == [mine] and only_mine["response_type"] == "ephemeral"
    assert alert_ids_in(served.command("mine").json()["blocks"]) == [mine]
    helped = served.command("pomoc").json()
    assert "`/earshot moje` tylko Twoje" in helped["text"] and helped["response_type"] == "ephemeral"
    assert served.slack.calls("chat.postMessage") == 0  # nothing was posted to the channel


def test_a_tampered_or_unsigned_command_is_refused(served: Served) -> None:
    open_alert(served.engine, assignee=AGENT)
    body = urlencode({"command": "/earshot", "text": "", "user_id": AGENT}).encode()
    good = signed_headers(SECRET, body)
    tampered = post_to_app(served.url + COMMANDS_PATH, body.replace(AGENT.encode(), OTHER.encode()), good)
    assert tampered.status == 401
    assert served.command(timestamp=int(time.time()) - 400).status == 401


# ---------------------------------------------------------------------------------------- Socket Mode


class _Acks:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_socket_mode_response(self, response: Any) -> None:
        self.sent.append(response)


@dataclass
class _Envelope:
    type: str
    envelope_id: str
    payload: dict[str, Any]


def test_socket_mode_answers_the_command_in_its_acknowledgement_and_publishes_home(
    sqlite_engine: Engine, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    settings = home_settings(tmp_path, fake_slack)
    mine = open_alert(sqlite_engine, assignee=AGENT)
    worker = InteractivityWorker(sqlite_engine, settings, SlackSender(settings), lambda _id: None)
    receiver = SocketModeReceiver(sqlite_engine, worker)
    acks = _Acks()
    command = {"command": "/earshot", "text": "moje", "user_id": AGENT}
    receiver(acks, _Envelope("slash_commands", "env-1", command))  # type: ignore[arg-type]
    (ack,) = acks.sent
    assert ack.envelope_id == "env-1" and ack.payload["response_type"] == "ephemeral"
    assert alert_ids_in(ack.payload["blocks"]) == [mine]
    event = {"type": "event_callback", "event": {"type": "app_home_opened", "user": AGENT, "tab": "home"}}
    receiver(acks, _Envelope("events_api", "env-2", event))  # type: ignore[arg-type]
    assert acks.sent[-1].envelope_id == "env-2"
    (published,) = fake_slack.published()
    assert published.user_id == AGENT and alert_ids_in(published.view["blocks"]) == [mine]
