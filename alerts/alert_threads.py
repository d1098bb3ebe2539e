"""Which earlier alert a new one belongs under, so one item's story stays in one Slack thread.

Slack threads are one level deep, and a channel that gets a new top-level message for every follow-up
loses the story. A new alert therefore goes into an earlier alert's thread when it continues it: a post
in the same social thread as an alerted item, the same author complaining again within
``alerts.repeat_days``, or another match of the same rule for the same target during the rule's cooldown.
Only live alerts (not folded into a storm, not failed) qualify, and a reply to a reply is placed under
the thread's first message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from alerts.rules import AlertDecision, MentionView
from monitor.core.models import Alert, AlertKind, AlertStatus, Mention

__all__ = ["LIVE", "cooldown_parent", "repeat_parent", "thread_parent", "thread_root"]

LIVE = (AlertStatus.PENDING, AlertStatus.SENDING, AlertStatus.SENT, AlertStatus.PRINTED)


def thread_root(session: Session, alert: Alert) -> Alert:
    """Slack threads are one level deep: a reply to a thread reply goes under the thread's first message."""
    if alert.parent_id is None:
        return alert
    parent = session.get(Alert, alert.parent_id)
    return parent if parent is not None else alert


def thread_parent(session: Session, view: MentionView) -> Alert | None:
    """The alert of the post this one replies to, or of another post in the same social thread."""
    if not view.parent_id:
        return None
    m1 = aliased(Mention)
    stmt = (
        select(Alert)
        .join(m1, col(m1.id) == col(Alert.mention_id))
        .where(col(m1.source) == view.source, col(m1.id) != view.id)
        .where(
            or_(
                col(m1.external_id) == view.parent_id,
                col(m1.parent_id) == view.parent_id,
                # Mastodon: ids are a status URI, in_reply_to_id the instance's numeric id (its last segment).
                col(m1.external_id).endswith("/" + view.parent_id, autoescape=True),
            )
        )
        .where(col(Alert.kind).not_in([AlertKind.EDITED, AlertKind.SLA_ESCALATION]))
        .where(col(Alert.status).in_(LIVE))
        .order_by(col(Alert.id))
    )
    alert = session.exec(stmt).first()
    return thread_root(session, alert) if alert is not None else None


def repeat_parent(session: Session, view: MentionView, now: datetime, repeat_days: float) -> Alert | None:
    """The newest top-level alert about the same author on the same source within ``repeat_days``."""
    if not view.author:
        return None
    since = now - timedelta(days=repeat_days)
    stmt = (
        select(Alert)
        .join(Mention, col(Mention.id) == col(Alert.mention_id))
        .where(
            col(Mention.source) == view.source, col(Mention.author) == view.author, col(Mention.id) != view.id
        )
        .where(col(Alert.parent_id).is_(None), col(Alert.kind).in_(AlertKind.MENTION_KINDS))
        .where(col(Alert.status).in_(LIVE), col(Alert.created_at) >= since)
        .order_by(col(Alert.created_at).desc(), col(Alert.id).desc())
    )
    return session.exec(stmt).first()


def cooldown_parent(
    session: Session, view: MentionView, decision: AlertDecision, now: datetime
) -> Alert | None:
    """The rule's newest top-level alert for this target while its cooldown lasts."""
    if decision.cooldown_minutes <= 0:
        return None
    since = now - timedelta(minutes=decision.cooldown_minutes)
    target_match = col(Alert.target).is_(None) if view.target is None else col(Alert.target) == view.target
    stmt = (
        select(Alert)
        .where(col(Alert.rule) == decision.rule, target_match)
        .where(col(Alert.parent_id).is_(None), col(Alert.kind).in_(AlertKind.MENTION_KINDS))
        .where(col(Alert.status).in_(LIVE), col(Alert.created_at) >= since)
        .order_by(col(Alert.created_at).desc(), col(Alert.id).desc())
    )
    return session.exec(stmt).first()
