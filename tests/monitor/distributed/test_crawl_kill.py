"""``kill -9`` of a worker mid-crawl: the README's first fault row, for real.

The worker (its pool process and the crawl's child process with it) dies while the crawl waits on a page
the loopback source holds back. RabbitMQ redelivers the crawl to the other worker; its crawl first closes
the dead run's ``crawl_runs`` row as ``crashed`` (same host, its pid gone), then stores every
item once, the dead crawl's included (upserted under source and external id), and chains the score stage,
which scores every stored mention once. A run left by a worker on another host is closed only once it is
older than any crawl can run (``spiders.abandoned.STALE_AFTER``): its pid cannot be checked from here.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from monitor.core.models import CrawlRun, Mention
from monitor.demo_data.site import DemoRequest, Reply
from monitor.demo_source import DemoSource
from monitor.distributed.celery_app import configure
from spiders.abandoned import process_alive
from tests.monitor.distributed.conftest import Cluster, wait_until
from tests.monitor.distributed.test_distributed import _all_scored, _scores

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class HeldDemoSource(DemoSource):
    """The demo server, answering its first API request and holding every later one until released.

    So the first crawl is caught mid-way (one page answered, the next pending) for as long as the test
    needs, and the redelivered crawl runs at full speed once :attr:`released` is set.
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.released = threading.Event()
        self.holding = threading.Event()
        self._answered = 0
        self._count_lock = threading.Lock()

    def handle(self, request: DemoRequest) -> Reply:
        if request.path != "/robots.txt" and not self.released.is_set():
            with self._count_lock:
                self._answered += 1
                hold = self._answered > 1
            if hold:
                self.holding.set()
                self.released.wait(60)
        return super().handle(request)


def _open_run(cluster: Cluster) -> CrawlRun | None:
    with Session(cluster.engine) as s:
        return s.exec(select(CrawlRun).where(col(CrawlRun.finished_at).is_(None))).first()


def test_a_worker_killed_mid_crawl_is_redelivered_stores_each_item_once_and_closes_the_dead_run(
    cluster: Cluster,
) -> None:
    src = HeldDemoSource(sources=["google_business"])
    with src:
        cfg = src.configure(cluster.settings)
        cluster.with_settings(targets=cfg.targets, sources=cfg.sources)
        cluster.worker(name="w1")
        cluster.worker(name="w2")
        cluster.wait_for_workers(2)
        configure(cluster.settings)
        from monitor.distributed.tasks import crawl_source

        crawl_source.delay("google_business")
        wait_until("the crawl waits on a held page", src.holding.is_set, timeout=60)
        run = _open_run(cluster)
        assert run is not None and run.pid is not None, "the crawl process recorded its open run"
        crawler = run.pid
        # The answered page's items are stored as they come: the redelivered crawl meets them again.
        wait_until("the first crawl stored some items", lambda: _scores(cluster)[0] > 0, timeout=20)
        stored_by_dead = _scores(cluster)[0]
        assert 0 < stored_by_dead < 12, "the crawl is caught mid-way"
        # The crawl child shares its worker's process group: this kills worker, pool and crawl at once.
        os.killpg(os.getpgid(crawler), signal.SIGKILL)
        wait_until("the crawl process is gone", lambda: not process_alive(crawler), timeout=10)
        src.released.set()

        def crawled_and_scored() -> bool:
            with Session(cluster.engine) as s:
                runs = s.exec(select(CrawlRun)).all()
            finished = [r for r in runs if r.finished_at is not None and r.finish_reason != "crashed"]
            return bool(finished) and _all_scored(cluster)

        wait_until("the redelivered crawl stores and scores", crawled_and_scored, timeout=90)

    with Session(cluster.engine) as s:
        runs = {r.id: r for r in s.exec(select(CrawlRun)).all()}
        keys = s.exec(select(Mention.source, Mention.external_id)).all()
        distinct = s.exec(
            select(func.count(func.distinct(func.concat(Mention.source, ":", Mention.external_id))))
        ).one()
    dead = runs[run.id]
    assert (dead.finish_reason, dead.failure) == ("crashed", "crashed"), "the dead run is closed as crashed"
    assert dead.failure_detail is not None and f"pid {crawler}" in dead.failure_detail
    others = [r for r in runs.values() if r.id != run.id]
    assert len(others) == 1, "exactly one redelivered crawl ran"
    assert others[0].finished_at is not None and others[0].failure is None, others[0].failure_detail
    assert others[0].pid != crawler
    assert len(keys) == distinct == 12, "every demo review stored exactly once"
    mentions, scores, scored_versions = _scores(cluster)
    assert mentions == scores == scored_versions == 12, "every stored mention scored exactly once"
