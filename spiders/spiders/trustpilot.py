"""Reviews of the monitored businesses on Trustpilot, from the public Business Units API.

``GET {base_url}/v1/business-units/{id}/reviews?perPage=N&page=K&orderBy=createdat.desc`` with the
``apikey`` header lists a business unit's reviews newest first by creation time; a page's ``links`` carry
``rel: next-page`` while more follow. The API cannot order by update time (``orderBy`` accepts only
``createdat`` and ``stars``), so an edit to an older review does not rise to the top. Edits are caught by
re-reading a window: each run pages back until it reaches reviews created ``RECHECK_WINDOW`` (7 days) before
the watermark. On the pages read, a review goes to the pipeline when it is new or changed since the
watermark (``updatedAt``, or a company reply's times), or was created inside the window (so a review
Trustpilot published late, after moderation, is not lost); the pipeline stores an unchanged one as
unchanged and an edited one as an edit, keeping the previous text and stars. An edit to a review created
more than a week before the watermark is not seen.

The watermark is the newest change time read. The review's title and text are stored together as the
text, the company's reply as the reply, ``numberOfLikes`` as the reach, and the review's public page
(``https://www.trustpilot.com/reviews/{id}``) as its link.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from scrapy import Request
from scrapy.http import Response

from monitor.core.source_settings import TrustpilotSettings, source_env_var
from spiders.base import ScopeState, SourceError, SourceSpider
from spiders.items import InvalidItem, MentionItem, optional_timestamp
from spiders.responses import as_object, error_object, error_text, json_object, required_list
from spiders.text import primary_language

SOURCE = "trustpilot"
KEY_ENV = source_env_var(SOURCE, "api_key")
ORDER_BY = "createdat.desc"
REVIEW_URL = "https://www.trustpilot.com/reviews/{id}"
RECHECK_WINDOW = timedelta(days=7)
# Trustpilot's reference shows times without an offset ("2013-09-07T13:37:00"); they are UTC.
_NAIVE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?", re.ASCII)
_PAGE_KEYS = {"reviews", "links", "totalNumberOfReviews"}
_KEY_FAULTS = ("oauth.v2.InvalidApiKey", "oauth.v2.FailedToResolveAPIKey", "oauth.v2.ApiKeyNotApproved")


@dataclass(frozen=True)
class ReviewsPage:
    reviews: list[Any]
    has_next: bool


@dataclass(frozen=True)
class TrustpilotError:
    """What an error body says: the API gateway's ``{"fault": {"faultstring", "detail": {"errorcode"}}}``,
    or the API's own ``{"message", "details", "errorCode"}``."""

    code: str
    message: str


def parse_reviews_page(body: bytes) -> ReviewsPage:
    """Read a reviews page, or raise MalformedResponse; the next page exists when a link says ``next-page``."""
    data = json_object(body, SOURCE)
    reviews = required_list(data, "reviews", SOURCE, known=_PAGE_KEYS)
    links = data.get("links")
    has_next = isinstance(links, list) and any(
        isinstance(link, dict) and link.get("rel") == "next-page" for link in links
    )
    return ReviewsPage(reviews, has_next)


def trustpilot_time(value: Any) -> datetime | None:
    """A Trustpilot time as aware UTC: RFC 3339, or the offset-less form its reference shows. None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    return optional_timestamp(text + "Z" if _NAIVE_TIME.fullmatch(text) else text)


def review_times(review: Any) -> tuple[datetime | None, datetime | None]:
    """``(created, changed)``: when the review was written, and the latest of its creation, its update and
    the company reply's times (a reply added later is a change worth storing)."""
    review = as_object(review)
    reply = as_object(review.get("companyReply"))
    created = trustpilot_time(review.get("createdAt"))
    times = [
        t
        for t in (
            created,
            trustpilot_time(review.get("updatedAt")),
            trustpilot_time(reply.get("createdAt")),
            trustpilot_time(reply.get("updatedAt")),
        )
        if t is not None
    ]
    return created, max(times) if times else None


def review_text(review: dict[str, Any]) -> Any:
    """Title and text as one: Trustpilot's title is the reviewer's own headline, often the gist."""
    title, text = review.get("title"), review.get("text")
    if not isinstance(title, str) or not title.strip():
        return text
    if not isinstance(text, str) or not text.strip():
        return title
    if text.strip().startswith(title.strip().rstrip(".…")):
        return text  # a headline that only repeats the opening words
    return f"{title.strip()}\n\n{text.strip()}"


def _as_time(value: Any) -> Any:
    """A readable time as a datetime (offset-less ones are UTC); anything else as it was, for validation."""
    parsed = trustpilot_time(value)
    return parsed if parsed is not None else value


def review_to_item(review: Any, *, scope: str, target: str | None) -> MentionItem:
    """Map one review to a MentionItem without judging values (validation does that).

    Raises InvalidItem only when ``review`` is not an object at all.
    """
    if not isinstance(review, dict):
        raise InvalidItem("not_an_object", f"review is {type(review).__name__}, not an object")
    consumer, reply = as_object(review.get("consumer")), as_object(review.get("companyReply"))
    review_id = review.get("id")
    language = review.get("language")
    return MentionItem(
        source=SOURCE,
        external_id=review_id,
        url=REVIEW_URL.format(id=quote(review_id, safe=""))
        if isinstance(review_id, str) and review_id
        else None,
        author=consumer.get("displayName"),
        text=review_text(review),
        lang=primary_language(language) if isinstance(language, str) else None,
        rating=review.get("stars"),
        reply_text=reply.get("text"),
        parent_id=None,
        reach=review.get("numberOfLikes"),
        created_at=_as_time(review.get("createdAt")),
        updated_at=_as_time(review.get("updatedAt") or review.get("createdAt")),
        target=target,
        raw=review,
        scope=scope,
    )


def parse_trustpilot_error(body: bytes) -> TrustpilotError:
    """The error an error body describes; never raises (proxies answer in HTML or plain text)."""
    data = error_object(body)
    if data is None:
        return TrustpilotError("", error_text(body))
    fault = data.get("fault")
    if isinstance(fault, dict):
        code = as_object(fault.get("detail")).get("errorcode")
        return TrustpilotError(str(code or "")[:100], str(fault.get("faultstring") or "(no message)")[:500])
    message = data.get("message") or data.get("error_description") or data.get("error")
    if isinstance(message, str) and message:
        details = data.get("details")
        text = (
            f"{message}: {details}"
            if isinstance(details, str) and details and details != message
            else message
        )
        code = data.get("errorCode") if data.get("errorCode") is not None else data.get("code")
        return TrustpilotError(str(code if code is not None else "")[:100], text[:500])
    return TrustpilotError("", error_text(body))


@dataclass
class BusinessUnitScope(ScopeState):
    """One business unit's progress in this run: the page to ask for next, and the reviews read."""

    unit_id: str = ""
    page: int = 1
    seen_ids: set[str] = field(default_factory=set)

    @property
    def recheck_from(self) -> datetime | None:
        """Reviews created after this are re-read for edits; None on a first run (everything is read)."""
        return self.watermark - RECHECK_WINDOW if self.watermark is not None else None


class TrustpilotReviewsSpider(SourceSpider[BusinessUnitScope]):
    """Read new, edited and recently written reviews of every target's Trustpilot business units."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("trustpilot_business_unit_ids",)
    source_label = "Trustpilot"
    scope_noun = "business unit"
    record_noun = "review"
    credential_help = {"api_key": "the API key of a Trustpilot application (Integrations > API)"}
    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # an authenticated API, not a website
        "DEFAULT_REQUEST_HEADERS": {"Accept": "application/json"},
    }

    @property
    def api(self) -> TrustpilotSettings:
        return self.config.sources.trustpilot

    def plan_scopes(self) -> Iterator[BusinessUnitScope]:
        for target in self.config.targets:
            for unit_id in target.trustpilot_business_unit_ids:
                unit_id = unit_id.strip().strip("/")
                if unit_id:
                    yield BusinessUnitScope(
                        scope=f"business-units/{unit_id}", target=target.name, unit_id=unit_id
                    )

    def first_requests(self, state: BusinessUnitScope) -> Iterator[Request | None]:
        yield self._page_request(state)

    def _page_request(self, state: BusinessUnitScope) -> Request | None:
        # The page number is ours, not the next-page link's: the link's host would receive the API key.
        params = {"perPage": self.api.page_size, "page": state.page, "orderBy": ORDER_BY}
        unit = quote(state.unit_id, safe="")
        return self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}/v1/business-units/{unit}/reviews?{urlencode(params)}",
            headers={"apikey": self.credential("api_key")},
            callback=self.parse_reviews,
        )

    def parse_reviews(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's new, changed and recent reviews, then the next page or the unit's end."""
        state = self.scopes[scope]
        page = self.read_page(
            state, lambda: parse_reviews_page(response.body), f"malformed response for page {state.page}"
        )
        if page is None:
            return
        oldest: datetime | None = None
        fresh = 0
        for review in page.reviews:
            review_id = as_object(review).get("id")
            if isinstance(review_id, str) and review_id in state.seen_ids:
                continue  # pushed onto this page by a review written while paging
            fresh += 1
            if isinstance(review_id, str):
                state.seen_ids.add(review_id)
            created, changed = review_times(review)
            if created is not None and (oldest is None or created < oldest):
                oldest = created
            recent = created is not None and state.recheck_from is not None and created > state.recheck_from
            if not (state.is_new(changed) or recent):
                continue
            item = self.to_item(state, review_to_item, review, scope=scope, target=state.target)
            if item is not None:
                yield self.accept(state, item, changed)
        yield from self._next_page(state, page, oldest, fresh)

    def _next_page(
        self, state: BusinessUnitScope, page: ReviewsPage, oldest: datetime | None, fresh: int
    ) -> Iterator[Request]:
        past_window = state.recheck_from is not None and oldest is not None and oldest <= state.recheck_from
        if not page.reviews or not page.has_next or past_window:
            self.complete_scope(state)
        elif not fresh:
            self.fail_scope(state, f"page {state.page} held only reviews already read (paging loop)")
        else:
            state.page += 1
            request = self._page_request(state)
            if request is not None:
                yield request

    def parse_error_response(self, response: Response) -> SourceError:
        """Trustpilot's error; a refused key ends the run, an unknown business unit fails only itself."""
        error = parse_trustpilot_error(response.body)
        key_refused = response.status in (401, 403) or error.code in _KEY_FAULTS
        if key_refused:
            hint = f"the API key was refused: check {KEY_ENV}"
        elif response.status in (400, 404):
            hint = "check the target's trustpilot_business_unit_ids"
        else:
            hint = ""
        return SourceError(response.status, error.code, error.message, auth=key_refused, hint=hint)
