"""The HN Search (Algolia) mapping: result pages, hits (HTML to text), the time window and paging."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, clean_str, to_mention_in
from spiders.spiders.hackernews import (
    NextRequest,
    PagingStuck,
    SearchPage,
    hit_created_at,
    hit_text,
    hit_to_item,
    keyword_scope,
    lower_bound,
    next_request,
    numeric_filters,
    parse_algolia_error,
    parse_search_page,
)
from tests.spiders.replay_server import SPIDER_FIXTURES

FIXTURES = SPIDER_FIXTURES / "hackernews"
SCOPE = "search:x-kom"


def _hits(name: str) -> list[Any]:
    hits: list[Any] = json.loads((FIXTURES / name).read_text())["hits"]
    return hits


def test_a_result_page_is_read_with_its_paging() -> None:
    page = parse_search_page((FIXTURES / "search_xkom_page0.json").read_bytes())
    assert (len(page.hits), page.nb_pages, page.nb_hits, page.hits_per_page) == (3, 2, 5, 3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((FIXTURES / "malformed_truncated.json").read_bytes(), "not JSON"),
        ((FIXTURES / "not_a_result.html").read_bytes(), "not JSON"),
        ((FIXTURES / "error_429.json").read_bytes(), r"no 'hits' list in the response \(message, status\)"),
        (b"[]", "expected a JSON object"),
        (b'{"hits": {"objectID": "1"}}', "no 'hits' list"),
        (b'{"hits": [], "nbPages": -1}', "'nbPages' is -1, not a count"),
        (b'{"hits": [], "nbHits": "5"}', "'nbHits' is '5', not a count"),
        (b'{"hits": [], "hitsPerPage": true}', "not a count"),
    ],
)
def test_malformed_result_pages(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_search_page(body)


def test_comment_html_becomes_plain_text() -> None:
    hit = {
        "_tags": ["comment"],
        "comment_text": '<p>Zwrot w <a href="https://x-kom.pl" rel="nofollow">x-kom</a> &amp; morele:<p>'
        "<pre><code>  14 dni</code></pre>I&#x27;d say <i>fine</i>.",
    }
    assert hit_text(hit) == "Zwrot w x-kom & morele:\n14 dni\nI'd say fine."


@pytest.mark.parametrize(
    ("hit", "text"),
    [
        (
            {"_tags": ["story"], "title": "Show HN: Ceneo price  alerts", "story_text": None},
            "Show HN: Ceneo price alerts",
        ),
        (
            {"_tags": ["story"], "title": "Ask HN: Allegro?", "story_text": "<p>Is it <b>safe</b>?</p>"},
            "Ask HN: Allegro?\n\nIs it safe?",
        ),
        ({"_tags": ["story"], "title": None, "story_text": "<p>Untitled</p>"}, "Untitled"),
        ({"title": "No tags, a story", "comment_text": None}, "No tags, a story"),
        ({"comment_text": "<p>No tags, a comment</p>"}, "No tags, a comment"),
    ],
)
def test_story_text_is_its_title_then_its_body(hit: dict[str, Any], text: str) -> None:
    assert hit_text(hit) == text


def test_hits_map_to_items_with_thread_and_reach() -> None:
    comment, story, _ = _hits("search_xkom_page0.json")
    mention = to_mention_in(hit_to_item(comment, scope=SCOPE, target="Sklep"))
    assert (mention.source, mention.external_id, mention.parent_id, mention.reach) == (
        "hackernews",
        "45012310",
        "45012200",
        None,
    )
    assert mention.url == "https://news.ycombinator.com/item?id=45012310"
    assert mention.created_at == datetime(2026, 11, 23, 19, 42, 5, tzinfo=UTC)
    assert mention.updated_at == datetime(2026, 11, 23, 19, 42, 7, tzinfo=UTC)
    assert (
        mention.raw is not None
        and "_highlightResult" not in mention.raw
        and mention.raw["story_id"] == 45012200
    )
    story_mention = to_mention_in(hit_to_item(story, scope=SCOPE, target=None))
    assert (story_mention.parent_id, story_mention.reach) == (None, 14)


@pytest.mark.parametrize(
    ("hit", "expected"),
    [
        (
            {"created_at_i": 1795462925, "created_at": "2020-01-01T00:00:00Z"},
            datetime(2026, 11, 23, 19, 42, 5, tzinfo=UTC),
        ),
        ({"created_at": "2026-11-23T19:42:05.000Z"}, datetime(2026, 11, 23, 19, 42, 5, tzinfo=UTC)),
        (
            {"created_at_i": True, "created_at": "2026-11-23T19:42:05Z"},
            datetime(2026, 11, 23, 19, 42, 5, tzinfo=UTC),
        ),
        ({"created_at_i": 10**20}, None),
        ({"created_at": "wczoraj"}, None),
        ({}, None),
        ("45012310", None),
    ],
)
def test_creation_time(hit: Any, expected: datetime | None) -> None:
    assert hit_created_at(hit) == expected


@pytest.mark.parametrize(
    ("extra", "reach", "updated"),
    [
        ({"points": -3}, None, None),
        ({"points": True}, None, None),
        ({"points": 7, "updated_at": "2026-11-01T00:00:00Z"}, 7, None),  # before creation: not an update time
        ({"points": 0, "updated_at": "not a time"}, 0, None),
    ],
)
def test_odd_counts_and_times_are_left_out_rather_than_rejecting_the_story(
    extra: dict[str, Any], reach: int | None, updated: datetime | None
) -> None:
    hit = {"objectID": "1", "_tags": ["story"], "title": "Empik", "created_at_i": 1795462925, **extra}
    mention = to_mention_in(hit_to_item(hit, scope=SCOPE, target=None))
    assert mention.reach == reach
    assert mention.updated_at == (updated or mention.created_at)


def test_unusable_hits_are_rejected_by_validation() -> None:
    with pytest.raises(InvalidItem) as caught:
        to_mention_in(hit_to_item({"_tags": ["comment"], "comment_text": "x"}, scope=SCOPE, target=None))
    assert caught.value.reason == "missing_external_id"
    with pytest.raises(InvalidItem, match="not an object"):
        hit_to_item(["45012310"], scope=SCOPE, target=None)


def test_the_window_reaches_back_over_the_edit_window_or_the_first_run_lookback() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    watermark = datetime(2026, 11, 23, 19, 42, 5, tzinfo=UTC)
    assert lower_bound(watermark, now) == int(watermark.timestamp()) - 7200
    assert lower_bound(None, now) == int((now - timedelta(days=30)).timestamp())
    assert numeric_filters(100, None) == "created_at_i>100"
    assert numeric_filters(100, 250) == "created_at_i>100,created_at_i<=250"


def _page(times: list[int], nb_pages: int, nb_hits: int, per_page: int = 3) -> SearchPage:
    return SearchPage([{"objectID": str(t), "created_at_i": t} for t in times], nb_pages, nb_hits, per_page)


def test_paging_follows_nb_pages_then_stops() -> None:
    assert next_request(_page([9, 8, 7], 2, 5), NextRequest(0, None)) == NextRequest(1, None)
    assert next_request(_page([6, 5], 2, 5), NextRequest(1, None)) is None
    assert next_request(_page([], 1, 0), NextRequest(0, None)) is None


def test_past_algolias_hit_cap_the_walk_continues_below_the_oldest_hit() -> None:
    # 4 hits per page, capped at 2 pages while 11 hits match: go on below (and at) the oldest second read.
    assert next_request(_page([40, 39, 38, 37], 2, 11, 4), NextRequest(1, None)) == NextRequest(0, 37)
    assert next_request(_page([37, 30, 20], 1, 3, 4), NextRequest(0, 37)) is None
    with pytest.raises(PagingStuck):
        next_request(_page([37, 37, 37, 37], 2, 11, 4), NextRequest(1, 37))


@pytest.mark.parametrize("keyword", ["x-kom", " X-Kom ", "x-KOM"])
def test_keyword_scopes_ignore_case_and_spacing(keyword: str) -> None:
    assert keyword_scope(keyword) == "search:x-kom"


def test_algolia_error_messages() -> None:
    assert (
        parse_algolia_error((FIXTURES / "error_403.json").read_bytes()) == "Invalid Application-ID or API key"
    )
    assert parse_algolia_error(b"<html><body>502 Bad Gateway</body></html>") == (
        "<html><body>502 Bad Gateway</body></html>"
    )


_values = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats() | st.text(max_size=30)
_hit = st.dictionaries(
    st.sampled_from(
        [
            "objectID",
            "created_at",
            "created_at_i",
            "updated_at",
            "title",
            "story_text",
            "comment_text",
            "author",
            "points",
            "parent_id",
            "_tags",
        ]
    ),
    _values | st.lists(st.sampled_from(["story", "comment", "ask_hn"]), max_size=3),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_hit | _values, max_size=4), st.integers(0, 3), st.integers(0, 2000))
def test_any_page_maps_to_stored_items_or_stated_rejections(
    hits: list[Any], nb_pages: int, nb_hits: int
) -> None:
    body = json.dumps({"hits": hits, "nbPages": nb_pages, "nbHits": nb_hits, "hitsPerPage": 4}).encode()
    page = parse_search_page(body)
    for hit in page.hits:
        try:
            mention = to_mention_in(hit_to_item(hit, scope=SCOPE, target=None))
        except InvalidItem as exc:
            assert exc.reason  # rejected with a stated reason, never an unexpected exception
            continue
        assert mention.source == "hackernews" and mention.external_id == clean_str(hit["objectID"]).strip()
        assert mention.url is not None and mention.url.startswith("https://news.ycombinator.com/item?id=")
        assert mention.reach is None or mention.reach >= 0
    try:
        step = next_request(page, NextRequest(0, 10**10))
    except PagingStuck:
        return
    if step is not None and step.upper is not None and step.page == 0:
        assert step.upper < 10**10  # a walk always moves down in time, so it cannot loop
