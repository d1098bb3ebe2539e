"""The alert outbox: decide once, store the decision, then deliver it at most once to Slack.

Each step is safe to re-run and to run concurrently, and :func:`run_alerts` runs them in order as one
scheduler tick:

``check_storms`` (:mod:`alerts.storms`), ``enqueue_alerts`` (:mod:`alerts.enqueue`), ``escalate_overdue``
    (:mod:`alerts.sla`) decide what to say and store one ``Alert`` row per decision under a unique
    ``dedupe_key`` (:mod:`alerts.idempotent`); the unique key, not a prior SELECT, is what stops a
    second row.

``deliver_pending`` (here)
    Sends due alerts, each with the crash-safe claim / tag / look-before-re-posting protocol of
    :mod:`alerts.delivery`. A pass stops at the first rate limit or outage so one bad minute does not
    burn every alert's attempts, skips a channel Slack refuses, and picks up thread replies whose parent
    landed in the same pass. Every pass is recorded with its counts as a ``StageRun(stage="alerts")``.

``sync_updates`` (:mod:`alerts.message_sync`)
    Re-renders delivered messages whose handling state changed (``state_version > synced_version``)
    with ``chat.update``; idempotent, so retrying after a crash or outage is safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from alerts.alert_message import get_alert
from alerts.delivery import DEFAULT_INLINE_RETRY_SECONDS, DeliveryPass, NextStep, deliver_one
from alerts.enqueue import enqueue_alerts
from alerts.message_sync import sync_updates
from alerts.sla import escalate_overdue
from alerts.slack_sender import AlertSender
from alerts.storms import check_storms
from monitor.core.backoff import DEFAULT_JITTER
from monitor.core.config import EarshotSettings
from monitor.core.db import session_scope
from monitor.core.models import Alert, AlertStatus, StageRun
from monitor.core.timeutil import utcnow

__all__ = ["DELIVERY_COUNTS", "STAGE", "deliver_pending", "requeue_failed", "run_alerts"]

logger = logging.getLogger(__name__)

STAGE = "alerts"
DELIVERY_COUNTS = ("sent", "retried", "failed", "recovered", "printed", "ratelimited", "throttled")


def due_alert_ids(engine: Engine, now: datetime, limit: int, channel: str | None = None) -> list[int]:
    """Pending alerts whose time has come, and ``sending`` ones whose lease ran out (a crashed run).

    A thread reply waits for its parent message: it is due once the parent was delivered (or failed,
    in which case it is posted on its own). ``channel`` keeps one channel's (the distributed deliverer
    holds one channel's lock at a time).
    """
    parent = aliased(Alert)
    settled = [AlertStatus.SENT, AlertStatus.PRINTED, AlertStatus.FAILED]
    stmt = (
        select(Alert.id)
        .outerjoin(parent, col(parent.id) == col(Alert.parent_id))
        .where(col(Alert.status).in_([AlertStatus.PENDING, AlertStatus.SENDING]))
        .where(or_(col(Alert.next_attempt_at).is_(None), col(Alert.next_attempt_at) <= now))
        .where(or_(col(Alert.parent_id).is_(None), col(parent.status).in_(settled)))
        .order_by(col(Alert.created_at), col(Alert.id))
        .limit(limit)
    )
    if channel is not None:
        stmt = stmt.where(Alert.channel == channel)
    with Session(engine) as session:
        return [i for i in session.exec(stmt).all() if i is not None]


def _start_stage_run(engine: Engine, now: datetime) -> int:
    with session_scope(engine) as session:
        run = StageRun(stage=STAGE, started_at=now, counts={})
        session.add(run)
        session.flush()
        return run.id or 0


def _finish_stage_run(
    engine: Engine, run_id: int, counts: dict[str, int], now: datetime, error: str | None
) -> None:
    with session_scope(engine) as session:
        run = session.get(StageRun, run_id)
        if run is None:
            logger.error("stage run %s vanished before it could be finished; counts were %s", run_id, counts)
            return
        run.finished_at = now
        run.counts = dict(counts)
        run.error = error
        session.add(run)


def _deliver_due(ctx: DeliveryPass, batch_size: int) -> None:
    """Deliver what is due; thread replies whose parent landed in this pass are picked up in a second round."""
    skipped_channels: set[str] = set()
    seen: set[int] = set()
    for _round in range(3):
        fresh = [i for i in due_alert_ids(ctx.engine, ctx.clock(), batch_size) if i not in seen]
        if not fresh:
            return
        for alert_id in fresh:
            seen.add(alert_id)
            alert = get_alert(ctx.engine, alert_id)
            if alert is None or alert.status not in (AlertStatus.PENDING, AlertStatus.SENDING):
                continue
            if alert.channel in skipped_channels:
                continue
            step = deliver_one(ctx, alert)
            if step is NextStep.STOP:
                logger.info("alerts: stopping this pass early; the remaining alerts wait for the next one")
                return
            if step is NextStep.SKIP_CHANNEL:
                skipped_channels.add(alert.channel)


def deliver_pending(
    engine: Engine,
    settings: EarshotSettings,
    sender: AlertSender,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    inline_retry_max_seconds: float = DEFAULT_INLINE_RETRY_SECONDS,
    batch_size: int = 100,
    monotonic: Callable[[], float] = time.monotonic,
    backoff_jitter: float = DEFAULT_JITTER,
) -> dict[str, int]:
    """Deliver due alerts once each; see :mod:`alerts.delivery` for the protocol.

    ``clock`` (aware UTC, like ``utcnow``) and ``sleep`` are injectable for tests; a rate limit whose
    ``Retry-After`` is at most ``inline_retry_max_seconds`` is slept off and retried once in this run.
    ``backoff_jitter`` is the random share added to an outage's backoff (0: the plain doubling).
    Returns counts ``sent``, ``retried``, ``failed``, ``recovered``, ``printed``, ``ratelimited``,
    ``throttled``, also stored in a ``StageRun``.
    """
    counts = dict.fromkeys(DELIVERY_COUNTS, 0)
    ctx = DeliveryPass(
        engine,
        settings,
        sender,
        clock,
        sleep,
        inline_retry_max=max(0.0, inline_retry_max_seconds),
        counts=counts,
        monotonic=monotonic,
        backoff_jitter=backoff_jitter,
    )
    run_id = _start_stage_run(engine, clock())
    try:
        _deliver_due(ctx, batch_size)
    except Exception as exc:
        _finish_stage_run(engine, run_id, counts, clock(), ctx.redact(f"{type(exc).__name__}: {exc}"))
        raise
    _finish_stage_run(engine, run_id, counts, clock(), None)
    if any(counts.values()):
        logger.info("alerts delivered: %s", counts)
    return counts


def run_alerts(
    engine: Engine, settings: EarshotSettings, sender: AlertSender, **kwargs: Any
) -> dict[str, int]:
    """One scheduler tick: queue (rules, storms, SLA), deliver, then sync changed messages; merged counts."""
    now = kwargs.get("clock", utcnow)()
    counts: dict[str, int] = {}
    if settings.alerts.storm.enabled:  # first, so a burst scored since the last pass is folded into its storm
        counts.update({f"storm_{k}": v for k, v in check_storms(engine, settings, now).items()})
    counts.update(enqueue_alerts(engine, settings, now=now))
    counts.update(escalate_overdue(engine, settings, now))
    counts.update(deliver_pending(engine, settings, sender, **kwargs))
    counts.update(sync_updates(engine, settings, sender))
    return counts


def requeue_failed(
    engine: Engine, alert_ids: Iterable[int] | None = None, *, clock: Callable[[], datetime] = utcnow
) -> int:
    """Give failed alerts (all, or the given ids) a fresh set of attempts after the cause was fixed.

    Attempts restart at zero, so the first new attempt posts without a history lookup: requeue alerts
    that failed on a permanent error (bad channel, token, scope), which Slack never accepted.
    """
    stmt = update(Alert).where(col(Alert.status) == AlertStatus.FAILED)
    if alert_ids is not None:
        stmt = stmt.where(col(Alert.id).in_(list(alert_ids)))
    with engine.begin() as conn:
        result = conn.execute(stmt.values(status=AlertStatus.PENDING, attempts=0, next_attempt_at=clock()))
    return int(result.rowcount or 0)
