"""The open alerts an agent should look at: theirs and nobody's, each with its response-target clock.

The App Home tab and ``/earshot`` show the same two lists, so the query and the clock live here once. An
*open* alert is a top-level alert about an item (not a thread follow-up, not a storm or source-health
message) that is live (queued, being sent, sent or printed; not folded into a storm, not failed) and
not handled. Its clock runs from when it reached Slack (or was made, while it waits in quiet hours) for
the severity's response target (``alerts.sla``); a severity without one has no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from alerts.alert_threads import LIVE
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, Mention, TargetRow
from monitor.core.timeutil import as_utc

__all__ = ["OpenAlert", "OpenLists", "open_alerts"]

# The newest this many open alerts per list are read; the lists show fewer and say how many more exist.
_READ_AT_MOST = 200
_NO_DEADLINE = datetime.max.replace(tzinfo=UTC)  # alerts without a response target sort last


@dataclass(frozen=True)
class OpenAlert:
    """One open alert with what a list line shows: its item's words and where its clock stands."""

    alert: Alert
    target: str | None
    source: str | None
    author: str | None
    text: str | None
    due_at: datetime | None  # None: its severity has no response target


@dataclass(frozen=True)
class OpenLists:
    """The caller's assigned alerts and the unassigned ones, most urgent clock first, with full counts."""

    mine: list[OpenAlert]
    mine_total: int
    unassigned: list[OpenAlert]
    unassigned_total: int


def _open(stmt_target: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    return [
        col(Alert.kind).in_(AlertKind.MENTION_KINDS),
        col(Alert.parent_id).is_(None),
        col(Alert.status).in_(LIVE),
        col(Alert.handled_at).is_(None),
        stmt_target,
    ]


def _due(alert: Alert, settings: EarshotSettings) -> datetime | None:
    minutes = settings.alerts.sla.minutes_for(alert.severity or "")
    if minutes is None:
        return None
    return as_utc(alert.sent_at or alert.created_at) + timedelta(minutes=minutes)


def _list(
    session: Session, settings: EarshotSettings, who: ColumnElement[bool], limit: int
) -> tuple[list[OpenAlert], int]:
    conditions = _open(who)
    total = session.exec(select(func.count()).select_from(Alert).where(*conditions)).one()
    rows = session.exec(
        select(Alert, Mention, TargetRow.name)
        .outerjoin(Mention, col(Mention.id) == col(Alert.mention_id))
        .outerjoin(TargetRow, col(TargetRow.id) == col(Mention.target_id))
        .where(*conditions)
        .order_by(col(Alert.created_at).desc(), col(Alert.id).desc())
        .limit(_READ_AT_MOST)
    ).all()
    items = [
        OpenAlert(
            alert=alert,
            target=target or alert.target,
            source=mention.source if mention is not None else alert.source,
            author=mention.author if mention is not None else None,
            text=mention.text if mention is not None else None,
            due_at=_due(alert, settings),
        )
        for alert, mention, target in rows
    ]
    items.sort(key=lambda item: (item.due_at or _NO_DEADLINE, -(item.alert.id or 0)))
    return items[:limit], int(total)


def open_alerts(engine: Engine, settings: EarshotSettings, user_id: str, limit: int) -> OpenLists:
    """``user_id``'s open alerts and the unassigned ones, at most ``limit`` each, soonest deadline first."""
    with Session(engine) as session:
        mine, mine_total = _list(session, settings, col(Alert.assignee) == user_id, limit)
        unassigned, unassigned_total = _list(session, settings, col(Alert.assignee).is_(None), limit)
    return OpenLists(mine, mine_total, unassigned, unassigned_total)
