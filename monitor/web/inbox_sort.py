"""The inbox's orders: newest (``time``), largest audience (``reach``), most severe alert (``severity``) and
soonest response target (``sla``), each either way, and the paging that keeps them fast at a million rows.

Why segments: only the time order is a column every mention has. Reach is known for social posts only,
severity and an SLA due time for alerted items only (a few percent). Sorting a million mentions by an
expression over a joined alert would sort them all on every page. So each order is a short list of
:class:`Segment` s, each a condition plus an order an index serves, shown one after another:

- ``time``: one segment, ``coalesce(created_at, first_seen_at)`` then id, either way (``ix_inbox_when``,
  and its ``source`` / ``target`` variants, read forwards or backwards);
- ``reach``: mentions with a reach, by reach then id (``ix_inbox_reach``), then the rest newest first;
- ``severity``: one segment per alert severity (``urgent``, ``negative``, ``info``, any other), each newest
  first (``ix_inbox_when`` with an ``IN`` over the alerts of that severity, ``ix_inbox_alert_severity``),
  then the items without an alert, newest first;
- ``sla``: items whose newest alert is open and has a response target (``alerts.sla``), by due time
  (sent, or raised if not yet sent, plus the severity's target; the open alerts are few and found through
  ``ix_inbox_alert_open``), then everything else newest first.

Rows without the key (no reach, no alert, nothing due) always come last, newest first, whichever way the
key is sorted; ties on the key are broken by id in the same direction, so the order is total and paging
by offset never shows a row twice. :func:`page_ids` pages across segments: a segment is counted only when
the page starts beyond its end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, Subquery, case, exists, func, literal, null, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from monitor.core.models import Alert, AlertKind, Mention
from monitor.web.inbox_rows import SlaMinutes

__all__ = [
    "DEFAULT_DIRECTION",
    "DIRECTIONS",
    "SEVERITIES",
    "SORTS",
    "Segment",
    "page_ids",
    "segments",
    "when_expr",
]

SORTS: Final = ("time", "reach", "severity", "sla")
DIRECTIONS: Final = ("desc", "asc")
DEFAULT_DIRECTION: Final = {"time": "desc", "reach": "desc", "severity": "desc", "sla": "asc"}
"""Each order's natural way: newest, largest, most severe first; the SLA soonest due (most overdue) first."""
SEVERITIES: Final = ("urgent", "negative", "info")
"""Alert severities, most severe first (any other severity ranks below ``info``)."""
DRIVE_BELOW: Final = 2_000
"""A severity with at most this many alerts is sorted from its alerts rather than by walking the time index."""


def when_expr() -> ColumnElement[Any]:
    """The inbox's time: when the item was written, or first seen when the source gives no time."""
    return func.coalesce(col(Mention.created_at), col(Mention.first_seen_at))


@dataclass(frozen=True)
class Segment:
    """Part of an order: the mentions matching ``conditions``, in ``order_by`` (None: newest first).

    ``join`` is a subquery keyed by ``mention_id`` that the order reads (the SLA due time).
    """

    conditions: tuple[ColumnElement[bool], ...] = ()
    order_by: tuple[ColumnElement[Any], ...] | None = None
    join: Subquery | None = None


def _own(alert: Any) -> list[ColumnElement[bool]]:
    """``alert`` is its mention's own alert: an item alert with no newer one (where the handling state lives).

    A ``NOT EXISTS`` probe of ``ix_alerts_mention_id`` per candidate, rather than a ``max(id) ... GROUP BY``
    over every alert, so a page that looks at fifty alerts reads about fifty.
    """
    newer: Any = aliased(Alert)
    return [
        alert.kind.in_(AlertKind.ITEM_KINDS),
        ~exists().where(
            newer.mention_id == alert.mention_id, newer.kind.in_(AlertKind.ITEM_KINDS), newer.id > alert.id
        ),
    ]


def _epoch(moment: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """Seconds since 1970 of a stored moment (SQLite keeps UTC text, which ``julianday`` reads)."""
    if dialect == "sqlite":
        return (func.julianday(moment) - 2440587.5) * 86400.0
    return func.extract("epoch", moment)


def _sla_targets(sla: SlaMinutes) -> dict[str, float]:
    return {s: minutes for s in SEVERITIES if (minutes := sla(s)) is not None}


def _sla_due(dialect: str, targets: dict[str, float]) -> Subquery:
    """``(mention_id, due)`` of every open own alert whose severity has a response target."""
    a: Any = aliased(Alert, name="due_alert")
    seconds = case(
        *((a.severity == s, literal(minutes * 60.0)) for s, minutes in targets.items()), else_=None
    )
    start = func.coalesce(a.sent_at, a.created_at)
    return (
        select(a.mention_id.label("mention_id"), (_epoch(start, dialect) + seconds).label("due"))
        .where(a.handled_at.is_(None), a.severity.in_(list(targets)), *_own(a))
        .subquery("sla_due")
    )


def _severity_segment(session: Session, name: str | None, mention_id: ColumnElement[Any]) -> Segment:
    """The items whose own alert has this severity, newest first, whichever way is cheaper.

    Few such alerts (urgent ones, typically): the mentions are found from the alerts and sorted, since
    walking the time index would read most of the table before it met fifty of them. Many (negative):
    the time index is walked and each mention probed for its alert, about a page's worth of probes.
    ``name`` None: any severity but :data:`SEVERITIES`.
    """
    a: Any = aliased(Alert)
    severity = a.severity == name if name is not None else a.severity.not_in(SEVERITIES)
    many = session.execute(select(func.count()).select_from(a).where(severity)).scalar_one() > DRIVE_BELOW
    if many:
        return Segment((exists().where(a.mention_id == mention_id, *_own(a)).where(severity),))
    # coalesce(..., NULL) is the same time but matches no index, so the planners start from the alerts.
    unindexed = func.coalesce(col(Mention.created_at), col(Mention.first_seen_at), null())
    ids = select(a.mention_id).where(severity, a.mention_id.is_not(None), *_own(a))
    return Segment((mention_id.in_(ids),), (unindexed.desc(), mention_id.desc()))


def segments(session: Session, sort: str, direction: str, sla: SlaMinutes) -> list[Segment]:
    """The segments of one order (``sort`` from :data:`SORTS`, ``direction`` ``asc`` or ``desc``)."""
    desc = direction == "desc"

    def way(expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return expr.desc() if desc else expr.asc()

    mention_id = cast("ColumnElement[Any]", col(Mention.id))
    if sort == "reach":
        reach = cast("ColumnElement[Any]", col(Mention.reach))
        return [
            Segment((reach.is_not(None),), (way(reach), way(mention_id))),
            Segment((reach.is_(None),)),
        ]
    if sort == "severity":
        ranked: list[str | None] = list(SEVERITIES if desc else reversed(SEVERITIES))
        ranked.insert(len(ranked) if desc else 0, None)
        parts = [_severity_segment(session, name, mention_id) for name in ranked]
        any_alert = exists().where(
            col(Alert.mention_id) == mention_id, col(Alert.kind).in_(AlertKind.ITEM_KINDS)
        )
        return [*parts, Segment((~any_alert,))]
    if sort == "sla":
        targets = _sla_targets(sla)
        if not targets:
            return [Segment()]
        due = _sla_due(session.get_bind().dialect.name, targets)
        a: Any = aliased(Alert, name="open_alert")
        open_due = exists().where(
            a.mention_id == mention_id, a.handled_at.is_(None), a.severity.in_(list(targets)), *_own(a)
        )
        return [Segment(order_by=(way(due.c.due), way(mention_id)), join=due), Segment((~open_due,))]
    if desc:
        return [Segment()]
    return [Segment(order_by=(when_expr().asc(), mention_id.asc()))]


Fetch = Callable[[Segment, int, int], tuple[list[int], int]]
"""``fetch(segment, skip, n)``: up to ``n`` ids of the segment after its first ``skip``, and how many rows
the segment has in all when it ran out (what a later page must skip past)."""


def page_ids(parts: Sequence[Segment], fetch: Fetch, offset: int, wanted: int) -> list[int]:
    """``wanted`` ids from ``offset`` on, across the segments in turn."""
    ids: list[int] = []
    skip = offset
    for part in parts:
        need = wanted - len(ids)
        if need <= 0:
            break
        got, total = fetch(part, skip, need)
        ids.extend(got)
        skip = 0 if got else max(0, skip - total)
    return ids
