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


def test_thread_replies_stay_out_of_history_unless_broadcast(fake_slack: FakeSlack) -> None:
    c = client(fake_slack)
    meta = {"event_type": "earshot_alert", "event_payload": {"alert_id": 7}}
    parent = c.chat_postMessage(channel="#earshot-alerts", text="Zła opinia")
    quiet = c.chat_postMessage(
        channel="#earshot-alerts", text="edytowana: gorzej", thread_ts=parent["ts"], metadata=meta
    )
    loud = c.chat_postMessage(
        channel="#earshot-alerts", text="again, worse", thread_ts=parent["ts"], reply_broadcast=True
    )
    history = c.conversations_history(channel="C0ALERTS01")["messages"]
    assert [m["ts"] for m in history] == [loud["ts"], parent["ts"]]
    assert history[0]["thread_ts"] == parent["ts"]
    thread = c.conversations_replies(channel="C0ALERTS01", ts=parent["ts"], include_all_metadata=True)
    assert [m["ts"] for m in thread["messages"]] == [parent["ts"], quiet["ts"], loud["ts"]]
    assert thread["messages"][1]["metadata"] == meta
    assert "metadata" not in c.conversations_replies(channel="C0ALERTS01", ts=parent["ts"])["messages"][1]
    paged = c.conversations_replies(channel="C0ALERTS01", ts=parent["ts"], limit=2)
    assert paged["has_more"] and len(paged["messages"]) == 2
    assert [m.text for m in fake_slack.thread(parent["ts"])] == ["edytowana: gorzej", "again, worse"]
    assert (
        fake_slack.message(loud["ts"]).reply_broadcast and not fake_slack.message(quiet["ts"]).reply_broadcast
    )
    # Slack accepts a thread_ts that names no message (the reply is simply orphaned); so does the fake.
    orphan = c.chat_postMessage(channel="#earshot-alerts", text="x", thread_ts="1.000001")
    assert fake_slack.message(orphan["ts"]).thread_ts == "1.000001"
    with pytest.raises(SlackApiError, match="thread_not_found"):
        c.conversations_replies(channel="C0ALERTS01", ts="1.000001")


def test_update_keeps_a_history_and_refuses_unknown_messages(fake_slack: FakeSlack) -> None:
    c = client(fake_slack)
    posted = c.chat_postMessage(channel="#earshot-alerts", text="nowy")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Obsłużone ✅"}}]
    c.chat_update(channel=posted["channel"], ts=posted["ts"], text="obsłużone", blocks=blocks)
    c.chat_update(channel=posted["channel"], ts=posted["ts"], text="reopened")
    msg = fake_slack.message(posted["ts"])
    assert [u["text"] for u in msg.updates] == ["obsłużone", "reopened"]
    assert msg.updates[0]["blocks"] == blocks and msg.text == "reopened"
    with pytest.raises(SlackApiError, match="message_not_found"):
        c.chat_update(channel=posted["channel"], ts="1.000002", text="x")


def test_views_open_records_the_modal_and_honours_expired_triggers(fake_slack: FakeSlack) -> None:
    c = client(fake_slack)
    view = {"type": "modal", "callback_id": "cb", "title": {"type": "plain_text", "text": "Odpowiedź"}}
    opened = c.views_open(trigger_id="111.222.abc", view=view)
    assert opened["view"]["callback_id"] == "cb"
    fake_slack.expire_trigger("333.444.def")
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        c.views_open(trigger_id="333.444.def", view=view)
    assert [(v.trigger_id, v.view["title"]["text"]) for v in fake_slack.views()] == [
        ("111.222.abc", "Odpowiedź")
    ]


def test_post_ephemeral_is_recorded_per_user(fake_slack: FakeSlack) -> None:
    c = client(fake_slack)
    c.chat_postEphemeral(channel="C0ALERTS01", user="U0AGENT01", text="Nie udało się wysłać odpowiedzi")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        c.chat_postEphemeral(channel="C0NOPE0001", user="U0AGENT01", text="x")
    assert [e.text for e in fake_slack.ephemerals("U0AGENT01")] == ["Nie udało się wysłać odpowiedzi"]
    assert fake_slack.ephemerals("U0OTHER01") == [] and fake_slack.messages() == []
