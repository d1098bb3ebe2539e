"""ISO weeks and their local days in the digest's time zone, kept as UTC instants.

Why here and not in SQL: a week is ``[Monday 00:00, next Monday 00:00)`` *local*, and a DST week has a 23-
or 25-hour day; computing the boundaries once in Python (zoneinfo) and handing SQL plain UTC instants keeps
SQLite and PostgreSQL in agreement without either knowing about time zones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.core.timeutil import as_utc
from monitor.digest.errors import DigestError

__all__ = ["WEEK_ISO", "Week", "last_full_week", "parse_week", "previous_week", "week_days", "week_of"]

_WEEK = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$")
WEEK_ISO = re.compile(r"^\d{4}-W\d{2}$")  # the canonical form, as written in file names and URLs


@dataclass(frozen=True)
class Week:
    """An ISO week in the digest's time zone."""

    iso: str  # "2026-W47"
    start: datetime  # aware UTC instant of Monday 00:00 local
    end: datetime  # aware UTC instant of the next Monday 00:00 local


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DigestError(f"unknown time zone {tz!r}; use an IANA name such as Europe/Warsaw") from exc


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day begins (zoneinfo resolves a skipped midnight to the later offset)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _week_of_monday(monday: date, zone: ZoneInfo) -> Week:
    year, number, _ = monday.isocalendar()
    return Week(
        f"{year:04d}-W{number:02d}",
        _local_midnight(monday, zone),
        _local_midnight(monday + timedelta(days=7), zone),
    )


def parse_week(text: str, tz: str) -> Week:
    """``"2026-W47"`` (also ``2026W47``, ``2026-w7``) as a :class:`Week` in ``tz``; DigestError says what's wrong."""
    zone = _zone(tz)
    match = _WEEK.match(text or "")
    if match is None:
        raise DigestError(f"week {text!r} is not an ISO week; write it like 2026-W47")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        weeks = date(year, 12, 28).isocalendar()[1] if 1 <= year <= 9999 else 0
        raise DigestError(f"week {text!r} does not exist: {year} has weeks 1 to {weeks}") from None
    return _week_of_monday(monday, zone)


def week_of(moment: datetime, tz: str) -> Week:
    """The ISO week (local) holding ``moment``: where an alert or storm of that moment is reported."""
    zone = _zone(tz)
    day = as_utc(moment).astimezone(zone).date()
    return _week_of_monday(day - timedelta(days=day.weekday()), zone)


def last_full_week(now: datetime, tz: str) -> Week:
    """The ISO week before the one containing ``now`` (local): what Monday morning's digest reports."""
    return previous_week(week_of(now, tz), tz)


def previous_week(week: Week, tz: str) -> Week:
    """The ISO week before ``week`` (by local dates, so a DST change in between does not shift it)."""
    zone = _zone(tz)
    return _week_of_monday(week.start.astimezone(zone).date() - timedelta(days=7), zone)


def week_days(week: Week, tz: str) -> list[tuple[date, datetime, datetime]]:
    """The week's 7 local days as (local date, UTC start, UTC end); DST days are 23 or 25 hours long."""
    zone = _zone(tz)
    monday = week.start.astimezone(zone).date()
    days = [monday + timedelta(days=k) for k in range(8)]
    return [(days[k], _local_midnight(days[k], zone), _local_midnight(days[k + 1], zone)) for k in range(7)]
