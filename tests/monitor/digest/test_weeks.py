"""ISO weeks in the digest's time zone: parsing, the last full week, DST days."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from monitor.digest.errors import DigestError
from monitor.digest.weeks import Week, last_full_week, parse_week, previous_week, week_days


def test_parse_week_gives_local_monday_midnights_in_utc() -> None:
    week = parse_week("2026-W47", "Europe/Warsaw")
    assert week == Week(
        "2026-W47", datetime(2026, 11, 15, 23, tzinfo=UTC), datetime(2026, 11, 22, 23, tzinfo=UTC)
    )
    assert parse_week(" 2026w7 ", "Europe/Warsaw").iso == "2026-W07"
    assert parse_week("2026-W47", "UTC").start == datetime(2026, 11, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-47", "not an ISO week; write it like 2026-W47"),
        ("last week", "not an ISO week"),
        ("", "not an ISO week"),
        ("2026-W53", "2026 has weeks 1 to 53"),  # 2026 has 53 ISO weeks, so W53 is fine...
        ("2027-W53", "does not exist: 2027 has weeks 1 to 52"),
        ("2026-W00", "does not exist"),
    ],
)
def test_parse_week_errors_say_what_is_wrong(text: str, message: str) -> None:
    if text == "2026-W53":
        assert parse_week(text, "Europe/Warsaw").iso == "2026-W53"
        return
    with pytest.raises(DigestError, match=re.escape(message)):
        parse_week(text, "Europe/Warsaw")


def test_unknown_time_zone_is_a_digest_error() -> None:
    with pytest.raises(DigestError, match="unknown time zone 'Mars/Olympus'"):
        parse_week("2026-W47", "Mars/Olympus")


def test_last_full_week_is_the_week_before_now_in_local_time() -> None:
    # Monday 00:30 in Warsaw is still Sunday 23:30 UTC: locally W48 has begun, so W47 is the last full week.
    assert last_full_week(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "Europe/Warsaw").iso == "2026-W47"
    assert last_full_week(datetime(2026, 11, 22, 22, 30, tzinfo=UTC), "Europe/Warsaw").iso == "2026-W46"
    assert last_full_week(datetime(2027, 1, 4, 8, tzinfo=UTC), "Europe/Warsaw").iso == "2026-W53"
    assert previous_week(parse_week("2027-W01", "Europe/Warsaw"), "Europe/Warsaw").iso == "2026-W53"


def test_dst_weeks_have_a_25_and_a_23_hour_day() -> None:
    autumn = parse_week("2026-W43", "Europe/Warsaw")  # Mon 19 - Sun 25 Oct; clocks go back on Sunday
    assert autumn.end - autumn.start == timedelta(hours=169)
    sunday = week_days(autumn, "Europe/Warsaw")[6]
    assert sunday[2] - sunday[1] == timedelta(hours=25)
    assert parse_week("2026-W44", "Europe/Warsaw").start == datetime(2026, 10, 25, 23, tzinfo=UTC)
    spring = parse_week("2026-W13", "Europe/Warsaw")  # clocks go forward on Sun 29 Mar
    assert spring.end - spring.start == timedelta(hours=167)
    assert [end - start for _, start, end in week_days(spring, "Europe/Warsaw")][6] == timedelta(hours=23)
