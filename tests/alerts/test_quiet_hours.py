"""Quiet hours: held alerts go out when the night ends, on the right UTC instant, DST nights included."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.quiet_hours import quiet_period, quiet_until
from monitor.core.alert_settings import QuietHours

NIGHT = QuietHours(start=time(22, 0), end=time(7, 0), timezone="Europe/Warsaw")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


def test_no_quiet_hours_configured_or_empty_period() -> None:
    assert quiet_until(utc(2024, 5, 1, 23, 0), None) is None
    same = QuietHours(start=time(22, 0), end=time(22, 0), timezone="Europe/Warsaw")
    assert quiet_until(utc(2024, 5, 1, 20, 30), same) is None


@pytest.mark.parametrize(
    ("now", "until"),
    [
        # 1 May 2024, Warsaw is UTC+2: quiet 20:00 UTC .. 05:00 UTC next day
        (utc(2024, 5, 1, 20, 0), utc(2024, 5, 2, 5, 0)),  # the first minute is quiet
        (utc(2024, 5, 1, 23, 59), utc(2024, 5, 2, 5, 0)),  # across midnight
        (utc(2024, 5, 2, 4, 59, 59), utc(2024, 5, 2, 5, 0)),
        (utc(2024, 5, 2, 5, 0), None),  # 07:00 local: over
        (utc(2024, 5, 1, 19, 59), None),  # 21:59 local: not yet
        (utc(2024, 5, 1, 12, 0), None),
        # winter, UTC+1: 21:00 UTC .. 06:00 UTC
        (utc(2024, 1, 10, 21, 30), utc(2024, 1, 11, 6, 0)),
        (utc(2024, 1, 10, 20, 30), None),
    ],
)
def test_overnight_quiet_hours(now: datetime, until: datetime | None) -> None:
    assert quiet_until(now, NIGHT) == until


def test_spring_forward_night_is_an_hour_shorter() -> None:
    """31 Mar 2024: Warsaw jumps 02:00 CET -> 03:00 CEST; the night ends at 07:00 CEST = 05:00 UTC."""
    start, end = quiet_period(utc(2024, 3, 30, 21, 0), NIGHT) or (None, None)
    assert (start, end) == (utc(2024, 3, 30, 21, 0), utc(2024, 3, 31, 5, 0))
    assert quiet_until(utc(2024, 3, 31, 1, 30), NIGHT) == utc(2024, 3, 31, 5, 0)  # 03:30 CEST
    assert quiet_until(utc(2024, 3, 31, 5, 0), NIGHT) is None
    assert quiet_until(utc(2024, 3, 30, 20, 59), NIGHT) is None  # 21:59 CET


def test_fall_back_night_is_an_hour_longer() -> None:
    """27 Oct 2024: 03:00 CEST -> 02:00 CET; quiet from 20:00 UTC (22:00 CEST) to 06:00 UTC (07:00 CET)."""
    assert quiet_period(utc(2024, 10, 26, 20, 0), NIGHT) == (
        utc(2024, 10, 26, 20, 0),
        utc(2024, 10, 27, 6, 0),
    )
    assert quiet_until(utc(2024, 10, 27, 5, 30), NIGHT) == utc(2024, 10, 27, 6, 0)  # 06:30 CET
    assert quiet_until(utc(2024, 10, 27, 6, 0), NIGHT) is None


def test_the_repeated_autumn_hour_is_quiet_both_times() -> None:
    """01:00-03:00 on 27 Oct 2024 spans the repeated 02:xx hour: three real hours, quiet throughout."""
    quiet = QuietHours(start=time(1, 0), end=time(3, 0), timezone="Europe/Warsaw")
    end = utc(2024, 10, 27, 2, 0)  # 03:00 CET
    assert quiet_until(utc(2024, 10, 26, 23, 0), quiet) == end  # 01:00 CEST
    assert quiet_until(utc(2024, 10, 27, 0, 30), quiet) == end  # 02:30 CEST, first time
    assert quiet_until(utc(2024, 10, 27, 1, 30), quiet) == end  # 02:30 CET, second time
    assert quiet_until(utc(2024, 10, 27, 2, 0), quiet) is None
    assert quiet_until(utc(2024, 10, 26, 22, 59), quiet) is None


def test_a_start_in_the_skipped_spring_hour_begins_after_the_jump() -> None:
    """02:30 does not exist on 31 Mar 2024 in Warsaw: the period starts at 03:30 CEST (01:30 UTC)."""
    quiet = QuietHours(start=time(2, 30), end=time(6, 0), timezone="Europe/Warsaw")
    assert quiet_until(utc(2024, 3, 31, 1, 0), quiet) is None  # 03:00 CEST
    assert quiet_until(utc(2024, 3, 31, 1, 30), quiet) == utc(2024, 3, 31, 4, 0)  # until 06:00 CEST


def test_days_are_the_weekdays_a_quiet_period_starts() -> None:
    """Weeknights only (Mon-Fri starts): Friday's night runs into Saturday; Saturday and Sunday nights don't."""
    weeknights = QuietHours(start=time(22, 0), end=time(7, 0), timezone="Europe/Warsaw", days=[0, 1, 2, 3, 4])
    # 3 May 2024 is a Friday; Warsaw is UTC+2
    assert quiet_until(utc(2024, 5, 3, 21, 0), weeknights) == utc(2024, 5, 4, 5, 0)
    assert quiet_until(utc(2024, 5, 4, 3, 0), weeknights) == utc(2024, 5, 4, 5, 0)  # Sat 05:00, Fri's night
    assert quiet_until(utc(2024, 5, 4, 21, 0), weeknights) is None  # Sat 23:00
    assert quiet_until(utc(2024, 5, 6, 3, 0), weeknights) is None  # Mon 05:00, Sunday's night
    assert quiet_until(utc(2024, 5, 6, 21, 0), weeknights) == utc(2024, 5, 7, 5, 0)  # Mon 23:00


def test_daytime_period_and_other_zones() -> None:
    lunch = QuietHours(start=time(12, 0), end=time(13, 0), timezone="America/New_York")
    assert quiet_until(utc(2024, 7, 1, 16, 15), lunch) == utc(2024, 7, 1, 17, 0)  # 12:15 EDT
    assert quiet_until(utc(2024, 7, 1, 17, 0), lunch) is None
    assert quiet_until(utc(2024, 7, 1, 4, 15), lunch) is None


def test_now_in_another_offset_gives_utc_and_naive_is_refused() -> None:
    warsaw_summer = timezone(timedelta(hours=2))
    until = quiet_until(datetime(2024, 5, 1, 23, 0, tzinfo=warsaw_summer), NIGHT)
    assert until == utc(2024, 5, 2, 5, 0) and until is not None and until.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="aware"):
        quiet_until(datetime(2024, 5, 1, 23, 0), NIGHT)


@given(
    now=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    start=st.times(),
    end=st.times(),
    days=st.sets(st.integers(0, 6), min_size=1),
)
def test_until_is_later_and_quiet_right_up_to_it(
    now: datetime, start: time, end: time, days: set[int]
) -> None:
    quiet = QuietHours(start=start, end=end, timezone="Europe/Warsaw", days=sorted(days))
    until = quiet_until(now, quiet)
    if until is None:
        return
    assert now < until <= now + timedelta(hours=25)
    assert quiet_until(until - timedelta(microseconds=1), quiet) == until
