"""Item validation (``to_mention_in``) and the RFC 3339 parser, including property tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.core.db import session_scope
from monitor.core.models import Mention
from monitor.core.store import MentionIn, upsert_mention
from spiders.google_business_reviews import review_to_item
from spiders.items import (
    TEXT_MAX_CHARS,
    InvalidItem,
    InvalidTimestamp,
    MentionItem,
    is_truncated,
    parse_timestamp,
    to_mention_in,
)


def _item(**overrides: Any) -> MentionItem:
    fields: dict[str, Any] = {
        "source": "google_business",
        "external_id": "AbFvOqTest0001",
        "text": "Paczka dotarła uszkodzona.",
        "rating": 1,
        "created_at": "2026-11-20T10:00:00Z",
        "updated_at": "2026-11-21T10:00:00.123456789Z",
        "target": "Sklep",
        "raw": {"reviewId": "AbFvOqTest0001"},
    }
    fields.update(overrides)
    return MentionItem(**fields)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014-10-02T15:01:23Z", datetime(2014, 10, 2, 15, 1, 23, tzinfo=UTC)),
        ("2014-10-02T15:01:23.045123456Z", datetime(2014, 10, 2, 15, 1, 23, 45123, tzinfo=UTC)),
        ("2014-10-02T15:01:23.5z", datetime(2014, 10, 2, 15, 1, 23, 500000, tzinfo=UTC)),
        ("2014-10-02T15:01:23+05:30", datetime(2014, 10, 2, 9, 31, 23, tzinfo=UTC)),
        ("2014-10-02T00:30:00-01:00", datetime(2014, 10, 2, 1, 30, tzinfo=UTC)),
        (datetime(2020, 1, 1, 12), datetime(2020, 1, 1, 12, tzinfo=UTC)),  # naive = UTC
        (datetime(2020, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))), datetime(2020, 1, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_accepts_rfc3339_and_returns_aware_utc(value: object, expected: datetime) -> None:
    parsed = parse_timestamp(value)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "2014-10-02",
        "2014-13-02T15:01:23Z",
        "2014-10-02T24:00:00Z",
        "2014-10-02T15:01:60Z",  # leap seconds are not representable
        "2014-10-02T15:01:23.1234567890Z",
        "2014-10-02T15:01:23",  # no zone: ambiguous
        "2014-10-02T15:01:23+24:00",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "٢٠١٤-10-02T15:01:23Z",  # non-ASCII digits
        "",
        1412262083,
        None,
    ],
)
def test_parse_timestamp_rejects_everything_else(value: object) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_timestamp(value, "updateTime")


def test_valid_item_is_normalised() -> None:
    mention = to_mention_in(_item(text="  Zwrot\x00 nie dotarł \ud800 ", author="  Anna  "))
    assert mention == MentionIn(
        source="google_business",
        external_id="AbFvOqTest0001",
        text="Zwrot nie dotarł \ufffd",
        author="Anna",
        target="Sklep",
        rating=1.0,
        created_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        updated_at=datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC),
    )
    assert mention.raw == {"reviewId": "AbFvOqTest0001"}


def test_missing_update_time_falls_back_to_creation_time() -> None:
    mention = to_mention_in(_item(updated_at=None))
    assert mention.updated_at == mention.created_at == datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "reason", "field"),
    [
        ({"external_id": None}, "missing_external_id", "external_id"),
        ({"external_id": "   "}, "missing_external_id", "external_id"),
        ({"external_id": 42}, "bad_external_id", "external_id"),
        ({"external_id": "x" * 513}, "external_id_too_long", "external_id"),
        ({"source": None}, "missing_source", "source"),
        ({"updated_at": "yesterday"}, "bad_timestamp", "updated_at"),
        ({"created_at": "2026-02-30T00:00:00Z"}, "bad_timestamp", "created_at"),
        ({"rating": 6}, "rating_out_of_range", "rating"),
        ({"rating": -1}, "rating_out_of_range", "rating"),
        ({"rating": float("nan")}, "rating_out_of_range", "rating"),
        ({"rating": "SIX"}, "bad_rating", "rating"),
        ({"rating": True}, "bad_rating", "rating"),
        ({"text": ["not", "text"]}, "bad_text", "text"),
        ({"reach": -5}, "bad_reach", "reach"),
        ({"raw": ["not", "an", "object"]}, "bad_raw", "raw"),
        ({"raw": {"when": datetime(2020, 1, 1)}}, "bad_raw", "raw"),
        ({"target": "t" * 201}, "target_too_long", "target"),
    ],
)
def test_invalid_items_are_rejected_with_a_reason(overrides: dict[str, Any], reason: str, field: str) -> None:
    with pytest.raises(InvalidItem) as caught:
        to_mention_in(_item(**overrides))
    assert (caught.value.reason, caught.value.field) == (reason, field)


def test_huge_text_is_truncated_not_dropped() -> None:
    item = _item(text="ź" * (TEXT_MAX_CHARS + 10), author="a" * 600)
    mention = to_mention_in(item)
    assert len(mention.text) == TEXT_MAX_CHARS and is_truncated(item)
    assert mention.author is not None and len(mention.author) == 512
    assert not is_truncated(_item())


def test_awkward_characters_are_storable(engine: Engine) -> None:
    """NUL and lone surrogates are legal in JSON but refused by PostgreSQL: validation removes them."""
    mention = to_mention_in(
        _item(text="a\x00b\udc80c", author="\ud83d", raw={"comment": "x\x00\ud800", "k\x00": [1.5, None]})
    )
    with session_scope(engine) as session:
        upsert_mention(session, mention)
    with Session(engine) as session:
        row = session.exec(select(Mention)).one()
    assert (row.text, row.author) == ("ab\ufffdc", "\ufffd")
    assert row.raw == {"comment": "x\ufffd", "k": [1.5, None]}


# --- properties -------------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
timestamps = (
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))
    | st.from_regex(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})\Z")
    | st.text(max_size=40)
)
rfc3339 = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.isoformat().replace("+00:00", "Z"))
stars = st.sampled_from(["ONE", "TWO", "THREE", "FOUR", "FIVE", "STAR_RATING_UNSPECIFIED", "SIX", ""])
review_like = st.fixed_dictionaries(
    {},
    optional={
        "reviewId": st.text(max_size=20) | json_values,
        "name": st.text(max_size=60) | json_values,
        "reviewer": st.fixed_dictionaries(
            {}, optional={"displayName": st.text(max_size=20) | json_values, "isAnonymous": json_values}
        )
        | json_values,
        "starRating": stars | json_values,
        "comment": st.text(max_size=80) | json_values,
        "createTime": timestamps.map(lambda t: t if isinstance(t, str) else t.isoformat()) | json_values,
        "updateTime": timestamps.map(lambda t: t if isinstance(t, str) else t.isoformat()) | json_values,
        "reviewReply": st.fixed_dictionaries({}, optional={"comment": st.text(max_size=40) | json_values})
        | json_values,
    },
)

# Mostly well-formed reviews (so the accepting path is exercised), with arbitrary extra fields.
plausible_review = st.fixed_dictionaries(
    {
        "reviewId": st.text(min_size=1, max_size=20).filter(str.strip),
        "createTime": rfc3339,
        "updateTime": rfc3339,
        "starRating": stars,
    },
    optional={
        "comment": st.text(max_size=200),
        "reviewer": st.fixed_dictionaries(
            {"displayName": st.text(max_size=20), "isAnonymous": st.booleans()}
        ),
        "reviewReply": st.fixed_dictionaries({"comment": st.text(max_size=40), "updateTime": rfc3339}),
        "extra": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(plausible_review | review_like | json_values)
def test_any_review_json_becomes_a_valid_mention_or_a_reasoned_rejection(review: Any) -> None:
    try:
        mention = to_mention_in(
            review_to_item(review, scope="accounts/1/locations/2", target="Sklep", base_url="https://x.test")
        )
    except InvalidItem as exc:
        assert exc.reason and str(exc)
        return
    assert mention.external_id.strip() and len(mention.external_id) <= 512
    assert mention.rating is None or 0 <= mention.rating <= 5
    assert len(mention.text) <= TEXT_MAX_CHARS and "\x00" not in mention.text
    for moment in (mention.created_at, mention.updated_at):
        assert moment is None or moment.tzinfo is UTC
    json.dumps(mention.raw, ensure_ascii=False).encode("utf-8")  # storable as JSON, valid UTF-8


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=50) | json_values)
def test_timestamp_parser_never_crashes(value: Any) -> None:
    try:
        parsed = parse_timestamp(value)
    except InvalidTimestamp:
        return
    assert parsed.tzinfo is UTC


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=999),
)
def test_google_timestamps_round_trip_to_the_microsecond(moment: datetime, nanos: int) -> None:
    text = moment.replace(tzinfo=None).isoformat(timespec="microseconds") + f"{nanos:03d}Z"
    assert parse_timestamp(text) == moment
