"""`earshot run`: one crawl job per source with work, each on its own interval with jitter; jobs are guarded."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.core.config import EarshotSettings, Target
from monitor.core.db import make_engine
from monitor.core.models import CrawlRun, StageRun, utcnow
from monitor.demo_source import DemoSource
from monitor.pipeline import TextScorer
from monitor.scheduler import CRAWL_EXECUTOR, _guarded, build_scheduler


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)


def test_one_crawl_job_per_source_with_work_on_its_own_interval(
    tmp_path: Path, scorer: TextScorer, sqlite_engine: Engine
) -> None:
    settings = EarshotSettings(
        data_dir=tmp_path,
        targets=[
            Target(
                name="S",
                feeds=["https://example.com/feed.xml"],
                place_ids=["ChIJ1"],
                google_location_ids=["1"],
            )
        ],
        sources={"google_places": {"api_key": "key"}, "rss": {"interval_minutes": 5}},
        schedule={"crawl_minutes": 45, "crawl_jitter_seconds": 17, "score_minutes": 2, "alerts_minutes": 1},
    )
    sched = build_scheduler(settings, sqlite_engine, scorer)
    jobs = {job.id: job for job in sched.get_jobs()}
    # google_business has no token and ceneo etc. no target: no job, and no crawl process started for them.
    assert set(jobs) == {"score", "alerts", "digest", "crawl:google_places", "crawl:rss"}
    # The weekly digest: Mondays 08:00 in Warsaw (the default), whatever the server's time zone.
    assert str(jobs["digest"].trigger) == "cron[day_of_week='mon', hour='8', minute='0']"
    assert str(jobs["digest"].trigger.timezone) == "Europe/Warsaw"
    assert jobs["crawl:rss"].trigger.interval == timedelta(minutes=5)
    assert jobs["crawl:google_places"].trigger.interval == timedelta(minutes=720)
    assert jobs["score"].trigger.interval == timedelta(minutes=2)
    assert {jobs[j].trigger.jitter for j in ("crawl:rss", "crawl:google_places")} == {17}
    assert jobs["score"].trigger.jitter is None and jobs["alerts"].trigger.jitter is None
    assert {jobs[j].executor for j in jobs} == {CRAWL_EXECUTOR, "default"}
    assert jobs["crawl:rss"].executor == CRAWL_EXECUTOR and jobs["score"].executor == "default"
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
    assert jobs["digest"].executor == "default"


def _runs(engine: Engine, spider: str) -> list[CrawlRun]:
    with Session(engine) as s:
        return list(s.exec(select(CrawlRun).where(CrawlRun.spider == spider).order_by(col(CrawlRun.id))))


def test_each_source_is_crawled_on_its_own_schedule(tmp_path: Path, scorer: TextScorer) -> None:
    with DemoSource(sources=["rss", "hackernews"]) as demo:
        settings = demo.configure(EarshotSettings(data_dir=tmp_path))
        settings = settings.model_copy(
            update={
                "sources": settings.sources.model_copy(
                    update={
                        "rss": settings.sources.rss.model_copy(update={"interval_minutes": 0.05}),
                        "hackernews": settings.sources.hackernews.model_copy(update={"interval_minutes": 60}),
                    }
                ),
                "schedule": settings.schedule.model_copy(update={"crawl_jitter_seconds": 0}),
            }
        )
        engine = make_engine(settings.effective_database_url)
        sched = build_scheduler(settings, engine, scorer)
        sched.start()
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and len([r for r in _runs(engine, "rss") if r.finished_at]) < 3:
                time.sleep(0.5)
        finally:
            sched.shutdown(wait=True)
    rss, hackernews = _runs(engine, "rss"), _runs(engine, "hackernews")
    assert len(rss) >= 3, "the 3-second rss job ran again and again"
    assert len(hackernews) == 1, "the hourly hackernews job ran once"
    assert all(r.finish_reason == "finished" for r in rss + hackernews)
    assert [r.items_new for r in rss[:2]] == [6, 0]  # the second run found nothing new
    for earlier, later in pairwise(rss):  # one instance at a time
        assert earlier.finished_at is not None and later.started_at >= earlier.finished_at
    with Session(engine) as s:
        checks = s.exec(select(StageRun).where(StageRun.stage == "source_health")).all()
    assert len(checks) == len(rss) + len(hackernews), "every crawl was followed by a health check"
    engine.dispose()


def test_a_failing_job_is_recorded_and_the_scheduler_goes_on(sqlite_engine: Engine) -> None:
    calls: list[int] = []
    done = threading.Event()

    def flaky() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError(f"boom {len(calls)}")
        if len(calls) >= 4:
            done.set()

    sched = BackgroundScheduler(timezone="UTC")
    sched.add_job(_guarded("crawl:flaky", sqlite_engine, flaky), "interval", seconds=0.2, max_instances=1)
    sched.start()
    try:
        assert done.wait(30), "the job stopped being run after it failed"
    finally:
        sched.shutdown(wait=True)
    with Session(sqlite_engine) as s:
        failed = s.exec(
            select(StageRun).where(StageRun.stage == "crawl:flaky").order_by(col(StageRun.id))
        ).all()
    assert [r.error for r in failed] == ["RuntimeError: boom 1", "RuntimeError: boom 2"]
    assert all(r.finished_at is not None for r in failed)


def test_a_kick_while_idle_runs_the_job_now_and_while_running_runs_it_once_more() -> None:
    """The event chain's building block: kicks never run a job twice at once and never get lost."""
    from monitor.scheduler import Kick

    entered, release = threading.Event(), threading.Event()
    passes: list[float] = []

    def work() -> int:
        passes.append(time.monotonic())
        if len(passes) == 1:
            entered.set()
            release.wait(10)
        return len(passes)

    kick = Kick("work", work)
    sched = BackgroundScheduler(timezone="UTC")
    sched.add_job(kick, "interval", minutes=60, id="work", max_instances=1, coalesce=True)
    kick.scheduler = sched
    sched.start()
    try:
        kick.kick()  # idle: runs now, not in an hour
        assert entered.wait(10), "a kick moved the hourly job to now"
        kick.kick()  # three kicks while it runs: one more pass, not three, and none skipped
        kick.kick()
        kick.kick()
        release.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(passes) < 2:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        sched.shutdown(wait=True)
    assert len(passes) == 2 and kick.kicks == 4


def test_a_crawl_that_stores_items_scores_and_alerts_at_once(tmp_path: Path, scorer: TextScorer) -> None:
    """Event-driven stages: score and alert passes follow the crawl in seconds, not after their hour."""
    with DemoSource(sources=["rss"]) as demo:
        settings = demo.configure(EarshotSettings(data_dir=tmp_path))
        settings = settings.model_copy(
            update={
                "schedule": settings.schedule.model_copy(
                    update={"crawl_jitter_seconds": 0, "score_minutes": 60, "alerts_minutes": 60}
                ),
            }
        )
        engine = make_engine(settings.effective_database_url)
        sched = build_scheduler(settings, engine, scorer)
        for job in sched.get_jobs():  # the stages' first runs an hour away: only the chain can start them
            if job.id in ("score", "alerts", "digest"):
                job.modify(next_run_time=utcnow() + timedelta(hours=1))
        sched.start()
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not _stage_runs(engine, "alerts"):
                time.sleep(0.2)
        finally:
            sched.shutdown(wait=True)
    crawl = [r for r in _runs(engine, "rss") if r.finished_at]
    scores, alert_passes = _stage_runs(engine, "score"), _stage_runs(engine, "alerts")
    assert crawl and crawl[0].items_new == 6
    assert scores and scores[0].counts["scored"] == 6, "the crawl's items were scored by the kicked pass"
    assert alert_passes, "the score pass kicked the alert pass"
    assert crawl[0].finished_at is not None and alert_passes[0].started_at >= crawl[0].finished_at
    engine.dispose()


def _stage_runs(engine: Engine, stage: str) -> list[StageRun]:
    with Session(engine) as s:
        return list(s.exec(select(StageRun).where(StageRun.stage == stage).order_by(col(StageRun.id))))
