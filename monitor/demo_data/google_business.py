"""Demo Google Business Profile API (v4): ``accounts.locations.reviews.list`` and ``get``.

Paging with ``pageSize`` (at most 50) and ``pageToken``, ``orderBy`` as the API accepts it, and a bearer
token check, with errors in Google's ``{"error": {...}}`` format. Data: google_business_reviews.json; its
"later" part (new reviews and edits) is served only after :meth:`GoogleBusinessSite.advance`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from monitor.demo_data.site import DemoRequest, DemoSite, Reply, Route, shift_delta

MAX_PAGE_SIZE = 50
_ORDERS = ("updateTime desc", "rating", "rating desc")
_STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
_LIST = re.compile(r"/v4/accounts/(?P<account>[^/]+)/locations/(?P<location>[^/]+)/reviews")
_GET = re.compile(r"/v4/accounts/(?P<account>[^/]+)/locations/(?P<location>[^/]+)/reviews/(?P<review>[^/]+)")


class DemoRequestError(Exception):
    """An API error to answer in Google's ``{"error": {...}}`` format."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def reply(self) -> Reply:
        headers = (
            [("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')] if self.code == 401 else []
        )
        body = {"error": {"code": self.code, "message": self.message, "status": self.status}}
        return Reply.json(body, self.code, headers)


def _shift_timestamp(value: str, delta: timedelta) -> str:
    """Move an RFC 3339 'Z' time by whole seconds, keeping its fractional digits as they were."""
    base = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S") + delta
    return base.strftime("%Y-%m-%dT%H:%M:%S") + value[19:]


def _update_time(review: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(review.get("updateTime") or review["createTime"]))


def _rfc3339(moment: datetime) -> str:
    """An aware time as Google writes it: UTC, milliseconds, 'Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _minutes_before(now: datetime, entry: dict[str, Any]) -> str:
    return _rfc3339(now - timedelta(minutes=float(entry["minutes_ago"])))


class GoogleBusinessSite(DemoSite):
    name = "google_business"
    label = "Google Business Profile API"
    data_file = "google_business_reviews.json"

    def __init__(self, data: dict[str, Any], *, token: str, shift_to_now: bool) -> None:
        super().__init__(data, token=token, shift_to_now=shift_to_now)
        self.account_id = str(data["account_id"])
        self.locations: dict[str, list[dict[str, Any]]] = {}
        for location in data["locations"]:
            loc = str(location["location_id"])
            self.locations[loc] = [self._complete(dict(r), loc) for r in location["reviews"]]
        if shift_to_now:
            self._shift_to_now()
        for reviews in self.locations.values():
            reviews.sort(key=_update_time, reverse=True)
        self.advanced = False

    @property
    def location_ids(self) -> list[str]:
        return list(self.locations)

    def routes(self) -> list[Route]:
        return [(_LIST, self._list), (_GET, self._get)]

    def target_fields(self, base_url: str) -> dict[str, Any]:
        return {"google_account_id": self.account_id, "google_location_ids": self.location_ids}

    def source_settings(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "access_token": SecretStr(self.token)}

    def describe(self) -> str:
        count = sum(len(r) for r in self.locations.values())
        return f"{count} reviews in {len(self.locations)} locations"

    def advance(self, now: datetime) -> int:
        """Add the "later" reviews and apply the "later" edits, timed before ``now``; once only.

        Lists are rebuilt and swapped in, never changed in place, so a request being served meanwhile sees
        the old or the new state, not a mix. Each location stays newest-edit first, as the spider's
        incremental read (``orderBy=updateTime desc`` down to its watermark) needs.
        """
        later = self.data.get("later") or {}
        if self.advanced or not later:
            return 0
        self.advanced = True
        updated = {loc: list(reviews) for loc, reviews in self.locations.items()}
        for entry in later.get("new_reviews", []):
            location = self._known_location(entry)
            review = {k: v for k, v in entry.items() if k not in ("location_id", "minutes_ago")}
            review["createTime"] = review["updateTime"] = _minutes_before(now, entry)
            updated[location].append(self._complete(review, location))
        for entry in later.get("edits", []):
            reviews = updated[self._known_location(entry)]
            index = next((i for i, r in enumerate(reviews) if r["reviewId"] == entry["reviewId"]), None)
            if index is None:
                raise ValueError(f"demo data edits an unknown review {entry['reviewId']!r}")
            # An edit keeps the review's createTime and any owner reply; Google moves updateTime.
            reviews[index] = {
                **reviews[index],
                "comment": entry["comment"],
                "starRating": entry["starRating"],
                "updateTime": _minutes_before(now, entry),
            }
        for location, reviews in updated.items():
            reviews.sort(key=_update_time, reverse=True)
            self.locations[location] = reviews
        return len(later.get("new_reviews", [])) + len(later.get("edits", []))

    def _known_location(self, entry: dict[str, Any]) -> str:
        location = str(entry["location_id"])
        if location not in self.locations:
            raise ValueError(f"demo data names an unknown location {location!r}")
        return location

    # -- the API -------------------------------------------------------------------------------------

    def _checked(self, request: DemoRequest, match: re.Match[str]) -> list[dict[str, Any]]:
        if request.bearer != self.token:
            raise DemoRequestError(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                "cookie or other valid authentication credential.",
            )
        if match["account"] != self.account_id or match["location"] not in self.locations:
            raise DemoRequestError(404, "NOT_FOUND", "Requested entity was not found.")
        return self.locations[match["location"]]

    def _list(self, request: DemoRequest, match: re.Match[str]) -> Reply:
        try:
            return Reply.json(self._list_body(request, match))
        except DemoRequestError as exc:
            return exc.reply()

    def _list_body(self, request: DemoRequest, match: re.Match[str]) -> dict[str, Any]:
        reviews = self._checked(request, match)
        location_id = match["location"]
        page_size = _page_size(request.arg("pageSize"))
        order = request.arg("orderBy") or "updateTime desc"
        if order not in _ORDERS:
            raise DemoRequestError(400, "INVALID_ARGUMENT", f"Invalid orderBy: {order!r}")
        offset = _decode_page_token(request.arg("pageToken"), location_id, order)
        ordered = reviews if order == "updateTime desc" else _by_rating(reviews, order == "rating desc")
        body: dict[str, Any] = {}
        page = ordered[offset : offset + page_size]
        if page:  # like Google, omit the list when it is empty
            body["reviews"] = page
        rated = [_STARS[r["starRating"]] for r in reviews if r.get("starRating") in _STARS]
        body["averageRating"] = round(sum(rated) / len(rated), 1) if rated else 0
        body["totalReviewCount"] = len(reviews)
        if offset + page_size < len(ordered):
            body["nextPageToken"] = _encode_page_token(location_id, order, offset + page_size)
        return body

    def _get(self, request: DemoRequest, match: re.Match[str]) -> Reply:
        try:
            for review in self._checked(request, match):
                if review["reviewId"] == match["review"]:
                    return Reply.json(review)
            raise DemoRequestError(404, "NOT_FOUND", "Requested entity was not found.")
        except DemoRequestError as exc:
            return exc.reply()

    def _complete(self, review: dict[str, Any], location_id: str) -> dict[str, Any]:
        review.setdefault(
            "name", f"accounts/{self.account_id}/locations/{location_id}/reviews/{review['reviewId']}"
        )
        review.setdefault("updateTime", review["createTime"])
        return review

    def _shift_to_now(self) -> None:
        delta = shift_delta(max(_update_time(r) for reviews in self.locations.values() for r in reviews))
        for reviews in self.locations.values():
            for review in reviews:
                for holder in (review, review.get("reviewReply") or {}):
                    for key in ("createTime", "updateTime"):
                        if holder.get(key):
                            holder[key] = _shift_timestamp(holder[key], delta)


def _page_size(value: str) -> int:
    if not value:
        return MAX_PAGE_SIZE
    try:
        size = int(value)
    except ValueError:
        raise DemoRequestError(400, "INVALID_ARGUMENT", f"Invalid pageSize: {value!r}") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise DemoRequestError(400, "INVALID_ARGUMENT", f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    return size


def _encode_page_token(location_id: str, order: str, offset: int) -> str:
    raw = json.dumps([location_id, order, offset]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str, location_id: str, order: str) -> int:
    """The offset a page token stands for; 0 without one. Tokens are tied to location and order."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        loc, tok_order, offset = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise DemoRequestError(400, "INVALID_ARGUMENT", "Invalid page token.") from None
    if loc != location_id or tok_order != order or not isinstance(offset, int) or offset < 0:
        raise DemoRequestError(400, "INVALID_ARGUMENT", "Page token does not match the request.")
    return offset


def _by_rating(reviews: list[dict[str, Any]], descending: bool) -> list[dict[str, Any]]:
    return sorted(reviews, key=lambda r: _STARS.get(str(r.get("starRating")), 0), reverse=descending)


SITE = GoogleBusinessSite
