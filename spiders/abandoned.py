"""Crawl runs left open by a killed process are closed as ``crashed`` when the next crawl starts.

A crawl's ``crawl_runs`` row is closed by the crawl process when its spider closes, or by the runner that
started it when the process dies. When both are gone (``kill -9`` of the service and its crawl, a power
cut, an OOM kill of the whole group) nobody closes it: it would stay open forever and never count as a
failure. Every row therefore carries the pid and host of the process recording it; a row still open
whose process no longer exists on this host, or that is older than any crawl can run, is closed here as
finish reason ``crashed``, failure ``crashed``.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.core.db import session_scope
from monitor.core.models import CrawlRun
from monitor.core.timeutil import as_utc, utcnow

__all__ = ["AbandonedRun", "close_abandoned_runs", "process_alive", "this_host"]

log = logging.getLogger(__name__)

# Longer than any crawl may run (Scrapy's CLOSESPIDER_TIMEOUT is 1800 s; the runner's own timeout is
# shorter): a row open this long is dead even where its pid cannot be checked (another host, a reused pid).
STALE_AFTER = timedelta(hours=2)


def this_host() -> str:
    return socket.gethostname()[:255]


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie (killed, not yet reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    stat = Path(f"/proc/{pid}/stat")
    try:
        # "pid (comm) S ...": the state follows the last ')' (comm may contain spaces and parentheses).
        state = stat.read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(0) said it exists
    return state not in ("Z", "X")


@dataclass(frozen=True)
class AbandonedRun:
    """A run closed as crashed: which, since when, and why it was judged dead."""

    run_id: int
    spider: str
    started_at: datetime
    why: str


def _dead_because(run: CrawlRun, host: str, now: datetime) -> str | None:
    started = as_utc(run.started_at)
    if run.pid is not None and run.host == host:
        if not process_alive(run.pid):
            return f"its process (pid {run.pid}) was gone"
        if now - started > STALE_AFTER:
            return (
                f"it had been open since {started:%Y-%m-%d %H:%M} UTC (pid {run.pid} is another process now)"
            )
        return None
    if now - started > STALE_AFTER:
        where = f"on {run.host}" if run.host else "with no process recorded"
        return f"it had been open since {started:%Y-%m-%d %H:%M} UTC ({where})"
    return None


def close_abandoned_runs(engine: Engine, *, now: datetime | None = None) -> list[AbandonedRun]:
    """Close every open run whose process is gone as ``crashed``; the runs closed, oldest first.

    Safe beside running crawls: a run whose process is alive on this host is left alone, and one on
    another host only once it is older than any crawl can run.
    """
    now = now or utcnow()
    host = this_host()
    closed: list[AbandonedRun] = []
    with Session(engine) as session:
        open_ids = list(
            session.exec(
                select(CrawlRun.id).where(col(CrawlRun.finished_at).is_(None)).order_by(col(CrawlRun.id))
            ).all()
        )
    for run_id in open_ids:
        with session_scope(engine) as session:
            run = session.get(CrawlRun, run_id)
            if run is None or run.finished_at is not None:
                continue  # closed meanwhile by its own process
            why = _dead_because(run, host, now)
            if why is None:
                continue
            run.finished_at = now
            run.finish_reason = "crashed"
            run.failure = "crashed"
            run.failure_detail = (
                f"the crawl stopped mid-way and never closed its run: {why}; closed when the next crawl started"
            )[:500]
            run.stats = {**(run.stats or {}), "earshot/closed_as_abandoned": True}
            session.add(run)
            closed.append(AbandonedRun(run_id or 0, run.spider, as_utc(run.started_at), why))
    for done in closed:
        log.warning(
            "crawl run #%s (%s) was left open: %s; closed as crashed", done.run_id, done.spider, done.why
        )
    return closed
