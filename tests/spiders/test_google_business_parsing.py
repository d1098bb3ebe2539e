"""The Google Business Profile mapping: comments, ratings, list responses and error bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiders.errors import MalformedResponse
from spiders.google import GoogleApiError, parse_google_error
from spiders.google_business_reviews import (
    original_comment,
    parse_reviews_page,
    review_to_item,
    review_update_time,
    review_url,
    star_rating,
)
from spiders.items import InvalidItem, to_mention_in
from tests.spiders.replay_server import FIXTURES

SCOPE = "accounts/111222333/locations/9001"


@pytest.mark.parametrize(
    ("comment", "original"),
    [
        (
            "(Translated by Google) Fast shipping.\n\n(Original)\nSzybka wysyłka.",
            "Szybka wysyłka.",
        ),
        ("Szybka wysyłka.\n\n(Translated by Google)\nFast shipping.", "Szybka wysyłka."),
        ("(Translated by Google) Fast shipping.", "Fast shipping."),
        ("  Zwykły komentarz bez tłumaczenia.  ", "Zwykły komentarz bez tłumaczenia."),
        ("Cytuję: (Translated by Google) w środku zdania", "Cytuję: (Translated by Google) w środku zdania"),
    ],
)
def test_original_comment_keeps_the_reviewers_own_words(comment: str, original: str) -> None:
    assert original_comment(comment) == original


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ONE", 1),
        ("TWO", 2),
        ("THREE", 3),
        ("FOUR", 4),
        ("FIVE", 5),
        ("STAR_RATING_UNSPECIFIED", None),
        (None, None),
    ],
)
def test_star_rating_enum(value: str | None, expected: int | None) -> None:
    assert star_rating(value) == expected


def test_unknown_star_rating_is_left_for_validation_to_reject() -> None:
    review = {"reviewId": "r1", "starRating": "SIX", "updateTime": "2026-11-01T00:00:00Z"}
    with pytest.raises(InvalidItem, match="rating"):
        to_mention_in(review_to_item(review, scope=SCOPE, target="T", base_url="https://gbp.test"))


def test_review_is_mapped_to_an_item() -> None:
    review = json.loads((FIXTURES / "loc1_page2.json").read_text())["reviews"][0]
    item = review_to_item(review, scope=SCOPE, target="Sklep", base_url="https://gbp.test/")
    mention = to_mention_in(item)
    assert mention.source == "google_business"
    assert (mention.external_id, mention.author, mention.rating) == ("AbFvOqTest0002", "Paweł Nowicki", 4.0)
    assert (mention.text, mention.reply_text) == (
        "Dobre ceny, dostawa na czas.",
        "Dziękujemy za opinię, Panie Pawle!",
    )
    assert mention.created_at == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert mention.updated_at == datetime(2026, 11, 3, 8, 15, 30, 250000, tzinfo=UTC)
    assert mention.url == f"https://gbp.test/v4/{SCOPE}/reviews/AbFvOqTest0002"
    assert mention.target == "Sklep" and mention.raw == review
    assert item["scope"] == SCOPE


def test_review_url_template_placeholders() -> None:
    template = "https://maps.example/review?account={account_id}&location={location_id}&review={review_id}"
    url = review_url(template, "https://gbp.test", f"{SCOPE}/reviews/Ab+c/d")
    assert url is None  # not a review resource name: 7 segments
    url = review_url(template, "https://gbp.test", f"{SCOPE}/reviews/Ab+c=")
    assert url == "https://maps.example/review?account=111222333&location=9001&review=Ab%2Bc%3D"
    assert review_url(template, "https://gbp.test", None) is None


def test_review_without_name_gets_one_from_its_scope() -> None:
    item = review_to_item({"reviewId": "r9"}, scope=SCOPE, target=None, base_url="https://gbp.test")
    assert item["url"] == f"https://gbp.test/v4/{SCOPE}/reviews/r9"


def test_review_update_time() -> None:
    assert review_update_time({"updateTime": "2026-11-01T00:00:00Z"}) == datetime(2026, 11, 1, tzinfo=UTC)
    assert review_update_time({"createTime": "2026-11-01T00:00:00Z"}) == datetime(2026, 11, 1, tzinfo=UTC)
    assert review_update_time({"updateTime": "soon"}) is None
    assert review_update_time(["not", "a", "review"]) is None


def test_list_pages_are_read() -> None:
    page = parse_reviews_page((FIXTURES / "loc1_page1.json").read_bytes(), first_page=True)
    assert len(page.reviews) == 3 and page.next_page_token == "CiAKGAoUMTExMjIyMzMzLzkwMDEvcGFnZTIQAQ"
    last = parse_reviews_page((FIXTURES / "loc1_page2.json").read_bytes(), first_page=False)
    assert len(last.reviews) == 2 and last.next_page_token is None


@pytest.mark.parametrize("body", [b"{}", b'{"averageRating": 0, "totalReviewCount": 0}'])
def test_a_location_without_reviews_is_an_empty_page(body: bytes) -> None:
    assert parse_reviews_page(body, first_page=True).reviews == []
    assert parse_reviews_page((FIXTURES / "empty_location.json").read_bytes(), first_page=True).reviews == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((FIXTURES / "malformed_truncated.txt").read_bytes(), "not JSON"),
        ((FIXTURES / "malformed_no_reviews.json").read_bytes(), "no 'reviews' list"),
        (b'{"reviews": {"a": 1}}', "not a list"),
        (b"[]", "expected a JSON object"),
        (b'{"reviews": [], "nextPageToken": 5}', "nextPageToken"),
        (b'{"nextPageToken": "abc"}', "no 'reviews' list"),
        (b'{"totalReviewCount": 4}', "no 'reviews' list"),
        (b"<html>Sign in</html>", "not JSON"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_malformed_list_responses(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_reviews_page(body, first_page=True)


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (
            (FIXTURES / "error_401.json").read_bytes(),
            401,
            GoogleApiError(
                401,
                "UNAUTHENTICATED",
                json.loads((FIXTURES / "error_401.json").read_text())["error"]["message"],
            ),
        ),
        (
            (FIXTURES / "error_403.json").read_bytes(),
            403,
            GoogleApiError(403, "PERMISSION_DENIED", "The caller does not have permission"),
        ),
        (
            b'{"error": "invalid_token", "error_description": "Invalid Credentials"}',
            401,
            GoogleApiError(401, "invalid_token", "Invalid Credentials"),
        ),
        (b"<html>Bad Gateway</html>", 502, GoogleApiError(502, "", "<html>Bad Gateway</html>")),
        (b"", 500, GoogleApiError(500, "", "(empty body)")),
        (b'{"error": {"code": "x"}}', 400, GoogleApiError(400, "", "(no message)")),
    ],
)
def test_google_error_bodies(body: bytes, status: int, expected: GoogleApiError) -> None:
    assert parse_google_error(body, status) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(["reviews", "nextPageToken", "totalReviewCount", "error", "x"]), c, max_size=4
            )
        ),
    ).map(lambda v: json.dumps(v).encode())
)
def test_response_parsers_never_crash(body: bytes) -> None:
    try:
        page = parse_reviews_page(body, first_page=True)
    except MalformedResponse:
        pass
    else:
        assert isinstance(page.reviews, list)
    error: Any = parse_google_error(body, 500)
    assert isinstance(error.message, str) and isinstance(error.code, int)
