"""A bearer token that renews itself with an OAuth 2.0 refresh token, through google-auth.

Why: a Google access token lives about an hour, so a crawl configured with a fixed one fails the next
hour. :class:`TokenSource` holds the OAuth client (id, secret), the refresh token and the current access
token, and asks the token endpoint for a new access token when there is none, when it is about to expire
(:meth:`TokenSource.due`) or when the API refused it (:meth:`TokenSource.refresh`).

The refresh itself is ``google.oauth2.credentials.Credentials.refresh`` with
``google.auth.transport.requests.Request`` (the refresh-token grant as Google documents it, including
its retries of transient token-endpoint errors). It is a blocking call, so a spider awaits
:meth:`TokenSource.refresh_async`, which runs it in a worker thread and lets requests that fail at the
same moment share one refresh (the ``generation`` they carried tells whether a newer token exists already).

When the endpoint answers with a new refresh token (rotation), ``on_rotate`` is called with it before
the new access token is used, so the caller can store it (:class:`monitor.core.credentials.CredentialStore`).
A refresh the endpoint refuses (``invalid_grant``: revoked or expired; ``invalid_client``) raises
:class:`TokenRefreshError` with ``refused=True``: only a new authorisation helps. A token endpoint that
cannot be reached raises it with ``refused=False``. No message ever carries a secret.

Nothing here is Google Business specific: any spider of a Google API that uses OAuth can hold one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth.exceptions
import requests
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2.credentials import Credentials

from monitor.core.timeutil import utcnow

__all__ = ["DEFAULT_MARGIN", "TokenRefreshError", "TokenSource"]

DEFAULT_MARGIN = timedelta(minutes=5)  # renew a token this close to its expiry before sending it
DEFAULT_TIMEOUT = 30.0  # seconds for one call to the token endpoint (google-auth's own default is 120)
# OAuth error codes that mean the grant itself is gone: retrying cannot help, a new consent can.
REFUSED_CODES = frozenset({"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope"})


class TokenRefreshError(Exception):
    """The access token could not be renewed; ``refused``: the endpoint said no (a new consent is needed)."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


class _TimedRequest(GoogleRequest):
    """google-auth's requests transport with our timeout (its default waits two minutes per attempt)."""

    def __init__(self, session: requests.Session, timeout: float) -> None:
        super().__init__(session)
        self._timeout = timeout

    def __call__(
        self,
        url: Any,
        method: Any = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        """As google-auth's, with our timeout unless the caller gives one (google-auth's refresh does not)."""
        return super().__call__(
            url, method, body, headers, timeout=self._timeout if timeout is None else timeout, **kwargs
        )


class TokenSource:
    """An access token kept fresh with a refresh token; see the module doc. Thread-safe."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        token_uri: str,
        on_rotate: Callable[[str], None] | None = None,
        margin: timedelta = DEFAULT_MARGIN,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._credentials = Credentials(
            token=None,
            refresh_token=refresh_token,
            token_uri=token_uri,
            client_id=client_id,
            client_secret=client_secret,
        )
        self._on_rotate = on_rotate
        self._margin = margin
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._async_lock: asyncio.Lock | None = None
        self._issued_at: datetime | None = None
        self._secrets: set[str] = {client_secret, refresh_token}
        self.generation = 0  # +1 per access token obtained; requests remember the one they carried
        self.refreshes = 0
        self.rotations = 0
        self.token_uri = token_uri

    def __repr__(self) -> str:
        state = "no token yet" if self.token is None else f"token #{self.generation}, expires {self.expiry}"
        return f"TokenSource({self.token_uri}, {state})"

    # -- state ---------------------------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        """The current access token; None before the first refresh."""
        token: str | None = self._credentials.token
        return token

    @property
    def refresh_token(self) -> str:
        value: str = self._credentials.refresh_token
        return value

    @property
    def expiry(self) -> datetime | None:
        """When the current access token expires (aware UTC), if the endpoint said."""
        expiry: datetime | None = self._credentials.expiry  # google-auth keeps naive UTC
        return expiry.replace(tzinfo=UTC) if expiry is not None else None

    def due(self, now: datetime | None = None) -> bool:
        """No token, or one within the margin of its expiry (at most half its lifetime, for short ones)."""
        if self.token is None:
            return True
        expiry = self.expiry
        if expiry is None:
            return False  # no expiry given: used until the API refuses it
        margin = self._margin
        if self._issued_at is not None:
            margin = min(margin, (expiry - self._issued_at) / 2)
        return (now or self._clock()) >= expiry - margin

    def secrets(self) -> Iterable[str]:
        """Every secret this source held (client secret, refresh and access tokens), for scrubbing text."""
        return tuple(s for s in self._secrets if s)

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this source replaced by ``[redacted]``."""
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return text

    # -- refreshing ----------------------------------------------------------------------------------

    def refresh(self, seen_generation: int | None = None) -> bool:
        """Get a new access token from the token endpoint (blocking); TokenRefreshError when it fails.

        With ``seen_generation`` (the generation a refused request carried), a token newer than that one
        is kept without asking again: another request's refresh already replaced it. True when this call
        asked the endpoint; the token is :attr:`token`.
        """
        with self._lock:
            if seen_generation is not None and self.generation > seen_generation and self.token:
                return False
            before = self.refresh_token
            with requests.Session() as session:
                try:
                    self._credentials.refresh(_TimedRequest(session, self._timeout))
                except google.auth.exceptions.RefreshError as exc:
                    raise self._refused(exc) from None
                except google.auth.exceptions.TransportError as exc:
                    raise TokenRefreshError(
                        f"the token endpoint {self.token_uri} could not be reached: {self.scrub(str(exc))[:300]}",
                        refused=False,
                    ) from None
            token = self.token
            if not token:
                raise TokenRefreshError(
                    f"the token endpoint {self.token_uri} answered without an access token", refused=False
                )
            self._issued_at = self._clock()
            self.generation += 1
            self.refreshes += 1
            self._secrets.update({token, self.refresh_token})
            if self.refresh_token and self.refresh_token != before:
                self.rotations += 1
                if self._on_rotate is not None:
                    self._on_rotate(self.refresh_token)
            return True

    async def refresh_async(self, seen_generation: int | None = None) -> bool:
        """:meth:`refresh` in a worker thread, one at a time, so the crawl's event loop keeps running."""
        if self._async_lock is None:
            self._async_lock = asyncio.Lock()
        async with self._async_lock:
            return await asyncio.to_thread(self.refresh, seen_generation)

    def _refused(self, exc: google.auth.exceptions.RefreshError) -> TokenRefreshError:
        """What the endpoint said, as ``invalid_grant (Token has been expired or revoked.)``."""
        data = exc.args[1] if len(exc.args) > 1 else None
        code, description = "", ""
        if isinstance(data, dict):
            code = str(data.get("error") or "")[:100]
            description = str(data.get("error_description") or "")[:200]
        if not code:
            description = str(exc.args[0] if exc.args else exc)[:300]
        retryable = bool(getattr(exc, "retryable", False))
        refused = code in REFUSED_CODES or (not retryable and bool(code))
        said = (
            f"{code} ({description})" if code and description else (code or description or "no reason given")
        )
        verb = "refused the refresh token" if refused else "did not renew the access token"
        return TokenRefreshError(f"the token endpoint {verb}: {self.scrub(said)}", refused=refused)
