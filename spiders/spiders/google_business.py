"""Reviews of the monitored brands' own locations, from the Google Business Profile API (v4).

``GET {base_url}/v4/accounts/{a}/locations/{l}/reviews?pageSize=N&orderBy=updateTime desc`` returns
reviews newest-edit first, so a run pages only until it meets a review no newer than the location's
watermark: new and edited reviews are read, nothing else. The watermark itself is advanced by
``spiders.pipelines.StoragePipeline`` once everything read for the location has been stored.

Chains with many locations: once a target has at least ``EARSHOT_GBP_BATCH_MIN_LOCATIONS`` (default 10)
locations that already have a watermark, those are read together with ``POST {base_url}/v4/accounts/{a}/
locations:batchGetReviews`` (up to ``BATCH_MAX_LOCATIONS`` per batch), whose pages mix the locations'
reviews in one ``updateTime desc`` order. Each location keeps its own watermark: it is done when one of
its reviews is no newer than its watermark, or when a page ends at or below it (nothing newer can follow
in that order); paging stops when every location of the batch is done or there is no next page. A
location without a watermark (its first, full read, or one that never had a review) is read on its own:
a batch answers for all its locations or fails for all, so one unverified or refused location would
otherwise cost the whole batch, and a quiet location would make every run page to the end.

How the API's answers (list pages, Review objects) are read is :mod:`spiders.google_business_reviews`.

Credentials: a fixed ``access_token`` (it lives about an hour), or an OAuth client and refresh token, set
in the environment or stored encrypted by ``earshot auth google`` (stored values win field by field: a
rotated refresh token lands there). With a refresh token the run gets a fresh access token before its
first request (:mod:`spiders.google_oauth`), renews it in the background before it expires, and
on a 401 renews it once and sends the refused request again. A refresh the token endpoint refuses
(revoked consent, ``invalid_grant``) ends the run as ``auth_failed`` with a reason that names
``earshot auth google``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from monitor.core.config import EarshotSettings
from monitor.core.credentials import auth_command
from monitor.core.source_settings import GOOGLE_OAUTH_FIELDS, GoogleBusinessSettings, source_env_var
from spiders.base import PAGING_LOOP, ScopeState, SourceError
from spiders.errors import MalformedResponse
from spiders.google import parse_google_error
from spiders.google_business_reviews import (
    DEFAULT_URL_TEMPLATE,
    SOURCE,
    parse_batch_page,
    parse_reviews_page,
    review_to_item,
    review_update_time,
)
from spiders.google_oauth import GoogleOAuthSpider
from spiders.items import MentionItem

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

TOKEN_ENV = source_env_var(SOURCE, "access_token")
AUTH_COMMAND = auth_command(SOURCE) or "earshot auth google"
OAUTH_ENVS = ", ".join(source_env_var(SOURCE, name) for name in GOOGLE_OAUTH_FIELDS)
BATCH_MAX_LOCATIONS = 50  # locationNames per batchGetReviews call
DEFAULT_BATCH_MIN_LOCATIONS = 10


@dataclass
class LocationScope(ScopeState):
    """One location's progress in this run, with the page tokens seen (to catch paging loops)."""

    page_tokens: set[str] = field(default_factory=set)


@dataclass
class LocationBatch:
    """Locations of one account read together with batchGetReviews, and the batch's paging state."""

    key: str  # names the batch in logs: accounts/A/locations:batchGetReviews#1
    account: str
    scopes: list[str]
    pages: int = 0
    page_tokens: set[str] = field(default_factory=set)


def plan_batches(
    states: list[LocationScope], min_locations: int, max_locations: int = BATCH_MAX_LOCATIONS
) -> list[LocationBatch]:
    """Batches of the locations that have a watermark, per target and account, where there are enough.

    Locations without a watermark are left out: they are read on their own (see the module doc).
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for state in states:
        if state.watermark is not None:
            account = state.scope.split("/")[1]
            groups.setdefault((state.target, account), []).append(state.scope)
    batches: list[LocationBatch] = []
    for (_, account), scopes in groups.items():
        if len(scopes) < max(min_locations, 2):
            continue
        for start in range(0, len(scopes), max_locations):
            key = f"accounts/{account}/locations:batchGetReviews#{len(batches) + 1}"
            batches.append(LocationBatch(key, account, scopes[start : start + max_locations]))
    return batches


def _bare_id(value: str, prefix: str) -> str:
    """``accounts/123`` or ``123`` -> ``123``: config may use either form."""
    value = value.strip().strip("/")
    return value[len(prefix) + 1 :] if value.startswith(prefix + "/") else value


class GoogleBusinessReviewsSpider(GoogleOAuthSpider[LocationScope]):
    """Read new and edited reviews for every target's Google Business Profile locations."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("google_location_ids",)
    source_label = "Google Business Profile"
    scope_noun = "location"
    record_noun = "review"
    credential_help = {
        "access_token": (
            "an OAuth 2.0 access token with the business.manage scope (it lasts about an hour), or set "
            f"{OAUTH_ENVS} so tokens renew themselves, or run `{AUTH_COMMAND}` once"
        ),
        "client_id": f"the OAuth client id of your Google Cloud project, or run `{AUTH_COMMAND}`",
        "client_secret": f"that OAuth client's secret, or run `{AUTH_COMMAND}`",
        "refresh_token": f"a refresh token with the business.manage scope; `{AUTH_COMMAND}` gets and stores one",
    }
    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # an authenticated API, not a website
        # English markers make Google's "(Translated by Google)" note recognisable in comments.
        "DEFAULT_REQUEST_HEADERS": {"Accept": "application/json", "Accept-Language": "en"},
    }

    url_template: str
    batch_min_locations: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: dict[str, LocationBatch] | None = None  # planned once watermarks are loaded
        self.batch_of: dict[str, str] = {}  # location scope -> batch key

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.url_template = crawler.settings.get("EARSHOT_GBP_REVIEW_URL_TEMPLATE") or DEFAULT_URL_TEMPLATE
        spider.batch_min_locations = crawler.settings.getint(
            "EARSHOT_GBP_BATCH_MIN_LOCATIONS", DEFAULT_BATCH_MIN_LOCATIONS
        )
        return spider

    @classmethod
    def skip_reason(cls, config: EarshotSettings) -> str | None:
        reason = super().skip_reason(config)
        if reason is None and not any(t.google_account_id for t in config.targets):
            return "no target has google_account_id"
        return reason

    @property
    def api(self) -> GoogleBusinessSettings:
        return self.config.sources.google_business

    def check_config(self) -> None:
        try:
            self.url_template.format(base_url="", name="", account_id="", location_id="", review_id="")
        except (KeyError, IndexError, ValueError) as exc:
            self.record_error(f"EARSHOT_GBP_REVIEW_URL_TEMPLATE is not a valid template: {exc!r}")
            raise CloseSpider("config_error") from None

    def no_scopes_message(self) -> str:
        return (
            "No target has google_account_id and google_location_ids; nothing to read from "
            "Google Business Profile"
        )

    def plan_scopes(self) -> Iterator[LocationScope]:
        for target in self.config.targets:
            if not target.google_account_id:
                continue
            if not target.google_location_ids:
                self.logger.warning("Target %r has a Google account but no google_location_ids", target.name)
            account = _bare_id(target.google_account_id, "accounts")
            for location_id in target.google_location_ids:
                scope = f"accounts/{account}/locations/{_bare_id(location_id, 'locations')}"
                yield LocationScope(scope=scope, target=target.name)

    def first_requests(self, state: LocationScope) -> Iterator[Request | None]:
        if self.batches is None:
            self._plan_batches()
        assert self.batches is not None
        key = self.batch_of.get(state.scope)
        if key is None:
            yield self._page_request(state, None)
        elif self.batches[key].scopes[0] == state.scope:  # the batch's other locations ride along
            yield self._batch_request(self.batches[key], None)

    def _plan_batches(self) -> None:
        batches = plan_batches(list(self.scopes.values()), self.batch_min_locations)
        self.batches = {batch.key: batch for batch in batches}
        self.batch_of = {scope: batch.key for batch in batches for scope in batch.scopes}
        for batch in batches:
            self.logger.info("%s: reading %d locations together", batch.key, len(batch.scopes))

    def _page_request(self, state: LocationScope, page_token: str | None) -> Request | None:
        params: dict[str, Any] = {"pageSize": self.api.page_size, "orderBy": "updateTime desc"}
        if page_token:
            params["pageToken"] = page_token
        base = self.api.base_url.rstrip("/")
        # Scope pages are never requested twice on purpose; a repeated page token is caught in
        # parse_reviews instead of being silently filtered, which would leave the location unfinished.
        return self.oauth_request(
            state,
            f"{base}/v4/{state.scope}/reviews?{urlencode(params, quote_via=quote)}",
            callback=self.parse_reviews,
        )

    def parse_reviews(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's reviews newer than the watermark, then the next page or the scope's end."""
        state = self.scopes[scope]
        page = self.read_page(state, lambda: parse_reviews_page(response.body, first_page=state.pages == 1))
        if page is None:
            return
        for review in page.reviews:
            updated = review_update_time(review)
            if not state.is_new(updated):
                self.complete_scope(state)
                return
            item = self._review_item(state, review)
            if item is not None:
                yield self.accept(state, item, updated)
        yield from self.follow_token(
            state,
            page.next_page_token,
            state.page_tokens,
            lambda token: self._page_request(state, token),
            at_cap=lambda current: self.max_pages_reached(current, self.api.max_pages),
        )

    def _review_item(self, state: LocationScope, review: Any) -> MentionItem | None:
        return self.to_item(
            state,
            review_to_item,
            review,
            scope=state.scope,
            target=state.target,
            base_url=self.api.base_url,
            url_template=self.url_template,
        )

    # -- batchGetReviews --------------------------------------------------------------------------

    def _batch_request(self, batch: LocationBatch, page_token: str | None) -> Request | None:
        """The batch's next POST, sent under its first unfinished location (which the budget charges)."""
        owner = next((self.scopes[s] for s in batch.scopes if not self.scopes[s].finished), None)
        if owner is None:
            return None
        # Every page names every location of the batch: Google ties a page token to the request it paged.
        body: dict[str, Any] = {
            "locationNames": batch.scopes,
            "pageSize": self.api.page_size,
            "orderBy": "updateTime desc",
            "ignoreRatingOnlyReviews": False,
        }
        if page_token:
            body["pageToken"] = page_token
        request = self.oauth_request(
            owner,
            f"{self.api.base_url.rstrip('/')}/v4/accounts/{quote(batch.account, safe='')}/locations:batchGetReviews",
            headers={"Content-Type": "application/json"},
            callback=self.parse_batch,
            cb_kwargs={"batch": batch.key},
        )
        if request is None:  # budget spent (the owner is truncated) or the token was refused
            if not self.auth_failed:
                for scope in batch.scopes:
                    self.truncate_scope(self.scopes[scope], f"not read: {batch.key} was not sent", quiet=True)
            return None
        return request.replace(method="POST", body=json.dumps(body))

    def parse_batch(self, response: Response, scope: str, batch: str) -> Iterator[MentionItem | Request]:
        """Yield each location's reviews newer than its watermark, then the next page or the batch's end."""
        assert self.batches is not None
        current = self.batches[batch]
        current.pages += 1
        members = {s: self.scopes[s] for s in current.scopes}
        for state in members.values():
            state.pages += 1
        try:
            page = parse_batch_page(response.body)
        except MalformedResponse as exc:
            self.stats_inc("earshot/malformed_responses")
            for state in members.values():
                self.fail_scope(state, f"malformed batchGetReviews response for page {current.pages}: {exc}")
            return
        oldest: datetime | None = None
        owner = self.scopes[scope]
        for location, review in page.location_reviews:
            if not isinstance(location, str):
                self.reject_record(owner, "bad_location_review", f"{batch}: an entry without a location")
                continue
            located = members.get(location)
            if located is None:
                self.reject_record(
                    owner, "unknown_location", f"{batch}: a review of {location[:120]!r}, not asked for"
                )
                continue
            updated = review_update_time(review)
            if updated is not None and (oldest is None or updated < oldest):
                oldest = updated
            state = located
            if state.finished:
                continue  # this location already reached its watermark
            if not state.is_new(updated):
                self.complete_scope(state)
                continue
            item = self._review_item(state, review)
            if item is not None:
                yield self.accept(state, item, updated)
        for state in members.values():
            # updateTime desc across the batch: below the page's oldest review nothing newer can follow.
            if oldest is not None and state.watermark is not None and oldest <= state.watermark:
                self.complete_scope(state)
        open_states = [state for state in members.values() if not state.finished]
        if not open_states:
            return
        if not page.next_page_token:
            for state in open_states:
                self.complete_scope(state)
        elif page.next_page_token in current.page_tokens:
            for state in open_states:
                self.fail_scope(state, PAGING_LOOP)
        elif current.pages >= self.api.max_pages * len(current.scopes):
            for state in open_states:
                self.truncate_scope(
                    state,
                    f"stopped at {current.pages} batch pages (max_pages={self.api.max_pages} per location) with "
                    "older reviews unread; its watermark stays where it was",
                )
        else:
            current.page_tokens.add(page.next_page_token)
            request = self._batch_request(current, page.next_page_token)
            if request is not None:
                yield request

    def on_error(self, failure: Failure) -> None:
        """As the base does; a failed batch request fails every location of the batch, not only its owner."""
        request = failure.request  # type: ignore[attr-defined]
        key = request.cb_kwargs.get("batch")
        batch = self.batches.get(key) if self.batches is not None and key else None
        try:
            super().on_error(failure)
        finally:
            if batch is not None and not self.auth_failed:
                owner = request.cb_kwargs.get("scope")
                for scope in batch.scopes:
                    self.fail_scope(self.scopes[scope], f"not read: {batch.key} failed (see {owner})")

    def parse_error_response(self, response: Response) -> SourceError:
        """Google's error body, with what to check for the statuses a user can fix."""
        error = parse_google_error(response.body, response.status)
        hint = {
            401: self.refused_hint(TOKEN_ENV),
            403: "the token's user cannot read this location's reviews",
            404: "check the target's google_account_id and google_location_ids",
        }.get(response.status, "")
        if (
            response.status in (400, 403, 404)
            and response.request is not None
            and response.request.method == "POST"
        ):
            hint = (
                "batchGetReviews answers for all its locations or fails for all: one unverified location, or one "
                "the token's user does not manage, fails the batch; check the target's google_location_ids"
            )
        # 403 is about one location (the user is not its manager); only 401 condemns the token itself.
        return SourceError(
            response.status, error.status, error.message, auth=response.status == 401, hint=hint
        )
