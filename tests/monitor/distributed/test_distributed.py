"""The distributed mode for real: RabbitMQ, PostgreSQL, a scheduler and two worker processes, with faults.

Invariants after every fault: each stored mention scored exactly once, each alert posted to Slack exactly
once, nothing left waiting, and a standby scheduler takes over from a killed one.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
from pydantic import SecretStr
from sqlalchemy import func, text
from sqlmodel import Session, col, select

from monitor.cli import main
from monitor.core.models import Alert, AlertStatus, Mention, SentimentScore
from monitor.demo_source import DemoSource
from monitor.distributed.celery_app import configure
from monitor.distributed.delivery import LOCK_CLASS, lock_key
from monitor.distributed.status import active_scheduler, collect_status
from tests.alerts.fake_slack import FakeSlack
from tests.monitor.distributed.conftest import BROKER, Cluster, wait_until
from tests.monitor.distributed.fakes import TcpProxy, scoring_pids

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _seed(cluster: Cluster, n: int) -> None:
    with Session(cluster.engine) as s:
        for i in range(n):
            s.add(Mention(source="google_business", external_id=f"r{i}", text=f"bad {i}"))
        s.commit()


def _scores(cluster: Cluster) -> tuple[int, int, int]:
    """(mentions, scores, distinct scored mention versions)."""
    with Session(cluster.engine) as s:
        mentions = s.exec(select(func.count()).select_from(Mention)).one()
        scores = s.exec(select(func.count()).select_from(SentimentScore)).one()
        distinct = s.exec(
            select(
                func.count(func.distinct(SentimentScore.mention_id * 1000 + SentimentScore.mention_version))
            )
        ).one()
    return mentions, scores, distinct


def _all_scored(cluster: Cluster) -> bool:
    mentions, scores, _ = _scores(cluster)
    return mentions > 0 and mentions == scores


def _kill_worker_of(pid: int) -> None:
    """kill -9 the worker (and its pool and crawl children) that process ``pid`` belongs to."""
    os.killpg(os.getpgid(pid), signal.SIGKILL)


def _lock_holder_pid(cluster: Cluster, *key_parts: str) -> int | None:
    """The worker process holding an advisory lock, from the application_name its connection set."""
    with cluster.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE "
                "l.locktype = 'advisory' AND l.classid = :c AND l.objid = :o AND l.objsubid = 2 AND l.granted"
            ),
            {"c": LOCK_CLASS, "o": lock_key(*key_parts) & 0xFFFFFFFF},
        ).first()
    return int(str(row[0]).rsplit(":", 1)[1]) if row else None


def test_run_refuses_when_a_broker_is_configured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EARSHOT_DISTRIBUTED__BROKER_URL", BROKER)
    assert main(["run"]) == 2
    assert "earshot scheduler" in capsys.readouterr().err


def test_review_reaches_slack_once_through_scheduler_and_two_workers_despite_a_kill_mid_send(
    cluster: Cluster,
) -> None:
    with DemoSource(sources=["google_business"]) as src, FakeSlack() as slack:
        slack.add_channel("cs-alerts", "C0CSALERTS")
        cfg = src.configure(cluster.settings)
        cluster.with_settings(
            targets=cfg.targets,
            sources=cfg.sources,
            slack=cfg.slack.model_copy(
                update={
                    "bot_token": SecretStr(slack.token),
                    "api_url": slack.url,
                    "default_channel": "#cs-alerts",
                }
            ),
            schedule=cfg.schedule.model_copy(update={"score_minutes": 0.1, "alerts_minutes": 0.1}),
        )
        slack.delay_next("chat.postMessage", 6)  # the first post lands, its answer comes 6 s later
        cluster.worker(name="w1")
        cluster.worker(name="w2")
        cluster.scheduler()
        cluster.wait_for_workers(2)
        prefix = cluster.settings.distributed.queue_prefix

        wait_until("the first alert is posted", lambda: slack.messages(), timeout=90)
        holder = _lock_holder_pid(cluster, "deliver", prefix, "#cs-alerts")
        assert holder is not None, "the delivering worker holds the channel's lock while Slack answers"
        _kill_worker_of(holder)

        def settled() -> bool:
            with Session(cluster.engine) as s:
                alerts = s.exec(select(Alert)).all()
            return bool(alerts) and all(a.status in (AlertStatus.SENT, AlertStatus.FOLDED) for a in alerts)

        wait_until("all scored, every alert settled", lambda: _all_scored(cluster) and settled(), timeout=90)
        mentions, scores, distinct = _scores(cluster)
        assert mentions == 12 and scores == distinct == 12
        with Session(cluster.engine) as s:
            sent = s.exec(select(Alert).where(col(Alert.status) == AlertStatus.SENT)).all()
        posted = Counter(m.metadata["event_payload"]["alert_id"] for m in slack.messages() if m.metadata)
        assert sorted(posted) == sorted(a.id or 0 for a in sent), "every sent alert is in Slack"
        assert set(posted.values()) == {1}, f"an alert was posted twice: {posted}"

        status = collect_status(cluster.settings)
        assert len(status.workers) == 1, "the killed worker no longer answers; the other does"
        assert status.scheduler is not None and status.scheduler.startswith("earshot-scheduler")
        assert {q.stage for q in status.queues} == {"crawl", "score", "alerts", "digest"}
        assert all(b.waiting == 0 and not b.stalled for b in status.backlog)


def test_a_worker_killed_mid_score_loses_nothing_and_scores_nothing_twice(cluster: Cluster) -> None:
    scoring = cluster.settings.sentiment.model_copy(update={"batch_size": 5})
    cluster.with_settings(sentiment=scoring)
    (cluster.settings.data_dir / "score_seconds").write_text("1.0")
    _seed(cluster, 30)
    cluster.worker(("score",), name="w1")
    cluster.worker(("score",), name="w2")
    cluster.wait_for_workers(2)
    configure(cluster.settings)
    from monitor.distributed.tasks import score_mentions

    score_mentions.delay()
    wait_until("a worker is scoring", lambda: scoring_pids(cluster.settings.data_dir), timeout=30)
    victim = scoring_pids(cluster.settings.data_dir)[0]
    _kill_worker_of(victim)
    wait_until("the other worker scores the rest", lambda: _all_scored(cluster), timeout=60)
    mentions, scores, distinct = _scores(cluster)
    assert mentions == scores == distinct == 30


def test_standby_scheduler_takes_over_when_the_active_one_is_killed(cluster: Cluster) -> None:
    cluster.with_settings(
        schedule=cluster.settings.schedule.model_copy(update={"score_minutes": 0.02, "alerts_minutes": 60})
    )
    cluster.scheduler()
    cluster.scheduler()
    wait_until(
        "one scheduler is active", lambda: active_scheduler(cluster.engine, cluster.settings), timeout=60
    )
    first = active_scheduler(cluster.engine, cluster.settings)
    assert first is not None
    time.sleep(3)  # the standby is up and polling too
    pid = int(first.rsplit(":", 1)[1])
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    killed_at = time.monotonic()

    def taken_over() -> bool:
        now = active_scheduler(cluster.engine, cluster.settings)
        return now is not None and now != first

    wait_until("the standby takes over", taken_over, timeout=20)
    takeover = time.monotonic() - killed_at
    assert takeover < cluster.settings.distributed.leader_poll_seconds + 5
    depth = lambda: next(q.ready for q in collect_status(cluster.settings).queues if q.stage == "score")  # noqa: E731
    before = depth() or 0
    wait_until("the new leader enqueues score tasks", lambda: (depth() or 0) > before, timeout=20)


def test_a_dropped_broker_connection_loses_nothing_and_scores_nothing_twice(cluster: Cluster) -> None:
    proxy = TcpProxy(("127.0.0.1", 5672))
    try:
        via_proxy = BROKER.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
        cluster.with_settings(
            distributed=cluster.settings.distributed.model_copy(update={"broker_url": SecretStr(via_proxy)}),
            sentiment=cluster.settings.sentiment.model_copy(update={"batch_size": 5}),
        )
        (cluster.settings.data_dir / "score_seconds").write_text("1.0")
        _seed(cluster, 30)
        cluster.worker(("score",), name="w1")
        cluster.worker(("score",), name="w2")
        cluster.wait_for_workers(2)
        from monitor.distributed.tasks import score_mentions

        score_mentions.delay()
        wait_until("a worker is scoring", lambda: scoring_pids(cluster.settings.data_dir), timeout=30)
        assert proxy.drop_all() >= 2
        wait_until(
            "everything is scored after the workers reconnect", lambda: _all_scored(cluster), timeout=60
        )
        mentions, scores, distinct = _scores(cluster)
        assert mentions == scores == distinct == 30
        # Both workers reconnected through the proxy (this process asks directly: its own link was cut too).
        cluster.with_settings(
            distributed=cluster.settings.distributed.model_copy(update={"broker_url": SecretStr(BROKER)})
        )
        cluster.wait_for_workers(2, timeout=30)
    finally:
        proxy.close()
