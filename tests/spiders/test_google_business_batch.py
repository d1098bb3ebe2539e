"""Google Business Profile ``locations:batchGetReviews``: reading a chain's locations together.

The crawls run against recorded responses on a loopback server that also answers POST (the batch call
sends its locations and page token in a JSON body). Locations get a watermark from their own first read;
from then on, with ``EARSHOT_GBP_BATCH_MIN_LOCATIONS`` of them in a target, they are read in batches.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.config import EarshotSettings, Target
from monitor.core.db import make_engine, session_scope
from monitor.core.store import set_watermark
from spiders.errors import MalformedResponse
from spiders.google_business_reviews import parse_batch_page
from spiders.spiders.google_business import LocationScope, plan_batches
from tests.spiders.conftest import (
    ACCOUNT,
    LOC1,
    LOC2,
    LOC3,
    LOC4,
    TARGET,
    TOKEN,
    crawl,
    gbp_settings,
    mentions,
    revisions,
    scope,
    watermark,
)
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import SPIDER_FIXTURES, ReplayServer, Reply, reviews_path

FIXTURES = SPIDER_FIXTURES / "google_business"
BATCH_PATH = f"/v4/accounts/{ACCOUNT}/locations:batchGetReviews"
PAGE2_TOKEN = "CiAKGAoUMTExMjIyMzMzLzkwMDEvcGFnZTIQAQ"  # of tests/fixtures/google_business/loc1_page1.json
BATCH_PAGE2 = "CkQKPGFjY291bnRzLzExMTIyMjMzMy9sb2NhdGlvbnM6YmF0Y2hHZXRSZXZpZXdzL3BhZ2UyEAU"
BATCH_PAGE3 = "CkQKPGFjY291bnRzLzExMTIyMjMzMy9sb2NhdGlvbnM6YmF0Y2hHZXRSZXZpZXdzL3BhZ2UzEAU"
W1 = datetime(2026, 11, 10, 9, 30, 12, 123456, tzinfo=UTC)
W2 = datetime(2026, 11, 9, 15, 20, tzinfo=UTC)
W3 = datetime(2026, 11, 7, 10, 0, tzinfo=UTC)
BATCHED: dict[str, Any] = {"EARSHOT_GBP_BATCH_MIN_LOCATIONS": 2}


def served(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply.recorded("google_business", name, status, headers)


def seed_watermarks(db_url: str, values: dict[str, datetime]) -> None:
    """Watermarks as earlier runs of each location on its own would have left them."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            for scope_key, value in values.items():
                set_watermark(session, "google_business", scope_key, value)
    finally:
        engine.dispose()


def test_locations_read_alone_first_then_together_each_up_to_its_own_watermark(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(db_url, replay.base_url, [LOC1, LOC2, LOC3, LOC4], page_size=5)
    replay.add(reviews_path(ACCOUNT, LOC1), Reply.fixture("loc1_page1.json"))
    replay.add(reviews_path(ACCOUNT, LOC1), Reply.fixture("loc1_page2.json"), page_token=PAGE2_TOKEN)
    replay.add(reviews_path(ACCOUNT, LOC2), Reply.fixture("loc2_page1.json"))
    replay.add(reviews_path(ACCOUNT, LOC3), served("loc3_page1.json"))
    replay.add(reviews_path(ACCOUNT, LOC4), Reply.fixture("empty_location.json"))

    first = crawl(settings, tmp_path, **BATCHED)

    # No location has a watermark yet: each is read on its own, completely.
    s = first.summary
    assert (s.finish_reason, s.items_new, s.errors, s.requests) == ("finished", 9, 0, 5)
    assert replay.posts == []
    assert [watermark(db_url, loc) for loc in (LOC1, LOC2, LOC3, LOC4)] == [W1, W2, W3, None]

    # Later: page 1 mixes the three locations (two new reviews, one edit, one new for 9002, then 9001's
    # newest known review); page 2 ends at 9003's watermark and below 9002's. Its next token is not followed.
    replay.reset()
    replay.add(BATCH_PATH, served("batch_rerun_page1.json"))
    replay.add(BATCH_PATH, served("batch_rerun_page2.json"), page_token=BATCH_PAGE2)
    replay.add(BATCH_PATH, served("batch_rerun_page2.json"), page_token=BATCH_PAGE3)
    replay.add(reviews_path(ACCOUNT, LOC4), Reply.fixture("empty_location.json"))

    second = crawl(settings, tmp_path, **BATCHED)

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        3,
        1,
        0,
        0,
    )
    posts = replay.posts
    assert s.requests == 3 and len(posts) == 2
    assert [r.path for r in replay.gets] == [reviews_path(ACCOUNT, LOC4)]  # no watermark: read alone
    for post in posts:
        assert post.path == BATCH_PATH
        assert {k: v for k, v in post.json_body.items() if k != "pageToken"} == {
            "locationNames": [scope(LOC1), scope(LOC2), scope(LOC3)],
            "pageSize": 5,
            "orderBy": "updateTime desc",
            "ignoreRatingOnlyReviews": False,
        }
        assert post.headers["Authorization"] == f"Bearer {TOKEN}"
        assert post.headers["Content-Type"] == "application/json"
    assert [p.page_token for p in posts] == [None, BATCH_PAGE2]
    stored = mentions(db_url)
    assert len(stored) == 12
    new = stored["AbFvOqTest0203"]
    assert new.url == f"{replay.base_url}/v4/{scope(LOC3)}/reviews/AbFvOqTest0203"
    assert (new.rating, new.target_id) == (2.0, stored["AbFvOqTest0201"].target_id)
    edited = stored["AbFvOqTest0003"]
    assert (edited.rating, edited.version) == (4.0, 2)
    assert [(r.version, r.rating) for r in revisions(db_url, "AbFvOqTest0003")] == [(1, 2.0)]
    assert watermark(db_url, LOC1) == datetime(2026, 11, 12, 7, 11, 9, tzinfo=UTC)
    assert watermark(db_url, LOC2) == datetime(2026, 11, 10, 19, 5, tzinfo=UTC)
    assert watermark(db_url, LOC3) == datetime(2026, 11, 11, 16, 40, tzinfo=UTC)
    assert watermark(db_url, LOC4) is None
    assert_no_leak(db_url, (TOKEN,), first.log, second.log)


def test_reviews_of_other_locations_and_odd_entries_are_rejected_not_fatal(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(sqlite_url, replay.base_url, [LOC1, LOC2, LOC3], page_size=5)
    seed_watermarks(sqlite_url, {scope(LOC1): W1, scope(LOC2): W2, scope(LOC3): W3})
    replay.add(BATCH_PATH, served("batch_odd_entries.json"))

    result = crawl(settings, tmp_path, **BATCHED)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.items_rejected, s.requests, s.errors) == ("finished", 2, 2, 1, 0)
    assert result.stats["earshot/items_rejected/unknown_location"] == 1
    assert result.stats["earshot/items_rejected/bad_location_review"] == 1
    assert set(mentions(sqlite_url)) == {"AbFvOqTest0006", "AbFvOqTest0103"}
    assert watermark(sqlite_url, LOC3) == W3  # nothing newer for 9003: it stays
    assert watermark(sqlite_url, LOC1) == datetime(2026, 11, 12, 7, 11, 9, tzinfo=UTC)


def test_a_refused_or_malformed_batch_fails_its_locations_and_nothing_else(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    other_account = "444555666"
    other_locations = ["7001", "7002"]
    settings = EarshotSettings(
        database_url=sqlite_url,
        targets=[
            Target(name=TARGET, google_account_id=ACCOUNT, google_location_ids=[LOC1, LOC2, LOC3, LOC4]),
            Target(name="Drugi Sklep", google_account_id=other_account, google_location_ids=other_locations),
        ],
        sources={"google_business": {"base_url": replay.base_url, "access_token": TOKEN, "page_size": 5}},
    )
    other = {f"accounts/{other_account}/locations/{loc}": W2 for loc in other_locations}
    seed_watermarks(sqlite_url, {scope(LOC1): W1, scope(LOC2): W2, scope(LOC3): W3, **other})
    replay.add(BATCH_PATH, served("error_403_batch.json", status=403))
    replay.add(
        f"/v4/accounts/{other_account}/locations:batchGetReviews", served("malformed_list_reviews_shape.json")
    )
    replay.add(reviews_path(ACCOUNT, LOC4), Reply.fixture("loc2_page1.json"))

    result = crawl(settings, tmp_path, **BATCHED)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("finished", 2, 3)
    assert len(replay.posts) == 2  # the 403 is not retried
    stats = result.stats
    assert stats["earshot/scopes_failed"] == 5 and stats["earshot/scopes_completed"] == 1
    assert stats["earshot/malformed_responses"] == 1 and stats["earshot/api_errors/403"] == 1
    messages = "\n".join(stats["earshot/error_messages"])
    assert (
        f"{scope(LOC1)}: HTTP 403 PERMISSION_DENIED: The caller does not have permission (batchGetReviews"
        in messages
    )
    assert f"{scope(LOC3)}: not read: accounts/{ACCOUNT}/locations:batchGetReviews#1 failed" in messages
    assert (
        f"accounts/{other_account}/locations/7002: malformed batchGetReviews response for page 1: no "
        "'locationReviews' list in the response (averageRating, reviews, totalReviewCount)" in messages
    )
    assert [watermark(sqlite_url, loc) for loc in (LOC1, LOC2, LOC3)] == [W1, W2, W3]
    assert watermark(sqlite_url, LOC4) == W2  # the unbatched location was read on its own


def test_a_refused_token_on_a_batch_ends_the_run_after_one_request(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(sqlite_url, replay.base_url, [LOC1, LOC2, LOC3, LOC4])
    seed_watermarks(sqlite_url, {scope(LOC1): W1, scope(LOC2): W2, scope(LOC3): W3})
    replay.add(BATCH_PATH, served("error_401.json", status=401))
    replay.add(reviews_path(ACCOUNT, LOC4), Reply.fixture("error_401.json", status=401))

    result = crawl(settings, tmp_path, **BATCHED)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("auth_failed", 0, 1)
    assert len(replay.posts) == 1 and replay.gets == []
    assert "HTTP 401 UNAUTHENTICATED: Request had invalid authentication credentials" in result.log
    assert TOKEN not in result.log


def test_a_rate_limited_batch_is_sent_again_after_retry_after(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(sqlite_url, replay.base_url, [LOC1, LOC2, LOC3], page_size=5)
    seed_watermarks(sqlite_url, {scope(LOC1): W1, scope(LOC2): W2, scope(LOC3): W3})
    replay.add(
        BATCH_PATH,
        served("error_429.json", status=429, headers={"Retry-After": "1"}),
        served("batch_odd_entries.json"),
    )

    result = crawl(settings, tmp_path, **BATCHED)

    first, second = replay.posts
    assert second.at - first.at >= 0.95  # Retry-After: 1 was honoured
    assert first.body == second.body  # the same batch, body and all
    assert result.stats["earshot/ratelimit/count"] == 1 and "retry/count" not in result.stats
    assert (result.summary.finish_reason, result.summary.items_new) == ("finished", 2)


def test_a_spent_budget_holds_the_watermarks_of_the_locations_not_read_to_the_end(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(sqlite_url, replay.base_url, [LOC1, LOC2, LOC3], page_size=5)
    settings.sources.google_business.max_requests = 1
    seed_watermarks(sqlite_url, {scope(LOC1): W1, scope(LOC2): W2, scope(LOC3): W3})
    replay.add(BATCH_PATH, served("batch_rerun_page1.json"))
    replay.add(BATCH_PATH, served("batch_rerun_page2.json"), page_token=BATCH_PAGE2)

    result = crawl(settings, tmp_path, **BATCHED)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("finished", 4, 1)
    assert result.stats["earshot/budget_exhausted"] == 1 and result.stats["earshot/scopes_truncated"] == 2
    # 9001 reached its watermark on page 1; 9002 and 9003 might have more on page 2: read again next run.
    assert watermark(sqlite_url, LOC1) == datetime(2026, 11, 12, 7, 11, 9, tzinfo=UTC)
    assert [watermark(sqlite_url, loc) for loc in (LOC2, LOC3)] == [W2, W3]


# -- parsing and planning ----------------------------------------------------------------------------


def test_a_batch_page_pairs_each_review_with_its_location() -> None:
    page = parse_batch_page((FIXTURES / "batch_rerun_page1.json").read_bytes())
    assert [name for name, _ in page.location_reviews] == [
        scope(LOC1),
        scope(LOC3),
        scope(LOC1),
        scope(LOC2),
        scope(LOC1),
    ]
    assert page.location_reviews[1][1]["reviewId"] == "AbFvOqTest0203"
    assert page.next_page_token == BATCH_PAGE2
    odd = parse_batch_page((FIXTURES / "batch_odd_entries.json").read_bytes())
    assert odd.location_reviews[2] == (None, "AbFvOqTest0998") and odd.next_page_token is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((FIXTURES / "malformed_list_reviews_shape.json").read_bytes(), "no 'locationReviews' list"),
        (b'{"nextPageToken": "abc"}', "a next page but no reviews"),
        (b'{"locationReviews": {}}', "not a list"),
        (b'{"locationReviews": [], "nextPageToken": 5}', "nextPageToken is not a string"),
        (b"<html>502</html>", "not JSON"),
        (b"[]", "expected a JSON object"),
    ],
)
def test_malformed_batch_pages(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_batch_page(body)


def test_an_empty_batch_page_is_not_malformed() -> None:
    assert parse_batch_page(b"{}").location_reviews == []


def _state(location: str, target: str = TARGET, account: str = ACCOUNT, marked: bool = True) -> LocationScope:
    return LocationScope(
        scope=f"accounts/{account}/locations/{location}", target=target, watermark=W1 if marked else None
    )


def test_batches_take_only_watermarked_locations_of_targets_with_enough_of_them() -> None:
    states = [
        _state("1"),
        _state("2"),
        _state("3", marked=False),  # first read: alone
        _state("8", target="Mały Sklep"),  # a target with one location: alone
        _state("9", target="Duży Sklep", account="42"),
        _state("10", target="Duży Sklep", account="42"),
    ]
    batches = plan_batches(states, min_locations=2)
    assert [(b.key, b.account, b.scopes) for b in batches] == [
        (f"accounts/{ACCOUNT}/locations:batchGetReviews#1", ACCOUNT, [_state("1").scope, _state("2").scope]),
        (
            "accounts/42/locations:batchGetReviews#2",
            "42",
            [_state("9", account="42").scope, _state("10", account="42").scope],
        ),
    ]
    assert plan_batches(states, min_locations=3) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["1", "2"]), st.booleans()),
        max_size=40,
    ),
    st.integers(1, 12),
    st.integers(1, 7),
)
def test_every_watermarked_location_of_a_big_enough_group_is_in_exactly_one_small_batch(
    spec: list[tuple[str, str, bool]], min_locations: int, max_locations: int
) -> None:
    states = [_state(str(i), target=t, account=a, marked=m) for i, (t, a, m) in enumerate(spec)]
    batches = plan_batches(states, min_locations, max_locations)
    batched = [s for b in batches for s in b.scopes]
    assert len(batched) == len(set(batched))
    assert all(1 <= len(b.scopes) <= max_locations for b in batches)
    for target in ("A", "B"):
        for account in ("1", "2"):
            group = [
                s.scope
                for s in states
                if (s.target, s.scope.split("/")[1]) == (target, account) and s.watermark
            ]
            expected = group if len(group) >= max(min_locations, 2) else []
            assert [s for s in batched if s in group] == expected


_entry = st.fixed_dictionaries(
    {
        "name": st.none() | st.text(max_size=10),
        "review": st.none() | st.dictionaries(st.text(max_size=5), st.integers()),
    }
)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=80)
    | st.dictionaries(
        st.sampled_from(["locationReviews", "nextPageToken", "reviews"]),
        st.lists(_entry | st.integers() | st.text(max_size=5), max_size=4) | st.text(max_size=8) | st.none(),
        max_size=3,
    ).map(lambda d: json.dumps(d).encode())
)
def test_any_body_is_a_batch_page_or_malformed(body: bytes) -> None:
    try:
        page = parse_batch_page(body)
    except MalformedResponse:
        return
    assert all(isinstance(pair, tuple) and len(pair) == 2 for pair in page.location_reviews)
    assert page.next_page_token is None or isinstance(page.next_page_token, str)
