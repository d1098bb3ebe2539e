"""SlackSender against the fake Slack Web API, through slack-sdk's real WebClient."""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.slack_errors import SlackPermanentError, SlackRateLimited, SlackTransientError
from alerts.slack_format import SlackMessage
from alerts.slack_sender import ConsoleSender, SlackSender, make_sender
from monitor.core.config import EarshotSettings
from monitor.core.models import utcnow
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.helpers import make_settings

MESSAGE = SlackMessage(
    text="Low rating: Sklep Zielony",
    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Paczka nie dotarła — zażółć"}}],
    plain="Low rating: Sklep Zielony\nPaczka nie dotarła — zażółć",
)


def meta(alert_id: int) -> dict[str, object]:
    return {"event_type": "earshot_alert", "event_payload": {"alert_id": alert_id}}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_post_stores_message_with_metadata_and_returns_channel_id_and_ts(
    settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    channel_id, ts = SlackSender(settings).post("#earshot-alerts", MESSAGE, meta(5))
    [stored] = fake_slack.messages()
    assert (channel_id, ts) == (fake_slack.channel_id("earshot-alerts"), stored.ts)
    assert stored.metadata == meta(5)
    assert stored.blocks == MESSAGE.blocks and stored.text == MESSAGE.text
    [req] = fake_slack.requests("chat.postMessage")
    assert req.token_ok and req.headers["Authorization"] == "Bearer ***"
    assert req.params["unfurl_links"] is False and req.params["link_names"] is False


def test_find_by_alert_id_uses_history_metadata_and_resolves_channel_names(
    settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    since = utcnow() - timedelta(minutes=1)
    fake_slack.inject_message(
        "#earshot-alerts", "someone else", {"event_type": "other", "event_payload": {"alert_id": 3}}
    )
    posted = fake_slack.inject_message("#earshot-alerts", "ours", meta(3))
    fake_slack.inject_message("#earshot-alerts", "another alert", meta(4))
    sender = SlackSender(settings)
    assert sender.find_by_alert_id("#earshot-alerts", 3, since) == posted.ts
    assert sender.find_by_alert_id("#earshot-alerts", 99, since) is None
    assert sender.find_by_alert_id("#earshot-alerts", 3, utcnow() + timedelta(minutes=1)) is None
    assert fake_slack.calls("conversations.list") == 1  # the name was resolved once and cached
    history = fake_slack.requests("conversations.history")
    assert all(r.params["include_all_metadata"] in ("1", True) for r in history)
    assert all(r.params["channel"] == "C0ALERTS01" for r in history)


def test_find_by_alert_id_pages_through_history(settings: EarshotSettings, fake_slack: FakeSlack) -> None:
    target = fake_slack.inject_message("C0ALERTS01", "old one", meta(1))
    for i in range(250):
        fake_slack.inject_message("C0ALERTS01", f"noise {i}", meta(1000 + i))
    assert SlackSender(settings).find_by_alert_id("C0ALERTS01", 1, datetime(2000, 1, 1)) == target.ts
    assert fake_slack.calls("conversations.history") == 2


def test_rate_limit_raises_with_retry_after(settings: EarshotSettings, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", kind="ratelimited", retry_after=7)
    with pytest.raises(SlackRateLimited) as err:
        SlackSender(settings).post("#earshot-alerts", MESSAGE, meta(1))
    assert err.value.retry_after == 7
    assert fake_slack.messages() == []


def test_server_error_is_transient(settings: EarshotSettings, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", kind="server_error")
    with pytest.raises(SlackTransientError, match="HTTP 500"):
        SlackSender(settings).post("#earshot-alerts", MESSAGE, meta(1))


def test_connection_refused_is_transient(tmp_path: Path) -> None:
    s = make_settings(tmp_path, bot_token="xoxb-secret-123", api_url=f"http://127.0.0.1:{closed_port()}/api/")
    with pytest.raises(SlackTransientError, match="unreachable") as err:
        SlackSender(s).post("#earshot-alerts", MESSAGE, meta(1))
    assert "xoxb-secret-123" not in str(err.value)


def test_timeout_is_transient_although_slack_may_have_posted(
    settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    fake_slack.delay_next("chat.postMessage", 1.6)
    with pytest.raises(SlackTransientError, match="unreachable"):
        SlackSender(settings).post("#earshot-alerts", MESSAGE, meta(1))
    assert len(fake_slack.messages()) == 1  # the reason the outbox looks before re-posting


@pytest.mark.parametrize(
    ("channel", "code", "hint"),
    [
        ("#nope", "channel_not_found", "EARSHOT_SLACK__DEFAULT_CHANNEL"),
        ("#general", "not_in_channel", "invite the bot to #general"),
    ],
)
def test_channel_problems_are_permanent_with_a_fix(
    settings: EarshotSettings, fake_slack: FakeSlack, channel: str, code: str, hint: str
) -> None:
    fake_slack.set_member("C0GENERAL1", False)
    with pytest.raises(SlackPermanentError) as err:
        SlackSender(settings).post(channel, MESSAGE, meta(1))
    assert err.value.code == code and hint in str(err.value)
    assert not err.value.global_failure


def test_wrong_token_is_permanent_global_and_never_echoed(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s = make_settings(tmp_path, bot_token="xoxb-wrong-SECRET-987", api_url=fake_slack.url)
    sender = SlackSender(s)
    with pytest.raises(SlackPermanentError) as err:
        sender.post("#earshot-alerts", MESSAGE, meta(1))
    assert err.value.code == "invalid_auth" and err.value.global_failure
    assert "EARSHOT_SLACK__BOT_TOKEN" in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert "xoxb-wrong-SECRET-987" not in str(err.value) + repr(sender) + caplog.text


def test_scripted_slack_error_code_passes_through(settings: EarshotSettings, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", kind="invalid_blocks")
    with pytest.raises(SlackPermanentError, match="invalid_blocks"):
        SlackSender(settings).post("#earshot-alerts", MESSAGE, meta(1))


def test_check_auth(settings: EarshotSettings) -> None:
    assert SlackSender(settings).check_auth() == "earshot in Earshot Test"


def test_make_sender_picks_console_without_a_token(tmp_path: Path, settings: EarshotSettings) -> None:
    assert isinstance(make_sender(make_settings(tmp_path)), ConsoleSender)
    assert isinstance(make_sender(make_settings(tmp_path, bot_token="")), ConsoleSender)
    assert isinstance(make_sender(settings), SlackSender)
    with pytest.raises(ValueError, match="EARSHOT_SLACK__BOT_TOKEN"):
        SlackSender(make_settings(tmp_path))


def test_console_sender_prints_readably(capsys: pytest.CaptureFixture[str]) -> None:
    assert ConsoleSender().post("#earshot-alerts", MESSAGE, meta(12)) == (None, None)
    out = capsys.readouterr().out
    assert "Earshot alert #12 for #earshot-alerts" in out and "Paczka nie dotarła — zażółć" in out
