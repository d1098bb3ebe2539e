"""Post a reply on the item's source where its API allows; elsewhere the agent posts it by hand.

Two sources take a business's reply through their API:

* Google Business Profile: ``PUT {base}/v4/{review name}/reply`` with ``{"comment": text}``
  (accounts.locations.reviews.updateReply; creates or replaces the one owner reply; verified locations
  only; the comment is at most 4096 bytes);
* Trustpilot: ``POST {base}/v1/private/reviews/{reviewId}/reply`` with ``{"authorBusinessUserId",
  "message"}`` (the private Business API, with a business user's OAuth token).

Everything the source answers becomes a :class:`ReplyOutcome` a person can act on ("token rejected: set
EARSHOT_SOURCES__...", "rate-limited, try again in 30 s"); nothing here raises for HTTP or network errors,
and no token ever appears in an outcome or a log line.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import math
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote

from alerts.replies import reply_length, reply_limit, reply_unit
from alerts.rules import MentionView
from monitor.core.config import EarshotSettings
from monitor.core.source_settings import source_env_var
from monitor.core.timeutil import as_utc, utcnow

__all__ = ["DEFAULT_TIMEOUT", "ReplyOutcome", "post_source_reply", "reply_supported"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 10.0
_SUPPORTED: Final = frozenset({"google_business", "trustpilot"})
_SEGMENT = r"[A-Za-z0-9_.~-]+"
_REVIEW_NAME = re.compile(rf"accounts/{_SEGMENT}/locations/{_SEGMENT}/reviews/{_SEGMENT}")
_REVIEW_ID = re.compile(_SEGMENT)
_DETAIL_CHARS: Final = 300
_NAMES: Final = {"google_business": "Google", "trustpilot": "Trustpilot"}


@dataclass(frozen=True)
class ReplyOutcome:
    """``posted``: the source accepted it; ``recorded``: no reply API (post by hand); ``failed``: refused."""

    status: Literal["posted", "recorded", "failed"]
    detail: str


def reply_supported(source: str) -> bool:
    """Whether Earshot can post a reply on ``source`` itself (else the agent posts it by hand)."""
    return source in _SUPPORTED


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A write is never re-sent to another address (with the bearer token) behind the caller's back."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class _Response:
    status: int
    body: str
    retry_after: str | None


def _send(method: str, url: str, token: str, payload: dict[str, str], timeout: float) -> _Response:
    """One JSON request; HTTP errors come back as a response, network errors raise OSError."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "User-Agent": "earshot/0.1 (reply)",
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return _Response(response.status, response.read(65536).decode("utf-8", "replace"), None)
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(65536).decode("utf-8", "replace") if exc.fp is not None else ""
        finally:
            exc.close()
        return _Response(exc.code, body, exc.headers.get("Retry-After") if exc.headers else None)


def _scrub(text: str, *secrets: str) -> str:
    """``text`` on one line, capped, with every secret masked (error bodies may echo a request)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:_DETAIL_CHARS]


def _error_message(body: str) -> str:
    """The human part of an error body: Google's ``error.message``, an API gateway's ``fault.faultstring``,
    Trustpilot's ``message`` / ``details``."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error, fault = data.get("error"), data.get("fault")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(fault, dict) and isinstance(fault.get("faultstring"), str):
        return str(fault["faultstring"])
    parts = [data.get(key) for key in ("message", "details")]
    return "; ".join(p for p in parts if isinstance(p, str) and p)


def _retry_seconds(value: str | None) -> int | None:
    """Retry-After as whole seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, math.ceil((as_utc(when) - utcnow()).total_seconds()))


def _outcome(source: str, response: _Response, token_var: str, *secrets: str) -> ReplyOutcome:
    """What a source's answer means for the agent."""
    name = _NAMES[source]
    status = response.status
    if 200 <= status < 300:
        return ReplyOutcome("posted", f"posted on {name}")
    message = _scrub(_error_message(response.body), *secrets)
    suffix = f" ({message})" if message else ""
    if status in (401, 403):
        return ReplyOutcome("failed", f"token rejected by {name} (HTTP {status}): set {token_var}{suffix}")
    if status == 404:
        return ReplyOutcome("failed", f"review gone: {name} no longer has this review (HTTP 404)")
    if status == 429:
        seconds = _retry_seconds(response.retry_after)
        wait = f"try again in {seconds} s" if seconds is not None else "try again later"
        return ReplyOutcome("failed", f"rate-limited by {name}, {wait}")
    if status >= 500:
        return ReplyOutcome("failed", f"{name} unavailable (HTTP {status}), try again")
    return ReplyOutcome("failed", f"{name} refused the reply (HTTP {status}){suffix}")


def _review_name(mention: MentionView, raw: dict[str, Any] | None, base_url: str) -> str | None:
    """The review's resource name, from the stored review or, failing that, its stored link."""
    name = raw.get("name") if raw else None
    if isinstance(name, str) and _REVIEW_NAME.fullmatch(name):
        return name
    prefix = f"{base_url.rstrip('/')}/v4/"
    if mention.url and mention.url.startswith(prefix):
        candidate = mention.url[len(prefix) :]
        if _REVIEW_NAME.fullmatch(candidate):
            return candidate
    return None


def _post_google(
    settings: EarshotSettings, mention: MentionView, raw: dict[str, Any] | None, text: str, timeout: float
) -> ReplyOutcome:
    section = settings.sources.google_business
    token_var = source_env_var("google_business", "access_token")
    token = section.credential("access_token")
    if not token:
        return ReplyOutcome("failed", f"no Google access token: set {token_var}")
    name = _review_name(mention, raw, section.base_url)
    if name is None:
        return ReplyOutcome(
            "failed", "the stored review has no resource name (accounts/…/locations/…/reviews/…)"
        )
    url = f"{section.base_url.rstrip('/')}/v4/{quote(name, safe='/')}/reply"
    response = _send("PUT", url, token, {"comment": text}, timeout)
    return _outcome("google_business", response, token_var, token)


def _post_trustpilot(
    settings: EarshotSettings, mention: MentionView, raw: dict[str, Any] | None, text: str, timeout: float
) -> ReplyOutcome:
    section = settings.sources.trustpilot
    token = section.credential("access_token")
    user = (section.business_user_id or "").strip()
    token_var = source_env_var("trustpilot", "access_token")
    missing = [
        source_env_var("trustpilot", field)
        for field, value in (("access_token", token), ("business_user_id", user))
        if not value
    ]
    if missing:
        return ReplyOutcome("failed", f"Trustpilot replies need a business user: set {' and '.join(missing)}")
    review_id = raw.get("id") if raw else None
    if not isinstance(review_id, str) or not _REVIEW_ID.fullmatch(review_id):
        review_id = mention.external_id
    if not review_id or not _REVIEW_ID.fullmatch(review_id):
        return ReplyOutcome("failed", "the stored review has no Trustpilot review id")
    url = f"{section.base_url.rstrip('/')}/v1/private/reviews/{quote(review_id, safe='')}/reply"
    response = _send("POST", url, token, {"authorBusinessUserId": user, "message": text}, timeout)
    return _outcome("trustpilot", response, token_var, token)


def post_source_reply(
    settings: EarshotSettings,
    mention: MentionView,
    raw: dict[str, Any] | None,
    text: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> ReplyOutcome:
    """Send ``text`` as the business's reply to ``mention`` on its source; never raises for HTTP errors."""
    source = mention.source
    if not reply_supported(source):
        where = f"at {mention.url}" if mention.url else "on the source"
        return ReplyOutcome("recorded", f"{source} has no reply API; post it yourself {where}")
    text = text.strip()
    if not text:
        return ReplyOutcome("failed", "the reply is empty")
    limit = reply_limit(source)
    length = reply_length(source, text)
    if limit is not None and length > limit:
        unit = reply_unit(source)
        return ReplyOutcome(
            "failed", f"the reply is {length} {unit}; {_NAMES[source]} accepts at most {limit}"
        )
    post = _post_google if source == "google_business" else _post_trustpilot
    try:
        outcome = post(settings, mention, raw, text, timeout)
    except TimeoutError as exc:
        log.warning("Reply to mention %s on %s timed out: %s", mention.id, source, type(exc).__name__)
        return ReplyOutcome("failed", f"{_NAMES[source]} unavailable (timed out), try again")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        kind = "timed out" if isinstance(reason, TimeoutError) else type(reason).__name__
        log.warning("Reply to mention %s on %s failed: %s", mention.id, source, kind)
        return ReplyOutcome("failed", f"{_NAMES[source]} unavailable ({kind}), try again")
    log.info("Reply to mention %s on %s: %s", mention.id, source, outcome.status)
    return outcome
