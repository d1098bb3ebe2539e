"""Why a crawl failed, in one word a person understands: connection refused, DNS, timeout, HTTP 5xx...

A crawl's evidence is scattered over Scrapy's stats (download exception types, the HTTP statuses the
spider gave up on, malformed bodies) and its finish reason (``auth_failed``; ``crashed`` and ``timeout``
from the runner). :func:`classify` turns it into a :class:`RunFailure`: a short ``code`` stored in
``crawl_runs.failure``, one sentence of ``detail`` (``failure_detail``) and, where known, the host that
failed. :func:`failure_words` gives the code in English or Polish for the console and `earshot sources`.

:class:`FailureTracker` is the downloader middleware that notes, per category, the first host that failed,
so the line can say *which* server refused (``connection refused (127.0.0.1:9)``) without a log.

A run where every request failed and no response ever arrived is a failure even when Scrapy calls it
``finished`` and nothing was logged at ERROR: :func:`classify` says so, and the recorder counts one error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:  # `earshot sources` reads the words without importing Scrapy
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

__all__ = [
    "CODES",
    "FailureTracker",
    "RunFailure",
    "classify",
    "exception_code",
    "failure_where",
    "failure_words",
    "reason_code",
]

Language = Literal["en", "pl"]

# code -> (English, Polish), in the order a tie between two causes is decided.
CODES: dict[str, tuple[str, str]] = {
    "auth": ("credentials refused (auth)", "dane logowania odrzucone (auth)"),
    "crashed": ("crashed", "proces przerwany (crash)"),
    "config": ("not configured", "brak konfiguracji"),
    "connection_refused": ("connection refused", "połączenie odrzucone"),
    "dns": ("DNS: host not found", "DNS: nie znaleziono hosta"),
    "timeout": ("timeout", "przekroczony czas oczekiwania"),
    "http_5xx": ("HTTP 5xx (server error)", "HTTP 5xx (błąd serwera)"),
    "http_4xx": ("HTTP 4xx (request refused)", "HTTP 4xx (żądanie odrzucone)"),
    "malformed": ("malformed response", "odpowiedź w nieoczekiwanym formacie"),
    "network": ("network error", "błąd sieci"),
    "error": ("errors (see the log)", "błędy (szczegóły w logu)"),
}

# Finish reasons that say by themselves why a run failed.
_REASONS = {
    "auth_failed": "auth",
    "crashed": "crashed",
    "timeout": "timeout",  # the runner stopped a crawl that ran over its time
    "missing_credentials": "config",
    "config_error": "config",
    "no_targets": "config",
}

# Download exceptions by class name: Twisted's own and Scrapy >= 2.13's wrappers of them.
_EXCEPTIONS = {
    "ConnectionRefusedError": "connection_refused",
    "DownloadConnectionRefusedError": "connection_refused",
    "DNSLookupError": "dns",
    "CannotResolveHostError": "dns",
    "TimeoutError": "timeout",
    "TCPTimedOutError": "timeout",
    "DownloadTimeoutError": "timeout",
}

_DETAIL_CHARS = 500
_WHERE = "earshot/failure_where/"  # + code: the first host:port that failed that way
_EXCEPTION_TYPES = "downloader/exception_type_count/"
_HTTP_STATUSES = ("earshot/api_errors/", "httperror/response_ignored_status_count/")


def failure_words(code: str | None, language: Language = "en") -> str:
    """The failure code as a person reads it; an unknown code is shown as it is."""
    if code is None:
        return ""
    words = CODES.get(code)
    if words is None:
        return code
    return words[1] if language == "pl" else words[0]


def exception_code(exception: BaseException | str) -> str:
    """The category of a download exception (an instance, or its class name / dotted path)."""
    name = exception if isinstance(exception, str) else type(exception).__name__
    return _EXCEPTIONS.get(name.rsplit(".", 1)[-1], "network")


def reason_code(finish_reason: str | None) -> str | None:
    """The category a finish reason implies by itself (``auth_failed`` → ``auth``), else None."""
    return _REASONS.get(finish_reason or "")


def status_code(status: int) -> str:
    return "http_5xx" if status >= 500 else "http_4xx"


@dataclass(frozen=True)
class RunFailure:
    """Why a run failed: ``code`` (see CODES), one sentence of ``detail``, and the host, when known."""

    code: str
    detail: str
    where: str | None = None


def failure_where(stats: Mapping[str, Any], code: str | None) -> str | None:
    """The first host (``host:port``) that failed with ``code`` in the run, as the tracker noted it."""
    if code is None:
        return None
    value = stats.get(_WHERE + code)
    return str(value) if value else None


def _counted(stats: Mapping[str, Any], prefix: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for key, value in stats.items():
        if key.startswith(prefix) and isinstance(value, int):
            found[key.removeprefix(prefix)] += value
    return found


def every_request_failed(stats: Mapping[str, Any]) -> bool:
    """Requests were sent, some failed to download, and not one response came back."""
    return (
        int(stats.get("downloader/request_count", 0)) > 0
        and int(stats.get("downloader/response_count", 0)) == 0
        and int(stats.get("downloader/exception_count", 0)) > 0
    )


def _first_error(stats: Mapping[str, Any]) -> str | None:
    messages = stats.get("earshot/error_messages") or []
    return str(messages[0]) if messages else None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _detail(code: str, stats: Mapping[str, Any], where: str | None, count: int, status: int | None) -> str:
    host = where or "the source"
    if code == "connection_refused":
        return f"{host} refused the connection ({_plural(count, 'attempt')}); is the server up, on that port?"
    if code == "dns":
        return f"the host name of {host} could not be resolved ({_plural(count, 'attempt')}); check the URL"
    if code == "timeout":
        return f"{host} did not answer in time ({_plural(count, 'attempt')})"
    if code in ("http_5xx", "http_4xx") and status is not None:
        return f"{host} answered HTTP {status} ({_plural(count, 'time')})"
    if code == "network":
        return f"the connection to {host} failed ({_plural(count, 'attempt')})"
    return _first_error(stats) or "see the run's log"


def classify(stats: Mapping[str, Any], finish_reason: str | None, errors: int) -> RunFailure | None:
    """Why the run failed, or None when it did not (finished, no errors, at least one answer)."""
    by_reason = reason_code(finish_reason)
    all_failed = every_request_failed(stats)
    if by_reason is None and finish_reason == "finished" and errors == 0 and not all_failed:
        return None
    exceptions = _counted(stats, _EXCEPTION_TYPES)
    statuses: Counter[int] = Counter()
    for prefix in _HTTP_STATUSES:
        for key, n in _counted(stats, prefix).items():
            if key.isdigit() and int(key) >= 400:
                statuses[int(key)] = max(statuses[int(key)], n)
    causes: Counter[str] = Counter()
    for name, n in exceptions.items():
        causes[exception_code(name)] += n
    for http_status, n in statuses.items():
        causes[status_code(http_status)] += n
    malformed = int(stats.get("earshot/malformed_responses", 0))
    if malformed:
        causes["malformed"] += malformed
    if by_reason is not None:
        code = by_reason
    elif causes:
        order = list(CODES)
        code = max(causes, key=lambda c: (causes[c], -order.index(c) if c in order else -len(order)))
    else:
        code = "error"
    where = failure_where(stats, code)
    status = None
    if code in ("http_5xx", "http_4xx"):
        matching = [s for s in statuses if status_code(s) == code]
        status = max(matching, key=lambda s: statuses[s]) if matching else None
    if by_reason in ("auth", "config") or code in ("malformed", "error"):
        detail = _first_error(stats) or f"the crawl ended as {finish_reason or 'unknown'}"
    elif by_reason is not None and not causes:
        detail = f"the crawl ended as {finish_reason}"
    else:
        detail = _detail(code, stats, where, causes.get(code, 0), status)
    return RunFailure(code, detail[:_DETAIL_CHARS], where)


def host_of(url: str) -> str:
    """``host:port`` of ``url``, never its user or password (``https://user:secret@host`` gives ``host``)."""
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # an unparsable port
        host, port = parts.hostname, None
    if not host:
        return "the source"
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


class FailureTracker:
    """Downloader middleware: for each failure category, the first host (``host:port``) that failed so.

    Placed next to the downloader, it sees every attempt (retries too) before the retry middlewares act,
    and only notes; it never changes a request, response or exception.
    """

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def _note(self, code: str, request: Request) -> None:
        key = _WHERE + code
        if self.stats.get_value(key) is None:
            self.stats.set_value(key, host_of(request.url))

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status >= 400 and urlsplit(request.url).path != "/robots.txt":
            self._note(status_code(response.status), request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._note(exception_code(exception), request)
