"""The Business Profile API's review answers as Earshot reads them: list pages and Review objects.

A ``ListReviewsResponse`` (one location) or ``BatchGetReviewsResponse`` (several, ``locationReviews``) is
read into a page, or :class:`spiders.errors.MalformedResponse`; each v4 ``Review`` maps to a
:class:`spiders.items.MentionItem`: the reviewer's own words without Google's added translation,
``starRating`` ``ONE``..``FIVE`` as 1..5, and a link built from a configurable template. How a run pages
through locations and batches is :mod:`spiders.spiders.google_business`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from spiders.google import list_page
from spiders.items import InvalidItem, MentionItem, optional_timestamp
from spiders.responses import omitted_list

SOURCE = "google_business"
DEFAULT_URL_TEMPLATE = "{base_url}/v4/{name}"

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
_BATCH_KEYS = {"locationReviews", "nextPageToken"}


@dataclass(frozen=True)
class ReviewsPage:
    reviews: list[Any]
    next_page_token: str | None


@dataclass(frozen=True)
class LocationReviewsPage:
    """One page of a BatchGetReviewsResponse: (location name, review) pairs and the next page's token."""

    location_reviews: list[tuple[Any, Any]]
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
    return optional_timestamp(review.get("updateTime") or review.get("createTime"))


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
    data, token = list_page(body, SOURCE)
    total = data.get("totalReviewCount")
    has_more = token is not None or (first_page and isinstance(total, int) and total > 0)
    due = "no reviews despite a review count" if has_more else None
    return ReviewsPage(omitted_list(data, "reviews", SOURCE, _LIST_KEYS, due), token)


def parse_batch_page(body: bytes) -> LocationReviewsPage:
    """Read a BatchGetReviewsResponse, or raise MalformedResponse.

    Google omits empty lists, so ``{}`` is a page without reviews. An entry that is not a LocationReview
    object is kept as ``(None, entry)`` for the spider to reject, so one bad entry does not cost the page.
    """
    data, token = list_page(body, SOURCE)
    due = "a next page but no reviews" if token is not None else None
    entries = omitted_list(data, "locationReviews", SOURCE, _BATCH_KEYS, due)
    pairs = [(e.get("name"), e.get("review")) if isinstance(e, dict) else (None, e) for e in entries]
    return LocationReviewsPage(pairs, token)
