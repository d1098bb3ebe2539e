"""The fake Slack server behaves like the parts of Slack's Web API that Earshot relies on."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.alerts.fake_slack import FakeSlack


def client(slack: FakeSlack, token: str | None = None) -> WebClient:
    return WebClient(token=token if token is not None else slack.token, base_url=slack.url, retry_handlers=[])


def test_binds_loopback_only(fake_slack: FakeSlack) -> None:
    assert fake_slack.url.startswith("http://127.0.0.1:") and fake_slack.port > 0


def test_bearer_token_is_checked_and_never_recorded(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as err:
        client(fake_slack, "xoxb-wrong").auth_test()
    assert err.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as err:
        client(fake_slack, "").auth_test()
    assert err.value.response["error"] == "not_authed"
    assert client(fake_slack).auth_test()["user_id"] == "U0EARSHOT"
    assert [r.token_ok for r in fake_slack.requests("auth.test")] == [False, False, True]
    assert fake_slack.token not in repr(fake_slack.requests())


def test_post_update_and_history_with_metadata(fake_slack: FakeSlack) -> None:
    c = client(fake_slack)
    meta = {"event_type": "earshot_alert", "event_payload": {"alert_id": 1}}
    posted = c.chat_postMessage(channel="#earshot-alerts", text="zażółć", metadata=meta)
    assert posted["channel"] == "C0ALERTS01" and posted["message"]["metadata"] == meta
    c.chat_update(channel=posted["channel"], ts=posted["ts"], text="gęślą jaźń")
    plain = c.conversations_history(channel="C0ALERTS01")["messages"][0]
    assert plain["text"] == "gęślą jaźń" and "metadata" not in plain
    full = c.conversations_history(channel="C0ALERTS01", include_all_metadata=True)["messages"][0]
    assert full["metadata"] == meta
    assert c.conversations_history(channel="C0ALERTS01", oldest=posted["ts"])["messages"] == []
    assert (
        len(c.conversations_history(channel="C0ALERTS01", oldest=posted["ts"], inclusive=True)["messages"])
        == 1
    )
    with pytest.raises(SlackApiError, match="channel_not_found"):
        c.conversations_history(channel="#earshot-alerts")  # like Slack: ids only


def test_scripted_failures_apply_to_the_next_calls_of_a_method(fake_slack: FakeSlack) -> None:
    c = client(fake_slack)
    fake_slack.fail_next("chat.postMessage", times=2, kind="ratelimited", retry_after=3)
    fake_slack.fail_next("chat.postMessage", kind="server_error")
    fake_slack.fail_next("chat.postMessage", kind="channel_not_found")
    for status, header in ((429, "3"), (429, "3")):
        with pytest.raises(SlackApiError) as err:
            c.chat_postMessage(channel="#earshot-alerts", text="x")
        assert (
            err.value.response.status_code == status and err.value.response.headers["Retry-After"] == header
        )
        assert err.value.response["error"] == "ratelimited"
    assert c.auth_test()["ok"]  # other methods are unaffected
    with pytest.raises(SlackApiError) as err:
        c.chat_postMessage(channel="#earshot-alerts", text="x")
    assert err.value.response.status_code == 500
    with pytest.raises(SlackApiError, match="channel_not_found"):
        c.chat_postMessage(channel="#earshot-alerts", text="x")
    c.chat_postMessage(channel="#earshot-alerts", text="x")
    assert len(fake_slack.messages()) == 1 and fake_slack.calls("chat.postMessage") == 5


def test_membership_and_channel_listing(fake_slack: FakeSlack) -> None:
    c = client(fake_slack)
    fake_slack.add_channel("prywatny", "G0PRIVATE1", member=False)
    with pytest.raises(SlackApiError, match="not_in_channel"):
        c.chat_postMessage(channel="#prywatny", text="x")
    first = c.conversations_list(limit=2)
    rest = c.conversations_list(limit=2, cursor=first["response_metadata"]["next_cursor"])
    names = [ch["name"] for ch in first["channels"] + rest["channels"]]
    assert sorted(names) == ["earshot-alerts", "general", "prywatny"]
