"""A run's bearer token that can be renewed mid-crawl (Allegro's OAuth refresh, Bluesky's refreshSession).

Why: Allegro's access token lives 12 hours and a Bluesky accessJwt about two, so a long crawl (or a token
stored by an earlier run) can expire between two pages. The spider then renews it once and sends the
refused request again, instead of failing the run.

:class:`TokenRenewal` keeps the token and the requests waiting for its renewal. Only one renewal is in
flight at a time: requests refused (or about to be sent) while it runs are parked and sent again with the
new token once it arrives; a request already sent again after a renewal is not retried twice, so a token
refused right after its renewal ends the run as ``auth_failed``. Every token the run held is remembered so
that error messages can be scrubbed of them.

:func:`has_stored_credentials` says whether ``earshot auth <source>`` stored something, for the spiders'
``skip_reason`` (no key is needed to know a row exists).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from scrapy import Request
from sqlalchemy.exc import SQLAlchemyError

from monitor.core.config import EarshotSettings
from monitor.core.credentials import CredentialStore, CredentialStoreError
from monitor.core.db import DatabaseError, make_engine
from monitor.core.timeutil import utcnow

__all__ = ["GENERATION_META", "RENEWED_META", "TokenRenewal", "has_stored_credentials"]

RENEWED_META = "earshot_sent_after_renewal"  # a refusal of this request is final
GENERATION_META = "earshot_token_generation"  # which token the request carried (0: the first)
DEFAULT_MARGIN = timedelta(minutes=5)  # renew a token this close to its expiry before using it


class TokenRenewal:
    """The run's bearer token, its expiry, and the requests parked while it is renewed."""

    def __init__(
        self, token: str = "", expires_at: datetime | None = None, margin: timedelta = DEFAULT_MARGIN
    ) -> None:
        self.token = token
        self.expires_at = expires_at
        self.margin = margin
        self.generation = 0
        self.in_flight = False
        self.renewals = 0
        self._parked: list[Request] = []
        self._secrets: set[str] = {token} if token else set()

    def due(self, now: datetime | None = None) -> bool:
        """No token yet, or one that expires within the margin: renew before sending anything with it."""
        if not self.token:
            return True
        if self.expires_at is None:
            return False
        return self.expires_at - (now or utcnow()) <= self.margin

    def authorize(self, request: Request, *, renewed: bool = False) -> Request:
        """``request`` carrying the current token (and, when ``renewed``, marked as sent after a renewal)."""
        meta = {**request.meta, GENERATION_META: self.generation}
        if renewed:
            meta[RENEWED_META] = True
        headers = request.headers.to_unicode_dict()
        headers["Authorization"] = f"Bearer {self.token}"
        return request.replace(headers=headers, meta=meta)

    def is_stale(self, request: Request) -> bool:
        """Whether ``request`` carried a token older than the current one (renewed while it was out)."""
        return request.meta.get(GENERATION_META, self.generation) != self.generation

    @staticmethod
    def may_retry(request: Request) -> bool:
        """A request refused for its token goes again once, never twice."""
        return not request.meta.get(RENEWED_META)

    def park(self, request: Request) -> bool:
        """Hold ``request`` until the renewal; True when the caller must send the renewal now."""
        self._parked.append(request)
        if self.in_flight:
            return False
        self.in_flight = True
        return True

    def start(self) -> bool:
        """Begin a renewal with nothing parked (the run's first token); False when one is in flight."""
        if self.in_flight:
            return False
        self.in_flight = True
        return True

    def renewed(self, token: str, expires_at: datetime | None) -> list[Request]:
        """Take the new token; the parked requests, carrying it, to send again."""
        self.token = token
        self.expires_at = expires_at
        self.generation += 1
        self.renewals += 1
        self.in_flight = False
        self.remember(token)
        parked, self._parked = self._parked, []
        return [self.authorize(request, renewed=True) for request in parked]

    def abandon(self) -> int:
        """The renewal failed: drop the parked requests (their scopes stay unfinished); how many."""
        dropped = len(self._parked)
        self._parked = []
        self.in_flight = False
        return dropped

    def remember(self, *secrets: str | None) -> None:
        """Add secrets (refresh tokens, app passwords) that must never reach a log line or a stored error."""
        self._secrets.update(s for s in secrets if s)

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this run replaced by ``[redacted]``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text


def has_stored_credentials(config: EarshotSettings, source: str) -> bool | None:
    """Whether ``earshot auth <source>`` stored credentials; None when the database cannot say (the run
    itself then reports why)."""
    try:
        engine = make_engine(config.effective_database_url)
    except DatabaseError:  # unreachable: the crawl itself reports it
        return None
    try:
        return CredentialStore.from_settings(config, engine).has(source)
    except (SQLAlchemyError, CredentialStoreError):  # a malformed key: the crawl says
        return None
    finally:
        engine.dispose()
