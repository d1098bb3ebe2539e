"""UTCDateTime: every moment goes in as UTC and comes out aware UTC, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError
from sqlmodel import Session, SQLModel, col, select

from monitor.core.models import Mention, Watermark
from monitor.core.types import UTCDateTime

WARSAW_WINTER = timezone(timedelta(hours=1))


def test_every_datetime_column_of_the_models_is_utc_datetime() -> None:
    columns = [
        c for t in SQLModel.metadata.tables.values() for c in t.columns if c.type.python_type is datetime
    ]
    # 28 up to 0004, + 4 in web_sessions and login_throttle (0005), + 1 (0006), + 2 reply_templates (0009),
    # + 1 mention_tags (0010), + 1 web_preferences (0011)
    assert len(columns) == 37
    assert all(isinstance(c.type, UTCDateTime) for c in columns)


def test_orm_reads_are_aware_utc_whatever_zone_was_written(engine: Engine) -> None:
    written = datetime(2026, 11, 20, 11, 30, tzinfo=WARSAW_WINTER)
    with Session(engine) as s:
        s.add(Mention(source="google", external_id="g-1", text="x", created_at=written))
        s.add(Watermark(source="google", scope="all", value=written))
        s.commit()
    with Session(engine) as s:
        mention = s.exec(select(Mention)).one()
        watermark = s.exec(select(Watermark)).one()
    for moment in (mention.created_at, mention.first_seen_at, watermark.value, watermark.updated_at):
        assert moment is not None and moment.tzinfo is UTC
    assert mention.created_at == written and mention.created_at.hour == 10  # 11:30 at +01:00 is 10:30 UTC
    assert watermark.value == written


def test_comparisons_in_queries_convert_the_bound_moment_too(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(
            Mention(
                source="google",
                external_id="g-1",
                text="x",
                updated_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
            )
        )
        s.commit()
        later_in_warsaw = datetime(2026, 11, 20, 10, 30, tzinfo=WARSAW_WINTER)  # 09:30 UTC: before it
        assert s.exec(select(Mention).where(col(Mention.updated_at) > later_in_warsaw)).all() != []


def test_a_naive_moment_is_refused_rather_than_guessed(engine: Engine) -> None:
    with pytest.raises(StatementError, match="must be timezone-aware"), Session(engine) as s:
        s.add(Mention(source="google", external_id="g-1", text="x", created_at=datetime(2026, 11, 20, 10)))
        s.commit()


def test_the_database_column_types_stay_what_they_were(engine: Engine) -> None:
    column = {c["name"]: c for c in inspect(engine).get_columns("mentions")}["created_at"]
    expected = "TIMESTAMP WITH TIME ZONE" if engine.dialect.name == "postgresql" else "DATETIME"
    assert str(column["type"].compile(dialect=engine.dialect)) == expected
