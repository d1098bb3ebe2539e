"""One inbox row (a mention with its target, current score and alert state), as the pages and exports see it.

Why a module of its own: :mod:`monitor.web.queries` builds the SQL, this module turns what it returns into
the row people read (status in words, SLA due time, tags); keeping them apart keeps each under a screen
of reading and lets the bench's baseline query reuse the row builder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from monitor.core.models import Alert, Mention, SentimentScore
from monitor.core.timeutil import as_utc

__all__ = ["EXCERPT_CHARS", "InboxRow", "SlaMinutes", "due_at", "make_row"]

EXCERPT_CHARS: Final = 220

SlaMinutes = Callable[[str], float | None]
"""The response target of a severity in minutes (``settings.alerts.sla.minutes_for``), None for none."""


@dataclass(frozen=True)
class InboxRow:
    """One mention as the inbox and the exports show it."""

    id: int
    when: datetime | None
    source: str
    target: str | None
    author: str | None
    text: str
    url: str | None
    lang: str | None
    rating: float | None
    reach: int | None
    label: str | None
    score: float | None
    confidence: float | None
    urgency: str | None
    alert_id: int | None
    status: str
    assignee: str | None
    handled_by: str | None
    handled_at: datetime | None
    severity: str | None = None
    due_at: datetime | None = None
    """When the open alert's response target passes (see :func:`due_at`); None when handled or none."""
    tags: tuple[str, ...] = ()

    @property
    def excerpt(self) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"

    def to_dict(self) -> dict[str, Any]:
        """The JSON export's record (times as ISO 8601 UTC)."""
        return {
            "id": self.id,
            "time": _iso(self.when),
            "source": self.source,
            "target": self.target,
            "author": self.author,
            "text": self.text,
            "url": self.url,
            "lang": self.lang,
            "rating": self.rating,
            "reach": self.reach,
            "sentiment": self.label,
            "sentiment_score": self.score,
            "confidence": self.confidence,
            "urgency": self.urgency,
            "alert_id": self.alert_id,
            "status": self.status,
            "assignee": self.assignee,
            "handled_by": self.handled_by,
            "handled_at": _iso(self.handled_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def _status(alert: Alert | None) -> str:
    if alert is None:
        return "none"
    if alert.handled_at is not None:
        return "handled"
    return "assigned" if alert.assignee else "open"


def due_at(alert: Alert | None, sla: SlaMinutes | None) -> datetime | None:
    """When an open alert's response target passes: sent (or, not yet sent, created) + its severity's target.

    The same clock :mod:`alerts.sla` escalates on (it counts from ``sent_at``); an alert still waiting to be
    delivered counts from when it was raised, so it does not vanish from the SLA order meanwhile.
    """
    if alert is None or alert.handled_at is not None or sla is None:
        return None
    minutes = sla(alert.severity)
    start = alert.sent_at or alert.created_at
    if minutes is None or start is None:
        return None
    return as_utc(start) + timedelta(minutes=minutes)


def make_row(
    mention: Mention,
    target: str | None,
    score: SentimentScore | None,
    alert: Alert | None,
    when: Any,
    *,
    sla: SlaMinutes | None = None,
    tags: tuple[str, ...] = (),
) -> InboxRow:
    """The row for one result of the inbox query (``when`` is the sort key the query computed)."""
    assert mention.id is not None
    moment = when if isinstance(when, datetime) else mention.created_at or mention.first_seen_at
    return InboxRow(
        id=mention.id,
        when=as_utc(moment) if moment is not None else None,
        source=mention.source,
        target=target,
        author=mention.author,
        text=mention.text,
        url=mention.url,
        lang=mention.lang,
        rating=mention.rating,
        reach=mention.reach,
        label=score.label if score else None,
        score=score.score if score else None,
        confidence=score.confidence if score else None,
        urgency=score.urgency if score else None,
        alert_id=alert.id if alert else None,
        status=_status(alert),
        assignee=alert.assignee if alert else None,
        handled_by=alert.handled_by if alert else None,
        handled_at=as_utc(alert.handled_at) if alert and alert.handled_at else None,
        severity=alert.severity if alert else None,
        due_at=due_at(alert, sla),
        tags=tags,
    )
