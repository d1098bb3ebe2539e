"""One column type for every moment Earshot stores: UTC in the database, aware UTC in Python.

Why: SQLite keeps a datetime as text without its zone and hands it back naive, while everything Earshot
computes is aware; comparing the two raises. ``UTCDateTime`` converts every moment to UTC on the way in and
returns aware UTC on the way out, so an ORM read means the same on SQLite and PostgreSQL. Owning the type
(rather than taking whatever SQLModel maps ``datetime`` to) keeps the columns what they are today whichever
SQLModel is installed: ``DATETIME`` on SQLite, ``timestamp with time zone`` on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.operators import OperatorType
from sqlalchemy.types import DateTime, Interval, TypeDecorator, TypeEngine

from monitor.core.timeutil import as_utc

__all__ = ["UTCDateTime"]


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that stores UTC and always returns aware UTC datetimes.

    A naive value is refused rather than guessed at: every moment Earshot writes is aware
    (:func:`monitor.core.timeutil.utcnow`, :func:`~monitor.core.timeutil.as_utc`).
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def __repr__(self) -> str:
        return "UTCDateTime()"

    def coerce_compared_value(self, op: OperatorType | None, value: Any) -> TypeEngine[Any]:
        # ``column + timedelta`` is interval arithmetic, not a moment to convert.
        return Interval() if isinstance(value, timedelta) else self

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"a stored moment must be timezone-aware (got naive {value!r}); use utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        # SQLite returns the stored UTC wall-clock time without a zone; PostgreSQL an aware value.
        return as_utc(value) if isinstance(value, datetime) else value

    @property
    def python_type(self) -> type[datetime]:
        return datetime
