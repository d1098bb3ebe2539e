"""Ratings that buyers gave the monitored sellers on Allegro, from the Allegro REST API.

``GET {base_url}/sale/user-ratings?user.id={id}&limit=N&offset=K`` (``Authorization: Bearer``, ``Accept:
application/vnd.allegro.public.v1+json``) lists a seller's ratings sorted by ``lastChangedAt``, newest
first: a new rating and an edited one both come first. So a run pages by offset only until it meets a
rating no newer than the seller's watermark, and sends the watermark as ``lastChangedAt.gte`` so the API
itself leaves older ratings out. An edited rating (newer ``lastChangedAt``) updates the stored mention,
the previous text and rating kept as a revision.

The rating's score is the mean of the buyer's rates (delivery, delivery cost, description, service; 1-5).
Ratings given under Allegro's newer rules carry no rates, only ``recommended``: those have no score, and
``recommended`` stays in ``raw``. The seller's answer is the reply. The token must be the seller's own
(the resource returns the authenticated user's ratings); one token per seller means one target per token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from scrapy import Request
from scrapy.http import Response

from monitor.core.source_settings import AllegroSettings, source_env_var
from spiders.base import ScopeState, SourceError, SourceSpider
from spiders.items import InvalidItem, MentionItem, optional_timestamp, rfc3339_millis
from spiders.responses import as_object, error_object, error_text, json_object, required_list

SOURCE = "allegro"
TOKEN_ENV = source_env_var(SOURCE, "access_token")
MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
RATES = ("delivery", "deliveryCost", "description", "service")


@dataclass(frozen=True)
class AllegroError:
    """An Allegro error body: ``{"errors": [{"code", "message", "userMessage", "path", "details"}]}``, or an
    OAuth one: ``{"error": "invalid_token", "error_description": "..."}``."""

    code: str
    message: str
    path: str = ""


def parse_ratings_page(body: bytes) -> list[Any]:
    """The ``ratings`` of a UserRatingListResponse, or raise MalformedResponse."""
    return required_list(json_object(body, SOURCE), "ratings", SOURCE)


def parse_allegro_error(body: bytes) -> AllegroError:
    """The first error Allegro reported, tolerating OAuth-style and non-JSON bodies (proxies)."""
    data = error_object(body)
    if data is None:
        return AllegroError("", error_text(body))
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        message = first.get("userMessage") or first.get("message") or first.get("details") or "(no message)"
        return AllegroError(
            str(first.get("code") or "")[:100], str(message)[:500], str(first.get("path") or "")[:100]
        )
    if isinstance(data.get("error"), str):  # the OAuth layer: invalid_token, insufficient_scope...
        description = data.get("error_description") or data["error"] or "(no message)"
        return AllegroError(data["error"][:100], str(description)[:500])
    return AllegroError("", error_text(body))


def rating_score(rates: Any) -> Any:
    """The mean of the buyer's 1-5 rates, or None when there are none (newer ratings only recommend).

    Rates that are not whole numbers are left out of the mean; a mean outside 1-5 is returned as it is
    and refused by validation.
    """
    if not isinstance(rates, dict):
        return None
    values = [
        rates[key] for key in RATES if isinstance(rates.get(key), int) and not isinstance(rates[key], bool)
    ]
    return round(sum(values) / len(values), 2) if values else None


def changed_at(rating: Any) -> datetime | None:
    """When the rating last changed (``lastChangedAt``, else ``editedAt`` or ``createdAt``), aware UTC."""
    if not isinstance(rating, dict):
        return None
    return optional_timestamp(
        rating.get("lastChangedAt") or rating.get("editedAt") or rating.get("createdAt")
    )


def rating_to_item(rating: Any, *, scope: str, target: str | None) -> MentionItem:
    """Map one UserRating to a MentionItem without judging values (validation does that).

    Raises InvalidItem only when ``rating`` is not an object at all.
    """
    if not isinstance(rating, dict):
        raise InvalidItem("not_an_object", f"rating is {type(rating).__name__}, not an object")
    buyer, answer = as_object(rating.get("buyer")), as_object(rating.get("answer"))
    return MentionItem(
        source=SOURCE,
        external_id=rating.get("id"),
        url=None,  # Allegro has no public page per rating
        author=buyer.get("login"),
        text=rating.get("comment") if rating.get("comment") is not None else "",
        lang=None,
        rating=rating_score(rating.get("rates")),
        reply_text=answer.get("message"),
        parent_id=None,
        reach=None,
        created_at=rating.get("createdAt"),
        updated_at=rating.get("lastChangedAt") or rating.get("editedAt") or rating.get("createdAt"),
        target=target,
        raw=rating,
        scope=scope,
    )


@dataclass
class SellerScope(ScopeState):
    """One seller's progress in this run: the next offset and the ratings already read."""

    user_id: str = ""
    offset: int = 0
    seen_ids: set[str] = field(default_factory=set)


class AllegroRatingsSpider(SourceSpider[SellerScope]):
    """Read new and edited ratings of every target's Allegro sellers."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("allegro_user_ids",)
    source_label = "Allegro"
    scope_noun = "seller"
    record_noun = "rating"
    credential_help = {
        "access_token": "an OAuth 2.0 access token of the seller's account with the allegro:api:ratings scope"
    }
    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # an authenticated API, not a website
        # Error messages (and excludedFromAverageRatesReason) come in the Accept-Language.
        "DEFAULT_REQUEST_HEADERS": {"Accept": MEDIA_TYPE, "Accept-Language": "en-US"},
    }

    @property
    def api(self) -> AllegroSettings:
        return self.config.sources.allegro

    def plan_scopes(self) -> Iterator[SellerScope]:
        for target in self.config.targets:
            for user_id in target.allegro_user_ids:
                user_id = user_id.strip()
                if user_id:
                    yield SellerScope(scope=f"users/{user_id}", target=target.name, user_id=user_id)

    def first_requests(self, state: SellerScope) -> Iterator[Request | None]:
        yield self._page_request(state)

    def _page_request(self, state: SellerScope) -> Request | None:
        params: dict[str, Any] = {
            "user.id": state.user_id,
            "limit": self.api.page_size,
            "offset": state.offset,
        }
        if state.watermark is not None:
            params["lastChangedAt.gte"] = rfc3339_millis(state.watermark)
        query = urlencode(params, quote_via=quote, safe=":")
        return self.scope_request(
            state,
            f"{self.api.base_url.rstrip('/')}/sale/user-ratings?{query}",
            headers={"Authorization": f"Bearer {self.credential('access_token')}"},
            callback=self.parse_ratings,
        )

    def parse_ratings(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's ratings changed since the watermark, then the next page or the seller's end."""
        state = self.scopes[scope]
        what = f"malformed response at offset {state.offset}"
        ratings = self.read_page(state, lambda: parse_ratings_page(response.body), what)
        if ratings is None:
            return
        fresh = 0
        for rating in ratings:
            rating_id = rating.get("id") if isinstance(rating, dict) else None
            if isinstance(rating_id, str) and rating_id in state.seen_ids:
                continue  # shifted onto this page by a rating that arrived while paging
            fresh += 1
            updated = changed_at(rating)
            if not state.is_new(updated):
                self.complete_scope(state)
                return
            if isinstance(rating_id, str):
                state.seen_ids.add(rating_id)
            item = self.to_item(state, rating_to_item, rating, scope=scope, target=state.target)
            if item is not None:
                yield self.accept(state, item, updated)
        if len(ratings) < self.api.page_size:
            self.complete_scope(state)
        elif not fresh:
            self.fail_scope(state, f"offset {state.offset} returned only ratings already read (paging loop)")
        else:
            state.offset += len(ratings)
            request = self._page_request(state)
            if request is not None:
                yield request

    def parse_error_response(self, response: Response) -> SourceError:
        """Allegro's error; a refused token ends the run, a bad seller id fails only that seller."""
        error = parse_allegro_error(response.body)
        if response.status in (401, 403):
            hint = f"the access token was refused: renew {TOKEN_ENV} (tokens expire after 12 hours)"
        elif response.status in (400, 404, 422):
            hint = "check the target's allegro_user_ids"
        else:
            hint = ""
        message = f"{error.message} (at {error.path})" if error.path else error.message
        return SourceError(
            response.status, error.code, message, auth=response.status in (401, 403), hint=hint
        )
