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

Reading the answers (token, Listings, comment pages, error bodies) is :mod:`spiders.reddit_listing`.
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
from spiders.items import MentionItem
from spiders.middlewares import RateLimitStatus, header_float
from spiders.reddit_listing import (
    SOURCE,
    Comment,
    TokenRefused,
    parse_access_token,
    parse_comment_page,
    parse_listing,
    parse_reddit_error,
    subreddit_name,
    thing_times,
    thing_to_item,
)
from spiders.social import SocialSearchSpider
from spiders.text import bounded_id

# The parsing lives in spiders.reddit_listing; its functions are named here too, where callers look first.
__all__ = [
    "CommentScope",
    "RedditSearchSpider",
    "SearchScope",
    "TokenRefused",
    "comment_scope",
    "parse_access_token",
    "parse_comment_page",
    "parse_listing",
    "parse_reddit_error",
    "search_scope",
    "subreddit_name",
    "thing_times",
    "thing_to_item",
]

PAGE_LIMIT = 100  # Reddit's maximum for listings
MAX_PAGES = 10  # Reddit stops a search listing after about 1000 results anyway
EDIT_LOOKBACK = timedelta(hours=24)
CLIENT_ID_ENV = source_env_var(SOURCE, "client_id")
CLIENT_SECRET_ENV = source_env_var(SOURCE, "client_secret")
_TOKEN_META = "earshot_reddit_token"


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
