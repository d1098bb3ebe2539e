"""What every source's reply poster shares: one HTTP request, reading its answer, and the outcome in words.

Why one module: seven sources take replies (:mod:`alerts.source_replies` holds the registry), and each
must turn the same kinds of answer into the same kinds of sentence ("token rejected by Mastodon (HTTP
401): set …", "rate-limited by Bluesky, try again in 30 s"), never follow a redirect with a bearer token,
and never let a token into an outcome or a log line. The posters differ only in the request they build.
"""

from __future__ import annotations

import email.utils
import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy.engine import Engine

from alerts.rules import MentionView
from monitor.core.config import EarshotSettings
from monitor.core.credentials import CredentialStore
from monitor.core.timeutil import as_utc, utcnow

__all__ = [
    "FORM",
    "JSON",
    "USER_AGENT",
    "HttpAnswer",
    "Poster",
    "ReplyOutcome",
    "ReplyRequest",
    "answer_json",
    "error_message",
    "failed",
    "http_outcome",
    "json_bytes",
    "rate_limited",
    "retry_seconds",
    "scrub",
    "send",
]

JSON: Final = "application/json; charset=utf-8"
FORM: Final = "application/x-www-form-urlencoded"
USER_AGENT: Final = "earshot/0.1 (reply)"
_DETAIL_CHARS: Final = 300
_BODY_BYTES: Final = 65536


@dataclass(frozen=True)
class ReplyOutcome:
    """``posted``: the source accepted it; ``recorded``: no reply API (post by hand); ``failed``: refused."""

    status: Literal["posted", "recorded", "failed"]
    detail: str


def failed(detail: str) -> ReplyOutcome:
    return ReplyOutcome("failed", detail)


@dataclass(frozen=True)
class ReplyRequest:
    """One reply to post: the item, its stored raw payload (which addresses the reply) and the text.

    ``engine`` reaches the credential store (Allegro's renewed token, Bluesky's session); None where the
    caller has no database (then only tokens from the settings are used).
    """

    settings: EarshotSettings
    mention: MentionView
    raw: dict[str, Any] | None
    text: str
    timeout: float
    engine: Engine | None = None

    def stored_credentials(self, source: str) -> dict[str, str]:
        """What ``earshot auth <source>`` (or a crawl) stored; ``{}`` without a database or a stored row.

        Raises :class:`~monitor.core.credentials.CredentialStoreError` (its message says what to set) when
        credentials are stored but cannot be read.
        """
        if self.engine is None:
            return {}
        return self.store().load(source)

    def store(self) -> CredentialStore:
        assert self.engine is not None, "stored credentials need the database"
        return CredentialStore.from_settings(self.settings, self.engine)


Poster = Callable[[ReplyRequest], ReplyOutcome]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A write is never re-sent to another address (with the bearer token) behind the caller's back."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


def send(
    method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeout: float
) -> HttpAnswer:
    """One request; HTTP errors come back as an answer, network errors raise OSError (URLError is one)."""
    request = urllib.request.Request(
        url, data=body, method=method, headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            text = response.read(_BODY_BYTES).decode("utf-8", "replace")
            return HttpAnswer(response.status, text, dict(response.headers.items()))
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(_BODY_BYTES).decode("utf-8", "replace") if exc.fp is not None else ""
        finally:
            exc.close()
        return HttpAnswer(exc.code, text, dict(exc.headers.items()) if exc.headers else {})


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def answer_json(answer: HttpAnswer) -> dict[str, Any]:
    """The answer's JSON object, ``{}`` when it is none (an empty 201, a proxy's HTML page)."""
    try:
        data = json.loads(answer.body) if answer.body else None
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def scrub(text: str, *secrets: str) -> str:
    """``text`` on one line, capped, with every secret masked (error bodies may echo a request)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:_DETAIL_CHARS]


def error_message(body: str) -> str:
    """The human part of an error body, in each source's documented shape.

    Google / YouTube ``error.message``; an API gateway's ``fault.faultstring``; Allegro's
    ``errors[0].userMessage`` / ``message``; Bluesky's ``message`` (else its ``error`` code); Mastodon's
    ``error`` (a sentence); Trustpilot's ``message`` / ``details``.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error, fault, errors = data.get("error"), data.get("fault"), data.get("errors")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(fault, dict) and isinstance(fault.get("faultstring"), str):
        return str(fault["faultstring"])
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        text = first.get("userMessage") or first.get("message")
        if isinstance(text, str):
            return text
    parts = [data.get(key) for key in ("message", "details")]
    found = "; ".join(p for p in parts if isinstance(p, str) and p)
    if found:
        return found
    return error if isinstance(error, str) else ""


def retry_seconds(answer: HttpAnswer) -> int | None:
    """How long a 429 asks to wait, in whole seconds; None when it does not say.

    ``Retry-After`` (delta-seconds or an HTTP date, the standard); Bluesky's ``RateLimit-Reset`` (epoch
    seconds); Reddit's ``X-Ratelimit-Reset`` (seconds until its window ends).
    """
    value = (answer.header("Retry-After") or "").strip()
    if value.isdigit():
        return int(value)
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0, math.ceil((as_utc(when) - utcnow()).total_seconds()))
    reset = _number(answer.header("RateLimit-Reset"))
    if reset is not None:
        return max(0, math.ceil(reset - utcnow().timestamp()))
    reddit = _number(answer.header("X-Ratelimit-Reset"))
    return math.ceil(reddit) if reddit is not None and reddit >= 0 else None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def rate_limited(name: str, seconds: int | None) -> ReplyOutcome:
    wait = f"try again in {seconds} s" if seconds is not None else "try again later"
    return failed(f"rate-limited by {name}, {wait}")


def http_outcome(
    name: str, answer: HttpAnswer, fix: str, *secrets: str, thing: str = "review"
) -> ReplyOutcome:
    """What a source's answer means for the agent.

    ``fix`` is what to do about a refused token ("set EARSHOT_…", "run `earshot auth allegro`"); ``thing``
    is what the source calls the item ("review", "status", "post", "comment") for the 404 sentence.
    """
    status = answer.status
    if 200 <= status < 300:
        return ReplyOutcome("posted", f"posted on {name}")
    message = scrub(error_message(answer.body), *secrets)
    suffix = f" ({message})" if message else ""
    if status in (401, 403):
        return failed(f"token rejected by {name} (HTTP {status}): {fix}{suffix}")
    if status == 404:
        return failed(f"{thing} gone: {name} no longer has this {thing} (HTTP 404)")
    if status == 429:
        return rate_limited(name, retry_seconds(answer))
    if status >= 500:
        return failed(f"{name} unavailable (HTTP {status}), try again")
    return failed(f"{name} refused the reply (HTTP {status}){suffix}")
