"""`earshot run`: the stages on an APScheduler schedule until Ctrl-C or SIGTERM.

Each source's crawl is its own job, on the source's own interval (``sources.<name>.interval_minutes``,
else ``schedule.crawl_minutes``) with up to ``schedule.crawl_jitter_seconds`` of random delay, so sources
do not hit the network in lockstep; scoring and alert delivery are jobs of their own, in a separate
thread pool, so a slow crawl never delays an alert. Every job runs one instance at a time with missed
runs coalesced, and a failing job is logged and recorded as a failed stage run without stopping the rest.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine
from monitor.core.models import utcnow
from monitor.pipeline import (
    StageReport,
    TextScorer,
    load_scorer,
    record_stage,
    run_alerts,
    run_crawls,
    score_pending,
)
from monitor.slack_app import start_slack_app
from spiders.catalogue import SourceInfo, source_catalogue

log = logging.getLogger(__name__)


def _guarded(name: str, engine: Engine, fn: Callable[[], object]) -> Callable[[], None]:
    """Run a stage; on an unexpected error log the reason and record a failed stage run."""

    def job() -> None:
        started = utcnow()
        try:
            fn()
        except Exception as exc:  # a stage failure must not stop the scheduler; it is recorded
            log.exception("stage %s failed: %s", name, exc)
            record_stage(engine, StageReport(name, {}, error=f"{type(exc).__name__}: {exc}"), started)

    return job


CRAWL_EXECUTOR = "crawls"
CRAWL_WORKERS = 2  # crawls at once (each a child process); the score and alert jobs have their own pool
STAGGER_SECONDS = 2  # first runs start this far apart, so `earshot run` does not start everything at once


def _crawl_job(settings: EarshotSettings, source: str) -> Callable[[], object]:
    return lambda: run_crawls(settings, [source])


def crawl_jobs(
    settings: EarshotSettings, sources: Sequence[SourceInfo]
) -> list[tuple[str, float, Callable[[], object]]]:
    """(job id, minutes, function) for each source that has work: its own interval, one crawl at a time."""
    return [
        (f"crawl:{s.name}", s.interval_minutes, _crawl_job(settings, s.name)) for s in sources if s.runnable
    ]


def build_scheduler(
    settings: EarshotSettings,
    engine: Engine,
    scorer: TextScorer,
    sources: Sequence[SourceInfo] | None = None,
) -> BackgroundScheduler:
    """One crawl job per source with work (own interval, jittered start), plus the score and alerts jobs.

    ``sources`` defaults to the catalogue of ``settings``; sources without work get no job, and are logged.
    """
    catalogue = list(sources) if sources is not None else source_catalogue(settings)
    idle = [s for s in catalogue if not s.runnable]
    if idle:
        log.info(
            "not scheduling %d source(s) with nothing to do: %s",
            len(idle),
            "; ".join(f"{s.name} ({s.skip_reason})" for s in idle),
        )
    sched = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(2), CRAWL_EXECUTOR: ThreadPoolExecutor(CRAWL_WORKERS)},
        timezone="UTC",
    )
    now = utcnow()
    cfg = settings.schedule
    stage_jobs: list[tuple[str, float, Callable[[], object]]] = [
        (
            "score",
            cfg.score_minutes,
            lambda: score_pending(engine, scorer, batch_size=settings.sentiment.batch_size),
        ),
        ("alerts", cfg.alerts_minutes, lambda: run_alerts(engine, settings)),
    ]
    if settings.digest.enabled:
        hour, minute = (int(x) for x in settings.digest.time.split(":"))
        sched.add_job(
            _guarded("digest", engine, _digest_job(settings, engine)),
            "cron",
            day_of_week=settings.digest.weekday,
            hour=hour,
            minute=minute,
            timezone=settings.digest.timezone,
            id="digest",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=6 * 3600,  # a service restarted at 09:00 still sends Monday's digest
        )
    for i, (name, minutes, fn) in enumerate([*stage_jobs, *crawl_jobs(settings, catalogue)]):
        is_crawl = name.startswith("crawl:")
        sched.add_job(
            _guarded(name, engine, fn),
            "interval",
            minutes=minutes,
            jitter=cfg.crawl_jitter_seconds if is_crawl and cfg.crawl_jitter_seconds else None,
            id=name,
            executor=CRAWL_EXECUTOR if is_crawl else "default",
            max_instances=1,
            coalesce=True,
            next_run_time=now + timedelta(seconds=STAGGER_SECONDS * i),
            misfire_grace_time=max(1, int(minutes * 60)),
        )
    return sched


def _start_web(settings: EarshotSettings, engine: Engine) -> tuple[Any, threading.Thread] | None:
    """The web pages beside the scheduler, when enabled and sign-in is configured (else logged, not fatal)."""
    if not settings.web.enabled:
        return None
    from monitor.web.app import WebConfigError, serve_web

    try:
        server, thread = serve_web(settings, engine)
    except WebConfigError as exc:
        log.warning("web pages not started: %s", exc)
        return None
    log.info("web pages on http://%s:%s/", settings.web.host, settings.web.port)
    return server, thread


def _digest_job(settings: EarshotSettings, engine: Engine) -> Callable[[], object]:
    def job() -> object:
        from alerts.slack_sender import make_sender
        from monitor.digest.run import run_digest

        return run_digest(engine, settings, sender=make_sender(settings))

    return job


def run_forever(settings: EarshotSettings, stop: threading.Event | None = None) -> int:
    """Block until SIGINT/SIGTERM (or ``stop`` is set), then let running jobs finish and exit."""
    engine = make_engine(settings.effective_database_url)
    scorer = load_scorer(settings)
    stop = stop or threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping after running jobs finish", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    sched = build_scheduler(settings, engine, scorer)
    sched.start()
    log.info("earshot running: %s", ", ".join(f"{j.id} every {j.trigger}" for j in sched.get_jobs()))
    slack_app = start_slack_app(settings, engine)
    if slack_app is not None:
        log.info("Slack interactivity (%s): %s", slack_app.mode, slack_app.address)
    web = _start_web(settings, engine)
    stop.wait()
    sched.pause()  # no new submissions while the executors shut down (APScheduler would log errors)
    if slack_app is not None:
        slack_app.stop()
    if web is not None:
        from monitor.web.app import shutdown_web

        shutdown_web(*web)
    sched.shutdown(wait=True)
    log.info("earshot stopped cleanly")
    return 0
