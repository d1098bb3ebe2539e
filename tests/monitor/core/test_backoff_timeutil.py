"""The one backoff rule and the one UTC rule every retrying or time-reading module imports."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from monitor.core.backoff import backoff_delay
from monitor.core.timeutil import as_utc, utcnow


def test_backoff_doubles_then_caps_without_jitter() -> None:
    assert [backoff_delay(n, 30, 3600, jitter=0) for n in range(1, 9)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600,
    ]  # fmt: skip


def test_backoff_jitter_spreads_retries_but_never_undercuts_the_plain_delay() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(3, 10, 3600, jitter=0.2, rng=rng) for _ in range(200)]
    assert min(delays) >= 40 and max(delays) <= 48
    assert len({round(d, 3) for d in delays}) > 150  # a herd of failures does not retry in one second


@given(st.integers(min_value=-5, max_value=10_000), st.floats(0, 1e4), st.floats(0, 1e5))
def test_backoff_is_finite_and_bounded_for_any_attempt(attempt: int, base: float, cap: float) -> None:
    delay = backoff_delay(attempt, base, cap, jitter=0.5, rng=random.Random(0))
    assert 0 <= delay <= cap * 1.5


def test_as_utc_reads_naive_as_utc_and_converts_aware() -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    assert as_utc(naive) == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    warsaw = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(warsaw) == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert as_utc(warsaw).tzinfo is UTC
    assert as_utc(None) is None
    assert utcnow().tzinfo is UTC
