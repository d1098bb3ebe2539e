"""Reddit posts and comments that mention a target's keywords, from Reddit's OAuth API.

Access is app-only OAuth: one ``POST {auth_url}/api/v1/access_token`` per run (HTTP basic
``client_id:client_secret``, ``grant_type=client_credentials``), sent with the first scope's requests
while the other scopes wait, so refused credentials cost one request. Then each scope (one keyword of one
target, or one keyword in one of the target's ``subreddits``) is read with
``GET {base_url}/search?q=...&sort=new&type=link,comment&limit=100`` (``/r/{sub}/search?restrict_sr=1``),
paging with ``after``. Reddit's search finds posts only, and most complaints are written in comments, so
with ``sources.reddit.comment_pages`` above 0 each of a target's ``subreddits`` is also read with
``GET {base_url}/r/{sub}/comments?limit=100`` (the subreddit's comments, newest first), paging with
``after``; a comment is kept when its body matches the target's keywords by the alert rules' matcher
(:mod:`sentiment.keywords`). Counted as ``earshot/reddit/comments_seen``, ``comments_matched`` and
``comments_removed`` (``[deleted]``/``[removed]``, skipped).

Incremental: ``sort=new`` lists records newest-created first, and the watermark is the newest
``created_utc`` read. Reddit has no "sort by edit time", so a run reads on past the watermark for
``EDIT_LOOKBACK`` and stops at the first record created before that: records created after the watermark
are new, older ones are handed on only when their ``edited`` time is after it (an edit), the rest were
read before. An edit to a record older than the lookback is not seen. A comments scope stops at the first
comment created at or before its watermark, the newest comment *seen* (matching or not) in the last run
that read it completely; edits to comments already read are not seen, and a first run reads
``comment_pages`` pages.

Rate limits: every response carries ``X-Ratelimit-Remaining`` and ``X-Ratelimit-Reset`` (seconds to the
end of Reddit's 10-minute window); :class:`spiders.middlewares.RateLimitHeadersMiddleware` reads them
through :meth:`RedditSearchSpider.rate_limit_status`, pauses the crawl until the reset when few requests
remain, and gives a 429 without ``Retry-After`` the reset as its wait.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import Response

from monitor.core.source_settings import RedditSettings, source_env_var
from sentiment.keywords import KeywordMatcher, compile_keywords
from spiders.base import ScopeState, SourceError
from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, MentionItem, epoch_time
from spiders.middlewares import RateLimitStatus, header_float
from spiders.responses import error_object, error_text, json_object, key_list
from spiders.social import SocialSearchSpider
from spiders.text import bounded_id

SOURCE = "reddit"
WEB_ROOT = "https://www.reddit.com"  # permalinks are relative to the website, not to the API host
PAGE_LIMIT = 100  # Reddit's maximum for listings
MAX_PAGES = 10  # Reddit stops a search listing after about 1000 results anyway
EDIT_LOOKBACK = timedelta(hours=24)
CLIENT_ID_ENV = source_env_var(SOURCE, "client_id")
CLIENT_SECRET_ENV = source_env_var(SOURCE, "client_secret")
_REMOVED = frozenset({"[removed]", "[deleted]"})
_KINDS = {"t3": "post", "t1": "comment"}
_TOKEN_META = "earshot_reddit_token"


class TokenRefused(ValueError):
    """The token endpoint answered 200 but with an OAuth error instead of a token."""


# -- parsing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    children: list[Any]
    after: str | None


def parse_access_token(body: bytes) -> str:
    """The bearer token from the token endpoint's answer, or TokenRefused / MalformedResponse."""
    data = json_object(body, SOURCE)
    if data.get("error"):
        raise TokenRefused(str(data["error"])[:100])
    token = data.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise MalformedResponse(SOURCE, "no access_token in the token response")
    kind = data.get("token_type")
    if isinstance(kind, str) and kind.lower() != "bearer":
        raise MalformedResponse(SOURCE, f"token_type is {kind[:40]!r}, not bearer")
    return token.strip()


def parse_listing(body: bytes) -> Listing:
    """Read a ``{"kind": "Listing", "data": {"after", "children"}}`` body, or raise MalformedResponse."""
    data = json_object(body, SOURCE)
    if data.get("kind") != "Listing":
        kind = data.get("kind")
        raise MalformedResponse(SOURCE, f"not a Listing (kind {str(kind)[:40]!r}; {key_list(data)})")
    inner = data.get("data")
    if not isinstance(inner, dict):
        raise MalformedResponse(SOURCE, "the Listing has no 'data' object")
    children = inner.get("children")
    if not isinstance(children, list):
        raise MalformedResponse(SOURCE, f"'children' is {type(children).__name__}, not a list")
    after = inner.get("after") or None
    if after is not None and not isinstance(after, str):
        raise MalformedResponse(SOURCE, "'after' is not a string")
    return Listing(children, after)


def thing_data(thing: Any) -> tuple[str, dict[str, Any]]:
    """``(kind, data)`` of a listing child, or InvalidItem when it is not a post or comment."""
    if not isinstance(thing, dict):
        raise InvalidItem("not_an_object", f"listing child is {type(thing).__name__}, not an object")
    kind, data = thing.get("kind"), thing.get("data")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise InvalidItem(
            "unexpected_kind", f"listing child of kind {str(kind)[:20]!r}, not a post or comment"
        )
    if not isinstance(data, dict):
        raise InvalidItem("not_an_object", f"{_KINDS[kind]} data is {type(data).__name__}, not an object")
    return kind, data


def thing_times(thing: Any) -> tuple[datetime | None, datetime | None]:
    """``(created, edited)`` of a listing child; created is None when missing or unreadable."""
    data = thing.get("data") if isinstance(thing, dict) else None
    if not isinstance(data, dict):
        return None, None
    return epoch_time(data.get("created_utc")), epoch_time(data.get("edited"))


@dataclass(frozen=True)
class Comment:
    """One comment of a ``/r/{sub}/comments`` listing: what filtering and paging need, and the thing itself."""

    name: str  # the fullname, t1_...
    created: datetime
    body: str
    thing: dict[str, Any]

    @property
    def removed(self) -> bool:
        return self.body.strip() in _REMOVED


@dataclass(frozen=True)
class CommentPage:
    comments: list[Comment]
    after: str | None


def parse_comment_page(body: bytes) -> CommentPage:
    """A page of ``/r/{sub}/comments`` (a Listing of t1), or MalformedResponse naming the bad child.

    That listing documents comments only, each with ``name``, ``created_utc`` and ``body``; a child without
    them means the answer is not that listing (or its format changed), and paging on from it would guess.
    """
    listing = parse_listing(body)
    comments = []
    for index, thing in enumerate(listing.children):
        if not isinstance(thing, dict) or thing.get("kind") != "t1":
            kind = thing.get("kind") if isinstance(thing, dict) else type(thing).__name__
            raise MalformedResponse(SOURCE, f"child {index} is not a comment (kind {str(kind)[:20]!r})")
        data = thing.get("data")
        if not isinstance(data, dict):
            raise MalformedResponse(SOURCE, f"comment {index} has no 'data' object")
        name, text, created = data.get("name"), data.get("body"), epoch_time(data.get("created_utc"))
        if not isinstance(name, str) or not name.startswith("t1_"):
            raise MalformedResponse(SOURCE, f"comment {index} has no t1_ fullname in 'name'")
        if created is None:
            raise MalformedResponse(SOURCE, f"comment {index} has no readable 'created_utc'")
        if not isinstance(text, str):
            raise MalformedResponse(SOURCE, f"comment {index} has no 'body' text")
        comments.append(Comment(name, created, text, thing))
    return CommentPage(comments, listing.after)


def _text(kind: str, data: dict[str, Any]) -> Any:
    if kind == "t1":
        return data.get("body")
    title, selftext = data.get("title"), data.get("selftext")
    if not isinstance(title, str):
        return title
    if isinstance(selftext, str) and selftext.strip():
        return f"{title}\n\n{selftext}"
    return title


def _permalink(data: dict[str, Any]) -> str | None:
    link = data.get("permalink")
    if not isinstance(link, str) or not link.startswith("/"):
        return None
    return WEB_ROOT + link


def thing_to_item(thing: Any, *, scope: str, target: str | None) -> MentionItem:
    """Map a post (t3) or comment (t1) to a MentionItem; validation judges the values.

    A removed or deleted record is refused (InvalidItem "removed"): it no longer says anything, and the
    version stored while it was visible is worth more than ``[removed]``.
    """
    kind, data = thing_data(thing)
    body = data.get("body") if kind == "t1" else data.get("selftext")
    if isinstance(body, str) and body.strip() in _REMOVED:
        raise InvalidItem("removed", f"the {_KINDS[kind]} was removed or deleted")
    created, edited = epoch_time(data.get("created_utc")), epoch_time(data.get("edited"))
    author = data.get("author")
    score = data.get("score")
    reach = max(score, 0) if isinstance(score, int) and not isinstance(score, bool) else None
    parent = data.get("link_id") if kind == "t1" else None
    return MentionItem(
        source=SOURCE,
        external_id=data.get("name"),  # the fullname, t3_... or t1_..., unique across posts and comments
        url=_permalink(data),
        author=None if isinstance(author, str) and author in _REMOVED else author,
        text=_text(kind, data),
        lang=None,  # Reddit does not say; the sentiment stage detects it
        rating=None,
        reply_text=None,
        parent_id=parent,
        reach=reach,
        created_at=created,
        updated_at=edited or created,
        target=target,
        raw=data,
        scope=scope,
    )


@dataclass(frozen=True)
class RedditError:
    code: str
    message: str


def parse_reddit_error(body: bytes) -> RedditError:
    """Reddit's error bodies: ``{"message", "error": 403, "reason"}``, OAuth's ``{"error": "..."}``, or HTML."""
    data = error_object(body)
    if data is None:
        return RedditError("", error_text(body))
    reason, error, message = data.get("reason"), data.get("error"), data.get("message")
    code = str(reason if isinstance(reason, str) else error if isinstance(error, str) else "")[:100]
    text = message if isinstance(message, str) and message else data.get("explanation") or code
    return RedditError(code, str(text or error_text(body))[:500])


def subreddit_name(value: str) -> str:
    """``Polska`` from ``Polska``, ``r/Polska`` or ``/r/Polska/``: config may use any form."""
    name = value.strip().strip("/")
    return name[2:] if name.lower().startswith("r/") else name


# -- spider -------------------------------------------------------------------------------------------


@dataclass
class SearchScope(ScopeState):
    keyword: str = ""
    subreddit: str | None = None
    afters: set[str] = field(default_factory=set)


@dataclass
class CommentScope(SearchScope):
    """The new comments of one subreddit that match one target's keywords."""

    matcher: KeywordMatcher = field(default_factory=lambda: compile_keywords(()))


def search_scope(target: str, keyword: str, subreddit: str | None) -> str:
    where = f"|r/{subreddit}" if subreddit else ""
    return bounded_id(f"{target}{where}|q={keyword}")


def comment_scope(target: str, subreddit: str) -> str:
    return bounded_id(f"{target}|r/{subreddit}|comments")


class RedditSearchSpider(SocialSearchSpider[SearchScope]):
    """Read new and recently edited posts and comments matching every target's keywords."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("keywords",)
    source_label = "Reddit"
    scope_noun = "search"
    record_noun = "post"
    credential_help = {
        "client_id": "the client id of a Reddit app (https://www.reddit.com/prefs/apps)",
        "client_secret": "the secret of that Reddit app",
    }
    max_pages = MAX_PAGES
    created_field = "created_utc"

    login_noun = "access token"

    @property
    def api(self) -> RedditSettings:
        return self.config.sources.reddit

    def check_config(self) -> None:
        if not self.api.user_agent.strip():
            self.record_error("sources.reddit.user_agent is empty; Reddit refuses clients without one")
            raise CloseSpider("config_error")

    def plan_scopes(self) -> Iterator[SearchScope]:
        for target in self.config.targets:
            subreddits: list[str | None] = [subreddit_name(s) for s in target.subreddits if subreddit_name(s)]
            for keyword in (k.strip() for k in target.keywords):
                if not keyword:
                    continue
                for subreddit in subreddits or [None]:
                    yield SearchScope(
                        scope=search_scope(target.name, keyword, subreddit),
                        target=target.name,
                        keyword=keyword,
                        subreddit=subreddit,
                    )
            matcher = compile_keywords(target.keywords)
            if self.api.comment_pages and matcher:
                for subreddit in dict.fromkeys(s for s in subreddits if s):
                    yield CommentScope(
                        scope=comment_scope(target.name, subreddit),
                        target=target.name,
                        subreddit=subreddit,
                        matcher=matcher,
                    )

    # -- requests ------------------------------------------------------------------------------------

    def first_requests(self, state: SearchScope) -> Iterator[Request | None]:
        return self.search_after_login(state)

    def _headers(self) -> dict[str, str]:
        return {"User-Agent": self.api.user_agent.strip()}

    def login_request(self, state: SearchScope) -> Request | None:
        pair = f"{self.credential('client_id')}:{self.credential('client_secret')}"
        request = self.scope_request(
            state,
            f"{self.api.auth_url.rstrip('/')}/api/v1/access_token",
            callback=self.parse_token,
            headers={
                **self._headers(),
                "Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii"),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            meta={_TOKEN_META: True},
        )
        return (
            None if request is None else request.replace(method="POST", body=b"grant_type=client_credentials")
        )

    def search_request(self, state: SearchScope, page: str | None) -> Request | None:
        if isinstance(state, CommentScope):  # the login flow asks every scope's first page through here
            return self.comments_request(state, page)
        params: dict[str, Any] = {
            "q": state.keyword,
            "sort": "new",
            "type": "link,comment",
            "limit": PAGE_LIMIT,
            "raw_json": 1,  # plain text, not HTML-escaped &amp;
        }
        path = "/search"
        if state.subreddit:
            path = f"/r/{quote(state.subreddit, safe='')}/search"
            params["restrict_sr"] = 1
        if page:
            params["after"] = page
        return self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}{path}?{urlencode(params, quote_via=quote)}",
            headers={**self._headers(), "Authorization": f"bearer {self.login_token}"},
            callback=self.parse_search,
        )

    def comments_request(self, state: CommentScope, page: str | None) -> Request | None:
        params: dict[str, Any] = {"limit": PAGE_LIMIT, "raw_json": 1}
        if page:
            params["after"] = page
        path = f"/r/{quote(state.subreddit or '', safe='')}/comments"
        return self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}{path}?{urlencode(params, quote_via=quote)}",
            headers={**self._headers(), "Authorization": f"bearer {self.login_token}"},
            callback=self.parse_comments,
        )

    # -- callbacks -----------------------------------------------------------------------------------

    def parse_token(self, response: Response, scope: str) -> list[Request]:
        """Keep the run's token and search the scope that asked for it; a refused app ends the run."""
        state = self.scopes[scope]
        try:
            token = self.read_body(
                state, lambda: parse_access_token(response.body), "malformed token response"
            )
        except TokenRefused as exc:
            self.auth_failed = True
            self.fail_scope(state, f"the token endpoint refused the app: {exc} ({self._credential_hint()})")
            raise CloseSpider("auth_failed") from None
        return [] if token is None else self.logged_in(state, token)

    def parse_search(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's new and freshly edited records; page on until the lookback is passed."""
        state = self.scopes[scope]
        listing = self.read_page(state, lambda: parse_listing(response.body))
        if listing is None:
            return
        yield from self.changed_records(state, listing.children, EDIT_LOOKBACK)
        if state.finished:
            return
        yield from self.next_search(state, bool(listing.children), listing.after, state.afters)

    def parse_comments(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's new comments that match the target's keywords; page on to the watermark."""
        state = self.scopes[scope]
        assert isinstance(state, CommentScope)
        page = self.read_page(state, lambda: parse_comment_page(response.body))
        if page is None:
            return
        yield from self.matching_comments(state, page.comments)
        if state.finished:
            return
        yield from self.follow_token(
            state,
            page.after if page.comments else None,
            state.afters,
            lambda after: self.comments_request(state, after),
            loop_message="Reddit returned an 'after' it had already returned (paging loop)",
            at_cap=self.comment_cap_reached,
        )

    def matching_comments(self, state: CommentScope, comments: list[Comment]) -> Iterator[MentionItem]:
        """The new comments whose body matches; completes the scope at the first one read before.

        Every new comment seen moves the scope's watermark, matching or not: the next run stops there.
        """
        for comment in comments:
            if not state.is_new(comment.created):
                self.complete_scope(state)
                return
            self.stats_inc(f"earshot/{self.name}/comments_seen")
            if state.newest is None or comment.created > state.newest:
                state.newest = comment.created
            if comment.removed:
                self.stats_inc(f"earshot/{self.name}/comments_removed")
                continue
            if not state.matcher.find(comment.body):
                continue
            self.stats_inc(f"earshot/{self.name}/comments_matched")
            item = self.item_once(state, comment.thing, comment.created)
            if item is not None:
                yield self.accept(state, item, comment.created)

    def comment_cap_reached(self, state: SearchScope) -> bool:
        """End a comments scope at ``comment_pages`` (complete on a first run, else truncate)."""
        pages = self.api.comment_pages
        if state.pages < pages:
            return False
        if state.watermark is None:
            self.logger.info("%s: first run read the newest %d pages of comments", state.scope, pages)
            self.complete_scope(state)
        else:
            self.truncate_scope(
                state,
                f"more than {pages} pages of new comments since the last run; its watermark stays and the "
                "next run reads it again (raise sources.reddit.comment_pages to read further)",
            )
        return True

    def record_to_item(self, state: SearchScope, record: Any) -> MentionItem:
        return thing_to_item(record, scope=state.scope, target=state.target)

    def record_times(self, record: Any) -> tuple[datetime | None, datetime | None]:
        return thing_times(record)

    # -- errors and rate limits ----------------------------------------------------------------------

    def _credential_hint(self) -> str:
        return f"check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}, and that the app is a script or web app"

    def parse_error_response(self, response: Response) -> SourceError:
        """Reddit's error body; a refused app or token ends the run, a closed subreddit fails its scope."""
        error = parse_reddit_error(response.body)
        request = getattr(response, "request", None)
        token_request = request is not None and bool(request.meta.get(_TOKEN_META))
        if token_request and response.status in (400, 401, 403):
            hint, auth = f"the app's credentials were refused: {self._credential_hint()}", True
        elif response.status == 401:
            hint, auth = "the access token was refused; the next run asks for a new one", True
        else:
            auth = False
            hint = {
                403: "the subreddit is private or quarantined; remove it from the target's subreddits",
                404: "the subreddit is banned or does not exist; check the target's subreddits",
            }.get(response.status, "")
        return SourceError(response.status, error.code, error.message, auth=auth, hint=hint)

    def rate_limit_status(self, response: Response) -> RateLimitStatus | None:
        """Reddit's ``X-Ratelimit-Remaining`` (a float) and ``X-Ratelimit-Reset`` (seconds)."""
        remaining = header_float(response.headers, "X-Ratelimit-Remaining")
        reset = header_float(response.headers, "X-Ratelimit-Reset")
        if remaining is None and reset is None:
            return None
        return RateLimitStatus(remaining, reset)
