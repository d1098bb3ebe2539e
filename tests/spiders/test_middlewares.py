"""Retry-After parsing and the decisions of the waiting retry middlewares (no network, no reactor)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from spiders import middlewares
from spiders.middlewares import BackoffRetryMiddleware, RetryAfterMiddleware, retry_after_seconds

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (b"1", 1.0),
        ("120", 120.0),
        (" 2.5 ", 2.5),
        ("Tue, 24 Nov 2026 12:00:30 GMT", 30.0),
        ("Tue, 24 Nov 2026 11:00:00 GMT", 0.0),  # in the past: go now
        ("Tue, 24 Nov 2026 12:01:00 -0000", 60.0),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds(header: bytes | str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds


def _middleware(**settings: object) -> RetryAfterMiddleware:
    return RetryAfterMiddleware.from_crawler(get_crawler(settings_dict=dict(settings)))


def _response(request: Request, status: int = 429, retry_after: str | None = "1") -> Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Response(request.url, status=status, headers=headers, request=request)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the middleware's sleeps instead of sleeping."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(middlewares, "sleep", fake_sleep)
    return recorded


def test_429_is_retried_after_the_servers_delay(waits: list[float]) -> None:
    mw = _middleware(EARSHOT_RATELIMIT_RETRY_TIMES=2)
    request = Request(
        "https://gbp.test/v4/accounts/1/locations/2/reviews", headers={"Authorization": "Bearer t"}
    )

    retry = asyncio.run(mw.process_response(request, _response(request, retry_after="3")))

    assert isinstance(retry, Request) and retry.url == request.url and retry.dont_filter
    assert retry.headers["Authorization"] == b"Bearer t"
    assert retry.meta["ratelimit_retry_times"] == 1
    assert waits == [3.0]
    stats = mw.crawler.stats
    assert stats is not None
    assert stats.get_value("earshot/ratelimited") == 1 and stats.get_value("earshot/ratelimit/count") == 1


def test_429_without_retry_after_backs_off_exponentially(waits: list[float]) -> None:
    mw = _middleware(EARSHOT_RATELIMIT_DEFAULT_DELAY=2.0, EARSHOT_RATELIMIT_RETRY_TIMES=5)
    request = Request("https://gbp.test/r")
    for _ in range(3):
        result = asyncio.run(mw.process_response(request, _response(request, retry_after=None)))
        assert isinstance(result, Request)
        request = result
    assert waits == [2.0, 4.0, 8.0]


def test_429_gives_up_after_the_retry_budget(waits: list[float]) -> None:
    mw = _middleware(EARSHOT_RATELIMIT_RETRY_TIMES=1)
    request = Request("https://gbp.test/r", meta={"ratelimit_retry_times": 1})
    response = _response(request)
    assert asyncio.run(mw.process_response(request, response)) is response
    assert waits == []
    assert mw.crawler.stats is not None and mw.crawler.stats.get_value("earshot/ratelimit/max_reached") == 1


def test_429_asking_for_too_long_a_wait_is_left_for_the_next_run(waits: list[float]) -> None:
    mw = _middleware(EARSHOT_RATELIMIT_MAX_DELAY=60.0)
    request = Request("https://gbp.test/r")
    response = _response(request, retry_after="3600")
    assert asyncio.run(mw.process_response(request, response)) is response
    assert waits == []
    assert mw.crawler.stats is not None
    assert mw.crawler.stats.get_value("earshot/ratelimit/retry_after_too_long") == 1


@pytest.mark.parametrize("status", [200, 401, 503])
def test_other_statuses_pass_through(status: int, waits: list[float]) -> None:
    mw = _middleware()
    request = Request("https://gbp.test/r")
    response = _response(request, status=status)
    assert asyncio.run(mw.process_response(request, response)) is response
    assert waits == []


def test_dont_retry_is_respected(waits: list[float]) -> None:
    request = Request("https://gbp.test/r", meta={"dont_retry": True})
    response = _response(request)
    assert asyncio.run(_middleware().process_response(request, response)) is response


def test_backoff_doubles_and_is_capped() -> None:
    mw = BackoffRetryMiddleware(
        Settings({"EARSHOT_RETRY_BACKOFF_BASE": 1.5, "EARSHOT_RETRY_BACKOFF_MAX": 5.0})
    )
    assert [mw.backoff_delay(n) for n in (1, 2, 3, 4)] == [1.5, 3.0, 5.0, 5.0]
