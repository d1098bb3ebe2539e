"""A Google API spider whose access token renews itself: a fixed token, or an OAuth client + refresh token.

Why: a Google OAuth access token lives about an hour. With ``client_id``, ``client_secret`` and
``refresh_token`` (set in the environment, or stored encrypted by ``earshot auth google``; stored values
win field by field, since a rotated refresh token lands there) the run:

- gets a fresh access token before its first request (:class:`spiders.oauth.TokenSource`);
- renews it in the background once it is close to expiry, while the current one still works;
- on a 401 renews it once and sends the refused request again (a second 401 is final);
- stores a refresh token Google rotated, encrypted, before using the new access token;
- ends as ``auth_failed`` when the token endpoint refuses (``invalid_grant``: revoked consent), with a
  reason that names the command to run (``earshot auth google``), so the source-health alert says it too.

A subclass builds its requests' headers with :meth:`GoogleOAuthSpider.authorization` and sets
``errback=self.on_request_error`` on them (:meth:`GoogleOAuthSpider.oauth_request` does both). A fixed
``access_token`` keeps the old behaviour: a 401 ends the run, asking for a new token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.spidermiddlewares.httperror import HttpError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from twisted.python.failure import Failure

from monitor.core.config import EarshotSettings
from monitor.core.credentials import CredentialStore, CredentialStoreError, auth_command
from monitor.core.db import DatabaseError, make_engine
from monitor.core.source_settings import GOOGLE_OAUTH_FIELDS, source_env_var
from spiders.base import SourceSpider, StateT
from spiders.oauth import TokenRefreshError, TokenSource
from spiders.token_renewal import has_stored_credentials

__all__ = ["GENERATION_META", "RETRIED_META", "GoogleOAuthSpider"]

GENERATION_META = "earshot_oauth_generation"  # which access token a request carried
RETRIED_META = "earshot_oauth_retried"  # sent again after a refresh: a second 401 is final


class GoogleOAuthSpider(SourceSpider[StateT]):
    """A source spider for a Google API with renewable OAuth credentials; see the module doc.

    Its settings section has ``access_token``, ``client_id``, ``client_secret``, ``refresh_token`` and
    ``token_uri`` (:class:`monitor.core.source_settings.GoogleBusinessSettings`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens: TokenSource | None = None  # set when the run renews its own access tokens
        self._store: CredentialStore | None = None
        self._engine: Engine | None = None
        self._credentials_checked = False
        self._background: asyncio.Future[None] | None = None  # a refresh before expiry, in flight
        self._refresh_error: TokenRefreshError | None = None
        self._rotation_problem: str | None = None  # set in the refresh thread, reported in the reactor's

    @classmethod
    def auth_hint(cls) -> str:
        return auth_command(cls.settings_section) or f"earshot auth {cls.settings_section}"

    @classmethod
    def oauth_envs(cls) -> str:
        return ", ".join(source_env_var(cls.settings_section, name) for name in GOOGLE_OAUTH_FIELDS)

    @classmethod
    def skip_reason(cls, config: EarshotSettings) -> str | None:
        """As the base says, except that credentials stored by ``earshot auth google`` count as set."""
        reason = super().skip_reason(config)
        if reason is None or not cls.settings_of(config).missing_credentials():
            return reason
        if has_stored_credentials(config, cls.settings_section) is False:
            return f"{reason} (or run `{cls.auth_hint()}`)"
        # stored (or the database cannot say, and the run reports why): judge the targets only
        if not any(getattr(t, f, None) for t in config.targets for f in cls.target_fields):
            return f"no target has {' or '.join(cls.target_fields)}"
        return None

    # -- credentials ----------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        """The OAuth client and refresh token (stored ones first, field by field), else a fixed token."""
        if self._credentials_checked:
            return
        self._credentials_checked = True
        stored = self._stored_credentials()
        values = {name: self.credential(name) for name in GOOGLE_OAUTH_FIELDS}
        values.update({k: v for k, v in stored.items() if k in GOOGLE_OAUTH_FIELDS and v})
        if all(values.values()):
            section: Any = self.source_settings  # every Google OAuth section has token_uri
            self.tokens = TokenSource(
                client_id=values["client_id"],
                client_secret=values["client_secret"],
                refresh_token=values["refresh_token"],
                token_uri=str(section.token_uri),
                on_rotate=self._store_rotated,
            )
            return
        if stored and not self.credential("access_token"):
            missing = ", ".join(name for name, value in values.items() if not value)
            self.record_error(
                f"the stored Google authorisation lacks {missing}; run `{self.auth_hint()}` to authorise again"
            )
            raise CloseSpider("missing_credentials")
        super().check_credentials()

    def _stored_credentials(self) -> dict[str, str]:
        """What ``earshot auth google`` (or a rotation) stored; a store that cannot be read ends the run."""
        try:
            self._engine = make_engine(self.config.effective_database_url)
            self._store = CredentialStore.from_settings(self.config, self._engine)
            return self._store.load(self.settings_section)
        except (CredentialStoreError, SQLAlchemyError, DatabaseError) as exc:
            self.record_error(f"the stored Google authorisation cannot be read: {exc}")
            self.auth_failed = True
            raise CloseSpider("auth_failed") from None

    async def start(self) -> AsyncIterator[Request]:
        """A fresh access token before the first request, when the run renews its own."""
        self.check_credentials()
        if self.tokens is not None:
            try:
                await self.tokens.refresh_async()
            except TokenRefreshError as exc:
                self._refresh_failed(exc)
            self._refreshed("earshot/oauth/refreshed_at_start")
        async for request in super().start():
            yield request

    def _refresh_failed(self, exc: TokenRefreshError) -> None:
        """No access token: the run ends as auth_failed, saying what to run (or that it was the network)."""
        self._refresh_error = exc
        self.stats_inc("earshot/oauth/refresh_failed")
        if exc.refused:
            self.record_error(
                f"Google refused to renew the access token ({exc}): the consent was revoked or the OAuth "
                f"client changed; run `{self.auth_hint()}` to authorise again"
            )
        else:
            self.record_error(
                f"no access token ({exc}); the next run tries again. If it keeps failing, check "
                f"sources.{self.settings_section}.token_uri or run `{self.auth_hint()}`"
            )
        self.auth_failed = True
        raise CloseSpider("auth_failed")

    def _refreshed(self, stat: str) -> None:
        """Count a refresh; report a rotated refresh token that could not be stored (set in the thread)."""
        self.stats_inc(stat)
        problem, self._rotation_problem = self._rotation_problem, None
        if problem:
            self.record_error(problem)

    def _store_rotated(self, refresh_token: str) -> None:
        """Google sent a new refresh token: store it (encrypted) before the old one may stop working.

        Runs in the refresh's worker thread; what went wrong is reported by :meth:`_refreshed`.
        """
        try:
            if self._store is None:
                raise CredentialStoreError("no credential store")
            self._store.update(self.settings_section, refresh_token=refresh_token)
        except (CredentialStoreError, SQLAlchemyError) as exc:
            self._rotation_problem = (
                f"Google rotated the refresh token but it could not be stored ({exc}); this run goes on "
                f"with it, the next one may be refused: fix that and run `{self.auth_hint()}`"
            )
        else:
            self.stats_inc("earshot/oauth/rotations_stored")

    # -- requests -------------------------------------------------------------------------------------

    def authorization(self) -> tuple[dict[str, str], dict[str, Any]]:
        """The bearer header and request meta for a new request; starts a background refresh when due."""
        if self.tokens is None:
            return {"Authorization": f"Bearer {self.credential('access_token')}"}, {}
        if self.tokens.due() and (self._background is None or self._background.done()):
            self._background = asyncio.ensure_future(self._refresh_before_expiry())
        return {"Authorization": f"Bearer {self.tokens.token}"}, {GENERATION_META: self.tokens.generation}

    def oauth_request(self, state: StateT, url: str, **kwargs: Any) -> Request | None:
        """:meth:`scope_request` with the bearer header, renewed and sent again once on a 401."""
        headers, meta = self.authorization()
        request = self.scope_request(
            state,
            url,
            headers={**headers, **(kwargs.pop("headers", None) or {})},
            meta={**meta, **(kwargs.pop("meta", None) or {})},
            **kwargs,
        )
        return None if request is None else request.replace(errback=self.on_request_error)

    async def _refresh_before_expiry(self) -> None:
        """Renew the token while the current one still works; a failure here waits for the API's 401."""
        assert self.tokens is not None
        try:
            fetched = await self.tokens.refresh_async(self.tokens.generation)
        except TokenRefreshError as exc:
            self.stats_inc("earshot/oauth/refresh_failed")
            self.logger.warning("Renewing the access token before it expires failed: %s", exc)
            return
        if fetched:
            self._refreshed("earshot/oauth/refreshed_before_expiry")

    def on_request_error(self, failure: Failure) -> AsyncIterator[Request] | None:
        """A 401 with a renewable token: renew once and send the request again; anything else as before."""
        request = failure.request  # type: ignore[attr-defined]
        refused = isinstance(failure.value, HttpError) and failure.value.response.status == 401
        if (
            refused
            and self.tokens is not None
            and not request.meta.get(RETRIED_META)
            and not self.auth_failed
        ):
            return self._refresh_and_retry(failure)
        self.on_error(failure)
        return None

    async def _refresh_and_retry(self, failure: Failure) -> AsyncIterator[Request]:
        assert self.tokens is not None
        request = failure.request  # type: ignore[attr-defined]
        try:
            fetched = await self.tokens.refresh_async(request.meta.get(GENERATION_META))
        except TokenRefreshError as exc:
            self._refresh_error = exc
            self.stats_inc("earshot/oauth/refresh_failed")
            self.on_error(failure)  # the 401, with the refresh's failure as its hint: ends the run
            return
        if fetched:
            self._refreshed("earshot/oauth/refreshed_after_401")
        self.stats_inc("earshot/oauth/retried_after_401")
        self.requests_made += 1
        headers = request.headers.to_unicode_dict()
        headers["Authorization"] = f"Bearer {self.tokens.token}"
        meta = {**request.meta, RETRIED_META: True, GENERATION_META: self.tokens.generation}
        yield request.replace(headers=headers, meta=meta)

    def refused_hint(self, token_env: str) -> str:
        """What to do about a 401: renew the fixed token, or authorise again when renewing did not help."""
        if self.tokens is None:
            return (
                f"the access token was refused; renew {token_env}, or run `{self.auth_hint()}` so tokens "
                "renew themselves"
            )
        if self._refresh_error is not None:
            return (
                f"the access token was refused and could not be renewed: {self._refresh_error}; "
                f"run `{self.auth_hint()}`"
            )
        return f"the access token was refused even right after it was renewed; run `{self.auth_hint()}`"

    # -- errors and the end ---------------------------------------------------------------------------

    def record_error(self, message: str) -> None:
        """As the base does, with the run's renewed access tokens and refresh token scrubbed too."""
        if self.tokens is not None:
            message = self.tokens.scrub(message)
        super().record_error(message)

    def closed(self, reason: str) -> None:
        if self.tokens is not None:
            self.stats_inc("earshot/oauth/refreshes", self.tokens.refreshes)
        super().closed(reason)
        if self._engine is not None:
            self._engine.dispose()
