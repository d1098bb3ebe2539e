"""Post a reply on the item's source where its API allows; elsewhere the agent posts it by hand.

The registry of sources that take a business's reply through their API is :data:`_POSTERS`, here and
nowhere else. The review sites' posters live in this module:

* Google Business Profile: ``PUT {base}/v4/{review name}/reply`` with ``{"comment": text}``
  (accounts.locations.reviews.updateReply; creates or replaces the one owner reply; verified locations
  only; the comment is at most 4096 bytes);
* Trustpilot: ``POST {base}/v1/private/reviews/{reviewId}/reply`` with ``{"authorBusinessUserId",
  "message"}`` (the private Business API, with a business user's OAuth token);
* Allegro: ``PUT {base}/sale/user-ratings/{ratingId}/answer`` with ``{"message": text}``
  (answerUserRatingUsingPUT, ``application/vnd.allegro.public.v1+json``; the seller's own token).

The social sources' posters (Mastodon, Bluesky, YouTube, Reddit) are :mod:`alerts.replies_social`; what
all of them share (the request, the outcome in words) is :mod:`alerts.reply_http`. Ceneo, Hacker News,
RSS and Google Places have no reply API: the reply is recorded and the agent posts it by hand.

Everything the source answers becomes a :class:`ReplyOutcome` a person can act on ("token rejected: set
EARSHOT_SOURCES__...", "rate-limited, try again in 30 s"); nothing here raises for HTTP or network errors,
and no token ever appears in an outcome or a log line.
"""

from __future__ import annotations

import http.client
import logging
import re
import urllib.error
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from alerts.replies import reply_length, reply_limit, reply_unit
from alerts.replies_social import post_bluesky, post_mastodon, post_reddit, post_youtube
from alerts.reply_http import (
    JSON,
    Poster,
    ReplyOutcome,
    ReplyRequest,
    failed,
    http_outcome,
    json_bytes,
    send,
)
from alerts.rules import MentionView
from monitor.core.config import EarshotSettings
from monitor.core.credentials import CredentialStoreError, auth_command
from monitor.core.source_settings import source_env_var
from monitor.core.timeutil import utcnow

__all__ = [
    "DEFAULT_TIMEOUT",
    "ReplyOutcome",
    "post_source_reply",
    "reply_sources",
    "reply_supported",
    "source_name",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 10.0
_SEGMENT = r"[A-Za-z0-9_.~-]+"
_REVIEW_NAME = re.compile(rf"accounts/{_SEGMENT}/locations/{_SEGMENT}/reviews/{_SEGMENT}")
_REVIEW_ID = re.compile(_SEGMENT)
_ALLEGRO_JSON: Final = "application/vnd.allegro.public.v1+json"
# A stored Allegro token this close to its expiry is not used: the request could outlive it.
_ALLEGRO_MARGIN: Final = timedelta(seconds=60)


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


def _bearer(token: str, content_type: str = JSON) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": content_type, "Accept": "application/json"}


def _post_google(req: ReplyRequest) -> ReplyOutcome:
    section = req.settings.sources.google_business
    token_var = source_env_var("google_business", "access_token")
    token = section.credential("access_token")
    if not token:
        return failed(f"no Google access token: set {token_var}")
    name = _review_name(req.mention, req.raw, section.base_url)
    if name is None:
        return failed("the stored review has no resource name (accounts/…/locations/…/reviews/…)")
    url = f"{section.base_url.rstrip('/')}/v4/{quote(name, safe='/')}/reply"
    answer = send(
        "PUT", url, headers=_bearer(token), body=json_bytes({"comment": req.text}), timeout=req.timeout
    )
    return http_outcome("Google", answer, f"set {token_var}", token)


def _post_trustpilot(req: ReplyRequest) -> ReplyOutcome:
    section = req.settings.sources.trustpilot
    token = section.credential("access_token")
    user = (section.business_user_id or "").strip()
    token_var = source_env_var("trustpilot", "access_token")
    missing = [
        source_env_var("trustpilot", field)
        for field, value in (("access_token", token), ("business_user_id", user))
        if not value
    ]
    if missing:
        return failed(f"Trustpilot replies need a business user: set {' and '.join(missing)}")
    review_id = req.raw.get("id") if req.raw else None
    if not isinstance(review_id, str) or not _REVIEW_ID.fullmatch(review_id):
        review_id = req.mention.external_id
    if not review_id or not _REVIEW_ID.fullmatch(review_id):
        return failed("the stored review has no Trustpilot review id")
    url = f"{section.base_url.rstrip('/')}/v1/private/reviews/{quote(review_id, safe='')}/reply"
    payload = {"authorBusinessUserId": user, "message": req.text}
    answer = send("POST", url, headers=_bearer(token), body=json_bytes(payload), timeout=req.timeout)
    return http_outcome("Trustpilot", answer, f"set {token_var}", token)


def _allegro_token(req: ReplyRequest) -> str | ReplyOutcome:
    """The stored (renewed by every crawl) access token while it is valid, else the configured one.

    The reply path does not renew the token itself: Allegro rotates the refresh token on each renewal, so
    a renewal here could spend the one a running crawl holds. Crawls renew it well before its 12 hours end.
    """
    command = auth_command("allegro") or "earshot auth allegro"
    token_var = source_env_var("allegro", "access_token")
    try:
        stored = req.stored_credentials("allegro")
    except (CredentialStoreError, SQLAlchemyError) as exc:
        log.warning("Allegro reply: stored credentials unreadable: %s", type(exc).__name__)
        stored = {}
        problem = str(exc) if isinstance(exc, CredentialStoreError) else "the database could not be read"
    else:
        problem = ""
    token = (stored.get("access_token") or "").strip()
    if token and not _expired(stored.get("expires_at")):
        return token
    configured = req.settings.sources.allegro.credential("access_token")
    if configured:
        return configured
    if problem:
        return failed(f"no usable Allegro token: {problem}")
    if token:
        return failed(
            f"the stored Allegro token has expired: the next Allegro crawl renews it, or run `{command}`"
        )
    return failed(f"no Allegro token: run `{command}` or set {token_var}")


def _expired(text: str | None) -> bool:
    if not text:
        return False  # unknown expiry: a 401 will say
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return moment.tzinfo is not None and moment - utcnow() <= _ALLEGRO_MARGIN


def _post_allegro(req: ReplyRequest) -> ReplyOutcome:
    section = req.settings.sources.allegro
    rating_id = req.raw.get("id") if req.raw else None
    if not isinstance(rating_id, str) or not _REVIEW_ID.fullmatch(rating_id):
        rating_id = req.mention.external_id
    if not rating_id or not _REVIEW_ID.fullmatch(rating_id):
        return failed("the stored rating has no Allegro rating id")
    token = _allegro_token(req)
    if isinstance(token, ReplyOutcome):
        return token
    url = f"{section.base_url.rstrip('/')}/sale/user-ratings/{quote(rating_id, safe='')}/answer"
    headers = {**_bearer(token, _ALLEGRO_JSON), "Accept": _ALLEGRO_JSON}
    answer = send("PUT", url, headers=headers, body=json_bytes({"message": req.text}), timeout=req.timeout)
    command = auth_command("allegro") or "earshot auth allegro"
    fix = f"run `{command}` or set {source_env_var('allegro', 'access_token')}"
    return http_outcome("Allegro", answer, fix, token, thing="rating")


# The one registry: source -> (name people read, poster). A source not here has no reply API.
_POSTERS: Final[dict[str, tuple[str, Poster]]] = {
    "google_business": ("Google", _post_google),
    "trustpilot": ("Trustpilot", _post_trustpilot),
    "allegro": ("Allegro", _post_allegro),
    "mastodon": ("Mastodon", post_mastodon),
    "bluesky": ("Bluesky", post_bluesky),
    "youtube": ("YouTube", post_youtube),
    "reddit": ("Reddit", post_reddit),
}


def reply_supported(source: str) -> bool:
    """Whether Earshot can post a reply on ``source`` itself (else the agent posts it by hand)."""
    return source in _POSTERS


def reply_sources() -> tuple[str, ...]:
    """Every source Earshot posts replies on, in registry order."""
    return tuple(_POSTERS)


def source_name(source: str) -> str:
    """The short name outcomes use ("Google", "Mastodon"); the id for sources without a reply API."""
    entry = _POSTERS.get(source)
    return entry[0] if entry is not None else source


def post_source_reply(
    settings: EarshotSettings,
    mention: MentionView,
    raw: dict[str, Any] | None,
    text: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    engine: Engine | None = None,
) -> ReplyOutcome:
    """Send ``text`` as the business's reply to ``mention`` on its source; never raises for HTTP errors.

    ``engine`` lets sources with stored credentials (Allegro, Bluesky) use them.
    """
    source = mention.source
    entry = _POSTERS.get(source)
    if entry is None:
        where = f"at {mention.url}" if mention.url else "on the source"
        return ReplyOutcome("recorded", f"{source} has no reply API; post it yourself {where}")
    name, post = entry
    text = text.strip()
    if not text:
        return failed("the reply is empty")
    limit = reply_limit(source)
    length = reply_length(source, text)
    if limit is not None and length > limit:
        return failed(f"the reply is {length} {reply_unit(source)}; {name} accepts at most {limit}")
    try:
        outcome = post(ReplyRequest(settings, mention, raw, text, timeout, engine))
    except TimeoutError as exc:
        log.warning("Reply to mention %s on %s timed out: %s", mention.id, source, type(exc).__name__)
        return failed(f"{name} unavailable (timed out), try again")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        kind = "timed out" if isinstance(reason, TimeoutError) else type(reason).__name__
        log.warning("Reply to mention %s on %s failed: %s", mention.id, source, kind)
        return failed(f"{name} unavailable ({kind}), try again")
    log.info("Reply to mention %s on %s: %s", mention.id, source, outcome.status)
    return outcome
