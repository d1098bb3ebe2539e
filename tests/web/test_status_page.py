"""``GET /status``: the pipeline's health for a signed-in user, on one machine and in the distributed mode."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.core.models import Mention, StageRun
from monitor.core.timeutil import utcnow
from monitor.distributed.leader import run_scheduler
from tests.monitor.distributed.conftest import Cluster, cluster, wait_until  # noqa: F401  (fixture)
from tests.web.conftest import SiteFactory


def test_single_machine_says_distributed_mode_is_off_and_shows_stage_runs(
    make_site: SiteFactory, sqlite_engine: Engine
) -> None:
    site = make_site(sqlite_engine, seed=False)
    assert site.client().get("/status").status in (302, 303)  # signed-in users only
    with Session(sqlite_engine) as s:
        s.add(StageRun(stage="score", counts={"scored": 7, "negative": 0}, finished_at=utcnow()))
        s.add(StageRun(stage="alerts", counts={}, error="SlackApiError: channel_not_found"))
        s.add(
            Mention(source="ceneo", external_id="x1", text="x", first_seen_at=utcnow() - timedelta(hours=2))
        )
        s.commit()
    client = site.logged_in()
    page = client.get("/status").text
    assert 'id="mode-off"' in page and "Distributed mode is off" in page and 'id="workers"' not in page
    assert "scored=7" in page and "negative=0" not in page
    assert "SlackApiError: channel_not_found" in page
    assert 'class="stalled"' in page  # a mention unscored for 2 h, over the 15 min default
    polish = client.get("/status", headers={"Accept-Language": "pl"}).text
    assert "Tryb rozproszony jest wyłączony" in polish and "Ostatnie przebiegi etapów" in polish


@pytest.mark.postgres
def test_distributed_mode_shows_workers_queues_and_the_active_scheduler(
    make_site: SiteFactory,
    cluster: Cluster,  # noqa: F811
) -> None:
    dist = cluster.settings.distributed
    site = make_site(
        cluster.engine,
        seed=False,
        database_url=cluster.settings.database_url,
        distributed={
            "broker_url": SecretStr(dist.broker_url.get_secret_value() if dist.broker_url else ""),
            "queue_prefix": dist.queue_prefix,
            "leader_poll_seconds": 1,
        },
    )
    client = site.logged_in()
    page = client.get("/status").text
    assert 'id="mode-off"' not in page
    assert 'id="no-workers"' in page  # nobody consumes this installation's queues
    assert f"{dist.queue_prefix}.score" in page
    assert "earshot scheduler</code>" in page  # no active scheduler yet

    stop = threading.Event()
    leader = threading.Thread(target=run_scheduler, args=(cluster.settings, stop), daemon=True)
    leader.start()
    try:
        wait_until(
            "the scheduler shows", lambda: "earshot-scheduler " in client.get("/status").text, timeout=30
        )
    finally:
        stop.set()
        leader.join(timeout=30)
