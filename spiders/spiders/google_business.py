"""Reviews of the monitored brands' own locations, from the Google Business Profile API (v4).

``GET {base_url}/v4/accounts/{a}/locations/{l}/reviews?pageSize=N&orderBy=updateTime desc`` returns
reviews newest-edit first, so a run pages only until it meets a review no newer than the location's
watermark: new and edited reviews are read, nothing else. The watermark itself is advanced by
``spiders.pipelines.StoragePipeline`` once everything read for the location has been stored.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import scrapy
from pydantic import SecretStr
from scrapy import Request, signals
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from monitor.config import EarshotSettings, GoogleBusinessSettings
from monitor.db import make_engine, session_scope
from monitor.store import get_watermark
from spiders.config import earshot_settings
from spiders.items import InvalidItem, MentionItem, parse_timestamp
from spiders.signals import scope_completed

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

SOURCE = "google_business"
TOKEN_ENV = "EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN"
DEFAULT_URL_TEMPLATE = "{base_url}/v4/{name}"
MAX_ERROR_MESSAGES = 20  # kept in stats (and so in crawl_runs.stats) per run

STAR_RATINGS: dict[str, int | None] = {
    "STAR_RATING_UNSPECIFIED": None,
    "ONE": 1,
    "TWO": 2,
    "THREE": 3,
    "FOUR": 4,
    "FIVE": 5,
}

# Google adds its machine translation to comments, marked in English because we ask for "en".
_TRANSLATED = "(Translated by Google)"
_ORIGINAL = "(Original)"
_LIST_KEYS = {"reviews", "averageRating", "totalReviewCount", "nextPageToken"}


class MalformedResponse(ValueError):
    """A 200 response that is not a ListReviewsResponse."""


@dataclass(frozen=True)
class GoogleApiError:
    """The ``{"error": {"code", "message", "status"}}`` body Google APIs send with an HTTP error."""

    code: int
    status: str
    message: str


@dataclass(frozen=True)
class ReviewsPage:
    reviews: list[Any]
    next_page_token: str | None


def original_comment(comment: str) -> str:
    """The reviewer's own words from a comment Google may have extended with its translation.

    Handles ``(Translated by Google) <translation> (Original) <original>``, the reverse order
    ``<original> (Translated by Google) <translation>``, and a translation with no original.
    """
    text = comment.strip()
    if text.startswith(_TRANSLATED):
        rest = text[len(_TRANSLATED) :]
        if _ORIGINAL in rest:
            return rest.split(_ORIGINAL, 1)[1].strip()
        return rest.strip()
    marker = text.find("\n" + _TRANSLATED)
    if marker > 0:
        return text[:marker].strip()
    return text


def star_rating(value: Any) -> Any:
    """ONE..FIVE as 1..5 and STAR_RATING_UNSPECIFIED as None; anything else unchanged for validation."""
    if isinstance(value, str) and value in STAR_RATINGS:
        return STAR_RATINGS[value]
    return value


def review_update_time(review: Any) -> datetime | None:
    """When the review was last changed (aware UTC), or None when Google's value is unreadable."""
    if not isinstance(review, dict):
        return None
    for key in ("updateTime", "createTime"):
        if review.get(key):
            try:
                return parse_timestamp(review[key], key)
            except InvalidItem:
                return None
    return None


def review_url(template: str, base_url: str, name: str | None) -> str | None:
    """The link stored with a review, from the configured template and the review's resource name."""
    if not name:
        return None
    parts = name.split("/")
    ids = {"account_id": "", "location_id": "", "review_id": ""}
    if len(parts) == 6 and parts[0] == "accounts" and parts[2] == "locations" and parts[4] == "reviews":
        ids = {"account_id": parts[1], "location_id": parts[3], "review_id": parts[5]}
    elif any("{" + key + "}" in template for key in ids):
        return None  # an unexpected name: better no link than a wrong one
    quoted = {k: quote(v, safe="") for k, v in ids.items()}
    return template.format(base_url=base_url.rstrip("/"), name=quote(name, safe="/"), **quoted)


def review_to_item(
    review: Any, *, scope: str, target: str | None, base_url: str, url_template: str = DEFAULT_URL_TEMPLATE
) -> MentionItem:
    """Map one API Review object to a MentionItem, without judging the values (validation does that).

    Raises InvalidItem only when ``review`` is not an object at all.
    """
    if not isinstance(review, dict):
        raise InvalidItem("not_an_object", f"review is {type(review).__name__}, not an object")
    review_id = review.get("reviewId")
    name = review.get("name")
    if not isinstance(name, str) or not name:
        name = f"{scope}/reviews/{review_id}" if isinstance(review_id, str) and review_id else None
    reviewer = review.get("reviewer")
    reviewer = reviewer if isinstance(reviewer, dict) else {}
    author = None if reviewer.get("isAnonymous") is True else reviewer.get("displayName")
    comment = review.get("comment")
    reply = review.get("reviewReply")
    reply_text = reply.get("comment") if isinstance(reply, dict) else None
    return MentionItem(
        source=SOURCE,
        external_id=review_id,
        url=review_url(url_template, base_url, name),
        author=author,
        text=original_comment(comment) if isinstance(comment, str) else comment,
        lang=None,  # the API does not say; the sentiment stage detects it
        rating=star_rating(review.get("starRating")),
        reply_text=original_comment(reply_text) if isinstance(reply_text, str) else reply_text,
        parent_id=None,
        reach=None,
        created_at=review.get("createTime"),
        updated_at=review.get("updateTime"),
        target=target,
        raw=review,
        scope=scope,
    )


def parse_reviews_page(body: bytes, first_page: bool) -> ReviewsPage:
    """Read a ListReviewsResponse, or raise MalformedResponse.

    Google omits empty lists in JSON, so a location without reviews answers ``{}`` or only its counts;
    that is an empty page, not an error. Any other object without ``reviews`` is malformed.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse(f"body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MalformedResponse(f"expected a JSON object, got {type(data).__name__}")
    token = data.get("nextPageToken") or None
    if token is not None and not isinstance(token, str):
        raise MalformedResponse("nextPageToken is not a string")
    reviews = data.get("reviews")
    if reviews is None:
        unknown = sorted(set(data) - _LIST_KEYS)
        total = data.get("totalReviewCount")
        has_more = token is not None or (first_page and isinstance(total, int) and total > 0)
        if unknown or has_more:
            keys = ", ".join(unknown) or "no reviews despite a review count"
            raise MalformedResponse(f"no 'reviews' list in the response ({keys[:200]})")
        reviews = []
    if not isinstance(reviews, list):
        raise MalformedResponse(f"'reviews' is {type(reviews).__name__}, not a list")
    return ReviewsPage(reviews, token)


def parse_google_error(body: bytes, http_status: int) -> GoogleApiError:
    """The error Google sent, tolerating non-JSON bodies (proxies) and OAuth-style error bodies."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body[:300].decode("utf-8", "replace").strip()
        return GoogleApiError(http_status, "", text or "(empty body)")
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        return GoogleApiError(
            code if isinstance(code, int) and not isinstance(code, bool) else http_status,
            str(error.get("status") or ""),
            str(error.get("message") or "(no message)")[:500],
        )
    if isinstance(error, str):  # OAuth endpoints: {"error": "invalid_token", "error_description": "..."}
        description = data.get("error_description") if isinstance(data, dict) else None
        return GoogleApiError(http_status, error[:100], str(description or error)[:500])
    return GoogleApiError(http_status, "", json.dumps(data)[:300])


@dataclass
class ScopeState:
    """One location's progress in this run."""

    scope: str  # accounts/{a}/locations/{l}
    target: str
    watermark: datetime | None = None
    pages: int = 0
    yielded: int = 0
    newest: datetime | None = None
    failed: bool = False
    done: bool = False
    page_tokens: set[str] = field(default_factory=set)


def _bare_id(value: str, prefix: str) -> str:
    """``accounts/123`` or ``123`` -> ``123``: config may use either form."""
    value = value.strip().strip("/")
    return value[len(prefix) + 1 :] if value.startswith(prefix + "/") else value


class GoogleBusinessReviewsSpider(scrapy.Spider):
    """Read new and edited reviews for every target's Google Business Profile locations."""

    name = "google_business"
    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # an authenticated API, not a website
        # English markers make Google's "(Translated by Google)" note recognisable in comments.
        "DEFAULT_REQUEST_HEADERS": {"Accept": "application/json", "Accept-Language": "en"},
    }

    config: EarshotSettings
    url_template: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scopes: dict[str, ScopeState] = {}
        self.auth_failed = False
        self._token = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = earshot_settings(crawler.settings)
        spider.url_template = crawler.settings.get("EARSHOT_GBP_REVIEW_URL_TEMPLATE") or DEFAULT_URL_TEMPLATE
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    @property
    def api(self) -> GoogleBusinessSettings:
        return self.config.sources.google_business

    async def start(self) -> AsyncIterator[Request]:
        secret: Any = self.api.access_token  # SecretStr; a plain str if set by model_copy(update=...)
        self._token = (
            secret.get_secret_value() if isinstance(secret, SecretStr) else str(secret or "")
        ).strip()
        if not self._token:
            self._record_error(
                "no access token configured: set "
                f"{TOKEN_ENV} (or sources.google_business.access_token in the config file) to an "
                "OAuth 2.0 access token with the business.manage scope"
            )
            raise CloseSpider("missing_credentials")
        try:
            self.url_template.format(base_url="", name="", account_id="", location_id="", review_id="")
        except (KeyError, IndexError, ValueError) as exc:
            self._record_error(f"EARSHOT_GBP_REVIEW_URL_TEMPLATE is not a valid template: {exc!r}")
            raise CloseSpider("config_error") from None
        self.scopes = {state.scope: state for state in self._plan_scopes()}
        if not self.scopes:
            self.logger.warning(
                "No target has google_account_id and google_location_ids; nothing to read from "
                "Google Business Profile"
            )
            raise CloseSpider("no_targets")
        self._load_watermarks()
        for state in self.scopes.values():
            if self.auth_failed:  # the token was refused: do not send it again for every location
                break
            yield self._page_request(state, None)

    def _plan_scopes(self) -> Iterator[ScopeState]:
        seen: set[str] = set()
        for target in self.config.targets:
            if not target.google_account_id:
                continue
            if not target.google_location_ids:
                self.logger.warning("Target %r has a Google account but no google_location_ids", target.name)
            account = _bare_id(target.google_account_id, "accounts")
            for location_id in target.google_location_ids:
                scope = f"accounts/{account}/locations/{_bare_id(location_id, 'locations')}"
                if scope in seen:
                    self.logger.warning("%s is configured twice; reading it once for %r", scope, target.name)
                    continue
                seen.add(scope)
                yield ScopeState(scope=scope, target=target.name)

    def _load_watermarks(self) -> None:
        engine = make_engine(self.config.effective_database_url)
        try:
            with session_scope(engine) as session:
                for state in self.scopes.values():
                    state.watermark = get_watermark(session, SOURCE, state.scope)
        finally:
            engine.dispose()

    def _page_request(self, state: ScopeState, page_token: str | None) -> Request:
        params: dict[str, Any] = {"pageSize": self.api.page_size, "orderBy": "updateTime desc"}
        if page_token:
            params["pageToken"] = page_token
        base = self.api.base_url.rstrip("/")
        return Request(
            f"{base}/v4/{state.scope}/reviews?{urlencode(params, quote_via=quote)}",
            headers={"Authorization": f"Bearer {self._token}"},
            callback=self.parse_reviews,
            errback=self.on_error,
            cb_kwargs={"scope": state.scope},
            # Scope pages are never requested twice on purpose; a repeated page token is caught below
            # instead of being silently filtered, which would leave the location unfinished.
            dont_filter=True,
        )

    def parse_reviews(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's reviews newer than the watermark, then the next page or the scope's end."""
        state = self.scopes[scope]
        state.pages += 1
        try:
            page = parse_reviews_page(response.body, first_page=state.pages == 1)
        except MalformedResponse as exc:
            self._stats_inc("earshot/malformed_responses")
            self._fail(state, f"malformed response for page {state.pages}: {exc}")
            return
        for review in page.reviews:
            updated = review_update_time(review)
            if state.watermark is not None and updated is not None and updated <= state.watermark:
                self._complete(state)
                return
            try:
                item = review_to_item(
                    review,
                    scope=scope,
                    target=state.target,
                    base_url=self.api.base_url,
                    url_template=self.url_template,
                )
            except InvalidItem as exc:
                self._stats_inc("earshot/items_rejected")
                self._stats_inc(f"earshot/items_rejected/{exc.reason}")
                self.logger.warning("Skipped an unreadable review in %s: %s", scope, exc)
                continue
            state.yielded += 1
            if updated is not None and (state.newest is None or updated > state.newest):
                state.newest = updated
            yield item
        if not page.next_page_token:
            self._complete(state)
        elif page.next_page_token in state.page_tokens:
            self._fail(state, "the API returned a page token it had already returned (paging loop)")
        elif state.pages >= self.api.max_pages:
            self._stats_inc("earshot/scopes_truncated")
            self.logger.warning(
                "%s: stopped at max_pages=%d with older reviews unread; its watermark stays where it "
                "was. Raise sources.google_business.max_pages to read it completely",
                scope,
                self.api.max_pages,
            )
        else:
            state.page_tokens.add(page.next_page_token)
            yield self._page_request(state, page.next_page_token)

    def on_error(self, failure: Failure) -> None:
        """A request failed for good (after any retries): log Google's reason and mark the scope failed."""
        request = failure.request  # type: ignore[attr-defined]
        state = self.scopes.get(request.cb_kwargs.get("scope", ""))
        if isinstance(failure.value, HttpError):
            response = failure.value.response
            error = parse_google_error(response.body, response.status)
            self._stats_inc("earshot/api_errors")
            self._stats_inc(f"earshot/api_errors/{response.status}")
            message = f"HTTP {response.status} {error.status}: {error.message}".replace("  ", " ")
            if response.status == 401:
                self.auth_failed = True
                message += f" (the access token was refused; renew {TOKEN_ENV})"
            elif response.status == 403:
                message += " (the token's user cannot read this location's reviews)"
            elif response.status == 404:
                message += " (check the target's google_account_id and google_location_ids)"
        else:
            self._stats_inc("earshot/download_errors")
            message = f"request failed: {type(failure.value).__name__}: {failure.getErrorMessage()}"
        if state is None:
            self._record_error(message)
        else:
            self._fail(state, message)

    def on_idle(self) -> None:
        """End with reason ``auth_failed`` rather than ``finished`` when the token was refused."""
        if self.auth_failed:
            raise CloseSpider("auth_failed")

    def closed(self, reason: str) -> None:
        """Say which locations were read completely; unfinished ones keep their old watermark."""
        done = sum(state.done for state in self.scopes.values())
        failed = sum(state.failed for state in self.scopes.values())
        unfinished = len(self.scopes) - done - failed
        if unfinished:
            self._stats_inc("earshot/scopes_unfinished", unfinished)
        self.logger.info(
            "Google Business Profile (%s): %d location(s) read completely, %d failed, %d unfinished",
            reason,
            done,
            failed,
            unfinished,
        )

    def _complete(self, state: ScopeState) -> None:
        state.done = True
        self._stats_inc("earshot/scopes_completed")
        if state.newest is None:
            self.logger.info("%s: nothing new (%d page(s) read)", state.scope, state.pages)
            return
        self.logger.info("%s: %d new or edited review(s) read", state.scope, state.yielded)
        self.crawler.signals.send_catch_log(
            signal=scope_completed,
            source=SOURCE,
            scope=state.scope,
            watermark=state.newest,
            expected=state.yielded,
        )

    def _fail(self, state: ScopeState, message: str) -> None:
        state.failed = True
        self._stats_inc("earshot/scopes_failed")
        self._record_error(f"{state.scope}: {message}")

    def _record_error(self, message: str) -> None:
        """Log an error and keep it in the stats (crawl_runs.stats), never with the token in it."""
        if self._token:
            message = message.replace(self._token, "[redacted]")
        self.logger.error("Google Business Profile: %s", message)
        stats = self.crawler.stats
        assert stats is not None
        messages = stats.get_value("earshot/error_messages") or []
        if len(messages) < MAX_ERROR_MESSAGES:
            stats.set_value("earshot/error_messages", [*messages, message])

    def _stats_inc(self, key: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, count)
