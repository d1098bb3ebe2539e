"""A token Slack refuses for a while (expired, revoked and replaced) must not lose the alerts due meanwhile.

Found by the soak test (tests/monitor/test_soak.py): an alert that met ``token_expired`` or ``invalid_auth``
was marked failed at once, so every alert due during a token swap never reached Slack, and nothing in
Earshot offers to requeue it. Now it backs off like an outage and is posted once the token works again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from alerts.enqueue import enqueue_alerts
from alerts.outbox import deliver_pending
from alerts.slack_sender import SlackSender
from monitor.core.models import AlertStatus
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.helpers import Clock, add_mention, alerts, make_settings


@pytest.mark.parametrize("code", ["token_expired", "invalid_auth", "missing_scope"])
def test_alert_refused_for_the_token_is_posted_once_the_token_works(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack, code: str
) -> None:
    settings = make_settings(tmp_path, bot_token=fake_slack.token, api_url=fake_slack.url)
    for i in range(2):
        add_mention(engine, author=f"Klient {i}")
    enqueue_alerts(engine, settings)
    clock = Clock()
    fake_slack.fail_next(None, code, times=1)

    counts = deliver_pending(engine, settings, SlackSender(settings), clock=clock, backoff_jitter=0)

    assert counts["failed"] == 0 and counts["sent"] == 0  # the pass stopped at the refusal
    first, second = alerts(engine)
    assert first.status == AlertStatus.PENDING and second.status == AlertStatus.PENDING
    assert "EARSHOT_SLACK__BOT_TOKEN" in (first.last_error or "") or code == "missing_scope"
    assert fake_slack.token not in (first.last_error or "")
    assert fake_slack.messages() == []

    clock.advance(31)  # the first backoff step (30 s) has passed; the token works again
    counts = deliver_pending(engine, settings, SlackSender(settings), clock=clock, backoff_jitter=0)

    assert counts["sent"] + counts["recovered"] == 2 and counts["failed"] == 0
    assert {a.status for a in alerts(engine)} == {AlertStatus.SENT}
    posted = [m.metadata["event_payload"]["alert_id"] for m in fake_slack.messages() if m.metadata]
    assert sorted(posted) == sorted(a.id or 0 for a in alerts(engine))


def test_a_token_never_fixed_still_fails_the_alert_after_max_attempts(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = make_settings(tmp_path, bot_token=fake_slack.token, api_url=fake_slack.url, max_attempts=3)
    add_mention(engine)
    enqueue_alerts(engine, settings)
    clock = Clock()
    fake_slack.fail_next(None, "token_revoked", times=100)

    for _ in range(4):
        deliver_pending(engine, settings, SlackSender(settings), clock=clock, backoff_jitter=0)
        clock.advance(3600)

    (alert,) = alerts(engine)
    assert alert.status == AlertStatus.FAILED and alert.attempts == 3
    assert "gave up after 3 attempts" in (alert.last_error or "")
    assert fake_slack.messages() == []


def test_a_refused_lookup_does_not_post_a_landed_alert_again(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    """The first post landed but its answer was lost; the retry's history lookup meets an expired token.

    Posting anyway would duplicate the message as soon as the token works for the post; instead the alert
    waits, and the next lookup finds the message.
    """
    settings = make_settings(tmp_path, bot_token=fake_slack.token, api_url=fake_slack.url)
    add_mention(engine)
    enqueue_alerts(engine, settings)
    clock = Clock()
    fake_slack.delay_next("chat.postMessage", 2.5)  # stored at once, answered after the 1 s timeout
    deliver_pending(engine, settings, SlackSender(settings), clock=clock, backoff_jitter=0)
    assert len(fake_slack.messages()) == 1
    (alert,) = alerts(engine)
    assert alert.status == AlertStatus.PENDING  # the client gave up: it may have landed

    fake_slack.fail_next("conversations.history", "token_expired", times=1)
    clock.advance(31)
    counts = deliver_pending(engine, settings, SlackSender(settings), clock=clock, backoff_jitter=0)
    assert counts["sent"] == 0 and counts["failed"] == 0
    assert len(fake_slack.messages()) == 1  # not posted again while nobody could look

    clock.advance(61)
    counts = deliver_pending(engine, settings, SlackSender(settings), clock=clock, backoff_jitter=0)
    assert counts["recovered"] == 1 and counts["sent"] == 0
    (alert,) = alerts(engine)
    assert alert.status == AlertStatus.SENT and alert.slack_ts == fake_slack.messages()[0].ts
    assert len(fake_slack.messages()) == 1
