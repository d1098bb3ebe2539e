"""Bluesky posts matching a target's keywords, from the AT Protocol post search.

A run logs in once with ``POST {base_url}/xrpc/com.atproto.server.createSession`` (``identifier`` and an
app password), sent with the first scope's requests while the other scopes wait, so refused credentials
cost one request; the session's ``accessJwt`` then authorises
``GET {base_url}/xrpc/app.bsky.feed.searchPosts?q=...&sort=latest&limit=100`` for every keyword of every
target, paging with ``cursor``. Sessions are not reused between runs: createSession allows 30 logins per
5 minutes and 300 a day, far above one per run.

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
from scrapy.http import Response

from monitor.core.source_settings import BlueskySettings, source_env_var
from spiders.base import ScopeState, SourceError
from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, MentionItem, optional_timestamp, rfc3339_millis, whole_count
from spiders.middlewares import RateLimitStatus, header_float
from spiders.responses import as_object, error_object, error_text, json_object, key_list
from spiders.social import SocialSearchSpider
from spiders.text import bounded_id, primary_language

SOURCE = "bluesky"
APP_URL = "https://bsky.app"
IDENTIFIER_ENV = source_env_var(SOURCE, "identifier")
PASSWORD_ENV = source_env_var(SOURCE, "app_password")
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


def parse_xrpc_error(body: bytes) -> tuple[str, str]:
    """``(error, message)`` from an XRPC error body ``{"error", "message"}``, or a proxy's page."""
    data = error_object(body)
    if data is not None and isinstance(data.get("error"), str):
        message = data.get("message")
        return data["error"][:100], str(message if isinstance(message, str) else data["error"])[:500]
    return "", error_text(body)


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
        "identifier": "the handle (or DID) of the Bluesky account used to search",
        "app_password": "an app password of that account (Settings → Privacy and security → App passwords)",
    }

    max_pages = MAX_PAGES
    listing_noun = "posts"

    login_noun = "session"

    @property
    def api(self) -> BlueskySettings:
        return self.config.sources.bluesky

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
        request = self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}/xrpc/com.atproto.server.createSession",
            callback=self.parse_session,
            headers={"Content-Type": "application/json"},
            meta={_SESSION_META: True},
        )
        if request is None:
            return None
        login = {"identifier": self.credential("identifier"), "password": self.credential("app_password")}
        return request.replace(method="POST", body=json.dumps(login).encode())

    def search_request(self, state: KeywordScope, page: str | None) -> Request | None:
        params: dict[str, Any] = {"q": state.keyword, "sort": "latest", "limit": PAGE_LIMIT}
        if state.since is not None:
            params["since"] = rfc3339_millis(state.since)
        if page:
            params["cursor"] = page
        query = urlencode(params, quote_via=quote)
        return self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}/xrpc/app.bsky.feed.searchPosts?{query}",
            headers={"Authorization": f"Bearer {self.login_token}"},
            callback=self.parse_search,
        )

    # -- callbacks -----------------------------------------------------------------------------------

    def parse_session(self, response: Response, scope: str) -> list[Request]:
        """Keep the run's session token, then search the scope that logged in."""
        state = self.scopes[scope]
        token = self.read_body(state, lambda: parse_session(response.body), "malformed session response")
        return [] if token is None else self.logged_in(state, token)

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

    def parse_error_response(self, response: Response) -> SourceError:
        """XRPC's ``{"error", "message"}``; a refused login or session ends the run."""
        code, message = parse_xrpc_error(response.body)
        request = getattr(response, "request", None)
        login = request is not None and bool(request.meta.get(_SESSION_META))
        if (login and response.status in (400, 401, 403)) or code in AUTH_ERRORS or response.status == 401:
            auth = True
            if code == "ExpiredToken":
                hint = "the session expired during the run; the next run logs in again"
            else:
                hint = f"the login was refused: check {IDENTIFIER_ENV} and {PASSWORD_ENV} (an app password)"
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
