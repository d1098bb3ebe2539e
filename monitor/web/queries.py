"""The inbox's and the exports' SQL: one filtered query, newest first, paged or streamed.

Why one query builder: the inbox page, the CSV and the JSON export must show exactly the same rows for
the same filters, so they share :func:`filtered_rows`. Filtering, ordering and paging run in the
database (LIMIT/OFFSET); only one page (or one streamed batch) is ever in Python.

Each row joins the mention with its target, the newest sentiment score of its current version, and its
newest top-level alert (the alert loop's state: handled, assigned, open). An item's status is
``handled`` (its alert is handled), ``assigned`` (open and assigned), ``open`` (alerted, nobody on it)
or ``none`` (never alerted); the ``unhandled`` filter means alerted and not handled.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from monitor.core.models import Alert, AlertKind, Mention, SentimentScore, TargetRow
from monitor.core.timeutil import as_utc

__all__ = [
    "SENTIMENTS",
    "STATUSES",
    "URGENCIES",
    "FilterError",
    "Filters",
    "InboxRow",
    "filtered_rows",
    "inbox_page",
    "parse_filters",
]

SENTIMENTS: Final = ("negative", "neutral", "positive")
URGENCIES: Final = ("none", "elevated", "critical")
STATUSES: Final = ("handled", "unhandled")
FILTER_NAMES: Final = (
    "target",
    "source",
    "sentiment",
    "urgency",
    "status",
    "assignee",
    "date_from",
    "date_to",
    "q",
)
_MAX_Q: Final = 200
_MAX_PAGE: Final = 100_000
EXCERPT_CHARS: Final = 220


class FilterError(ValueError):
    """A filter value the inbox cannot use; the message names the field and what it accepts."""


@dataclass(frozen=True)
class Filters:
    """The inbox's filters as given in the query string (empty = not filtered)."""

    target: str = ""
    source: str = ""
    sentiment: str = ""
    urgency: str = ""
    status: str = ""
    assignee: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    page: int = 1

    def params(self) -> dict[str, str]:
        """The non-empty filters as query parameters (without the page), for links and exports."""
        out: dict[str, str] = {}
        for name in FILTER_NAMES:
            value = getattr(self, name)
            if value:
                out[name] = value.isoformat() if isinstance(value, date) else str(value)
        return out


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value and value not in allowed:
        raise FilterError(f"{name} must be one of {', '.join(allowed)} (got {value[:40]!r})")
    return value


def _day(name: str, value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FilterError(f"{name} must be a date as YYYY-MM-DD (got {value[:40]!r})") from exc


def parse_filters(query: Mapping[str, str]) -> Filters:
    """Filters from a query string; :class:`FilterError` for a value no filter accepts."""

    def get(name: str) -> str:
        return (query.get(name) or "").strip()

    page_text = get("page") or "1"
    if not page_text.isdecimal() or not 1 <= int(page_text) <= _MAX_PAGE:
        raise FilterError(f"page must be a whole number from 1 (got {page_text[:20]!r})")
    filters = Filters(
        target=get("target")[:200],
        source=get("source")[:64],
        sentiment=_one_of("sentiment", get("sentiment"), SENTIMENTS),
        urgency=_one_of("urgency", get("urgency"), URGENCIES),
        status=_one_of("status", get("status"), STATUSES),
        assignee=get("assignee")[:200],
        date_from=_day("date_from", get("date_from")),
        date_to=_day("date_to", get("date_to")),
        q=unicodedata.normalize("NFC", get("q"))[:_MAX_Q],
        page=int(page_text),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise FilterError("date_from is after date_to")
    return filters


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


@dataclass
class InboxPage:
    rows: list[InboxRow]
    page: int
    has_next: bool
    filters: Filters
    targets: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _when_expr() -> ColumnElement[Any]:
    return func.coalesce(col(Mention.created_at), col(Mention.first_seen_at))


def _local_midnight(day: date, zone: ZoneInfo) -> datetime | None:
    """The UTC moment ``day`` starts in ``zone``; None when that lies outside what a datetime can hold.

    Only the calendar's ends overflow (0001-01-01 east of UTC is still year 0 there), and a bound beyond
    them excludes no stored moment, so None means "no bound" rather than an error for the user.
    """
    try:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    except OverflowError:
        return None


def _day_after(day: date) -> date | None:
    """The next day, or None after 9999-12-31 (the last day a date can be: nothing is later)."""
    return day + timedelta(days=1) if day < date.max else None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _unicode_lower(value: str | None) -> str | None:
    """Unicode lower case for SQLite, whose own lower() only knows ASCII (Ł, Ż, Ś stay upper).

    Deliberately not :func:`sentiment.textfold.fold`: search is case-insensitive but keeps diacritics as
    typed ("zolc" does not find "żółć"), as PostgreSQL's lower() does.
    """
    return value.lower() if isinstance(value, str) else None


def _lower(session: Session, expr: Any) -> ColumnElement[Any]:
    """``lower(expr)`` that folds Polish letters on SQLite too (a Python function registered per query)."""
    if session.get_bind().dialect.name == "sqlite":
        raw = session.connection().connection.driver_connection
        if isinstance(raw, sqlite3.Connection):
            raw.create_function("earshot_lower", 1, _unicode_lower, deterministic=True)
            return func.earshot_lower(expr)
    return func.lower(expr)


def _alert_condition(filters: Filters) -> ColumnElement[bool]:
    """Mentions whose newest top-level alert has the asked status / assignee.

    An ``IN`` over the alerts table (thousands of rows, not millions) rather than a condition on the
    joined alert: the planners then never walk the mentions to find the few alerted ones.
    """
    newest = (
        select(func.max(col(Alert.id)))
        .where(col(Alert.mention_id).is_not(None), col(Alert.kind).in_(AlertKind.ITEM_KINDS))
        .group_by(col(Alert.mention_id))
    )
    wanted: list[ColumnElement[bool]] = [col(Alert.id).in_(newest)]
    if filters.status == "handled":
        wanted.append(col(Alert.handled_at).is_not(None))
    elif filters.status == "unhandled":
        wanted.append(col(Alert.handled_at).is_(None))
    if filters.assignee:
        wanted.append(col(Alert.assignee) == filters.assignee)
    return col(Mention.id).in_(select(col(Alert.mention_id)).where(*wanted))


def _statement(session: Session, filters: Filters, timezone: str, *, ids_only: bool = False) -> Select[Any]:
    """The filtered, newest-first query (no paging).

    ``ids_only`` selects just the mention ids and joins the score or the alert only when a filter needs
    it: on a million mentions the page's ids come from the mentions table alone, and the joins then run
    for the page's rows only (see :func:`inbox_page`).
    """
    when = _when_expr()
    need_score = not ids_only or bool(filters.sentiment or filters.urgency)
    need_alert = not ids_only
    if ids_only:
        stmt = select(col(Mention.id))
    else:
        stmt = select(Mention, col(TargetRow.name), SentimentScore, Alert, when.label("when")).outerjoin(
            TargetRow, col(TargetRow.id) == col(Mention.target_id)
        )
    if need_score:
        score_id = (
            select(func.max(col(SentimentScore.id)))
            .where(
                col(SentimentScore.mention_id) == col(Mention.id),
                col(SentimentScore.mention_version) == col(Mention.version),
            )
            .correlate(Mention)
            .scalar_subquery()
        )
        stmt = stmt.outerjoin(SentimentScore, col(SentimentScore.id) == score_id)
    if need_alert:
        alert_id = (
            select(func.max(col(Alert.id)))
            .where(col(Alert.mention_id) == col(Mention.id), col(Alert.kind).in_(AlertKind.ITEM_KINDS))
            .correlate(Mention)
            .scalar_subquery()
        )
        stmt = stmt.outerjoin(Alert, col(Alert.id) == alert_id)
    conditions: list[ColumnElement[bool]] = []
    if filters.target:
        target_ids = select(col(TargetRow.id)).where(col(TargetRow.name) == filters.target)
        conditions.append(col(Mention.target_id).in_(target_ids))
    if filters.source:
        conditions.append(col(Mention.source) == filters.source)
    if filters.sentiment:
        conditions.append(col(SentimentScore.label) == filters.sentiment)
    if filters.urgency:
        conditions.append(col(SentimentScore.urgency) == filters.urgency)
    if filters.status or filters.assignee:
        conditions.append(_alert_condition(filters))
    zone = ZoneInfo(timezone)
    start = _local_midnight(filters.date_from, zone) if filters.date_from else None
    if start is not None:
        conditions.append(when >= start)
    end_day = _day_after(filters.date_to) if filters.date_to else None
    end = _local_midnight(end_day, zone) if end_day else None
    if end is not None:
        conditions.append(when < end)
    if filters.q:
        pattern = _like_pattern(filters.q.lower())
        conditions.append(
            or_(
                _lower(session, col(Mention.text)).like(pattern, escape="\\"),
                _lower(session, col(Mention.author)).like(pattern, escape="\\"),
            )
        )
    return stmt.where(*conditions).order_by(when.desc(), col(Mention.id).desc())


def _status(alert: Alert | None) -> str:
    if alert is None:
        return "none"
    if alert.handled_at is not None:
        return "handled"
    return "assigned" if alert.assignee else "open"


def _row(
    mention: Mention, target: str | None, score: SentimentScore | None, alert: Alert | None, when: Any
) -> InboxRow:
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
    )


def inbox_page(engine: Engine, filters: Filters, page_size: int, timezone: str) -> InboxPage:
    """One page of the filtered inbox, plus the targets and sources the filter menus offer."""
    with Session(engine) as session:
        offset = (filters.page - 1) * page_size
        ids_stmt = _statement(session, filters, timezone, ids_only=True)
        ids = list(session.execute(ids_stmt.limit(page_size + 1).offset(offset)).scalars())
        page_ids = ids[:page_size]
        rows_stmt = _statement(session, Filters(), timezone).where(col(Mention.id).in_(page_ids or [-1]))
        rows = [_row(*r) for r in session.execute(rows_stmt).all()]
        targets = list(session.execute(select(col(TargetRow.name)).order_by(col(TargetRow.name))).scalars())
        sources = list(
            session.execute(select(col(Mention.source)).distinct().order_by(col(Mention.source))).scalars()
        )
    return InboxPage(rows, filters.page, len(ids) > page_size, filters, targets, sources)


def filtered_rows(engine: Engine, filters: Filters, timezone: str, batch: int = 500) -> Iterator[InboxRow]:
    """Every row matching ``filters`` (all pages), newest first, fetched ``batch`` at a time."""
    with Session(engine) as session:
        stmt = _statement(session, filters, timezone).execution_options(yield_per=batch)
        for r in session.execute(stmt):
            yield _row(*r)
