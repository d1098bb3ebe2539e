"""One meaning of "now" and of a stored moment: aware UTC.

SQLite hands back naive datetimes and PostgreSQL ``timestamp`` columns do too, while everything Earshot
computes is aware; comparing the two raises. Every module that reads a moment from a row or a raw SQL result
passes it through :func:`as_utc` here instead of keeping its own copy of the rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

__all__ = ["as_utc", "utcnow"]


def utcnow() -> datetime:
    """Aware UTC: every stored time carries its zone, so SQLite and PostgreSQL agree."""
    return datetime.now(UTC)


@overload
def as_utc(moment: datetime) -> datetime: ...


@overload
def as_utc(moment: None) -> None: ...


def as_utc(moment: datetime | None) -> datetime | None:
    """A naive moment is UTC (that is how Earshot stores them); an aware one is converted to UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
