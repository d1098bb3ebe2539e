"""Quiet hours: when non-urgent alerts wait, and the moment they may go out.

Quiet hours are wall-clock times in a named zone ("22:00-07:00 Europe/Warsaw"), so the UTC length of a
quiet night changes on the daylight-saving nights: the night of the spring change is an hour shorter,
the autumn one an hour longer. Every comparison is done on UTC instants, because Python compares two
datetimes of the *same* zone by their wall clock and would get the repeated autumn hour wrong.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.core.alert_settings import QuietHours

__all__ = ["quiet_period", "quiet_until"]


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of the wall time ``at`` on ``day`` in ``zone``.

    A wall time that does not exist (02:30 on the spring change) is read with the offset before the
    change, i.e. one hour later on the new clock; a repeated one (02:30 in autumn) is its first occurrence.
    """
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone).astimezone(UTC)


def quiet_period(now: datetime, quiet: QuietHours | None) -> tuple[datetime, datetime] | None:
    """The quiet period (start, end) in aware UTC that ``now`` falls in, or None when it is not quiet.

    A period starts on each of ``quiet.days`` (weekdays, 0 = Monday, in the quiet hours' zone) at
    ``start`` and ends at the next ``end``: the same day when ``end`` is later than ``start``, else the
    next day (22:00-07:00 spans midnight). ``start == end`` means no quiet hours at all.
    """
    if quiet is None or quiet.start.replace(tzinfo=None) == quiet.end.replace(tzinfo=None):
        return None
    if now.tzinfo is None:
        raise ValueError("quiet_until needs an aware datetime (UTC); got a naive one")
    zone = ZoneInfo(quiet.timezone)
    today = now.astimezone(zone).date()
    spans_midnight = quiet.end.replace(tzinfo=None) < quiet.start.replace(tzinfo=None)
    # A period that started yesterday may still be running (only when it spans midnight).
    for start_day in (today - timedelta(days=1), today):
        if start_day.weekday() not in quiet.days:
            continue
        start = _instant(start_day, quiet.start, zone)
        end = _instant(start_day + timedelta(days=1) if spans_midnight else start_day, quiet.end, zone)
        if start <= now < end:
            return start, end
    return None


def quiet_until(now: datetime, quiet: QuietHours | None) -> datetime | None:
    """When ``now`` (aware) is within quiet hours, the aware-UTC moment they end; else None."""
    period = quiet_period(now, quiet)
    return period[1] if period is not None else None
