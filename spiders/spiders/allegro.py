"""Ratings that buyers gave the monitored sellers on Allegro, from the Allegro REST API.

``GET {base_url}/sale/user-ratings?user.id={id}&limit=N&offset=K`` (``Authorization: Bearer``, ``Accept:
application/vnd.allegro.public.v1+json``) lists a seller's ratings sorted by ``lastChangedAt``, newest
first: a new rating and an edited one both come first. So a run pages by offset only until it meets a
rating no newer than the seller's watermark, and sends the watermark as ``lastChangedAt.gte`` so the API
itself leaves older ratings out. An edited rating (newer ``lastChangedAt``) updates the stored mention,
the previous text and rating kept as a revision.

The rating's score is the mean of the buyer's rates (delivery, delivery cost, description, service; 1-5).
Ratings given under Allegro's newer rules carry no rates, only ``recommended``: those have no score, and
``recommended`` stays in ``raw``. The seller's answer is the reply. The token must be the seller's own
(the resource returns the authenticated user's ratings); one token per seller means one target per token.

Tokens: a fixed ``access_token`` lives 12 hours. With the app's ``client_id`` and ``client_secret`` set and
``earshot auth allegro`` run once (device flow, :mod:`spiders.allegro_oauth`), the credential store holds
a refresh token: the run renews the access token before its first page when it expires within 5 minutes,
and once on a 401 (then sends the refused page again; pages refused meanwhile wait for that one renewal).
Allegro rotates the refresh token on each renewal and the old one stops working, so the new one is stored
(encrypted) before the new access token is used. A refused renewal (``invalid_grant``) ends the run as
``auth_failed`` with a reason naming ``earshot auth allegro``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from twisted.python.failure import Failure

from monitor.core.config import EarshotSettings
from monitor.core.credentials import CredentialStore, CredentialStoreError
from monitor.core.db import DatabaseError, make_engine
from monitor.core.source_settings import AllegroSettings, source_env_var
from spiders.allegro_oauth import (
    AUTH_COMMAND,
    FORM,
    REFRESH_KEY,
    TOKEN_PATH,
    basic_auth,
    endpoint,
    parse_oauth_error,
    parse_token,
    refresh_form,
    stored_expiry,
)
from spiders.base import ScopeState, SourceError, SourceSpider
from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, MentionItem, optional_timestamp, rfc3339_millis
from spiders.responses import as_object, error_object, error_text, json_object, required_list
from spiders.token_renewal import TokenRenewal, has_stored_credentials

SOURCE = "allegro"
TOKEN_ENV = source_env_var(SOURCE, "access_token")
CLIENT_ID_ENV = source_env_var(SOURCE, "client_id")
CLIENT_SECRET_ENV = source_env_var(SOURCE, "client_secret")
_REFRESH_META = "earshot_allegro_refresh"
MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
RATES = ("delivery", "deliveryCost", "description", "service")


@dataclass(frozen=True)
class AllegroError:
    """An Allegro error body: ``{"errors": [{"code", "message", "userMessage", "path", "details"}]}``, or an
    OAuth one: ``{"error": "invalid_token", "error_description": "..."}``."""

    code: str
    message: str
    path: str = ""


def parse_ratings_page(body: bytes) -> list[Any]:
    """The ``ratings`` of a UserRatingListResponse, or raise MalformedResponse."""
    return required_list(json_object(body, SOURCE), "ratings", SOURCE)


def parse_allegro_error(body: bytes) -> AllegroError:
    """The first error Allegro reported, tolerating OAuth-style and non-JSON bodies (proxies)."""
    data = error_object(body)
    if data is None:
        return AllegroError("", error_text(body))
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        message = first.get("userMessage") or first.get("message") or first.get("details") or "(no message)"
        return AllegroError(
            str(first.get("code") or "")[:100], str(message)[:500], str(first.get("path") or "")[:100]
        )
    if isinstance(data.get("error"), str):  # the OAuth layer: invalid_token, insufficient_scope...
        description = data.get("error_description") or data["error"] or "(no message)"
        return AllegroError(data["error"][:100], str(description)[:500])
    return AllegroError("", error_text(body))


def rating_score(rates: Any) -> Any:
    """The mean of the buyer's 1-5 rates, or None when there are none (newer ratings only recommend).

    Rates that are not whole numbers are left out of the mean; a mean outside 1-5 is returned as it is
    and refused by validation.
    """
    if not isinstance(rates, dict):
        return None
    values = [
        rates[key] for key in RATES if isinstance(rates.get(key), int) and not isinstance(rates[key], bool)
    ]
    return round(sum(values) / len(values), 2) if values else None


def changed_at(rating: Any) -> datetime | None:
    """When the rating last changed (``lastChangedAt``, else ``editedAt`` or ``createdAt``), aware UTC."""
    if not isinstance(rating, dict):
        return None
    return optional_timestamp(
        rating.get("lastChangedAt") or rating.get("editedAt") or rating.get("createdAt")
    )


def rating_to_item(rating: Any, *, scope: str, target: str | None) -> MentionItem:
    """Map one UserRating to a MentionItem without judging values (validation does that).

    Raises InvalidItem only when ``rating`` is not an object at all.
    """
    if not isinstance(rating, dict):
        raise InvalidItem("not_an_object", f"rating is {type(rating).__name__}, not an object")
    buyer, answer = as_object(rating.get("buyer")), as_object(rating.get("answer"))
    return MentionItem(
        source=SOURCE,
        external_id=rating.get("id"),
        url=None,  # Allegro has no public page per rating
        author=buyer.get("login"),
        text=rating.get("comment") if rating.get("comment") is not None else "",
        lang=None,
        rating=rating_score(rating.get("rates")),
        reply_text=answer.get("message"),
        parent_id=None,
        reach=None,
        created_at=rating.get("createdAt"),
        updated_at=rating.get("lastChangedAt") or rating.get("editedAt") or rating.get("createdAt"),
        target=target,
        raw=rating,
        scope=scope,
    )


@dataclass
class SellerScope(ScopeState):
    """One seller's progress in this run: the next offset and the ratings already read."""

    user_id: str = ""
    offset: int = 0
    seen_ids: set[str] = field(default_factory=set)


class AllegroRatingsSpider(SourceSpider[SellerScope]):
    """Read new and edited ratings of every target's Allegro sellers."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("allegro_user_ids",)
    source_label = "Allegro"
    scope_noun = "seller"
    record_noun = "rating"
    credential_help = {
        "access_token": (
            "an OAuth 2.0 access token of the seller's account with the allegro:api:ratings scope (it lasts "
            f"12 hours), or set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} and run `{AUTH_COMMAND}` once"
        ),
        "client_id": "the Client ID of your Allegro app (apps.developer.allegro.pl, device flow type)",
        "client_secret": "the Client Secret of that Allegro app",
    }
    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # an authenticated API, not a website
        # Error messages (and excludedFromAverageRatesReason) come in the Accept-Language.
        "DEFAULT_REQUEST_HEADERS": {"Accept": MEDIA_TYPE, "Accept-Language": "en-US"},
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The run's token: the configured one, or the stored renewable one (then ``store`` is set).
        self.tokens = TokenRenewal()
        self.refresh_token: str | None = None
        self.store: CredentialStore | None = None
        self._engine: Engine | None = None

    @property
    def api(self) -> AllegroSettings:
        return self.config.sources.allegro

    @property
    def renewable(self) -> bool:
        """Whether the run can renew its token itself (``earshot auth allegro`` stored a refresh token)."""
        return self.store is not None and bool(self.refresh_token)

    # -- credentials ---------------------------------------------------------------------------------

    @classmethod
    def skip_reason(cls, config: EarshotSettings) -> str | None:
        """A fixed access token, or the app's client credentials with the refresh token stored by
        ``earshot auth allegro``."""
        reason = super().skip_reason(config)
        section = config.sources.allegro
        if reason is not None or section.credential("access_token"):
            return reason
        if has_stored_credentials(config, SOURCE) is False:
            return f"not authorised yet: run `{AUTH_COMMAND}`"
        return None

    def check_credentials(self) -> None:
        """The settings' credentials, then the stored renewable token when the app's credentials are set."""
        super().check_credentials()
        if not (self.credential("client_id") and self.credential("client_secret")):
            self.tokens = TokenRenewal(self.credential("access_token"))
            return
        try:
            self._engine = make_engine(self.config.effective_database_url)
            store = CredentialStore.from_settings(self.config, self._engine)
            stored = store.load(SOURCE)
        except (CredentialStoreError, SQLAlchemyError, DatabaseError) as exc:
            self.record_error(f"the stored Allegro authorisation cannot be read: {exc}")
            self.auth_failed = True
            raise CloseSpider("auth_failed") from None
        refresh = stored.get(REFRESH_KEY, "")
        if refresh:
            self.store, self.refresh_token = store, refresh
            self.tokens = TokenRenewal(stored.get("access_token", ""), stored_expiry(stored))
            self.tokens.remember(refresh)
        elif self.credential("access_token"):
            self.tokens = TokenRenewal(self.credential("access_token"))
        else:
            self.record_error(
                "no stored Allegro authorisation: the app's client id and secret are set, but no seller "
                f"authorised it yet; run `{AUTH_COMMAND}`"
            )
            raise CloseSpider("missing_credentials")

    def record_error(self, message: str) -> None:
        super().record_error(self.tokens.scrub(message))

    # -- scopes --------------------------------------------------------------------------------------

    def plan_scopes(self) -> Iterator[SellerScope]:
        for target in self.config.targets:
            for user_id in target.allegro_user_ids:
                user_id = user_id.strip()
                if user_id:
                    yield SellerScope(scope=f"users/{user_id}", target=target.name, user_id=user_id)

    def first_requests(self, state: SellerScope) -> Iterator[Request | None]:
        yield self._page_request(state)

    def _page_request(self, state: SellerScope) -> Request | None:
        params: dict[str, Any] = {
            "user.id": state.user_id,
            "limit": self.api.page_size,
            "offset": state.offset,
        }
        if state.watermark is not None:
            params["lastChangedAt.gte"] = rfc3339_millis(state.watermark)
        query = urlencode(params, quote_via=quote, safe=":")
        request = self.scope_request(
            state, f"{self.api.base_url.rstrip('/')}/sale/user-ratings?{query}", callback=self.parse_ratings
        )
        if request is None:
            return None
        if self.renewable and self.tokens.due():
            # Expired or about to: renew first, then send this page (and any others parked meanwhile).
            return self._refresh_request(state) if self.tokens.park(request) else None
        return self.tokens.authorize(request)

    # -- token renewal -------------------------------------------------------------------------------

    def _refresh_request(self, state: SellerScope) -> Request | None:
        """``POST {auth_url}/auth/oauth/token`` with the stored refresh token, counted like any request."""
        request = self.scope_request(
            state,
            endpoint(self.api.auth_url, TOKEN_PATH),
            callback=self.parse_refresh,
            headers={
                "Authorization": basic_auth(self.credential("client_id"), self.credential("client_secret")),
                "Content-Type": FORM,
                "Accept": "application/json",
            },
            meta={_REFRESH_META: True},
        )
        if request is None:  # over budget: the parked pages wait for the next run
            self.tokens.abandon()
            self._release_probe()
            return None
        self.stats_inc("earshot/allegro/token_refreshes")
        self.logger.info("Allegro: renewing the access token")
        assert self.refresh_token is not None
        return request.replace(method="POST", body=refresh_form(self.refresh_token))

    def parse_refresh(self, response: Response, scope: str) -> list[Request]:
        """Store the rotated refresh token at once (the old one no longer works), then send the parked pages."""
        try:
            grant = parse_token(response.body, keep_refresh=self.refresh_token)
        except MalformedResponse as exc:
            self.stats_inc("earshot/malformed_responses")
            self.tokens.abandon()
            self.auth_failed = True
            self.record_error(f"the token renewal answer is unusable: {exc}; run `{AUTH_COMMAND}`")
            raise CloseSpider("auth_failed") from None
        self.tokens.remember(grant.access_token, grant.refresh_token)
        self.refresh_token = grant.refresh_token
        assert self.store is not None
        try:
            self.store.update(SOURCE, **grant.stored())
        except (CredentialStoreError, SQLAlchemyError) as exc:
            # The old refresh token is spent: the next run cannot renew unless the user authorises again.
            self.stats_inc("earshot/allegro/rotation_not_stored")
            self.record_error(
                f"the renewed Allegro refresh token could not be stored ({type(exc).__name__}: {exc}); "
                f"this run goes on, but the next one will need `{AUTH_COMMAND}`"
            )
        replays = self.tokens.renewed(grant.access_token, grant.expires_at)
        self.requests_made += len(replays)
        self.logger.info("Allegro: access token renewed; %d request(s) sent again", len(replays))
        return replays

    def on_error(self, failure: Failure) -> list[Request] | None:  # type: ignore[override]
        """A 401 on a ratings page while the token can be renewed: renew once and send the page again."""
        request = failure.request  # type: ignore[attr-defined]
        value = failure.value
        if (
            self.renewable
            and isinstance(value, HttpError)
            and value.response.status == 401
            and not request.meta.get(_REFRESH_META)
            and self.tokens.may_retry(request)
            and not self.auth_failed
        ):
            self.stats_inc("earshot/allegro/token_expired")
            if self.tokens.is_stale(request):  # renewed while this page was out: just send it again
                return [self.tokens.authorize(request, renewed=True)]
            if not self.tokens.park(request):
                return []
            state = self.scopes[request.cb_kwargs["scope"]]
            refresh = self._refresh_request(state)
            return [] if refresh is None else [refresh]
        if request.meta.get(_REFRESH_META):
            self.tokens.abandon()
        super().on_error(failure)
        return None

    # -- pages ---------------------------------------------------------------------------------------

    def parse_ratings(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's ratings changed since the watermark, then the next page or the seller's end."""
        state = self.scopes[scope]
        what = f"malformed response at offset {state.offset}"
        ratings = self.read_page(state, lambda: parse_ratings_page(response.body), what)
        if ratings is None:
            return
        fresh = 0
        for rating in ratings:
            rating_id = rating.get("id") if isinstance(rating, dict) else None
            if isinstance(rating_id, str) and rating_id in state.seen_ids:
                continue  # shifted onto this page by a rating that arrived while paging
            fresh += 1
            updated = changed_at(rating)
            if not state.is_new(updated):
                self.complete_scope(state)
                return
            if isinstance(rating_id, str):
                state.seen_ids.add(rating_id)
            item = self.to_item(state, rating_to_item, rating, scope=scope, target=state.target)
            if item is not None:
                yield self.accept(state, item, updated)
        if len(ratings) < self.api.page_size:
            self.complete_scope(state)
        elif not fresh:
            self.fail_scope(state, f"offset {state.offset} returned only ratings already read (paging loop)")
        else:
            state.offset += len(ratings)
            request = self._page_request(state)
            if request is not None:
                yield request

    def parse_error_response(self, response: Response) -> SourceError:
        """Allegro's error; a refused token ends the run, a bad seller id fails only that seller."""
        request = getattr(response, "request", None)
        if request is not None and request.meta.get(_REFRESH_META):
            return self._refresh_error(response)
        error = parse_allegro_error(response.body)
        if response.status in (401, 403) and self.renewable:
            hint = (
                f"the renewed access token was refused too: run `{AUTH_COMMAND}` to authorise Earshot again"
            )
        elif response.status in (401, 403):
            hint = (
                f"the access token was refused: renew {TOKEN_ENV} (tokens expire after 12 hours), or let "
                f"Earshot renew it: set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}, then run `{AUTH_COMMAND}`"
            )
        elif response.status in (400, 404, 422):
            hint = "check the target's allegro_user_ids"
        else:
            hint = ""
        message = f"{error.message} (at {error.path})" if error.path else error.message
        return SourceError(
            response.status, error.code, message, auth=response.status in (401, 403), hint=hint
        )

    def _refresh_error(self, response: Response) -> SourceError:
        """A refused renewal ends the run as ``auth_failed``, naming what to run or set."""
        error = parse_oauth_error(response.body)
        if error.error in ("invalid_client", "unauthorized_client") or response.status == 401:
            hint = (
                f"Allegro refused the app's credentials: check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} "
                f"(apps.developer.allegro.pl), then run `{AUTH_COMMAND}`"
            )
        else:
            hint = (
                "Allegro refused the stored refresh token (revoked, unused for 3 months, or already used "
                f"by another process): run `{AUTH_COMMAND}` to authorise Earshot again"
            )
        auth = response.status in (400, 401, 403)
        message = f"token renewal refused: {error.description}"
        return SourceError(response.status, error.error, message, auth=auth, hint=hint if auth else "")

    def closed(self, reason: str) -> None:
        super().closed(reason)
        if self._engine is not None:
            self._engine.dispose()
