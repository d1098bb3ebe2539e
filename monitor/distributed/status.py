"""`earshot status`: is the distributed service healthy? Workers, queue depths, backlog age, the scheduler.

Everything is read from where it is true: workers answer a broadcast ping on the control exchange (a
dead one simply does not answer), queue depths come from the broker (a passive declare: messages ready
and consumers), the oldest unprocessed item of each stage from PostgreSQL, and the active scheduler
from ``pg_locks`` (who holds its advisory lock, with the name it connected under). A stage is stalled
when its oldest unprocessed item is older than its threshold (``distributed.*_stall_minutes``).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from amqp.exceptions import NotFound
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import and_, func, or_, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine
from monitor.core.i18n import format_datetime, gettext
from monitor.core.models import Alert, AlertStatus, Mention, SentimentScore
from monitor.core.timeutil import as_utc, utcnow
from monitor.distributed.celery_app import STAGES, configure, queue_name, require_postgres
from monitor.distributed.delivery import LOCK_CLASS, lock_key

log = logging.getLogger(__name__)


@dataclass
class QueueDepth:
    stage: str
    queue: str
    ready: int | None  # None: the broker did not answer, or the queue does not exist yet
    consumers: int | None


@dataclass
class Backlog:
    stage: str
    oldest: datetime | None  # the oldest item waiting for this stage
    waiting: int
    stalled: bool


@dataclass
class ClusterStatus:
    workers: dict[str, list[str]] = field(default_factory=dict)  # node -> queues it consumes
    queues: list[QueueDepth] = field(default_factory=list)
    backlog: list[Backlog] = field(default_factory=list)
    scheduler: str | None = None  # "earshot-scheduler host:pid", or None when no scheduler is active
    broker_error: str | None = None

    @property
    def stalled(self) -> bool:
        return any(b.stalled for b in self.backlog) or self.scheduler is None or not self.workers

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stalled": self.stalled}


def _workers(settings: EarshotSettings, timeout: float) -> dict[str, list[str]]:
    app = configure(settings)
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return {node: sorted(q["name"] for q in queues) for node, queues in sorted(replies.items())}


def _depths(settings: EarshotSettings) -> list[QueueDepth]:
    app = configure(settings)
    prefix = settings.distributed.queue_prefix
    out = []
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1)
        for stage in STAGES:
            name = queue_name(prefix, stage)
            channel = conn.channel()
            try:
                _, ready, consumers = channel.queue_declare(queue=name, passive=True)
                out.append(QueueDepth(stage, name, int(ready), int(consumers)))
            except NotFound:
                out.append(QueueDepth(stage, name, None, None))
            finally:
                try:
                    channel.close()
                except (OSError, KombuOperationalError):
                    log.debug("closing the channel of %s failed", name, exc_info=True)
    return out


def backlog(engine: Engine, settings: EarshotSettings, now: datetime | None = None) -> list[Backlog]:
    """The oldest mention waiting for a score, and the oldest alert due and not posted."""
    now = now or utcnow()
    cfg = settings.distributed
    unscored = (
        select(func.min(Mention.first_seen_at), func.count())
        .select_from(Mention)
        .outerjoin(
            SentimentScore,
            and_(
                col(SentimentScore.mention_id) == col(Mention.id),
                col(SentimentScore.mention_version) == col(Mention.version),
            ),
        )
        .where(col(SentimentScore.id).is_(None))
    )
    due = (
        select(func.min(func.coalesce(Alert.next_attempt_at, Alert.created_at)), func.count())
        .select_from(Alert)
        .where(col(Alert.status).in_([AlertStatus.PENDING, AlertStatus.SENDING]))
        .where(or_(col(Alert.next_attempt_at).is_(None), col(Alert.next_attempt_at) <= now))
    )
    rows = []
    with Session(engine) as session:
        for stage, stmt, limit in (
            ("score", unscored, cfg.score_stall_minutes),
            ("alerts", due, cfg.alerts_stall_minutes),
        ):
            oldest_raw, waiting = session.exec(stmt).one()
            oldest = as_utc(oldest_raw)
            stalled = oldest is not None and now - oldest > timedelta(minutes=limit)
            rows.append(Backlog(stage, oldest, int(waiting), stalled))
    return rows


def active_scheduler(engine: Engine, settings: EarshotSettings) -> str | None:
    """Who holds the scheduler lock (the name its connection gave), or None."""
    stmt = text(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.classid = :c AND l.objid = :o AND l.objsubid = 2 AND l.granted"
    )
    with engine.connect() as conn:
        row = conn.execute(
            stmt,
            {"c": LOCK_CLASS, "o": lock_key("scheduler", settings.distributed.queue_prefix) & 0xFFFFFFFF},
        ).first()
    return str(row[0]) if row is not None else None


def collect_status(
    settings: EarshotSettings, timeout: float = 1.0, engine: Engine | None = None
) -> ClusterStatus:
    """Everything `earshot status` shows; ``engine``: an open one to use (the web app's), else one made here."""
    own = engine is None
    db = make_engine(require_postgres(settings)) if engine is None else engine
    status = ClusterStatus()
    try:
        status.backlog = backlog(db, settings)
        status.scheduler = active_scheduler(db, settings)
    finally:
        if own:
            db.dispose()
    try:
        status.queues = _depths(settings)
        status.workers = _workers(settings, timeout)
    except (OSError, KombuOperationalError) as exc:
        status.broker_error = f"{type(exc).__name__}: {exc}"
    return status


# English msgids of the "cli" gettext domain (monitor/core/locale/pl/LC_MESSAGES/cli.po has the Polish).
_MSG = {
    "workers": "workers",
    "none": "none answered",
    "queues": "queues (ready / consumers)",
    "backlog": "oldest unprocessed",
    "nothing": "nothing waiting",
    "scheduler": "active scheduler",
    "no_scheduler": "none (start `earshot scheduler`)",
    "stalled": "STALLED",
    "broker": "broker unreachable",
    "waiting": "waiting",
}


def render_status(status: ClusterStatus, language: str = "en", timezone: str = "UTC") -> str:
    t = {key: gettext(language, "cli", msg) for key, msg in _MSG.items()}
    lines = [f"{t['workers']}: {len(status.workers) or t['none']}"]
    lines += [f"  {node}: {', '.join(queues)}" for node, queues in status.workers.items()]
    if status.broker_error:
        lines.append(f"{t['broker']}: {status.broker_error}")
    lines.append(f"{t['queues']}:")
    for q in status.queues:
        ready = "?" if q.ready is None else str(q.ready)
        consumers = "?" if q.consumers is None else str(q.consumers)
        lines.append(f"  {q.queue:<32} {ready:>6} / {consumers}")
    lines.append(f"{t['backlog']}:")
    for b in status.backlog:
        when = format_datetime(b.oldest, language, timezone) if b.oldest else t["nothing"]
        flag = f"  {t['stalled']}" if b.stalled else ""
        lines.append(f"  {b.stage:<8} {when} ({t['waiting']}: {b.waiting}){flag}")
    lines.append(f"{t['scheduler']}: {status.scheduler or t['no_scheduler']}")
    return "\n".join(lines)
