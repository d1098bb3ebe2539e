"""The inbox query as it was before revision 0008 (commit 8c7d8da), kept to measure the new one against.

Copied from ``monitor/web/queries.py`` of that commit: newest first by ``coalesce(created_at,
first_seen_at)`` with no index on it, LIMIT/OFFSET paging, and search as a case-folded substring
(``lower(text) LIKE '%q%'``, diacritics as typed). Only ``bench/bench_inbox.py`` uses it.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from monitor.core.models import Alert, AlertKind, Mention, SentimentScore, TargetRow
from monitor.web.inbox_rows import make_row as _row
from monitor.web.queries import Filters, _alert_condition, _day_after, _local_midnight, _when_expr


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _unicode_lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _lower(session: Session, expr: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        raw = session.connection().connection.driver_connection
        if isinstance(raw, sqlite3.Connection):
            raw.create_function("earshot_lower", 1, _unicode_lower, deterministic=True)
            return func.earshot_lower(expr)
    return func.lower(expr)


def _statement(session: Session, filters: Filters, timezone: str, *, ids_only: bool = False) -> Select[Any]:
    when = _when_expr()
    need_score = not ids_only or bool(filters.sentiment or filters.urgency)
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
    if not ids_only:
        alert_id = (
            select(func.max(col(Alert.id)))
            .where(col(Alert.mention_id) == col(Mention.id), col(Alert.kind).in_(AlertKind.ITEM_KINDS))
            .correlate(Mention)
            .scalar_subquery()
        )
        stmt = stmt.outerjoin(Alert, col(Alert.id) == alert_id)
    conditions: list[ColumnElement[bool]] = []
    if filters.target:
        conditions.append(
            col(Mention.target_id).in_(select(col(TargetRow.id)).where(col(TargetRow.name) == filters.target))
        )
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


def inbox_page_before(engine: Engine, filters: Filters, page_size: int, timezone: str) -> list[int]:
    """The page's mention ids as the old ``inbox_page`` found them (its rows and menus, as it built them)."""
    with Session(engine) as session:
        offset = (filters.page - 1) * page_size
        ids_stmt = _statement(session, filters, timezone, ids_only=True)
        ids = list(session.execute(ids_stmt.limit(page_size + 1).offset(offset)).scalars())
        page_ids = ids[:page_size]
        rows_stmt = _statement(session, Filters(), timezone).where(col(Mention.id).in_(page_ids or [-1]))
        rows = [_row(*r) for r in session.execute(rows_stmt).all()]
        session.execute(select(col(TargetRow.name)).order_by(col(TargetRow.name))).all()
        session.execute(select(col(Mention.source)).distinct().order_by(col(Mention.source))).all()
    return [r.id for r in rows]
