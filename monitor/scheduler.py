"""`earshot run`: the stages on an APScheduler schedule until Ctrl-C or SIGTERM.

Each stage is its own job (one instance at a time, missed runs coalesced), so a slow crawl
never blocks alert delivery, and a failing stage is logged and recorded without stopping the rest.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from monitor.config import EarshotSettings
from monitor.db import make_engine
from monitor.models import utcnow
from monitor.pipeline import (
    StageReport,
    TextScorer,
    load_scorer,
    record_stage,
    run_alerts,
    run_crawls,
    score_pending,
)

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


def build_scheduler(settings: EarshotSettings, engine: Engine, scorer: TextScorer) -> BackgroundScheduler:
    """A scheduler with one job per stage, first runs staggered a few seconds apart."""
    sched = BackgroundScheduler(executors={"default": ThreadPoolExecutor(3)}, timezone="UTC")
    now = utcnow()
    cfg = settings.schedule
    jobs: list[tuple[str, float, Callable[[], object]]] = [
        ("crawl", cfg.crawl_minutes, lambda: run_crawls(settings)),
        (
            "score",
            cfg.score_minutes,
            lambda: score_pending(engine, scorer, batch_size=settings.sentiment.batch_size),
        ),
        ("alerts", cfg.alerts_minutes, lambda: run_alerts(engine, settings)),
    ]
    for i, (name, minutes, fn) in enumerate(jobs):
        sched.add_job(
            _guarded(name, engine, fn),
            "interval",
            minutes=minutes,
            id=name,
            max_instances=1,
            coalesce=True,
            next_run_time=now + timedelta(seconds=2 * i),
            misfire_grace_time=int(minutes * 60),
        )
    return sched


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
    stop.wait()
    sched.shutdown(wait=True)
    log.info("earshot stopped cleanly")
    return 0
