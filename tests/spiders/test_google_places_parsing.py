"""The Places API (New) mapping: place bodies, reviews (original text first) and error bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings

from spiders.errors import MalformedResponse
from spiders.google import parse_google_error
from spiders.items import InvalidItem, to_mention_in
from spiders.spiders.google_places import (
    parse_place,
    place_scope,
    review_publish_time,
    review_text,
    review_to_item,
)
from tests.spiders.replay_server import SPIDER_FIXTURES
from tests.spiders.strategies import bodies, json_values

FIXTURES = SPIDER_FIXTURES / "google_places"
SCOPE = "places/ChIJtestKonkurentWarszawa01"


def test_place_with_reviews_is_read() -> None:
    place = parse_place((FIXTURES / "place_a.json").read_bytes())
    assert (place.place_id, place.display_name) == (
        "ChIJtestKonkurentWarszawa01",
        "Elektro-Dom Konkurent – Warszawa Mokotów",
    )
    assert len(place.reviews) == 5


def test_a_place_without_reviews_is_empty_not_malformed() -> None:
    assert parse_place((FIXTURES / "place_no_reviews.json").read_bytes()).reviews == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((FIXTURES / "malformed_truncated.json").read_bytes(), "not JSON"),
        (
            (FIXTURES / "malformed_search_response.json").read_bytes(),
            r"no place 'id' in the response \(places\)",
        ),
        (b"{}", "no place 'id'"),
        (b'{"id": "x", "reviews": {"name": "r"}}', "not a list"),
        (b"[]", "expected a JSON object"),
        (b"<html>Sign in</html>", "not JSON"),
    ],
)
def test_malformed_place_bodies(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_place(body)


def test_review_maps_to_an_item_with_the_reviewers_own_words() -> None:
    review = json.loads((FIXTURES / "place_a.json").read_text())["reviews"][0]
    item = review_to_item(review, scope=SCOPE, target="Sklep")
    mention = to_mention_in(item)
    assert mention.source == "google_places"
    assert mention.external_id == f"{SCOPE}/reviews/ChZDSUhNMG9nS0VJQ0FnSUR0ZXN0MDE"
    assert mention.text.startswith("Kurier przywiózł paczkę") and mention.lang == "pl"
    assert (mention.author, mention.rating, mention.reply_text) == ("Joanna Kowalczyk", 1.0, None)
    assert mention.created_at == mention.updated_at == datetime(2026, 10, 27, 18, 2, 11, 482913, tzinfo=UTC)
    assert mention.raw == review and item["scope"] == SCOPE


@pytest.mark.parametrize(
    ("review", "expected"),
    [
        (
            {
                "originalText": {"text": "Świetnie", "languageCode": "pl"},
                "text": {"text": "Great", "languageCode": "en"},
            },
            ("Świetnie", "pl"),
        ),
        ({"text": {"text": "Great", "languageCode": "en"}}, ("Great", "en")),
        ({"originalText": {"text": "Bez języka"}}, ("Bez języka", None)),
        ({"rating": 3}, (None, None)),
    ],
)
def test_original_text_beats_googles_translation(review: dict[str, Any], expected: tuple[Any, Any]) -> None:
    assert review_text(review) == expected


@pytest.mark.parametrize(
    ("review", "reason"),
    [
        (
            {"rating": 6, "publishTime": "2026-11-01T00:00:00Z", "name": f"{SCOPE}/reviews/r"},
            "rating_out_of_range",
        ),
        ({"rating": 4, "publishTime": "2026-11-01T00:00:00Z"}, "missing_external_id"),
        ({"rating": 4, "publishTime": "wczoraj", "name": f"{SCOPE}/reviews/r"}, "bad_timestamp"),
        ({"originalText": {"text": ["list"]}, "name": f"{SCOPE}/reviews/r"}, "bad_text"),
    ],
)
def test_unusable_reviews_are_rejected_by_validation(review: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidItem) as caught:
        to_mention_in(review_to_item(review, scope=SCOPE, target=None))
    assert caught.value.reason == reason


def test_non_object_review_is_rejected_at_once() -> None:
    with pytest.raises(InvalidItem, match="not an object"):
        review_to_item("five stars", scope=SCOPE, target=None)


def test_publish_time() -> None:
    assert review_publish_time({"publishTime": "2026-11-03T14:22:00+01:00"}) == datetime(
        2026, 11, 3, 13, 22, tzinfo=UTC
    )
    assert review_publish_time({"publishTime": "soon"}) is None
    assert review_publish_time({}) is None and review_publish_time(None) is None


@pytest.mark.parametrize("value", ["ChIJabc", "places/ChIJabc", " /places/ChIJabc/ "])
def test_place_ids_may_be_bare_or_resource_names(value: str) -> None:
    assert place_scope(value) == "places/ChIJabc"


def test_error_info_reason_is_read_from_error_details() -> None:
    error = parse_google_error((FIXTURES / "error_400_api_key_invalid.json").read_bytes(), 400)
    assert (error.code, error.status, error.reason) == (400, "INVALID_ARGUMENT", "API_KEY_INVALID")
    assert parse_google_error((FIXTURES / "error_404_not_found.json").read_bytes(), 404).reason == ""


_json = json_values(
    [
        "id",
        "reviews",
        "name",
        "rating",
        "text",
        "originalText",
        "publishTime",
        "authorAttribution",
        "x",
    ],
    max_items=3,
    max_keys=5,
)


@settings(max_examples=300, deadline=None)
@given(bodies(_json))
def test_place_parser_and_mapping_never_crash(body: bytes) -> None:
    try:
        place = parse_place(body)
    except MalformedResponse:
        return
    for review in place.reviews:
        try:
            mention = to_mention_in(review_to_item(review, scope=SCOPE, target=None))
        except InvalidItem as exc:
            assert exc.reason  # rejected with a stated reason, never an unexpected exception
        else:
            assert mention.source == "google_places" and mention.external_id
