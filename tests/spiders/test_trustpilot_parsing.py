"""The Trustpilot mapping: review pages and their links, times, title + text, change times, error bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, to_mention_in
from spiders.spiders.trustpilot import (
    TrustpilotError,
    parse_reviews_page,
    parse_trustpilot_error,
    review_text,
    review_times,
    review_to_item,
    trustpilot_time,
)
from tests.spiders.replay_server import SPIDER_FIXTURES
from tests.spiders.strategies import json_values

FIXTURES = SPIDER_FIXTURES / "trustpilot"
SCOPE = "business-units/5f8a1c2d3e4b5a0001c9d8e7"
JSON = json_values(max_leaves=20)


def page(name: str) -> Any:
    return parse_reviews_page((FIXTURES / name).read_bytes())


def test_pages_say_whether_another_follows() -> None:
    first, last = page("reviews_a_page1.json"), page("reviews_a_page2.json")
    assert (len(first.reviews), first.has_next) == (3, True)
    assert (len(last.reviews), last.has_next) == (3, False)  # only a prev-page link
    assert page("reviews_b_page1.json").has_next is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((FIXTURES / "malformed_truncated.json").read_bytes(), "not JSON"),
        ((FIXTURES / "malformed_maintenance.html").read_bytes(), "not JSON"),
        (b'{"businessUnit": {"id": "x"}}', r"no 'reviews' list in the response \(businessUnit\)"),
        (b'{"reviews": "none"}', "not a list"),
        (b"[]", "expected a JSON object"),
    ],
)
def test_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_reviews_page(body)


def test_a_page_without_links_is_the_last_one() -> None:
    assert parse_reviews_page(b'{"reviews": []}').has_next is False
    assert parse_reviews_page(b'{"reviews": [], "links": [{"rel": "next-page"}]}').has_next is True
    assert parse_reviews_page(b'{"reviews": [], "links": "next-page"}').has_next is False


def test_a_review_maps_to_a_mention() -> None:
    review = page("reviews_a_page2.json").reviews[0]
    mention = to_mention_in(review_to_item(review, scope=SCOPE, target="Sklep"))
    assert (mention.source, mention.external_id, mention.author) == ("trustpilot", review["id"], "Adam N.")
    assert (mention.rating, mention.lang, mention.reach) == (1.0, "pl", 12)
    assert mention.text.startswith("Uszkodzony telewizor\n\nTelewizor przyszedł")
    assert mention.reply_text is not None and mention.reply_text.startswith("Panie Adamie")
    assert mention.created_at == mention.updated_at == datetime(2026, 10, 28, 19, 5, 40, tzinfo=UTC)
    assert mention.url == f"https://www.trustpilot.com/reviews/{review['id']}"
    assert mention.raw == review


def test_an_edited_review_is_updated_at_its_update_time() -> None:
    review = page("reviews_a_rerun_page2.json").reviews[0]
    mention = to_mention_in(review_to_item(review, scope=SCOPE, target=None))
    assert mention.created_at == datetime(2026, 11, 10, 16, 45, 12, tzinfo=UTC)
    assert mention.updated_at == datetime(2026, 11, 13, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("review", "reason"),
    [
        ({"createdAt": "2026-11-01T10:00:00Z", "stars": 5, "text": "bez id"}, "missing_external_id"),
        ({"id": "r1", "stars": 6}, "rating_out_of_range"),
        ({"id": "r1", "createdAt": "1 listopada"}, "bad_timestamp"),
        ({"id": "r1", "numberOfLikes": -1}, "bad_reach"),
    ],
)
def test_unusable_reviews_are_rejected_by_validation(review: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidItem) as caught:
        to_mention_in(review_to_item(review, scope=SCOPE, target=None))
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        (
            "Uszkodzony telewizor",
            "Przyszedł z pękniętą matrycą.",
            "Uszkodzony telewizor\n\nPrzyszedł z pękniętą matrycą.",
        ),
        ("Polecam", "Polecam, bardzo miła obsługa.", "Polecam, bardzo miła obsługa."),
        ("Szybka dostawa…", "Szybka dostawa i dobra cena.", "Szybka dostawa i dobra cena."),
        (None, "Sam tekst.", "Sam tekst."),
        ("  ", "Sam tekst.", "Sam tekst."),
        ("Sam tytuł", None, "Sam tytuł"),
        ("Sam tytuł", "", "Sam tytuł"),
        (None, None, None),
    ],
)
def test_title_and_text(title: str | None, text: str | None, expected: str | None) -> None:
    assert review_text({"title": title, "text": text}) == expected


@given(st.text(max_size=80), st.text(max_size=300))
def test_the_stored_text_always_contains_what_the_reviewer_wrote(title: str, text: str) -> None:
    combined = review_text({"title": title, "text": text})
    if text.strip():
        assert text.strip() in combined
    elif title.strip():
        assert combined == title


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-12T10:00:00.000Z", datetime(2026, 11, 12, 10, tzinfo=UTC)),
        ("2026-11-12T10:00:00Z", datetime(2026, 11, 12, 10, tzinfo=UTC)),
        ("2026-11-12T11:00:00+01:00", datetime(2026, 11, 12, 10, tzinfo=UTC)),
        ("2013-09-07T13:37:00", datetime(2013, 9, 7, 13, 37, tzinfo=UTC)),  # the reference's offset-less form
        ("2013-09-07T13:37:00.123", datetime(2013, 9, 7, 13, 37, 0, 123000, tzinfo=UTC)),
        ("07.09.2013", None),
        ("", None),
        (None, None),
        (1378561020, None),
    ],
)
def test_times(value: Any, expected: datetime | None) -> None:
    assert trustpilot_time(value) == expected


@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(
        ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S+02:00"]
    ),
)
def test_every_written_form_of_a_time_reads_back(moment: datetime, form: str) -> None:
    parsed = trustpilot_time(moment.strftime(form))
    offset = timedelta(hours=2) if form.endswith("+02:00") else timedelta(0)
    expected = moment if "%f" in form else moment.replace(microsecond=0)
    assert parsed == expected.replace(tzinfo=timezone(offset)).astimezone(UTC)


def test_a_company_reply_counts_as_a_change() -> None:
    created, changed = review_times(
        {
            "createdAt": "2026-10-28T19:05:40Z",
            "updatedAt": None,
            "companyReply": {"createdAt": "2026-10-29T09:00:00Z", "updatedAt": "2026-10-30T08:00:00Z"},
        }
    )
    assert created == datetime(2026, 10, 28, 19, 5, 40, tzinfo=UTC)
    assert changed == datetime(2026, 10, 30, 8, tzinfo=UTC)
    assert review_times({"createdAt": "wczoraj"}) == (None, None)
    assert review_times("not a review") == (None, None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            (FIXTURES / "error_401_invalid_api_key.json").read_bytes(),
            TrustpilotError("oauth.v2.InvalidApiKey", "Invalid ApiKey"),
        ),
        (
            (FIXTURES / "error_404_business_unit.json").read_bytes(),
            TrustpilotError("0", "Not Found: Business unit 000000000000000000000000 was not found"),
        ),
        (b'{"message": "Bad request"}', TrustpilotError("", "Bad request")),
        (
            b'{"error": "invalid_client", "error_description": "Client credentials are invalid"}',
            TrustpilotError("", "Client credentials are invalid"),
        ),
        (b'{"fault": {}}', TrustpilotError("", "(no message)")),
        (b"Service Unavailable", TrustpilotError("", "Service Unavailable")),
        (b"", TrustpilotError("", "(empty body)")),
    ],
)
def test_error_bodies(body: bytes, expected: TrustpilotError) -> None:
    assert parse_trustpilot_error(body) == expected


@given(JSON)
def test_any_json_error_body_is_described_without_raising(data: Any) -> None:
    error = parse_trustpilot_error(json.dumps(data).encode())
    assert isinstance(error.code, str) and isinstance(error.message, str) and error.message


@given(st.binary(max_size=300))
def test_any_error_bytes_are_described_without_raising(body: bytes) -> None:
    assert parse_trustpilot_error(body).message
