"""The inbox's and the exports' SQL: one filtered query, newest first, paged or streamed.

Why one query builder: the inbox page, the CSV and the JSON export must show exactly the same rows for
the same filters, so they share :func:`filtered_rows`. Filtering, ordering and paging run in the
database (LIMIT/OFFSET); only one page (or one streamed batch) is ever in Python.

A search (``q``) has the alert keyword matcher's semantics (:mod:`monitor.web.search`): the matcher
confirms each row in Python, in order, until the page is full; a common word is found by walking the
newest mentions in keyset batches, a rare one through the search index (:func:`_searched_ids`), so a page
costs about a page. The inbox shows no total, so no page view counts a million rows.

Each row joins the mention with its target, the newest sentiment score of its current version, and its
newest top-level alert (the alert loop's state: handled, assigned, open). An item's status is
``handled`` (its alert is handled), ``assigned`` (open and assigned), ``open`` (alerted, nobody on it)
or ``none`` (never alerted); the ``unhandled`` filter means alerted and not handled.

Other orders than newest first (``sort``: reach, severity, SLA due) and the tag filter: see
:mod:`monitor.web.inbox_sort` and :mod:`monitor.web.tags`; the rows themselves: :mod:`monitor.web.inbox_rows`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    TextClause,
    bindparam,
    func,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from monitor.core.models import Alert, AlertKind, Mention, SentimentScore, TargetRow
from monitor.web.inbox_filters import (
    MAX_PAGE,
    MAX_Q,
    SENTIMENTS,
    STATUSES,
    URGENCIES,
    FilterError,
    Filters,
    parse_filters,
)
from monitor.web.inbox_rows import InboxRow, SlaMinutes, make_row
from monitor.web.inbox_sort import Segment, page_ids, segments
from monitor.web.inbox_sort import when_expr as _when_expr
from monitor.web.search import CATCH_UP_ROWS, index_pending, parse_search
from monitor.web.tags import known_tags, tag_condition, tags_of

__all__ = [
    "MAX_PAGE",
    "MAX_Q",
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

_RARE_URGENCIES: Final = ("elevated", "critical")
_WALK_BATCH: Final = 500
"""Mentions a search reads per step of its newest-first walk (one query each)."""
_MAX_BATCH: Final = 4_000
"""The walk's batches double up to this (a deep page of a common word: fewer round trips)."""
_RARE_SHARE: Final = 20
"""A word found in fewer than one walked row in this many is rare: the search index takes over."""


@dataclass
class InboxPage:
    rows: list[InboxRow]
    page: int
    has_next: bool
    filters: Filters
    targets: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


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


def _statement(
    session: Session, filters: Filters, timezone: str, *, ids_only: bool = False, searching: bool = False
) -> Select[Any]:
    """The filtered, newest-first query (no paging).

    ``ids_only`` selects just the mention ids (with the text and author when a search must confirm them)
    and joins the score or the alert only when a filter needs it: on a million mentions the page's ids
    come from the mentions table alone, and the joins then run for the page's rows only (see
    :func:`inbox_page`). A search's condition only narrows to candidates; callers confirm each with
    :meth:`monitor.web.search.Search.matches`. ``searching`` (with ``ids_only``) also selects the text,
    the author and the sort key, for :func:`_searched_ids` to confirm and walk on.
    """
    when = _when_expr()
    need_score = not ids_only or bool(filters.sentiment or filters.urgency)
    need_alert = not ids_only
    stmt: Select[Any]
    if ids_only and (filters.q or searching):
        dialect = session.get_bind().dialect.name
        stmt = cast(
            "Select[Any]",
            select(col(Mention.id), col(Mention.text), col(Mention.author), _sort_key(dialect)),
        )
    elif ids_only:
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
    if filters.urgency in _RARE_URGENCIES:
        # Implied by the condition above (the current score is one of the mention's scores), and lets the
        # planner start from the few urgent scores (ix_inbox_score_urgency) instead of walking every mention.
        urgent = select(col(SentimentScore.mention_id)).where(col(SentimentScore.urgency) == filters.urgency)
        conditions.append(col(Mention.id).in_(urgent))
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
    if filters.tag:
        conditions.append(tag_condition(filters.tag))
    if filters.q:
        conditions.append(parse_search(filters.q).condition(session.get_bind().dialect.name))
    return stmt.where(*conditions).order_by(when.desc(), col(Mention.id).desc())


# The distinct sources by a skip scan of ix_mentions_source (a handful of index probes): a plain DISTINCT
# read every one of a million index entries on each page view.
_SOURCES: Final = text(
    "WITH RECURSIVE s(source) AS (SELECT min(source) FROM mentions UNION ALL "
    "SELECT (SELECT min(source) FROM mentions WHERE source > s.source) FROM s WHERE s.source IS NOT NULL) "
    "SELECT source FROM s WHERE source IS NOT NULL"
)


def _after(key: tuple[Any, int] | None, dialect: str) -> list[ColumnElement[bool]]:
    """The keyset condition "older than ``key`` in inbox order" (newest first, then highest id).

    Written as ``when <= k AND (when < k OR id < i)`` so both planners bound the walk of ix_inbox_when by
    its leading column. SQLite compares the stored text as it is (see :func:`_sort_key`).
    """
    if key is None:
        return []
    when = _sort_key(dialect)
    moment = key[0] if dialect != "sqlite" else type_coerce(bindparam("after_when", key[0]), String)
    return [when <= moment, or_(when < moment, col(Mention.id) < key[1])]


def _sort_key(dialect: str) -> ColumnElement[Any]:
    """The inbox's sort expression as the keyset reads it back: SQLite's stored text, untouched.

    A datetime rebound would be re-formatted (``.000000``) and then compare unequal to stored text
    without fractions; the raw text compares exactly as the index orders it.
    """
    when = _when_expr()
    return type_coerce(when, String) if dialect == "sqlite" else when


def _searched_ids(
    session: Session,
    filters: Filters,
    timezone: str,
    offset: int,
    wanted: int,
    extra: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[int], int]:
    """Up to ``wanted`` ids after ``offset`` that the matcher confirms, newest first, and how many it confirmed.

    ``extra`` narrows the walk to one segment of another order (:mod:`monitor.web.inbox_sort`).

    The cost follows the page, not the number of index hits. First the filtered mentions are walked
    newest first, in batches (keyset on the sort key) that grow from ``_WALK_BATCH``, and the matcher
    decides on each: a common word fills the page within a batch or two and never touches the index
    (whose candidates for a common word are most of the table); on PostgreSQL the later batches ask the
    index per row, so a deep page reads candidates only. Once fewer than one walked row in
    ``_RARE_SHARE`` has matched, the word is rare: the rest comes from the index's candidates
    (:meth:`monitor.web.search.Search.condition`), few for such a word, confirmed the same way. Either
    way the matcher alone decides, so both paths find exactly the same rows.
    """
    search = parse_search(filters.q)
    dialect = session.get_bind().dialect.name
    plain = replace(filters, q="")
    ids: list[int] = []
    confirmed = 0
    walked = 0
    key: tuple[Any, int] | None = None
    base = _statement(session, plain, timezone, ids_only=True, searching=True).where(*extra)
    size = _WALK_BATCH
    # After a first batch shows the word is common, PostgreSQL checks the index per row
    # (search.row_condition: the sort index walked, mention_search's key probed), so a deep page confirms
    # only candidates. SQLite's FTS5 cannot be asked per row cheaply (a prefix query merges its whole
    # doclist each time), so there Python decides on every row walked.
    per_row: list[TextClause] = []
    while True:
        batch = session.execute(base.where(*_after(key, dialect), *per_row).limit(size)).all()
        for mention_id, body, author, when in batch:
            key = (when, mention_id)
            if search.matches(body, author):
                confirmed += 1
                if confirmed > offset:
                    ids.append(mention_id)
                    if len(ids) >= wanted:
                        return ids, confirmed
        walked += len(batch)
        if len(batch) < size:
            return ids, confirmed  # every filtered mention seen
        if not per_row and confirmed * _RARE_SHARE < walked:
            break
        if dialect == "postgresql":
            per_row = [search.row_condition()]
        size = min(size * 2, _MAX_BATCH)
    return _confirm(session, base.where(*_after(key, dialect)), filters.q, offset, wanted, (ids, confirmed))


def _confirm(
    session: Session, stmt: Select[Any], q: str, offset: int, wanted: int, found: tuple[list[int], int]
) -> tuple[list[int], int]:
    """Stream the search index's candidates of ``stmt`` in its order; the matcher confirms each."""
    search = parse_search(q)
    ids, confirmed = found
    result = session.execute(
        stmt.where(search.condition(session.get_bind().dialect.name)).execution_options(yield_per=500)
    )
    try:
        for mention_id, body, author, _when in result:
            if search.matches(body, author):
                confirmed += 1
                if confirmed > offset:
                    ids.append(mention_id)
                    if len(ids) >= wanted:
                        break
    finally:
        result.close()
    return ids, confirmed


def _confirm_ordered(
    session: Session, stmt: Select[Any], q: str, offset: int, wanted: int
) -> tuple[list[int], int]:
    """A search within another order: the first rows walked and confirmed in Python (a common word fills
    the page there), and when few of them match, the search index's candidates from the start instead."""
    search = parse_search(q)
    ids: list[int] = []
    confirmed = walked = 0
    for mention_id, body, author, _when in session.execute(stmt.limit(_MAX_BATCH)):
        walked += 1
        if search.matches(body, author):
            confirmed += 1
            if confirmed > offset:
                ids.append(mention_id)
                if len(ids) >= wanted:
                    return ids, confirmed
    if walked < _MAX_BATCH:
        return ids, confirmed  # the whole segment seen
    return _confirm(session, stmt, q, offset, wanted, ([], 0))


def _fetch(
    session: Session, filters: Filters, timezone: str, part: Segment, skip: int, need: int
) -> tuple[list[int], int]:
    """One segment's ids for :func:`monitor.web.inbox_sort.page_ids` (a search confirms each)."""
    if filters.q and part.order_by is None:
        return _searched_ids(session, filters, timezone, skip, need, part.conditions)
    stmt = _statement(session, replace(filters, q=""), timezone, ids_only=True, searching=bool(filters.q))
    stmt = stmt.where(*part.conditions)
    if part.join is not None:
        stmt = stmt.join(part.join, part.join.c.mention_id == col(Mention.id))
    if part.order_by is not None:
        stmt = stmt.order_by(None).order_by(*part.order_by)
    if filters.q:
        return _confirm_ordered(session, stmt, filters.q, skip, need)
    got = list(session.execute(stmt.limit(need).offset(skip)).scalars())
    if got or not skip:
        return got, skip + len(got)
    counted = select(func.count()).select_from(stmt.order_by(None).subquery())
    return got, int(session.execute(counted).scalar_one())


def inbox_page(
    engine: Engine, filters: Filters, page_size: int, timezone: str, sla: SlaMinutes | None = None
) -> InboxPage:
    """One page of the filtered inbox in its order, plus the targets, sources and tags the menus offer.

    ``sla`` (``settings.alerts.sla.minutes_for``) gives the rows their SLA due time and the ``sla`` order
    its key; without it that order is newest first.
    """
    if filters.q:
        index_pending(engine, CATCH_UP_ROWS)  # newly stored mentions; what is left stays a candidate
    with Session(engine) as session:
        offset = (filters.page - 1) * page_size
        parts = segments(session, filters.sort, filters.direction, sla or _no_sla)

        def fetch(part: Segment, skip: int, need: int) -> tuple[list[int], int]:
            return _fetch(session, filters, timezone, part, skip, need)

        ids = page_ids(parts, fetch, offset, page_size + 1)
        shown = ids[:page_size]
        position = {mention_id: i for i, mention_id in enumerate(shown)}
        tags = tags_of(session, shown)
        rows_stmt = _statement(session, Filters(), timezone).where(col(Mention.id).in_(shown or [-1]))
        found = session.execute(rows_stmt).all()
        rows = sorted(
            (make_row(*r, sla=sla, tags=tags.get(r[0].id, ())) for r in found), key=lambda r: position[r.id]
        )
        targets = list(session.execute(select(col(TargetRow.name)).order_by(col(TargetRow.name))).scalars())
        sources = list(session.execute(_SOURCES).scalars())
        menu_tags = known_tags(session)
    return InboxPage(rows, filters.page, len(ids) > page_size, filters, targets, sources, menu_tags)


def _no_sla(_severity: str) -> float | None:
    return None


def filtered_rows(engine: Engine, filters: Filters, timezone: str, batch: int = 500) -> Iterator[InboxRow]:
    """Every row matching ``filters`` (all pages), newest first, fetched ``batch`` at a time."""
    search = parse_search(filters.q) if filters.q else None
    if search is not None:
        index_pending(engine, CATCH_UP_ROWS)
    with Session(engine) as session:
        stmt = _statement(session, filters, timezone).execution_options(yield_per=batch)
        for r in session.execute(stmt):
            if search is None or search.matches(r[0].text, r[0].author):
                yield make_row(*r)
