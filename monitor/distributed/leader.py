"""`earshot scheduler`: APScheduler 3 that only enqueues, with one active scheduler elected by PostgreSQL.

Run two (or more) for availability. Each holds a connection of its own and tries the session-level
advisory lock ``(LOCK_CLASS, key(prefix, "scheduler"))`` every ``distributed.leader_poll_seconds``; the
one that has it runs the schedule, the others stand by. The lock needs no lease to expire: when the
leader dies, its connection closes (at once for a killed process; within the TCP keepalive below for a
lost machine) and PostgreSQL releases the lock, so a standby takes over within one poll interval plus
that. The leader checks its lock connection every poll too; if it broke, it stops enqueueing and stands
by. For a moment two may enqueue (the old leader's check is still pending); the tasks are idempotent,
so that costs only a duplicate message.

The jobs (one crawl per source on its own interval with jitter, score, alerts, the weekly digest) live
in the ``earshot_scheduler_jobs`` table (APScheduler's SQLAlchemy job store), so a new leader keeps
the old one's next run times: a crawl that fell due while nobody led runs at once, not an interval late.

The leader also looks for stalled stages every ``distributed.stall_check_seconds``, in its own loop (not
as a stored job: the job store would have to pickle the settings, secrets included), and turns a stall into
an outbox alert (:mod:`monitor.distributed.stalls`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from datetime import timedelta
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine
from monitor.core.timeutil import utcnow
from monitor.distributed.celery_app import configure, require_postgres, safe_broker
from monitor.distributed.delivery import LOCK_CLASS, lock_key
from spiders.catalogue import source_catalogue

log = logging.getLogger(__name__)

JOBS_TABLE = "earshot_scheduler_jobs"
APP_NAME = "earshot-scheduler"
STAGGER_SECONDS = 2
# libpq keepalives: a leader whose machine vanished is seen as gone in about idle + interval * count seconds.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def scheduler_lock_key(settings: EarshotSettings) -> int:
    return lock_key("scheduler", settings.distributed.queue_prefix)


class SchedulerLock:
    """The advisory lock that makes one scheduler active, on a connection that is only used for it."""

    def __init__(self, settings: EarshotSettings) -> None:
        self.key = scheduler_lock_key(settings)
        self.identity = f"{APP_NAME} {socket.gethostname()}:{os.getpid()}"
        self._engine: Engine = create_engine(
            require_postgres(settings),
            poolclass=NullPool,
            connect_args={**KEEPALIVES, "application_name": self.identity[:63], "connect_timeout": 5},
        )
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        """True once this process holds the lock (a connection failure is logged: stay standby)."""
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            got = bool(self._conn.execute(select(func.pg_try_advisory_lock(LOCK_CLASS, self.key))).scalar())
            self._conn.commit()
            return got
        except DBAPIError as exc:
            log.warning("scheduler lock: PostgreSQL unreachable (%s); standing by", type(exc).__name__)
            self._drop()
            return False

    def still_held(self) -> bool:
        """Whether the lock connection is alive and PostgreSQL still lists the lock as ours."""
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                    "AND classid = :c AND objid = :o AND objsubid = 2 AND granted"
                ),
                {"c": LOCK_CLASS, "o": self.key & 0xFFFFFFFF},
            ).scalar()
            self._conn.commit()
            return bool(held)
        except DBAPIError as exc:
            log.error("scheduler lock: lost the connection (%s); stopping enqueueing", type(exc).__name__)
            self._drop()
            return False

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except DBAPIError:
                log.debug("scheduler lock: closing a broken connection failed", exc_info=True)
            self._conn = None

    def release(self) -> None:
        """Close the connection (which frees the lock): a standby takes over at its next poll."""
        if self._conn is not None:
            try:
                self._conn.execute(select(func.pg_advisory_unlock(LOCK_CLASS, self.key)))
                self._conn.commit()
            except DBAPIError as exc:
                log.warning("scheduler lock: release failed (%s); closing frees it", type(exc).__name__)
            self._drop()
        self._engine.dispose()


def enqueue_job(stage: str, arg: str | None = None) -> None:
    """An APScheduler job: send the stage's task (the scheduler never runs a stage itself)."""
    from monitor.distributed.tasks import enqueue

    enqueue(stage, arg)
    log.info("enqueued %s%s", stage, f" {arg}" if arg else "")


def _job_specs(settings: EarshotSettings) -> list[tuple[str, str, str | None, float]]:
    """(job id, stage, argument, minutes) for every interval job the configuration asks for."""
    cfg = settings.schedule
    specs: list[tuple[str, str, str | None, float]] = [
        ("score", "score", None, cfg.score_minutes),
        ("alerts", "alerts", None, cfg.alerts_minutes),
    ]
    idle = []
    for info in source_catalogue(settings):
        if info.runnable:
            specs.append((f"crawl:{info.name}", "crawl", info.name, info.interval_minutes))
        else:
            idle.append(info.name)
    if idle:
        log.info("not scheduling %d source(s) with nothing to do: %s", len(idle), ", ".join(idle))
    return specs


def sync_jobs(sched: BackgroundScheduler, settings: EarshotSettings) -> list[str]:
    """Make the stored jobs match the configuration; an existing job keeps its next run time."""
    now = utcnow()
    wanted: list[str] = []
    for i, (job_id, stage, arg, minutes) in enumerate(_job_specs(settings)):
        existing = sched.get_job(job_id)
        jitter = settings.schedule.crawl_jitter_seconds if stage == "crawl" else 0
        sched.add_job(
            enqueue_job,
            "interval",
            args=[stage, arg],
            minutes=minutes,
            jitter=jitter or None,
            id=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(minutes * 60)),
            next_run_time=(
                existing.next_run_time
                if existing is not None and existing.next_run_time is not None
                else now + timedelta(seconds=STAGGER_SECONDS * i)
            ),
        )
        wanted.append(job_id)
    if settings.digest.enabled:
        hour, minute = (int(x) for x in settings.digest.time.split(":"))
        sched.add_job(
            enqueue_job,
            "cron",
            args=["digest", None],
            day_of_week=settings.digest.weekday,
            hour=hour,
            minute=minute,
            timezone=settings.digest.timezone,
            id="digest",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=6 * 3600,
        )
        wanted.append("digest")
    for job in sched.get_jobs():
        if job.id not in wanted:
            log.info("removing job %s: no longer configured", job.id)
            job.remove()
    return wanted


def evaluate_stalls(engine: Engine, settings: EarshotSettings) -> dict[str, int]:
    """The leader's stall check: stall / recovery alerts into the outbox, then an alert pass to post them.

    A database error is logged and counted as ``errors`` (the check runs again next interval); the
    scheduler keeps leading, since enqueueing the stages is what ends most stalls.
    """
    from monitor.distributed.stalls import check_stalls

    try:
        counts = check_stalls(engine, settings)
    except DBAPIError as exc:
        log.warning(
            "stall check failed (%s); trying again in %ss",
            type(exc).__name__,
            settings.distributed.stall_check_seconds,
        )
        return {"errors": 1}
    if counts["opened"] or counts["recovered"]:
        log.warning("stall check: %s", counts)
        enqueue_job("alerts")
    return counts


def _start_schedule(settings: EarshotSettings, engine: Engine) -> BackgroundScheduler:
    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(2)},
        timezone="UTC",
    )
    sched.start(paused=True)
    jobs = sync_jobs(sched, settings)
    sched.resume()
    log.info("active scheduler: %d job(s): %s", len(jobs), ", ".join(jobs))
    return sched


def run_scheduler(settings: EarshotSettings, stop: threading.Event | None = None) -> int:
    """Stand by or lead until SIGTERM/SIGINT (or ``stop``); returns the exit code."""
    configure(settings)
    engine = make_engine(require_postgres(settings))
    stop = stop or threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    lock = SchedulerLock(settings)
    poll = settings.distributed.leader_poll_seconds
    log.info(
        "earshot scheduler %s: broker %s; standing by for the lock", lock.identity, safe_broker(settings)
    )
    sched: BackgroundScheduler | None = None
    next_stall_check = 0.0
    try:
        while not stop.is_set():
            if sched is None:
                if lock.try_acquire():
                    log.info("%s is now the active scheduler", lock.identity)
                    sched = _start_schedule(settings, engine)
            elif not lock.still_held():
                sched.shutdown(wait=False)
                sched = None
                log.warning("%s is standing by again", lock.identity)
            if sched is not None and time.monotonic() >= next_stall_check:
                next_stall_check = time.monotonic() + settings.distributed.stall_check_seconds
                evaluate_stalls(engine, settings)
            stop.wait(min(poll, settings.distributed.stall_check_seconds))
    finally:
        if sched is not None:
            sched.shutdown(wait=True)
        lock.release()
        engine.dispose()
    log.info("earshot scheduler stopped")
    return 0
