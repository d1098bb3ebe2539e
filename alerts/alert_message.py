"""An alert's Slack message as of now: read the alert's mention, score and related alerts, then render.

A message is never stored: the outbox builds it when it posts and again whenever the alert's handling
state changes (``chat.update``), always from what the database says at that moment, so a click in Slack,
a change on the web page and a storm closing all show up the same way. Reading what a message shows (the
mention, its newest score, the thread parent, the overdue alert of an SLA escalation) lives here, apart
from the delivery protocol, because both delivery and the message sync need it.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.render import render
from alerts.rules import MentionView, ScoreView
from alerts.slack_format import SlackMessage
from alerts.views import mention_view, score_view
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, Mention, SentimentScore, TargetRow

__all__ = ["build_alert_message", "escalations_of", "get_alert", "parent_of"]


def get_alert(engine: Engine, alert_id: int) -> Alert | None:
    """The alert row as it is now (a fresh session: other runs may have changed it)."""
    with Session(engine) as session:
        return session.get(Alert, alert_id)


def parent_of(engine: Engine, alert: Alert) -> Alert | None:
    """The alert whose Slack thread this one replies in, if any."""
    return get_alert(engine, alert.parent_id) if alert.parent_id is not None else None


def _load_content(engine: Engine, alert: Alert) -> tuple[MentionView, ScoreView | None] | None:
    """The mention and its newest score (current version preferred) as they are now."""
    with Session(engine) as session:
        row = session.exec(
            select(Mention, TargetRow.name)
            .outerjoin(TargetRow, col(TargetRow.id) == col(Mention.target_id))
            .where(Mention.id == alert.mention_id)
        ).first()
        if row is None:
            return None
        mention, target = row
        score = session.exec(
            select(SentimentScore)
            .where(SentimentScore.mention_id == alert.mention_id)
            .order_by(
                (col(SentimentScore.mention_version) == mention.version).desc(),
                col(SentimentScore.scored_at).desc(),
                col(SentimentScore.id).desc(),
            )
        ).first()
        return mention_view(mention, target), (score_view(score) if score else None)


def build_alert_message(engine: Engine, settings: EarshotSettings, alert: Alert) -> SlackMessage | None:
    """The message as of now (mention, score, handling state); ``None`` when its mention is gone."""
    mention: MentionView | None = None
    score: ScoreView | None = None
    if alert.mention_id is not None:
        content = _load_content(engine, alert)
        if content is None:
            return None
        mention, score = content
    return render(alert, mention, score, settings, _context_alert(engine, alert))


def _context_alert(engine: Engine, alert: Alert) -> Alert | None:
    """The alert a message is about besides its own row: the thread parent, or for an SLA escalation the
    overdue alert (whose state its buttons show and change)."""
    if alert.kind == AlertKind.SLA_ESCALATION:
        overdue = (alert.payload or {}).get("alert_id")
        if isinstance(overdue, int):
            return get_alert(engine, overdue)
    return parent_of(engine, alert)


def escalations_of(engine: Engine, alert: Alert) -> list[Alert]:
    """Delivered SLA escalation messages about ``alert``: they show its state, so they follow its updates."""
    if alert.mention_id is None or alert.kind not in AlertKind.MENTION_KINDS:
        return []
    stmt = (
        select(Alert)
        .where(col(Alert.kind) == AlertKind.SLA_ESCALATION, col(Alert.mention_id) == alert.mention_id)
        .where(col(Alert.slack_ts).is_not(None), col(Alert.slack_channel_id).is_not(None))
    )
    with Session(engine) as session:
        return [a for a in session.exec(stmt).all() if (a.payload or {}).get("alert_id") == alert.id]
