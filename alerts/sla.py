"""Escalate alerts nobody handled within their response target, once.

An alert message whose severity has a response target (``alerts.sla``: 1 h for urgent, 24 h for
negative by default) and that is still unhandled when the target passes gets one reply in its thread and,
when a critical channel is configured and differs, one message there. The alert's ``escalated_at`` is
set in the same transaction that queues both, and each queued row has its own dedupe key, so however
often (or concurrently) the pass runs, an alert is escalated once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.idempotent import insert_once
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, AlertStatus
from monitor.core.timeutil import as_utc, utcnow

__all__ = ["SLA_COUNTS", "escalate_overdue"]

logger = logging.getLogger(__name__)

SLA_COUNTS = ("escalated",)
_DELIVERED = (AlertStatus.SENT, AlertStatus.PRINTED)


def _overdue(session: Session, severity: str, minutes: float, now: datetime) -> list[Alert]:
    """Delivered, unhandled, not yet escalated top-level alerts of ``severity`` sent before the target."""
    cutoff = now - timedelta(minutes=minutes)
    stmt = (
        select(Alert)
        .where(col(Alert.severity) == severity, col(Alert.kind).in_(AlertKind.MENTION_KINDS))
        .where(col(Alert.parent_id).is_(None), col(Alert.status).in_(_DELIVERED))
        .where(col(Alert.handled_at).is_(None), col(Alert.escalated_at).is_(None))
        .where(col(Alert.sent_at) <= cutoff)
        .order_by(col(Alert.sent_at))
    )
    return list(session.exec(stmt).all())


def _escalation_rows(alert: Alert, settings: EarshotSettings, minutes: float, now: datetime) -> list[Alert]:
    """The thread reply, and the critical-channel message when there is a separate critical channel."""
    sent = as_utc(alert.sent_at or alert.created_at)
    overdue = int((now - sent).total_seconds() // 60)
    payload = {
        "alert_id": alert.id,
        "severity": alert.severity,
        "sla_minutes": minutes,
        "overdue_minutes": overdue,
        "original_channel": alert.channel,
    }
    reason = f"{alert.severity} alert #{alert.id} unhandled for {overdue} min (target {minutes:g} min)"
    common: dict[str, Any] = {
        "mention_id": alert.mention_id,
        "mention_version": alert.mention_version,
        "source": alert.source,
        "target": alert.target,
        "kind": AlertKind.SLA_ESCALATION,
        "rule": alert.rule,
        "severity": alert.severity,
        "reason": reason,
        "payload": payload,
        "status": AlertStatus.PENDING,
        "next_attempt_at": now,
        "created_at": now,
        "suggested_reply": alert.suggested_reply,
    }
    rows = [Alert(dedupe_key=f"alert:{alert.id}:sla", channel=alert.channel, parent_id=alert.id, **common)]
    critical = settings.slack.critical_channel
    if critical and critical != alert.channel:
        rows.append(Alert(dedupe_key=f"alert:{alert.id}:sla:critical", channel=critical, **common))
    return rows


def _escalate(engine: Engine, alert: Alert, settings: EarshotSettings, minutes: float, now: datetime) -> bool:
    """Mark the alert escalated and queue its escalation messages in one transaction; False if lost a race."""
    with Session(engine) as session:
        marked = session.exec(
            update(Alert)
            .where(
                col(Alert.id) == alert.id, col(Alert.escalated_at).is_(None), col(Alert.handled_at).is_(None)
            )
            .values(escalated_at=now, state_version=Alert.state_version + 1)
        )
        if marked.rowcount != 1:
            session.rollback()
            return False
        for row in _escalation_rows(alert, settings, minutes, now):
            if not insert_once(session, row):
                session.rollback()  # the mark goes too: the concurrent pass's escalation stands
                logger.info("alert %s: escalated by a concurrent pass", alert.id)
                return False
        session.commit()
    logger.warning("alert %s: past its %g min response target; escalated", alert.id, minutes)
    return True


def escalate_overdue(
    engine: Engine, settings: EarshotSettings, now: datetime | None = None
) -> dict[str, int]:
    """Escalate every overdue alert once; returns ``{"escalated": n}``."""
    moment = now or utcnow()
    counts = dict.fromkeys(SLA_COUNTS, 0)
    for severity in ("urgent", "negative", "info"):
        minutes = settings.alerts.sla.minutes_for(severity)
        if minutes is None:
            continue
        with Session(engine) as session:
            overdue = _overdue(session, severity, minutes, moment)
        for alert in overdue:
            if _escalate(engine, alert, settings, minutes, moment):
                counts["escalated"] += 1
    return counts
