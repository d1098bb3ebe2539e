"""The outbox end to end: rules -> alerts table -> real WebClient -> fake Slack, on SQLite and PostgreSQL.

Each test states one delivery guarantee: one alert per mention, one Slack message per alert across
re-runs, rate limits, outages and crashes, and failures that say what to fix.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts import delivery, message_sync, outbox
from alerts import enqueue as enqueue_module
from alerts.enqueue import enqueue_alerts
from alerts.outbox import deliver_pending, requeue_failed, run_alerts
from alerts.slack_sender import ConsoleSender, SlackSender, make_sender
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertStatus, SentimentScore, StageRun, utcnow
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.helpers import Clock, Sleeps, add_mention, alerts, make_settings, only_alert, review

# ------------------------------------------------------------------------------------------- enqueue


def test_enqueue_creates_one_alert_per_alerting_mention(engine: Engine, settings: EarshotSettings) -> None:
    neg = add_mention(engine, "pl_negative")
    low = add_mention(engine, "en_low_rating")
    add_mention(engine, "pl_positive")
    counts = enqueue_alerts(engine, settings)
    assert (counts["evaluated"], counts["created"], counts["skipped_existing"]) == (3, 2, 0)
    by_mention = {a.mention_id: a for a in alerts(engine)}
    assert set(by_mention) == {neg, low}
    assert by_mention[neg].dedupe_key == f"mention:{neg}:alert"
    assert (by_mention[neg].kind, by_mention[neg].reason) == (
        "low_rating",
        'rule "negative": rated 1★; sentiment negative (-0.91)',
    )
    assert (by_mention[low].kind, by_mention[low].reason) == ("low_rating", 'rule "negative": rated 2★')
    assert all(
        a.status == AlertStatus.PENDING and a.channel == "#earshot-alerts" for a in by_mention.values()
    )
    again = enqueue_alerts(engine, settings)
    assert (again["evaluated"], again["created"]) == (0, 0)
    assert len(alerts(engine)) == 2


def test_enqueue_uses_the_latest_score_of_the_current_version(
    engine: Engine, settings: EarshotSettings
) -> None:
    # Version 1 was negative, the edited version 2 is scored positive: no alert.
    edited = add_mention(engine, "pl_negative", rating=None, version=2, scored_version=1)
    with Session(engine) as s:
        s.add(
            SentimentScore(
                mention_id=edited,
                mention_version=2,
                label="positive",
                score=0.7,
                confidence=0.9,
                model_name="test-model",
                model_version="1",
            )
        )
        s.commit()
    # Scored only for an old version: not a candidate yet.
    add_mention(engine, "pl_negative", rating=None, version=3, scored_version=2)
    assert enqueue_alerts(engine, settings)["created"] == 0


def test_enqueue_batches(engine: Engine, settings: EarshotSettings) -> None:
    for i in range(5):
        add_mention(engine, "pl_negative", author=f"Klient {i}")
    counts = enqueue_alerts(engine, settings, batch_size=2)
    assert (counts["evaluated"], counts["created"], counts["skipped_existing"]) == (5, 5, 0)


def test_enqueue_race_keeps_the_other_runs_alert(
    engine: Engine, settings: EarshotSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    mention_id = add_mention(engine, "pl_negative")
    real = enqueue_module._load_batch

    def load_then_lose_the_race(*args: Any, **kwargs: Any) -> Any:
        rows = real(*args, **kwargs)
        if rows:  # a concurrent run inserts the same alert between our read and our insert
            with Session(engine) as s:
                s.add(
                    Alert(
                        dedupe_key=enqueue_module.dedupe_key(mention_id),
                        mention_id=mention_id,
                        channel="#other",
                    )
                )
                s.commit()
        return rows

    monkeypatch.setattr(enqueue_module, "_load_batch", load_then_lose_the_race)
    monkeypatch.setattr(enqueue_module, "_existing_alert", lambda session, mention_id: None)
    counts = enqueue_alerts(engine, settings)
    assert (counts["evaluated"], counts["created"], counts["skipped_existing"]) == (1, 0, 1)
    assert only_alert(engine).channel == "#other"


def test_concurrent_enqueues_create_each_alert_once(engine: Engine, settings: EarshotSettings) -> None:
    for i in range(6):
        add_mention(engine, "pl_negative", author=f"Klient {i}")
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        try:
            results.append(enqueue_alerts(engine, settings))
        except BaseException as exc:  # reported below: a thread must not hide its failure
            errors.append(exc)
            raise

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r["created"] for r in results) == 6
    assert len(alerts(engine)) == 6


# ------------------------------------------------------------------------------------------- deliver


def test_polish_review_becomes_one_slack_message_once(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    mention_id = add_mention(engine, "pl_negative")
    sender = SlackSender(settings)
    counts = run_alerts(engine, settings, sender)
    assert counts["created"] == 1 and counts["sent"] == 1
    assert sum(counts[k] for k in ("retried", "failed", "recovered", "printed", "ratelimited")) == 0

    [msg] = fake_slack.messages("#earshot-alerts")
    alert = only_alert(engine)
    assert alert.status == AlertStatus.SENT and alert.attempts == 1 and alert.last_error is None
    assert (alert.slack_ts, alert.slack_channel_id) == (msg.ts, "C0ALERTS01") and alert.sent_at is not None
    assert msg.metadata == {"event_type": "earshot_alert", "event_payload": {"alert_id": alert.id}}
    assert msg.blocks[0]["text"]["text"] == "Low rating: Sklep Zielony"
    assert msg.blocks[3]["text"]["text"] == review("pl_negative")["text"]
    links = next(b for b in msg.blocks if b.get("block_id", "").startswith("earshot_links_"))
    assert links["elements"][-1]["url"] == f"https://earshot.example.com/items/{mention_id}"
    assert msg.text.startswith("Low rating: Sklep Zielony")
    assert "rated 1★; sentiment negative (-0.91)" in msg.text

    again = run_alerts(engine, settings, sender)
    assert again["created"] == 0 and again["sent"] == 0
    assert fake_slack.calls("chat.postMessage") == 1
    with Session(engine) as s:
        runs = s.exec(select(StageRun).where(StageRun.stage == "alerts")).all()
    assert [r.counts["sent"] for r in runs] == [1, 0] and all(r.finished_at and not r.error for r in runs)


def test_rate_limit_with_short_retry_after_is_retried_in_the_same_run(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    add_mention(engine)
    enqueue_alerts(engine, settings)
    fake_slack.fail_next("chat.postMessage", kind="ratelimited", retry_after=1)
    sleeps = Sleeps()
    counts = deliver_pending(engine, settings, SlackSender(settings), sleep=sleeps)
    assert (counts["ratelimited"], counts["retried"], counts["sent"]) == (1, 1, 1)
    assert sleeps.calls == [1.0]
    assert len(fake_slack.messages()) == 1 and fake_slack.calls("chat.postMessage") == 2
    alert = only_alert(engine)
    assert alert.status == AlertStatus.SENT and alert.attempts == 1  # the 429 is not an attempt


def test_rate_limit_is_retried_later_by_retry_after_and_delivered_once(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    add_mention(engine)
    add_mention(engine, "en_low_rating")
    enqueue_alerts(engine, settings)
    fake_slack.fail_next("chat.postMessage", kind="ratelimited", retry_after=1)
    clock, sender = Clock(), SlackSender(settings)

    first = deliver_pending(engine, settings, sender, clock=clock, inline_retry_max_seconds=0)
    assert (first["ratelimited"], first["retried"], first["sent"]) == (1, 1, 0)
    waiting = alerts(engine)
    assert [a.status for a in waiting] == [AlertStatus.PENDING, AlertStatus.PENDING]
    assert waiting[0].next_attempt_at == clock.now + timedelta(seconds=1)
    assert waiting[1].attempts == 0  # the pass stopped at the rate limit: no attempt burnt on the second

    clock.advance(2)
    second = deliver_pending(engine, settings, sender, clock=clock, inline_retry_max_seconds=0)
    assert (second["sent"], second["retried"]) == (2, 0)
    assert len(fake_slack.messages()) == 2
    assert {(m.metadata or {})["event_payload"]["alert_id"] for m in fake_slack.messages()} == {
        a.id for a in waiting
    }


def test_crash_between_post_and_record_is_recovered_without_reposting(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_mention(engine)
    enqueue_alerts(engine, settings)
    clock, sender = Clock(), SlackSender(settings)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated crash after chat.postMessage")

    with monkeypatch.context() as m:
        m.setattr(delivery, "_record_delivered", crash)
        with pytest.raises(RuntimeError, match="simulated crash"):
            deliver_pending(engine, settings, sender, clock=clock)
    [msg] = fake_slack.messages()
    stuck = only_alert(engine)
    assert stuck.status == AlertStatus.SENDING and stuck.attempts == 1 and stuck.slack_ts is None

    # While the lease runs, nobody touches it (the crashed run might still be alive).
    assert deliver_pending(engine, settings, sender, clock=clock)["recovered"] == 0
    clock.advance(timedelta(minutes=5).total_seconds())
    counts = deliver_pending(engine, settings, SlackSender(settings), clock=clock)  # as a new process would
    assert counts["recovered"] == 1 and counts["sent"] == 0
    assert fake_slack.calls("chat.postMessage") == 1 and len(fake_slack.messages()) == 1
    alert = only_alert(engine)
    assert (
        alert.status == AlertStatus.SENT
        and alert.slack_ts == msg.ts
        and alert.slack_channel_id == "C0ALERTS01"
    )
    assert (
        alert.sent_at is not None and abs(alert.sent_at.timestamp() - float(msg.ts)) < 0.001
    )  # when Slack had it
    with Session(engine) as s:
        crashed = s.exec(select(StageRun).order_by(StageRun.id)).first()  # type: ignore[arg-type]
    assert crashed is not None and "simulated crash" in (crashed.error or "")


def test_sending_alert_not_in_history_is_posted(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    """A crash *before* the post reached Slack: the lookup finds nothing, so the alert is posted."""
    add_mention(engine)
    enqueue_alerts(engine, settings)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alerts SET status = 'sending', attempts = 1, next_attempt_at = created_at"))
    counts = deliver_pending(engine, settings, SlackSender(settings))
    assert (counts["recovered"], counts["sent"]) == (0, 1)
    assert fake_slack.calls("conversations.history") == 1 and len(fake_slack.messages()) == 1


def test_timeout_after_slack_posted_is_recovered_not_duplicated(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    add_mention(engine)
    enqueue_alerts(engine, settings)
    fake_slack.delay_next("chat.postMessage", 1.6)  # Slack posts, the answer comes after our 1 s timeout
    clock, sender = Clock(), SlackSender(settings)
    first = deliver_pending(engine, settings, sender, clock=clock, backoff_jitter=0)
    assert first["retried"] == 1 and only_alert(engine).status == AlertStatus.PENDING
    clock.advance(delivery.BACKOFF_BASE_SECONDS + 1)
    second = deliver_pending(engine, settings, sender, clock=clock, backoff_jitter=0)
    assert second["recovered"] == 1 and second["sent"] == 0
    assert len(fake_slack.messages()) == 1 and fake_slack.calls("chat.postMessage") == 1


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/api/"


def test_outage_delays_but_does_not_lose_the_alert(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    down = make_settings(tmp_path, bot_token=fake_slack.token, api_url=closed_port_url())
    up = make_settings(tmp_path, bot_token=fake_slack.token, api_url=fake_slack.url)
    add_mention(engine)
    add_mention(engine, "en_low_rating")
    enqueue_alerts(engine, up)
    clock = Clock()

    first = deliver_pending(engine, down, SlackSender(down), clock=clock, backoff_jitter=0)
    assert (first["retried"], first["sent"], first["failed"]) == (1, 0, 0)
    head, tail = alerts(engine)
    assert (
        head.status == AlertStatus.PENDING and head.attempts == 1 and "unreachable" in (head.last_error or "")
    )
    assert head.next_attempt_at == clock.now + timedelta(seconds=30)
    assert tail.attempts == 0  # the pass stopped instead of burning every alert's attempts

    fake_slack.fail_next("chat.postMessage", times=1, kind="server_error")  # Slack half back: a 500
    clock.advance(31)
    second = deliver_pending(engine, up, SlackSender(up), clock=clock, backoff_jitter=0)
    assert (second["retried"], second["sent"]) == (1, 0)
    head = alerts(engine)[0]
    assert head.attempts == 2 and head.next_attempt_at == clock.now + timedelta(seconds=60)

    clock.advance(61)
    third = deliver_pending(engine, up, SlackSender(up), clock=clock, backoff_jitter=0)
    assert third["sent"] == 2
    assert len(fake_slack.messages()) == 2
    assert all(a.status == AlertStatus.SENT for a in alerts(engine))


def test_outage_backoff_adds_jitter_and_still_doubles(engine: Engine, tmp_path: Path) -> None:
    """By default a retry waits the doubled delay plus up to 20% at random, never less."""
    down = make_settings(tmp_path, bot_token="xoxb-jitter-TOKEN", api_url=closed_port_url())
    add_mention(engine)
    enqueue_alerts(engine, down)
    clock = Clock()
    deliver_pending(engine, down, SlackSender(down), clock=clock)
    first = only_alert(engine).next_attempt_at
    assert first is not None
    wait = (first - clock.now).total_seconds()
    assert delivery.BACKOFF_BASE_SECONDS <= wait <= delivery.BACKOFF_BASE_SECONDS * 1.2
    clock.advance(wait + 1)
    deliver_pending(engine, down, SlackSender(down), clock=clock)
    second = only_alert(engine).next_attempt_at
    assert second is not None
    wait = (second - clock.now).total_seconds()
    assert 2 * delivery.BACKOFF_BASE_SECONDS <= wait <= 2 * delivery.BACKOFF_BASE_SECONDS * 1.2


def test_attempts_are_capped_by_max_attempts(engine: Engine, tmp_path: Path) -> None:
    down = make_settings(tmp_path, bot_token="xoxb-cap-TOKEN", api_url=closed_port_url(), max_attempts=2)
    add_mention(engine)
    enqueue_alerts(engine, down)
    clock, sender = Clock(), SlackSender(down)
    assert deliver_pending(engine, down, sender, clock=clock)["retried"] == 1
    clock.advance(3600)
    assert deliver_pending(engine, down, sender, clock=clock)["failed"] == 1
    alert = only_alert(engine)
    assert alert.status == AlertStatus.FAILED and alert.attempts == 2
    assert (alert.last_error or "").startswith("gave up after 2 attempts; last error: Slack")


def test_bot_not_in_channel_fails_with_what_to_do(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    fake_slack.set_member("C0ALERTS01", False)
    add_mention(engine)
    add_mention(engine, "en_low_rating")
    enqueue_alerts(engine, settings)
    counts = deliver_pending(engine, settings, SlackSender(settings))
    assert counts["failed"] == 1 and counts["sent"] == 0
    failed, waiting = alerts(engine)
    assert failed.status == AlertStatus.FAILED
    assert "invite the bot to #earshot-alerts" in (failed.last_error or "")
    assert waiting.status == AlertStatus.PENDING and waiting.attempts == 0  # same channel: left for later

    fake_slack.set_member("C0ALERTS01", True)
    assert requeue_failed(engine) == 1
    assert deliver_pending(engine, settings, SlackSender(settings))["sent"] == 2


def test_unknown_channel_fails_with_the_setting_to_change(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    s = make_settings(tmp_path, bot_token=fake_slack.token, api_url=fake_slack.url, default_channel="#nope")
    add_mention(engine)
    enqueue_alerts(engine, s)
    assert deliver_pending(engine, s, SlackSender(s))["failed"] == 1
    assert "EARSHOT_SLACK__DEFAULT_CHANNEL" in (only_alert(engine).last_error or "")


def test_no_token_prints_to_console(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = make_settings(tmp_path)
    add_mention(engine)
    sender = make_sender(s)
    assert isinstance(sender, ConsoleSender)
    counts = run_alerts(engine, s, sender)
    assert counts["printed"] == 1 and counts["sent"] == 0
    out = capsys.readouterr().out
    assert "Low rating: Sklep Zielony" in out and "Żądam zwrotu pieniędzy" in out and "Łukasz Żółć" in out
    alert = only_alert(engine)
    assert alert.status == AlertStatus.PRINTED and alert.slack_ts is None and alert.sent_at is not None
    assert run_alerts(engine, s, sender)["printed"] == 0


def _database_dump(engine: Engine) -> str:
    with engine.connect() as conn:
        rows = [conn.execute(text(f"SELECT * FROM {t}")).all() for t in ("alerts", "stage_runs")]
    return repr(rows)


def test_token_never_reaches_logs_or_database(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # slack-sdk logs requests at DEBUG
    good = make_settings(tmp_path, bot_token=fake_slack.token, api_url=fake_slack.url)
    wrong = make_settings(tmp_path, bot_token="xoxb-WRONG-leak-canary", api_url=fake_slack.url)
    down = make_settings(tmp_path, bot_token=fake_slack.token, api_url=closed_port_url())
    for _ in range(3):
        add_mention(engine)
    enqueue_alerts(engine, good)
    clock = Clock()
    deliver_pending(engine, down, SlackSender(down), clock=clock)  # outage
    clock.advance(3600)
    deliver_pending(engine, wrong, SlackSender(wrong), clock=clock)  # invalid_auth: stops the pass
    # the refused token's hint is recorded (the alert waits for a fixed token; later passes overwrite it)
    assert any("EARSHOT_SLACK__BOT_TOKEN" in (a.last_error or "") for a in alerts(engine))
    after_refusal = _database_dump(engine)
    fake_slack.fail_next("chat.postMessage", kind="ratelimited", retry_after=30)
    clock.advance(3600)
    deliver_pending(engine, good, SlackSender(good), clock=clock)  # rate limited
    clock.advance(3600)
    deliver_pending(engine, good, SlackSender(good), clock=clock)  # delivered
    assert any(a.status == AlertStatus.SENT for a in alerts(engine))
    dump = _database_dump(engine)
    for secret in (fake_slack.token, "xoxb-WRONG-leak-canary"):
        assert secret not in caplog.text
        assert secret not in dump and secret not in after_refusal
    assert "Bearer" not in caplog.text or "(redacted)" in caplog.text


def test_concurrent_deliveries_post_each_alert_once(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    for i in range(6):
        add_mention(engine, author=f"Klient {i}")
    enqueue_alerts(engine, settings)
    results: list[dict[str, int]] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        results.append(deliver_pending(engine, settings, SlackSender(settings)))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and sum(r["sent"] for r in results) == 6
    ids = [m.metadata["event_payload"]["alert_id"] for m in fake_slack.messages() if m.metadata]
    assert sorted(ids) == sorted(a.id or 0 for a in alerts(engine)) and len(ids) == 6


def test_lookup_without_history_scope_still_posts(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Missing channels:history must not block delivery: warn and post (a duplicate beats a lost alert)."""
    add_mention(engine)
    enqueue_alerts(engine, settings)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alerts SET status = 'sending', attempts = 1, next_attempt_at = created_at"))
    fake_slack.fail_next("conversations.history", kind="missing_scope")
    counts = deliver_pending(engine, settings, SlackSender(settings))
    assert counts["sent"] == 1 and "may duplicate" in caplog.text


def test_alert_in_flight_in_another_run_is_not_taken_over(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This run listed the alert as due, then another run claimed it before we read it: hands off."""
    add_mention(engine)
    enqueue_alerts(engine, settings)
    alert = only_alert(engine)
    with Session(engine) as s:
        row = s.get(Alert, alert.id)
        assert row is not None
        row.status, row.attempts, row.next_attempt_at = (
            AlertStatus.SENDING,
            1,
            utcnow() + timedelta(minutes=1),
        )
        s.add(row)
        s.commit()
    monkeypatch.setattr(outbox, "due_alert_ids", lambda *_args: [alert.id])  # the stale listing
    counts = deliver_pending(engine, settings, SlackSender(settings))
    assert not any(counts.values())
    assert fake_slack.requests() == []
    assert only_alert(engine).attempts == 1


# ------------------------------------------------------------------- threads, throttling, chat.update


class _VirtualTime:
    """A monotonic clock that sleeping advances, so throttling is measured without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_posts_to_one_channel_are_spaced_by_the_per_channel_interval(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    for i in range(4):
        add_mention(engine, external_id=f"spaced-{i}", author=f"Klient {i}")
    enqueue_alerts(engine, settings)
    vt = _VirtualTime()
    counts = deliver_pending(engine, settings, SlackSender(settings), sleep=vt.sleep, monotonic=vt.monotonic)
    assert counts["sent"] == 4 and counts["throttled"] == 3
    assert sum(vt.sleeps) == pytest.approx(3 * settings.slack.per_channel_interval_seconds)
    assert len(fake_slack.messages()) == 4


def _thread_reply(engine: Engine, parent: Alert, key: str) -> int:
    with Session(engine) as session:
        child = Alert(
            dedupe_key=key,
            mention_id=parent.mention_id,
            kind="edited",
            channel=parent.channel,
            parent_id=parent.id,
            payload={
                "version": 2,
                "previous_version": 1,
                "previous_text": "stary tekst",
                "previous_rating": 1,
            },
            next_attempt_at=utcnow(),
        )
        session.add(child)
        session.commit()
        assert child.id is not None
        return child.id


def test_thread_reply_waits_for_its_parent_then_posts_into_its_thread(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    add_mention(engine)
    enqueue_alerts(engine, settings)
    parent = only_alert(engine)
    child_id = _thread_reply(engine, parent, "child:1")
    fake_slack.fail_next("chat.postMessage", "ratelimited", retry_after=60)
    deliver_pending(engine, settings, SlackSender(settings), sleep=Sleeps())
    with Session(engine) as s:
        child = s.get(Alert, child_id)
        assert child is not None and child.status == AlertStatus.PENDING and child.attempts == 0

    clock = Clock()
    clock.advance(61)
    deliver_pending(engine, settings, SlackSender(settings), clock=clock, sleep=Sleeps())
    parent_row, child_row = alerts(engine)
    assert parent_row.status == child_row.status == AlertStatus.SENT
    reply = next(m for m in fake_slack.messages() if m.ts == child_row.slack_ts)
    assert reply.params.get("thread_ts") == parent_row.slack_ts


def test_crashed_thread_reply_is_found_in_the_thread_not_reposted(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    add_mention(engine)
    enqueue_alerts(engine, settings)
    deliver_pending(engine, settings, SlackSender(settings), sleep=Sleeps())
    parent = only_alert(engine)
    child_id = _thread_reply(engine, parent, "child:2")
    real_record = delivery._record_delivered

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated crash after the thread reply was posted")

    delivery._record_delivered = crash
    try:
        with pytest.raises(RuntimeError):
            deliver_pending(engine, settings, SlackSender(settings), sleep=Sleeps())
    finally:
        delivery._record_delivered = real_record
    with engine.begin() as conn:
        conn.execute(text("UPDATE alerts SET next_attempt_at = created_at WHERE status = 'sending'"))
    counts = deliver_pending(engine, settings, SlackSender(settings), sleep=Sleeps())
    assert counts["recovered"] == 1 and counts["sent"] == 0
    assert fake_slack.calls("conversations.replies") == 1
    assert len(fake_slack.messages()) == 2
    with Session(engine) as s:
        child = s.get(Alert, child_id)
        assert child is not None and child.status == AlertStatus.SENT


def test_state_change_is_synced_with_chat_update_once(
    engine: Engine, settings: EarshotSettings, fake_slack: FakeSlack
) -> None:
    add_mention(engine)
    enqueue_alerts(engine, settings)
    deliver_pending(engine, settings, SlackSender(settings), sleep=Sleeps())
    alert = only_alert(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE alerts SET handled_at = sent_at, handled_by = 'U0AGENT01', handled_action = 'handled', "
                "state_version = state_version + 1"
            )
        )
    fake_slack.fail_next("chat.update", "ratelimited", retry_after=5)
    assert message_sync.sync_updates(engine, settings, SlackSender(settings))["updated"] == 0
    assert message_sync.sync_updates(engine, settings, SlackSender(settings))["updated"] == 1
    assert message_sync.sync_updates(engine, settings, SlackSender(settings))["updated"] == 0
    msg = next(m for m in fake_slack.messages() if m.ts == alert.slack_ts)
    shown = json.dumps(msg.blocks)
    assert "Handled by" in shown and "<@U0AGENT01>" in shown
