"""`earshot run`: the stages on an APScheduler schedule until Ctrl-C or SIGTERM.

Each source's crawl is its own job, on the source's own interval (``sources.<name>.interval_minutes``,
else ``schedule.crawl_minutes``) with up to ``schedule.crawl_jitter_seconds`` of random delay, so sources
do not hit the network in lockstep; scoring and alert delivery are jobs of their own, in a separate
thread pool, so a slow crawl never delays an alert. Every job runs one instance at a time with missed
runs coalesced, and a failing job is logged and recorded as a failed stage run without stopping the rest.
The stages are also chained by events (:class:`Kick`): a crawl that stored something starts the score job
at once, and a score pass that scored something starts the alert job, so an alert is posted seconds after
the crawl that found its item; the intervals stay as a safety net for anything an event missed.
Beside the jobs runs one web server (:func:`monitor.slack_app.start_app`): the pages and Slack's
``POST /slack/interactivity`` on ``web.host:port``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine
from monitor.core.models import utcnow
from monitor.crawl_report import crawl_lines
from monitor.pipeline import (
    CrawlPass,
    StageReport,
    TextScorer,
    load_scorer,
    record_stage,
    run_alerts,
    run_crawls,
    score_pending,
)
from monitor.slack_app import start_app
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


class Kick:
    """Run a scheduled job now, from another job; the job's interval stays as a safety net.

    Why not just ``modify_job(next_run_time=now)``: a job already running (``max_instances=1``) would
    skip that run with a warning, and the items stored after its pass read its batch would wait a whole
    interval. So a kick while the job runs marks it to go round once more, and a kick while it is idle
    moves its next run to now.
    """

    def __init__(self, job_id: str, fn: Callable[[], object]) -> None:
        self.job_id = job_id
        self._fn = fn
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self.scheduler: BackgroundScheduler | None = None
        self.kicks = 0  # counted, so a test (and a reader of the log) can see the chain work

    def __call__(self) -> object:
        with self._lock:
            self._running = True
        try:
            while True:
                result = self._fn()
                with self._lock:
                    if not self._again:
                        self._running = False
                        return result
                    self._again = False
        except BaseException:
            with self._lock:
                self._running = self._again = False
            raise

    def kick(self) -> None:
        with self._lock:
            self.kicks += 1
            if self._running:
                self._again = True
                return
        if self.scheduler is not None and self.scheduler.running:
            job = self.scheduler.get_job(self.job_id)
            if job is not None:
                job.modify(next_run_time=utcnow())


def _stored_something(result: CrawlPass) -> bool:
    """A crawl pass that stored a new or changed item (what the score job would have to read)."""
    return any(s.items_new or s.items_updated for s in result.summaries.values())


def _queued_health(result: CrawlPass) -> bool:
    """A crawl pass whose health check queued a source-health alert (or a recovery) to post."""
    return bool(result.health.counts.get("opened") or result.health.counts.get("recovered"))


CRAWL_EXECUTOR = "crawls"
CRAWL_WORKERS = 2  # crawls at once (each a child process); the score and alert jobs have their own pool
STAGGER_SECONDS = 2  # first runs start this far apart, so `earshot run` does not start everything at once


def _crawl_job(
    settings: EarshotSettings, source: str, score: Kick | None = None, alerts: Kick | None = None
) -> Callable[[], object]:
    def job() -> object:
        result = run_crawls(settings, [source])
        for line in crawl_lines(result, settings.console_language):  # the lines `earshot crawl` prints
            log.info("crawl: %s", line)
        if score is not None and _stored_something(result):
            score.kick()
        if alerts is not None and _queued_health(result):
            alerts.kick()
        return result

    return job


def crawl_jobs(
    settings: EarshotSettings,
    sources: Sequence[SourceInfo],
    score: Kick | None = None,
    alerts: Kick | None = None,
) -> list[tuple[str, float, Callable[[], object]]]:
    """(job id, minutes, function) for each source that has work: its own interval, one crawl at a time."""
    return [
        (f"crawl:{s.name}", s.interval_minutes, _crawl_job(settings, s.name, score, alerts))
        for s in sources
        if s.runnable
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
    alerts = Kick("alerts", lambda: run_alerts(engine, settings))

    def score_then_alert() -> object:
        report = score_pending(engine, scorer, batch_size=settings.sentiment.batch_size)
        if report.counts.get("scored") and cfg.event_driven:
            alerts.kick()
        return report

    score = Kick("score", score_then_alert)
    stage_jobs: list[tuple[str, float, Callable[[], object]]] = [
        ("score", cfg.score_minutes, score),
        ("alerts", cfg.alerts_minutes, alerts),
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
    chained = (score, alerts) if cfg.event_driven else (None, None)
    for i, (name, minutes, fn) in enumerate([*stage_jobs, *crawl_jobs(settings, catalogue, *chained)]):
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
    score.scheduler = alerts.scheduler = sched
    return sched


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
    # One server, the pages and POST /slack/interactivity, started first: a taken port ends the run before
    # anything is scheduled (InteractivityError, which `earshot run` prints).
    served = start_app(settings, engine)
    if served is not None and served.mode:
        log.info("Slack interactivity (%s): %s", served.mode, served.address)
    sched = build_scheduler(settings, engine, scorer)
    sched.start()
    log.info("earshot running: %s", ", ".join(f"{j.id} every {j.trigger}" for j in sched.get_jobs()))
    stop.wait()
    sched.pause()  # no new submissions while the executors shut down (APScheduler would log errors)
    if served is not None:
        served.stop()
    sched.shutdown(wait=True)
    log.info("earshot stopped cleanly")
    return 0
