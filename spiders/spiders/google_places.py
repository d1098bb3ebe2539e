"""Reviews of places the user does not own (competitors, other chains' shops), from the Places API (New).

``GET {base_url}/v1/places/{place_id}`` with ``X-Goog-Api-Key`` and ``X-Goog-FieldMask: id,displayName,
reviews`` returns at most five reviews, chosen by Google's relevance; there is no paging and no sort
order. So one request per place and run is all there is to fetch, and every review it returns is handed
to the pipeline: the relevance ranking can surface a review older than the place's watermark, and an
edited review may keep its publishTime, so filtering on publishTime would lose both. Reviews are keyed
by their resource name (``places/{place}/reviews/{review}``); the pipeline's upsert stores a review
seen again unchanged as unchanged, and one with new text or stars as an edit. The watermark (newest
publishTime read) is still kept per place, like every source's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from scrapy import Request
from scrapy.http import Response

from monitor.core.source_settings import GooglePlacesSettings, source_env_var
from spiders.base import ScopeState, SourceError, SourceSpider
from spiders.errors import MalformedResponse
from spiders.google import parse_google_error
from spiders.items import InvalidItem, MentionItem, optional_timestamp
from spiders.responses import json_object, key_list

SOURCE = "google_places"
KEY_ENV = source_env_var(SOURCE, "api_key")
FIELD_MASK = "id,displayName,reviews"
# Key problems Google reports as 400 INVALID_ARGUMENT rather than 401/403 (google.rpc.ErrorInfo.reason).
_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})
_PLACE_KEYS = {"id", "displayName", "reviews", "name"}


@dataclass(frozen=True)
class PlaceDetails:
    place_id: str
    display_name: str | None
    reviews: list[Any]


def place_scope(place_id: str) -> str:
    """``places/ChIJ...`` for a bare id or a resource name: config may use either form."""
    value = place_id.strip().strip("/")
    return value if value.startswith("places/") else f"places/{value}"


def localized_text(value: Any) -> tuple[Any, str | None]:
    """``(text, languageCode)`` of a LocalizedText; anything else is returned as the text, unjudged."""
    if not isinstance(value, dict):
        return value, None
    lang = value.get("languageCode")
    return value.get("text"), lang if isinstance(lang, str) and lang else None


def review_text(review: dict[str, Any]) -> tuple[Any, str | None]:
    """The reviewer's own words and their language: ``originalText`` beats Google's translated ``text``."""
    for key in ("originalText", "text"):
        if review.get(key) is not None:
            return localized_text(review[key])
    return None, None


def review_publish_time(review: Any) -> datetime | None:
    """publishTime as aware UTC, or None when missing or unreadable (validation then rejects the review)."""
    return optional_timestamp(review.get("publishTime")) if isinstance(review, dict) else None


def review_to_item(review: Any, *, scope: str, target: str | None) -> MentionItem:
    """Map one Places API Review to a MentionItem without judging values (validation does that).

    Raises InvalidItem only when ``review`` is not an object at all.
    """
    if not isinstance(review, dict):
        raise InvalidItem("not_an_object", f"review is {type(review).__name__}, not an object")
    author = review.get("authorAttribution")
    author = author if isinstance(author, dict) else {}
    text, lang = review_text(review)
    return MentionItem(
        source=SOURCE,
        external_id=review.get("name"),
        url=review.get("googleMapsUri"),
        author=author.get("displayName"),
        text=text,
        lang=lang,
        rating=review.get("rating"),
        reply_text=None,  # the Places API does not return owners' replies
        parent_id=None,
        reach=None,
        created_at=review.get("publishTime"),
        updated_at=review.get("publishTime"),
        target=target,
        raw=review,
        scope=scope,
    )


def parse_place(body: bytes) -> PlaceDetails:
    """Read a Place limited to the field mask, or raise MalformedResponse.

    Google omits empty lists, so a place without reviews is ``{"id": ..., "displayName": ...}``. The id is
    always there when the mask asks for it: an object without it is not a Place.
    """
    data = json_object(body, SOURCE)
    place_id = data.get("id")
    if not isinstance(place_id, str) or not place_id:
        raise MalformedResponse(SOURCE, f"no place 'id' in the response ({key_list(data, _PLACE_KEYS)})")
    reviews = data.get("reviews", [])
    if not isinstance(reviews, list):
        raise MalformedResponse(SOURCE, f"'reviews' is {type(reviews).__name__}, not a list")
    name, _ = localized_text(data.get("displayName"))
    return PlaceDetails(place_id, name if isinstance(name, str) else None, reviews)


class GooglePlacesReviewsSpider(SourceSpider[ScopeState]):
    """Read the reviews Google shows for every target's place_ids."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("place_ids",)
    source_label = "Google Places"
    scope_noun = "place"
    record_noun = "review"
    credential_help = {"api_key": "a Google Cloud API key with the Places API (New) enabled"}
    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # an authenticated API, not a website
        "DEFAULT_REQUEST_HEADERS": {"Accept": "application/json"},
    }

    @property
    def api(self) -> GooglePlacesSettings:
        return self.config.sources.google_places

    def plan_scopes(self) -> Iterator[ScopeState]:
        for target in self.config.targets:
            for place_id in target.place_ids:
                if place_id.strip().strip("/"):
                    yield ScopeState(scope=place_scope(place_id), target=target.name)

    def first_requests(self, state: ScopeState) -> Iterator[Request | None]:
        params = {"languageCode": self.api.language_code} if self.api.language_code else {}
        query = f"?{urlencode(params)}" if params else ""
        place = quote(state.scope.removeprefix("places/"), safe="")
        yield self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}/v1/places/{place}{query}",
            headers={"X-Goog-Api-Key": self.credential("api_key"), "X-Goog-FieldMask": FIELD_MASK},
            callback=self.parse_place,
        )

    def parse_place(self, response: Response, scope: str) -> Iterator[MentionItem]:
        """Yield every review the place shows (at most five), then end the scope."""
        state = self.scopes[scope]
        place = self.read_page(state, lambda: parse_place(response.body), "malformed response")
        if place is None:
            return
        if place_scope(place.place_id) != scope:
            self.logger.warning(
                "%s: Google now calls this place %s; update the target's place_ids",
                scope,
                place_scope(place.place_id),
            )
        for review in place.reviews:
            item = self.to_item(state, review_to_item, review, scope=scope, target=state.target)
            if item is not None:
                yield self.accept(state, item, review_publish_time(review))
        self.complete_scope(state)

    def parse_error_response(self, response: Response) -> SourceError:
        """Google's error body; a refused key ends the run, a bad place id fails only its place."""
        error = parse_google_error(response.body, response.status)
        key_refused = response.status in (401, 403) or error.reason in _KEY_REASONS
        if key_refused:
            hint = f"the API key was refused: check {KEY_ENV}, its API restrictions and that Places API (New) is enabled"
        elif response.status in (400, 404):
            hint = "check the target's place_ids"
        else:
            hint = ""
        code = f"{error.status} {error.reason}".strip() if error.reason else error.status
        return SourceError(response.status, code, error.message, auth=key_refused, hint=hint)
