"""Downloader middlewares that wait before retrying, so a struggling or rate-limiting API gets room.

``RetryAfterMiddleware`` handles HTTP 429 the way Google asks (honour ``Retry-After``);
``BackoffRetryMiddleware`` is Scrapy's RetryMiddleware (5xx, timeouts, dropped connections) with
exponential backoff between attempts; ``RateLimitHeadersMiddleware`` paces a spider by its source's
rate-limit headers, for spiders that can read them (a ``rate_limit_status`` method). All wait with a
timer, never by blocking the reactor.

Where the server names no wait, both retry middlewares wait :func:`monitor.core.backoff.backoff_delay`:
exponential, capped, plus up to ``EARSHOT_BACKOFF_JITTER`` (default 0.2 = 20%) at random, so requests
that failed together do not all retry in the same second. A server's ``Retry-After`` is waited exactly.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import sleep

from monitor.core.backoff import DEFAULT_JITTER, backoff_delay
from monitor.core.timeutil import as_utc, utcnow

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

_DELTA_SECONDS = re.compile(r"\d{1,9}(?:\.\d{1,6})?", re.ASCII)
RATE_LIMIT_LOW_WATER = 5.0  # pause when this few requests remain in the source's window


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delta-seconds or HTTP-date, RFC 9110).

    None when the header is absent or unreadable; a date in the past means "now" (0), one past what a
    datetime can hold in UTC means "longer than any wait" (infinity).
    """
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = as_utc(parsedate_to_datetime(text))  # a naive one ("-0000") is UTC in RFC 5322 dates
    except (TypeError, ValueError, IndexError):
        return None
    except OverflowError:  # past the year 9999 once in UTC
        return math.inf
    return max(0.0, (when - (now or utcnow())).total_seconds())


def jitter_setting(settings: BaseSettings) -> float:
    """``EARSHOT_BACKOFF_JITTER``: the random share added to computed waits (0 gives the plain formula)."""
    return max(0.0, settings.getfloat("EARSHOT_BACKOFF_JITTER", DEFAULT_JITTER))


def _add_seconds(stats: StatsCollector, key: str, seconds: float) -> None:
    """Accumulate a duration in the stats (inc_value is typed for counts)."""
    stats.set_value(key, round(stats.get_value(key, 0.0) + seconds, 3))


class RetryAfterMiddleware:
    """Retry rate-limited responses (429) after the delay the server asks for, a few times at most.

    Stats: ``earshot/ratelimited`` (429s seen), ``earshot/ratelimit/count`` (retries scheduled),
    ``earshot/ratelimit/delay_seconds`` (time waited), ``earshot/ratelimit/max_reached`` and
    ``earshot/ratelimit/retry_after_too_long`` (gave up; the 429 then reaches the spider's errback).
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.codes = {int(code) for code in settings.getlist("EARSHOT_RATELIMIT_HTTP_CODES", [429])}
        self.max_retry_times = settings.getint("EARSHOT_RATELIMIT_RETRY_TIMES", 3)
        self.default_delay = settings.getfloat("EARSHOT_RATELIMIT_DEFAULT_DELAY", 10.0)
        self.max_delay = settings.getfloat("EARSHOT_RATELIMIT_MAX_DELAY", 300.0)
        self.jitter = jitter_setting(settings)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def backoff_delay(self, attempt: int) -> float:
        """The wait before retry ``attempt`` of a 429 without Retry-After: the default delay doubled for each
        earlier attempt, capped at the maximum, plus jitter."""
        base, cap = max(0.0, self.default_delay), max(0.0, self.max_delay)
        return backoff_delay(attempt, base, cap, jitter=self.jitter)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in self.codes or request.meta.get("dont_retry", False):
            return response
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("earshot/ratelimited")
        attempt = request.meta.get("ratelimit_retry_times", 0) + 1
        asked = retry_after_seconds(response.headers.get(b"Retry-After"))  # waited exactly, never jittered
        delay = asked if asked is not None else self.backoff_delay(attempt)
        if attempt > self.max_retry_times:
            stats.inc_value("earshot/ratelimit/max_reached")
            logger.warning(
                "Still rate limited (HTTP %d) on %s after %d retries; giving up on it",
                response.status,
                request,
                self.max_retry_times,
            )
            return response
        if asked is not None and asked > self.max_delay:  # only the server's wait can be too long
            stats.inc_value("earshot/ratelimit/retry_after_too_long")
            logger.warning(
                "Rate limited (HTTP %d) on %s; the server asks to wait %.0f s, more than "
                "EARSHOT_RATELIMIT_MAX_DELAY=%.0f s, so this request is left for the next run",
                response.status,
                request,
                delay,
                self.max_delay,
            )
            return response
        retry = request.copy()
        retry.meta["ratelimit_retry_times"] = attempt
        retry.dont_filter = True
        stats.inc_value("earshot/ratelimit/count")
        _add_seconds(stats, "earshot/ratelimit/delay_seconds", delay)
        logger.warning(
            "Rate limited (HTTP %d) on %s; retrying in %.1f s (retry %d of %d)",
            response.status,
            request,
            delay,
            attempt,
            self.max_retry_times,
        )
        await sleep(delay)
        return retry


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, waiting ``base * 2**(n-1)`` seconds (capped, plus jitter) before the n-th retry.

    Configured by RETRY_* as usual plus ``EARSHOT_RETRY_BACKOFF_BASE`` / ``EARSHOT_RETRY_BACKOFF_MAX`` and
    ``EARSHOT_BACKOFF_JITTER``; the time waited is counted in ``earshot/retry/backoff_seconds``.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        # A negative setting means "no wait", as it always did (backoff_delay refuses negatives).
        self.backoff_base = max(0.0, settings.getfloat("EARSHOT_RETRY_BACKOFF_BASE", 1.0))
        self.backoff_max = max(0.0, settings.getfloat("EARSHOT_RETRY_BACKOFF_MAX", 30.0))
        self.jitter = jitter_setting(settings)

    def backoff_delay(self, retry_times: int) -> float:
        """Seconds to wait before retry number ``retry_times`` (1-based)."""
        return backoff_delay(retry_times, self.backoff_base, self.backoff_max, jitter=self.jitter)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await self._wait(result)
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._wait(result)
        return result

    async def _wait(self, retry: Request) -> None:
        delay = self.backoff_delay(retry.meta.get("retry_times", 1))
        if delay <= 0:
            return
        stats = self.crawler.stats
        assert stats is not None
        _add_seconds(stats, "earshot/retry/backoff_seconds", delay)
        logger.info("Waiting %.1f s before retry %d of %s", delay, retry.meta.get("retry_times", 1), retry)
        await sleep(delay)


@dataclass(frozen=True)
class RateLimitStatus:
    """What a source's rate-limit headers say: requests left in the window and seconds until it resets."""

    remaining: float | None = None
    reset_seconds: float | None = None


@runtime_checkable
class RateLimitAware(Protocol):
    """A spider that reads its source's rate-limit headers (each source names and writes them its own way)."""

    def rate_limit_status(self, response: Response) -> RateLimitStatus | None: ...


def header_float(headers: Mapping[Any, Any], name: str) -> float | None:
    """A finite, non-negative number from a response header, else None (absent or unreadable)."""
    value = headers.get(name)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    try:
        number = float(str(value).strip()) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


class RateLimitHeadersMiddleware:
    """Pace requests by the source's own rate-limit headers instead of running into 429s.

    Acts only for a spider with a ``rate_limit_status`` method (Reddit, Mastodon, Bluesky); for the others
    it passes everything through. When a response says at most ``RATE_LIMIT_LOW_WATER`` requests remain,
    later requests wait until the window resets (capped at ``EARSHOT_RATELIMIT_MAX_DELAY``). A 429
    without ``Retry-After`` gets the reset as its ``Retry-After``, so :class:`RetryAfterMiddleware` (which
    must sit closer to the engine, i.e. a lower order number: 560 against 565) waits exactly that long.
    Stats: ``earshot/ratelimit/paused`` and ``earshot/ratelimit/pause_seconds``.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.max_delay = crawler.settings.getfloat("EARSHOT_RATELIMIT_MAX_DELAY", 300.0)
        self.codes = {int(c) for c in crawler.settings.getlist("EARSHOT_RATELIMIT_HTTP_CODES", [429])}
        self.resume_at = 0.0  # time.monotonic() before which no request is sent

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        wait = self.resume_at - time.monotonic()
        if wait > 0:
            stats = self.crawler.stats
            assert stats is not None
            _add_seconds(stats, "earshot/ratelimit/pause_seconds", wait)
            await sleep(wait)

    def process_response(self, request: Request, response: Response) -> Response:
        spider = self.crawler.spider
        if not isinstance(spider, RateLimitAware):
            return response
        status = spider.rate_limit_status(response)
        if status is None or status.reset_seconds is None:
            return response
        if response.status in self.codes:
            if b"Retry-After" in response.headers:
                return response
            headers = response.headers.copy()
            headers[b"Retry-After"] = f"{status.reset_seconds:.3f}"
            return response.replace(headers=headers)
        if status.remaining is not None and status.remaining <= RATE_LIMIT_LOW_WATER:
            pause = min(status.reset_seconds, self.max_delay)
            self.resume_at = max(self.resume_at, time.monotonic() + pause)
            stats = self.crawler.stats
            assert stats is not None
            stats.inc_value("earshot/ratelimit/paused")
            logger.info(
                "%g request(s) left in the rate-limit window; pausing %.1f s until it resets",
                status.remaining,
                pause,
            )
        return response
