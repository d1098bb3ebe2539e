"""A stalled stage is alerted like a broken source: once per stall, closed by a recovery alert.

Real PostgreSQL (a schema of its own); the leader test runs a real `earshot scheduler` loop on the real
broker with no workers, which is exactly how the score stage stalls.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from alerts.render import render
from alerts.stage_message import KIND_STAGE_RECOVERED, KIND_STAGE_STALLED
from monitor.core.models import Alert, Mention, SentimentScore
from monitor.core.timeutil import utcnow
from monitor.distributed.leader import run_scheduler
from monitor.distributed.stalls import check_stalls
from tests.monitor.distributed.conftest import Cluster, wait_until

pytestmark = [pytest.mark.postgres]


def _seed_unscored(cluster: Cluster, n: int, age: timedelta, tag: str = "a") -> list[int]:
    with Session(cluster.engine) as s:
        rows = [
            Mention(source="ceneo", external_id=f"stall-{tag}{i}", text="x", first_seen_at=utcnow() - age)
            for i in range(n)
        ]
        s.add_all(rows)
        s.commit()
        return [r.id for r in rows if r.id is not None]


def _stage_alerts(cluster: Cluster) -> list[Alert]:
    with Session(cluster.engine) as s:
        kinds = [KIND_STAGE_STALLED, KIND_STAGE_RECOVERED]
        return list(s.exec(select(Alert).where(col(Alert.kind).in_(kinds)).order_by(col(Alert.id))).all())


def test_a_stall_alerts_once_then_its_recovery_closes_it(cluster: Cluster) -> None:
    cluster.with_settings(
        distributed=cluster.settings.distributed.model_copy(
            update={"score_stall_minutes": 15, "stall_channel": "#ops"}
        )
    )
    ids = _seed_unscored(cluster, 3, timedelta(minutes=40))
    now = utcnow()

    first = check_stalls(cluster.engine, cluster.settings, now)
    again = check_stalls(cluster.engine, cluster.settings, now + timedelta(minutes=5))
    assert (first["opened"], again["opened"], again["still_open"]) == (1, 0, 1)
    [stalled] = _stage_alerts(cluster)
    assert stalled.kind == KIND_STAGE_STALLED and stalled.channel == "#ops"
    assert stalled.dedupe_key.startswith("stage:score:stalled:")

    english = render(stalled, None, None, cluster.settings, language="en").plain
    polish = render(stalled, None, None, cluster.settings, language="pl").plain
    assert (
        "Stage stalled: scoring" in english and "3 waiting; the oldest for 40 min (limit 15 min)" in english
    )
    assert "Etap stoi: ocena wzmianek" in polish and "oczekujące: 3; najstarsze od 40 min" in polish
    assert "earshot worker --queues score" in english

    with Session(cluster.engine) as s:
        for mention_id in ids:
            s.add(
                SentimentScore(
                    mention_id=mention_id,
                    mention_version=1,
                    label="neutral",
                    score=0.0,
                    confidence=1.0,
                    model_name="m",
                    model_version="1",
                )
            )
        s.commit()
    later = now + timedelta(minutes=6)
    assert check_stalls(cluster.engine, cluster.settings, later)["recovered"] == 1
    assert check_stalls(cluster.engine, cluster.settings, later)["recovered"] == 0
    alerts = _stage_alerts(cluster)
    assert [a.kind for a in alerts] == [KIND_STAGE_STALLED, KIND_STAGE_RECOVERED]
    assert alerts[1].dedupe_key == f"{stalled.dedupe_key}:recovered"
    assert (
        "Etap znów działa: ocena wzmianek"
        in render(alerts[1], None, None, cluster.settings, language="pl").plain
    )

    # A new stall later is a new problem: a new alert.
    _seed_unscored(cluster, 1, timedelta(minutes=20), tag="b")
    assert check_stalls(cluster.engine, cluster.settings, utcnow())["opened"] == 1
    assert len(_stage_alerts(cluster)) == 3


def test_the_active_scheduler_alerts_on_a_stall_by_itself(cluster: Cluster) -> None:
    """No worker consumes the score queue: the scheduler's leader notices within its check interval."""
    cluster.with_settings(
        distributed=cluster.settings.distributed.model_copy(
            update={"score_stall_minutes": 1, "stall_check_seconds": 0.5}
        )
    )
    _seed_unscored(cluster, 2, timedelta(minutes=5))
    stop = threading.Event()
    leader = threading.Thread(target=run_scheduler, args=(cluster.settings, stop), daemon=True)
    leader.start()
    try:
        wait_until("a stage-stalled alert", lambda: len(_stage_alerts(cluster)) >= 1, timeout=30)
        stop.wait(2)  # four more evaluations of the same stall
        alerts = _stage_alerts(cluster)
        assert [a.kind for a in alerts] == [KIND_STAGE_STALLED]
    finally:
        stop.set()
        leader.join(timeout=30)
    assert not leader.is_alive()
