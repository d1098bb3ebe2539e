"""Retry-After parsing, rate-limit headers, and the decisions of the waiting middlewares (no network, no
reactor)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from spiders import middlewares
from spiders import settings as project_settings
from spiders.middlewares import (
    BackoffRetryMiddleware,
    RateLimitHeadersMiddleware,
    RateLimitStatus,
    RetryAfterMiddleware,
    header_float,
    retry_after_seconds,
)
from spiders.spiders.bluesky import BlueskySpider
from spiders.spiders.google_places import GooglePlacesReviewsSpider
from spiders.spiders.mastodon import MastodonSpider
from spiders.spiders.reddit import RedditSearchSpider

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
        ("Fri, 31 Dec 9999 23:30:00 -0100", math.inf),  # past what a datetime holds in UTC: too long
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
    mw = _middleware(
        EARSHOT_RATELIMIT_DEFAULT_DELAY=2.0, EARSHOT_RATELIMIT_RETRY_TIMES=5, EARSHOT_BACKOFF_JITTER=0
    )
    request = Request("https://gbp.test/r")
    for _ in range(3):
        result = asyncio.run(mw.process_response(request, _response(request, retry_after=None)))
        assert isinstance(result, Request)
        request = result
    assert waits == [2.0, 4.0, 8.0]


def test_429_without_retry_after_waits_with_jitter_that_only_adds(waits: list[float]) -> None:
    mw = _middleware(
        EARSHOT_RATELIMIT_DEFAULT_DELAY=2.0, EARSHOT_RATELIMIT_MAX_DELAY=5.0, EARSHOT_RATELIMIT_RETRY_TIMES=5
    )
    request = Request("https://gbp.test/r")
    for _ in range(4):
        result = asyncio.run(mw.process_response(request, _response(request, retry_after=None)))
        assert isinstance(result, Request)
        request = result
    plain = [2.0, 4.0, 5.0, 5.0]  # capped at EARSHOT_RATELIMIT_MAX_DELAY, then up to 20% more at random
    assert all(p <= w <= p * 1.2 for p, w in zip(plain, waits, strict=True))
    assert mw.crawler.stats is not None
    assert mw.crawler.stats.get_value("earshot/ratelimit/retry_after_too_long") is None


def test_retry_after_is_waited_exactly_with_jitter_on(waits: list[float]) -> None:
    mw = _middleware(EARSHOT_BACKOFF_JITTER=0.5)
    request = Request("https://gbp.test/r")
    asyncio.run(mw.process_response(request, _response(request, retry_after="3")))
    assert waits == [3.0]


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
        Settings(
            {"EARSHOT_RETRY_BACKOFF_BASE": 1.5, "EARSHOT_RETRY_BACKOFF_MAX": 5.0, "EARSHOT_BACKOFF_JITTER": 0}
        )
    )
    assert [mw.backoff_delay(n) for n in (1, 2, 3, 4)] == [1.5, 3.0, 5.0, 5.0]


def test_backoff_jitter_is_on_by_default_and_only_adds() -> None:
    mw = BackoffRetryMiddleware(
        Settings({"EARSHOT_RETRY_BACKOFF_BASE": 1.5, "EARSHOT_RETRY_BACKOFF_MAX": 5.0})
    )
    for n, plain in zip((1, 2, 3, 4), (1.5, 3.0, 5.0, 5.0), strict=True):
        delays = {mw.backoff_delay(n) for _ in range(50)}
        assert all(plain <= d <= plain * 1.2 for d in delays)
        assert len(delays) > 1  # spread at random, so retries that failed together do not retry together


# -- rate-limit headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Ratelimit-Remaining": b"598.0"}, 598.0),
        ({"X-Ratelimit-Remaining": b" 3 "}, 3.0),
        ({"X-Ratelimit-Remaining": b"-1"}, None),
        ({"X-Ratelimit-Remaining": b"nan"}, None),
        ({"X-Ratelimit-Remaining": b"soon"}, None),
        ({}, None),
    ],
)
def test_rate_limit_header_numbers(headers: dict[str, bytes], expected: float | None) -> None:
    assert header_float(headers, "X-Ratelimit-Remaining") == expected


@given(st.binary(max_size=30) | st.text(max_size=30).map(str.encode))
def test_rate_limit_headers_are_never_negative_or_infinite(value: bytes) -> None:
    number = header_float({"X-Ratelimit-Reset": value}, "X-Ratelimit-Reset")
    assert number is None or (math.isfinite(number) and number >= 0)


class _Paced(Spider):
    """A spider whose source says: ``remaining`` requests left, the window resetting in ``reset`` s."""

    name = "paced"

    def __init__(self, remaining: float | None, reset: float | None) -> None:
        super().__init__()
        self.status = RateLimitStatus(remaining, reset)

    def rate_limit_status(self, response: Response) -> RateLimitStatus | None:
        return self.status


def _headers_middleware(spider: Spider, **settings: object) -> RateLimitHeadersMiddleware:
    crawler = get_crawler(settings_dict=dict(settings))
    crawler.spider = spider
    return RateLimitHeadersMiddleware.from_crawler(crawler)


def test_every_spider_gets_the_rate_limit_middleware_before_retry_after() -> None:
    order = project_settings.DOWNLOADER_MIDDLEWARES
    # Closer to the downloader than RetryAfterMiddleware: it sees a 429 first and can add Retry-After.
    assert order["spiders.middlewares.RateLimitHeadersMiddleware"] == 565
    assert order["spiders.middlewares.RetryAfterMiddleware"] == 560
    for spider in (RedditSearchSpider, MastodonSpider, BlueskySpider):
        assert "DOWNLOADER_MIDDLEWARES" not in (spider.custom_settings or {})


def test_a_spider_that_reads_no_rate_limit_headers_is_passed_through(waits: list[float]) -> None:
    mw = _headers_middleware(GooglePlacesReviewsSpider())  # Google sends no rate-limit headers
    request = Request("https://api.test/r")
    limited = _response(request, status=429, retry_after=None)
    assert mw.process_response(request, limited) is limited
    asyncio.run(mw.process_request(request))
    assert waits == []


def test_a_429_without_retry_after_waits_for_the_windows_reset() -> None:
    mw = _headers_middleware(_Paced(remaining=0, reset=42.5))
    request = Request("https://api.test/r")
    told = _response(request, status=429, retry_after="1")
    assert mw.process_response(request, told) is told  # the server's own Retry-After wins
    untold = mw.process_response(request, _response(request, status=429, retry_after=None))
    assert untold.headers[b"Retry-After"] == b"42.500"
    assert retry_after_seconds(untold.headers.get(b"Retry-After")) == 42.5


def test_few_requests_left_pause_later_requests_until_the_reset_capped(waits: list[float]) -> None:
    mw = _headers_middleware(_Paced(remaining=3, reset=900), EARSHOT_RATELIMIT_MAX_DELAY=60.0)
    request = Request("https://api.test/r")
    ok = _response(request, status=200)

    assert mw.process_response(request, ok) is ok
    asyncio.run(mw.process_request(request))

    assert len(waits) == 1 and 59 < waits[0] <= 60  # capped at EARSHOT_RATELIMIT_MAX_DELAY
    stats = mw.crawler.stats
    assert stats is not None and stats.get_value("earshot/ratelimit/paused") == 1
    assert stats.get_value("earshot/ratelimit/pause_seconds") == pytest.approx(waits[0], abs=0.01)


def test_plenty_of_requests_left_do_not_pause(waits: list[float]) -> None:
    mw = _headers_middleware(_Paced(remaining=6, reset=30))
    request = Request("https://api.test/r")
    mw.process_response(request, _response(request, status=200))
    asyncio.run(mw.process_request(request))
    assert waits == []


def _reddit(reset_in: int) -> dict[str, str]:
    return {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(reset_in)}  # seconds to the reset


def _mastodon(reset_in: int) -> dict[str, str]:
    at = (datetime.now(UTC) + timedelta(seconds=reset_in)).isoformat().replace("+00:00", "Z")
    return {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": at}  # an ISO 8601 time


def _bluesky(reset_in: int) -> dict[str, str]:
    at = int(datetime.now(UTC).timestamp()) + reset_in + 1  # epoch seconds, rounded down
    return {"RateLimit-Remaining": "0", "RateLimit-Reset": str(at)}


@pytest.mark.parametrize(
    ("spider", "headers"),
    [(RedditSearchSpider(), _reddit), (MastodonSpider(), _mastodon), (BlueskySpider(), _bluesky)],
    ids=["reddit", "mastodon", "bluesky"],
)
def test_each_social_source_says_its_reset_in_its_own_headers(
    spider: Spider, headers: Callable[[int], dict[str, str]]
) -> None:
    mw = _headers_middleware(spider)
    request = Request("https://api.test/r")
    limited = Response(request.url, status=429, headers=headers(30), request=request)

    waited = retry_after_seconds(mw.process_response(request, limited).headers.get(b"Retry-After"))

    assert waited is not None and 28 <= waited <= 31
