"""The Allegro mapping: rating lists, rates to a score, change times, error bodies, the watermark filter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, parse_timestamp, rfc3339_millis, to_mention_in
from spiders.spiders.allegro import (
    RATES,
    AllegroError,
    changed_at,
    parse_allegro_error,
    parse_ratings_page,
    rating_score,
    rating_to_item,
)
from tests.spiders.replay_server import SPIDER_FIXTURES
from tests.spiders.strategies import json_values

FIXTURES = SPIDER_FIXTURES / "allegro"
SCOPE = "users/48213977"
JSON = json_values(max_leaves=20)


def ratings(name: str) -> list[Any]:
    return parse_ratings_page((FIXTURES / name).read_bytes())


def test_a_ratings_page_is_read() -> None:
    page = ratings("ratings_seller_a_offset0.json")
    assert [r["id"] for r in page] == [
        "6731f0c2a5e4b1001f3e9a11",
        "672f8e10c4d2a3001e7b5c02",
        "672b41d0e8f9b7001c2d4e03",
    ]
    assert ratings("ratings_empty.json") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((FIXTURES / "malformed_truncated.json").read_bytes(), "not JSON"),
        (
            (FIXTURES / "malformed_offers_listing.json").read_bytes(),
            r"no 'ratings' list .*\(count, offers, totalCount\)",
        ),
        (b"{}", r"no 'ratings' list in the response \(no keys\)"),
        (b'{"ratings": {"id": "x"}}', "not a list"),
        (b"[]", "expected a JSON object"),
        (b"<html>502 Bad Gateway</html>", "not JSON"),
    ],
)
def test_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_ratings_page(body)


def test_a_rating_maps_to_a_mention_with_the_sellers_answer() -> None:
    rating = ratings("ratings_seller_a_offset0.json")[1]
    mention = to_mention_in(rating_to_item(rating, scope=SCOPE, target="Sklep"))
    assert (mention.source, mention.external_id, mention.author) == ("allegro", rating["id"], "marek_k1982")
    assert mention.rating == 2.25  # (1 + 3 + 4 + 1) / 4
    assert mention.text == "Paczka szła tydzień, a kontakt ze sprzedawcą żaden. Nie polecam."
    assert mention.reply_text is not None and mention.reply_text.endswith("Zwróciliśmy koszt wysyłki.")
    assert mention.created_at == mention.updated_at == datetime(2026, 11, 10, 18, 3, 11, tzinfo=UTC)
    assert mention.raw == rating and mention.url is None


def test_an_edited_rating_is_updated_at_its_last_change() -> None:
    rating = ratings("ratings_seller_a_offset3.json")[2]
    mention = to_mention_in(rating_to_item(rating, scope=SCOPE, target=None))
    assert mention.created_at == datetime(2026, 10, 25, 21, 50, 2, tzinfo=UTC)
    assert mention.updated_at == datetime(2026, 10, 27, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rating", "reason"),
    [
        ({"createdAt": "2026-11-01T10:00:00.000Z", "comment": "bez id"}, "missing_external_id"),
        ({"id": "r1", "createdAt": "wczoraj"}, "bad_timestamp"),
        ({"id": "r1", "rates": {"delivery": 9, "service": 9}}, "rating_out_of_range"),
        ({"id": "r1", "comment": 5}, "bad_text"),
    ],
)
def test_unusable_ratings_are_rejected_by_validation(rating: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidItem) as caught:
        to_mention_in(rating_to_item(rating, scope=SCOPE, target=None))
    assert caught.value.reason == reason


def test_a_rating_that_is_not_an_object_is_refused_by_the_mapping() -> None:
    with pytest.raises(InvalidItem, match="not an object"):
        rating_to_item(["id", "r1"], scope=SCOPE, target=None)


@given(st.dictionaries(st.sampled_from(RATES), st.integers(min_value=1, max_value=5), min_size=1))
def test_the_score_is_the_mean_of_the_rates_given(rates: dict[str, int]) -> None:
    score = rating_score(rates)
    assert score == round(sum(rates.values()) / len(rates), 2)
    assert 1 <= score <= 5


@pytest.mark.parametrize(
    "rates",
    [None, {}, {"delivery": None}, {"delivery": "5"}, {"delivery": True}, {"unknownRate": 4}, [5, 5]],
)
def test_no_usable_rates_means_no_score(rates: Any) -> None:
    assert rating_score(rates) is None


@pytest.mark.parametrize(
    ("rating", "expected"),
    [
        (
            {"lastChangedAt": "2026-11-13T19:02:44.000Z", "createdAt": "2026-11-10T18:03:11.000Z"},
            datetime(2026, 11, 13, 19, 2, 44, tzinfo=UTC),
        ),
        (
            {"editedAt": "2026-10-27T09:00:00.000Z", "createdAt": "2026-10-25T21:50:02.000Z"},
            datetime(2026, 10, 27, 9, tzinfo=UTC),
        ),
        ({"createdAt": "2026-11-10T18:03:11+01:00"}, datetime(2026, 11, 10, 17, 3, 11, tzinfo=UTC)),
        ({"lastChangedAt": "13.11.2026"}, None),
        ({}, None),
        ("not a rating", None),
    ],
)
def test_change_times(rating: Any, expected: datetime | None) -> None:
    assert changed_at(rating) == expected


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_the_watermark_filter_is_written_as_allegro_writes_times(moment: datetime) -> None:
    written = rfc3339_millis(moment)
    assert written.endswith("Z") and len(written) == len("2026-11-12T09:41:27.512Z")
    back = parse_timestamp(written)
    assert timedelta(0) <= moment - back < timedelta(milliseconds=1)  # never later than the watermark


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            (FIXTURES / "error_422_user_id.json").read_bytes(),
            AllegroError("VALIDATION_ERROR", "The user id is invalid.", "user.id"),
        ),
        (
            (FIXTURES / "error_401_invalid_token.json").read_bytes(),
            AllegroError("invalid_token", "Access token expired"),
        ),
        (
            (FIXTURES / "error_403_access_denied.json").read_bytes(),
            AllegroError("AccessDenied", "You do not have permission to access this resource."),
        ),
        (
            b'{"errors": [{"code": "X", "message": "only for developers"}]}',
            AllegroError("X", "only for developers"),
        ),
        (b'{"errors": []}', AllegroError("", '{"errors": []}')),
        (
            b"<html><h1>503 Service Unavailable</h1></html>",
            AllegroError("", "<html><h1>503 Service Unavailable</h1></html>"),
        ),
        (b"", AllegroError("", "(empty body)")),
    ],
)
def test_error_bodies(body: bytes, expected: AllegroError) -> None:
    assert parse_allegro_error(body) == expected


@given(JSON)
def test_any_json_error_body_is_described_without_raising(data: Any) -> None:
    error = parse_allegro_error(json.dumps(data).encode())
    assert isinstance(error.code, str) and isinstance(error.message, str) and len(error.message) <= 500


@given(st.binary(max_size=300))
def test_any_error_bytes_are_described_without_raising(body: bytes) -> None:
    assert parse_allegro_error(body).message
