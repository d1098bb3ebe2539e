"""Bluesky posts matching a target's keywords, from the AT Protocol post search.

A run opens one session, sent with the first scope's requests while the other scopes wait, so refused
credentials cost one request; the session's ``accessJwt`` then authorises
``GET {base_url}/xrpc/app.bsky.feed.searchPosts?q=...&sort=latest&limit=100`` for every keyword of every
target, paging with ``cursor``.

Sessions carry over between runs: the session's ``refreshJwt`` is kept encrypted in the credential store
(``EARSHOT_SECRET_KEY``; ``earshot auth bluesky`` stores the first), and the next run opens its session with
``POST /xrpc/com.atproto.server.refreshSession`` (``Authorization: Bearer <refreshJwt>``) instead of
logging in: createSession allows only 30 logins per 5 minutes and 300 a day. Each refresh rotates the
refreshJwt, and the new one is stored at once. When the accessJwt expires mid-crawl (HTTP 400
``ExpiredToken``, or 401), the session is refreshed and the refused search sent again, once. A refused
refresh falls back to ``POST /xrpc/com.atproto.server.createSession`` with the identifier and app password
(from the settings, or stored encrypted by ``earshot auth bluesky --keep-app-password``); with none, the
run ends ``auth_failed`` naming ``earshot auth bluesky``.

Incremental: ``sort=latest`` orders by ``sortAt`` (the earlier of the record's ``createdAt`` and the
AppView's ``indexedAt``) and ``since`` filters on it, so a run asks for ``since`` = watermark minus
``LOOKBACK``; the lookback catches posts indexed late. The watermark is the newest ``indexedAt`` read, and
a post is handed on when its ``indexedAt`` is after the watermark: new, or re-indexed. Bluesky has no
edit feature; a record rewritten in place (``putRecord``) keeps its uri and gets a new ``cid``, text and
``indexedAt``, and is stored as an edit of the same mention. A post backdated by more than the lookback
(``createdAt`` in the past, e.g. an import) is not found.

Posts are stored under their ``at://`` uri; their link is ``https://bsky.app/profile/{handle}/post/{rkey}``.
Reach is likes + reposts + quotes: PostView carries no follower count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
from monitor.core.source_settings import BlueskySettings
from spiders.base import ScopeState, SourceError
from spiders.bluesky_session import (
    AUTH_COMMAND,
    CREATE_SESSION,
    DID_KEY,
    IDENTIFIER_ENV,
    IDENTIFIER_KEY,
    PASSWORD_ENV,
    PASSWORD_KEY,
    REFRESH_KEY,
    REFRESH_SESSION,
    SOURCE,
    Session,
    parse_session_tokens,
    parse_xrpc_error,
    session_expired,
)
from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, MentionItem, optional_timestamp, rfc3339_millis, whole_count
from spiders.middlewares import RateLimitStatus, header_float
from spiders.responses import as_object, json_object, key_list
from spiders.social import SocialSearchSpider
from spiders.text import bounded_id, primary_language
from spiders.token_renewal import TokenRenewal, has_stored_credentials

APP_URL = "https://bsky.app"
PAGE_LIMIT = 100  # searchPosts' maximum
MAX_PAGES = 10
LOOKBACK = timedelta(hours=1)
# XRPC error names that mean the login or the session is no good (the rest concern one request).
AUTH_ERRORS = frozenset(
    {
        "AuthenticationRequired",
        "AuthFactorTokenRequired",
        "ExpiredToken",
        "InvalidToken",
        "AccountTakedown",
        "AccountDeactivated",
    }
)
_SESSION_META = "earshot_bluesky_session"
_REFRESH_META = "earshot_bluesky_refresh"
_POST_COLLECTION = "app.bsky.feed.post"


@dataclass(frozen=True)
class SearchPage:
    posts: list[Any]
    cursor: str | None


def parse_session(body: bytes) -> str:
    """The ``accessJwt`` of a createSession answer, or MalformedResponse."""
    data = json_object(body, SOURCE)
    token = data.get("accessJwt")
    if not isinstance(token, str) or not token.strip():
        raise MalformedResponse(SOURCE, f"no accessJwt in the session ({key_list(data)})")
    return token.strip()


def parse_search_page(body: bytes) -> SearchPage:
    """A searchPosts output ``{"posts": [...], "cursor"?, "hitsTotal"?}``, or MalformedResponse."""
    data = json_object(body, SOURCE)
    posts = data.get("posts")
    if not isinstance(posts, list):
        raise MalformedResponse(SOURCE, f"no 'posts' list in the response ({key_list(data)})")
    cursor = data.get("cursor") or None
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedResponse(SOURCE, "'cursor' is not a string")
    return SearchPage(posts, cursor)


@dataclass(frozen=True)
class PostTimes:
    indexed: datetime | None  # when the AppView (re)indexed the record: the change time
    sort_at: datetime | None  # what sort=latest orders by and since= filters on


def post_times(post: Any) -> PostTimes:
    """A PostView's change time and sort time (the earlier of createdAt and indexedAt)."""
    if not isinstance(post, dict):
        return PostTimes(None, None)
    indexed = optional_timestamp(post.get("indexedAt"))
    created = optional_timestamp(as_object(post.get("record")).get("createdAt"))
    candidates = [t for t in (created, indexed) if t is not None]
    return PostTimes(indexed or created, min(candidates) if candidates else None)


def post_url(uri: Any, author: dict[str, Any]) -> str | None:
    """``https://bsky.app/profile/{handle}/post/{rkey}`` for an ``at://{did}/app.bsky.feed.post/{rkey}`` uri."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[len("at://") :].split("/")
    if len(parts) != 3 or parts[1] != _POST_COLLECTION or not parts[0] or not parts[2]:
        return None
    handle = author.get("handle")
    who = handle if isinstance(handle, str) and handle and handle != "handle.invalid" else parts[0]
    return f"{APP_URL}/profile/{quote(who, safe=':.')}/post/{quote(parts[2], safe='')}"


def _primary_language(langs: Any) -> str | None:
    if not isinstance(langs, list) or not langs or not isinstance(langs[0], str):
        return None
    return primary_language(langs[0])


def _reach(post: dict[str, Any]) -> int | None:
    counts = [whole_count(post.get(k)) for k in ("likeCount", "repostCount", "quoteCount")]
    valid = [c for c in counts if c is not None]
    return sum(valid) if valid else None


def post_to_item(post: Any, *, scope: str, target: str | None) -> MentionItem:
    """Map a PostView to a MentionItem; validation judges the values (a post without uri is refused)."""
    if not isinstance(post, dict):
        raise InvalidItem("not_an_object", f"post is {type(post).__name__}, not an object")
    author = as_object(post.get("author"))
    record = as_object(post.get("record"))
    reply = record.get("reply")
    parent = reply.get("parent") if isinstance(reply, dict) else None
    name = author.get("displayName")
    created = (
        record.get("createdAt") if optional_timestamp(record.get("createdAt")) else post.get("indexedAt")
    )
    return MentionItem(
        source=SOURCE,
        external_id=post.get("uri"),
        url=post_url(post.get("uri"), author),
        author=name if isinstance(name, str) and name.strip() else author.get("handle"),
        text=record.get("text"),
        lang=_primary_language(record.get("langs")),
        rating=None,
        reply_text=None,
        parent_id=parent.get("uri") if isinstance(parent, dict) else None,
        reach=_reach(post),
        created_at=created,
        updated_at=post.get("indexedAt") or created,
        target=target,
        raw=post,
        scope=scope,
    )


@dataclass
class KeywordScope(ScopeState):
    keyword: str = ""
    since: datetime | None = None
    cursors: set[str] = field(default_factory=set)


class BlueskySpider(SocialSearchSpider[KeywordScope]):
    """Read new and re-indexed posts matching every target's keywords."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("keywords",)
    source_label = "Bluesky"
    scope_noun = "search"
    record_noun = "post"
    credential_help = {
        "identifier": f"the handle (or DID) of the Bluesky account used to search, or run `{AUTH_COMMAND}`",
        "app_password": "an app password of that account (Settings → Privacy and security → App passwords)",
    }

    max_pages = MAX_PAGES
    listing_noun = "posts"

    login_noun = "session"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens = TokenRenewal()  # the accessJwt of the run's session
        self.refresh_jwt: str | None = None  # the session's refreshJwt (the stored one before the first)
        self.stored: dict[str, str] = {}
        self.store: CredentialStore | None = None  # None: no EARSHOT_SECRET_KEY, sessions are not kept
        self._engine: Engine | None = None

    @property
    def api(self) -> BlueskySettings:
        return self.config.sources.bluesky

    # -- credentials ---------------------------------------------------------------------------------

    @classmethod
    def skip_reason(cls, config: EarshotSettings) -> str | None:
        """The identifier and app password, or a session stored by ``earshot auth bluesky``."""
        reason = super().skip_reason(config)
        if reason is None or not reason.startswith("not configured"):
            return reason
        if has_stored_credentials(config, SOURCE) is False:  # None: the run itself says what is wrong
            return f"{reason} (or run `{AUTH_COMMAND}`)"
        if not any(t.keywords for t in config.targets):
            return "no target has keywords"
        return None

    def check_credentials(self) -> None:
        """Load the stored session; without one, the identifier and app password must be set."""
        store: CredentialStore | None = None
        try:
            self._engine = make_engine(self.config.effective_database_url)
            store = CredentialStore.from_settings(self.config, self._engine)
            self.stored = store.load(SOURCE)
        except (CredentialStoreError, SQLAlchemyError, DatabaseError) as exc:
            if self._login_secrets() is None:
                self.record_error(f"the stored Bluesky session cannot be read: {exc}")
                self.auth_failed = True
                raise CloseSpider("auth_failed") from None
            self.logger.warning("Bluesky: the stored session is not used (%s); logging in instead", exc)
        self.store = store if store is not None and store.has_key else None
        configured = self.credential("identifier")
        stored_for = self.stored.get(IDENTIFIER_KEY, "")
        if configured and stored_for and configured.lower() != stored_for.lower():
            self.logger.warning(
                "Bluesky: the stored session belongs to another account than %s; logging in instead",
                IDENTIFIER_ENV,
            )
            self.stored = {}
        self.refresh_jwt = self.stored.get(REFRESH_KEY) or None
        self.tokens.remember(self.refresh_jwt, self.stored.get(PASSWORD_KEY), self.credential("app_password"))
        if self.refresh_jwt is None and self._login_secrets() is None:
            super().check_credentials()

    def _login_secrets(self) -> tuple[str, str] | None:
        """``(identifier, app password)`` for createSession: the settings', else the stored ones."""
        identifier = self.credential("identifier") or self.stored.get(IDENTIFIER_KEY, "")
        password = self.credential("app_password") or self.stored.get(PASSWORD_KEY, "")
        return (identifier, password) if identifier and password else None

    def record_error(self, message: str) -> None:
        super().record_error(self.tokens.scrub(message))

    # -- scopes --------------------------------------------------------------------------------------

    def plan_scopes(self) -> Iterator[KeywordScope]:
        for target in self.config.targets:
            for keyword in (k.strip() for k in target.keywords):
                if keyword:
                    yield KeywordScope(
                        scope=bounded_id(f"{target.name}|q={keyword}"), target=target.name, keyword=keyword
                    )

    # -- requests ------------------------------------------------------------------------------------

    def first_requests(self, state: KeywordScope) -> Iterator[Request | None]:
        if state.watermark is not None:
            state.since = state.watermark - LOOKBACK
        yield from self.search_after_login(state)

    def login_request(self, state: KeywordScope) -> Request | None:
        """Refresh the stored (or this run's) session when there is one, else log in."""
        if self.refresh_jwt:
            return self._refresh_request(state, self.refresh_jwt)
        return self._create_session_request(state)

    def _refresh_request(self, state: KeywordScope, refresh_jwt: str) -> Request | None:
        request = self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}{REFRESH_SESSION}",
            callback=self.parse_session,
            headers={"Authorization": f"Bearer {refresh_jwt}"},
            meta={_SESSION_META: True, _REFRESH_META: True},
        )
        if request is None:
            return None
        self.stats_inc("earshot/bluesky/session_refreshes")
        return request.replace(method="POST")

    def _create_session_request(self, state: KeywordScope) -> Request | None:
        secrets = self._login_secrets()
        if secrets is None:  # only a stored session, now refused: nothing else to try
            return None
        request = self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}{CREATE_SESSION}",
            callback=self.parse_session,
            headers={"Content-Type": "application/json"},
            meta={_SESSION_META: True},
        )
        if request is None:
            return None
        self.stats_inc("earshot/bluesky/logins")
        login = {"identifier": secrets[0], "password": secrets[1]}
        return request.replace(method="POST", body=json.dumps(login).encode())

    def search_request(self, state: KeywordScope, page: str | None) -> Request | None:
        params: dict[str, Any] = {"q": state.keyword, "sort": "latest", "limit": PAGE_LIMIT}
        if state.since is not None:
            params["since"] = rfc3339_millis(state.since)
        if page:
            params["cursor"] = page
        query = urlencode(params, quote_via=quote)
        request = self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}/xrpc/app.bsky.feed.searchPosts?{query}",
            callback=self.parse_search,
        )
        return None if request is None else self.tokens.authorize(request)

    # -- callbacks -----------------------------------------------------------------------------------

    def parse_session(self, response: Response, scope: str) -> list[Request]:
        """Keep the session (its refreshJwt stored at once), then search: the scope that logged in, or the
        searches parked while the session was renewed."""
        state = self.scopes[scope]
        session = self.read_body(
            state, lambda: parse_session_tokens(response.body), "malformed session response"
        )
        if session is None:
            self.tokens.abandon()
            return []
        self.tokens.remember(session.access_jwt, session.refresh_jwt)
        self.refresh_jwt = session.refresh_jwt
        self._keep(session)
        first = not self.login_token
        replays = self.tokens.renewed(session.access_jwt, None)
        if first:
            return self.logged_in(state, session.access_jwt) + replays
        self.login_token = session.access_jwt
        self.requests_made += len(replays)
        self.logger.info("Bluesky: session renewed; %d search(es) sent again", len(replays))
        return replays

    def _keep(self, session: Session) -> None:
        """Store the rotated refreshJwt so the next run refreshes instead of logging in."""
        if self.store is None:
            self.logger.info(
                "Bluesky: the session is not kept for the next run (EARSHOT_SECRET_KEY is not set)"
            )
            return
        values = {REFRESH_KEY: session.refresh_jwt, DID_KEY: session.did}
        identifier = self.credential("identifier") or self.stored.get(IDENTIFIER_KEY) or session.handle
        if identifier:
            values[IDENTIFIER_KEY] = identifier
        try:
            self.store.update(SOURCE, **values)
        except (CredentialStoreError, SQLAlchemyError) as exc:
            self.stats_inc("earshot/bluesky/session_not_stored")
            self.record_error(
                f"the renewed Bluesky session could not be stored ({type(exc).__name__}: {exc}); the next "
                "run logs in with the app password, or needs `" + AUTH_COMMAND + "`"
            )

    def parse_search(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's new and re-indexed posts, then follow the cursor."""
        state = self.scopes[scope]
        page = self.read_page(state, lambda: parse_search_page(response.body))
        if page is None:
            return
        for post in page.posts:
            times = post_times(post)
            if times.indexed is None:
                self.reject_record(state, "bad_timestamp", "a post without a readable indexedAt or createdAt")
                continue
            if state.since is not None and times.sort_at is not None and times.sort_at < state.since:
                self.complete_scope(state)  # the server should have stopped here: it ignored since
                return
            if state.watermark is None or times.indexed > state.watermark:
                item = self.item_once(state, post, times.indexed)
                if item is not None:
                    yield self.accept(state, item, times.indexed)
        yield from self.next_search(state, bool(page.posts), page.cursor, state.cursors)

    def record_to_item(self, state: KeywordScope, record: Any) -> MentionItem:
        return post_to_item(record, scope=state.scope, target=state.target)

    # -- errors and rate limits ----------------------------------------------------------------------

    def on_error(self, failure: Failure) -> list[Request] | None:  # type: ignore[override]
        """Renew the session instead of failing: an expired accessJwt is refreshed and the search sent
        again once; a refused refresh falls back to logging in with the app password."""
        request = failure.request  # type: ignore[attr-defined]
        value = failure.value
        if isinstance(value, HttpError) and not self.auth_failed:
            status = value.response.status
            code, _ = parse_xrpc_error(value.response.body)
            state = self.scopes.get(request.cb_kwargs.get("scope", ""))
            if state is not None and request.meta.get(_REFRESH_META) and status in (400, 401):
                if self._login_secrets() is not None:
                    self.stats_inc("earshot/bluesky/refresh_refused")
                    self.logger.warning(
                        "Bluesky refused the session refresh (%s); logging in with the app password",
                        code or status,
                    )
                    self.refresh_jwt = None
                    login = self._create_session_request(state)
                    if login is not None:
                        return [login]
            elif (
                state is not None
                and not request.meta.get(_SESSION_META)
                and session_expired(status, code)
                and self.tokens.may_retry(request)
            ):
                self.stats_inc("earshot/bluesky/session_expired")
                if self.tokens.is_stale(request):  # renewed while this search was out
                    return [self.tokens.authorize(request, renewed=True)]
                if not self.tokens.park(request):
                    return []
                renewal = self.login_request(state)
                if renewal is None:  # over the request budget: the scope waits for the next run
                    self.tokens.abandon()
                    self._release_probe()
                    return []
                return [renewal]
        if request.meta.get(_SESSION_META):
            self.tokens.abandon()
        super().on_error(failure)
        return None

    def parse_error_response(self, response: Response) -> SourceError:
        """XRPC's ``{"error", "message"}``; a refused login or session ends the run."""
        code, message = parse_xrpc_error(response.body)
        request = getattr(response, "request", None)
        login = request is not None and bool(request.meta.get(_SESSION_META))
        refresh = request is not None and bool(request.meta.get(_REFRESH_META))
        if (login and response.status in (400, 401, 403)) or code in AUTH_ERRORS or response.status == 401:
            auth = True
            if refresh:
                hint = (
                    f"the stored session was refused (expired or revoked) and no app password is set: run "
                    f"`{AUTH_COMMAND}`, or set {IDENTIFIER_ENV} and {PASSWORD_ENV}"
                )
            elif login:
                hint = (
                    f"the login was refused: check {IDENTIFIER_ENV} and {PASSWORD_ENV} (an app password), "
                    f"or run `{AUTH_COMMAND}`"
                )
            elif code == "ExpiredToken":
                hint = f"the session expired again right after it was renewed: run `{AUTH_COMMAND}`"
            else:
                hint = f"the session was refused: run `{AUTH_COMMAND}`, or check {IDENTIFIER_ENV} and {PASSWORD_ENV}"
        else:
            auth = False
            hint = "check the target's keywords" if code in ("InvalidRequest", "BadQueryString") else ""
        return SourceError(response.status, code, message, auth=auth, hint=hint)

    def rate_limit_status(self, response: Response) -> RateLimitStatus | None:
        """``ratelimit-remaining`` and ``ratelimit-reset`` (epoch seconds), as the PDS sends them."""
        remaining = header_float(response.headers, "RateLimit-Remaining")
        reset_at = header_float(response.headers, "RateLimit-Reset")
        reset = None if reset_at is None else max(0.0, reset_at - datetime.now(UTC).timestamp())
        if remaining is None and reset is None:
            return None
        return RateLimitStatus(remaining, reset)

    def closed(self, reason: str) -> None:
        super().closed(reason)
        if self._engine is not None:
            self._engine.dispose()
