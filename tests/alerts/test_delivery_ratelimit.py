"""A long rate limit must neither lose an alert nor stretch its next outage backoff.

Found by the soak test (tests/monitor/test_soak.py): every 429 counted as a delivery attempt (two per pass
with the in-place retry), so four rate-limited passes in a row used up ``slack.max_attempts`` and failed
the alert for good, and one 429 burst followed by a timeout backed the alert off for 19 minutes
(30 s x 2^attempts). A 429 means Slack did not take the message; it is waited out and not counted.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from alerts.enqueue import enqueue_alerts
from alerts.outbox import deliver_pending
from alerts.slack_sender import SlackSender
from monitor.core.models import AlertStatus
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.helpers import Clock, Sleeps, add_mention, make_settings, only_alert


def test_many_rate_limited_passes_still_post_the_alert_once(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = make_settings(tmp_path, bot_token=fake_slack.token, api_url=fake_slack.url, max_attempts=3)
    add_mention(engine)
    enqueue_alerts(engine, settings)
    clock = Clock()
    fake_slack.fail_next("chat.postMessage", "ratelimited", times=10, retry_after=1)

    for _ in range(5):  # two 429s per pass: one slept off in place, one rescheduled
        counts = deliver_pending(engine, settings, SlackSender(settings), clock=clock, sleep=Sleeps())
        assert counts["failed"] == 0
        alert = only_alert(engine)
        assert alert.status == AlertStatus.PENDING and alert.attempts == 0
        assert alert.next_attempt_at == clock.now + timedelta(seconds=1)
        clock.advance(2)

    counts = deliver_pending(engine, settings, SlackSender(settings), clock=clock, sleep=Sleeps())
    assert counts["sent"] == 1
    alert = only_alert(engine)
    assert alert.status == AlertStatus.SENT and alert.attempts == 1
    assert len(fake_slack.messages()) == 1
    assert fake_slack.calls("conversations.history") == 0  # nothing to look up: no attempt reached Slack


def test_an_outage_after_a_rate_limit_backs_off_from_the_first_step(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = make_settings(tmp_path, bot_token=fake_slack.token, api_url=fake_slack.url)
    add_mention(engine)
    enqueue_alerts(engine, settings)
    clock = Clock()
    fake_slack.fail_next("chat.postMessage", "ratelimited", times=4, retry_after=1)
    for _ in range(2):
        deliver_pending(engine, settings, SlackSender(settings), clock=clock, sleep=Sleeps())
        clock.advance(2)
    fake_slack.fail_next("chat.postMessage", "server_error", times=1)

    deliver_pending(engine, settings, SlackSender(settings), clock=clock, backoff_jitter=0)

    alert = only_alert(engine)
    assert alert.status == AlertStatus.PENDING and alert.attempts == 1
    assert alert.next_attempt_at == clock.now + timedelta(seconds=30)  # not 30 x 2^4
