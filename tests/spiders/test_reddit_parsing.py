"""The Reddit mapping: token and Listing bodies, posts and comments, error bodies, incremental rules."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, epoch_time, to_mention_in
from spiders.social import is_changed, is_past_lookback
from spiders.spiders.reddit import (
    TokenRefused,
    parse_access_token,
    parse_listing,
    parse_reddit_error,
    subreddit_name,
    thing_times,
    thing_to_item,
)
from tests.spiders.replay_server import SPIDER_FIXTURES
from tests.spiders.strategies import bodies, json_values

FIXTURES = SPIDER_FIXTURES / "reddit"
SCOPE = "Sklep Testowy|q=sklep testowy"
W = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def children(name: str) -> list[Any]:
    return parse_listing((FIXTURES / name).read_bytes()).children


def test_token_response_is_read() -> None:
    assert parse_access_token((FIXTURES / "token.json").read_bytes()).endswith("TEST-reddit-app-token-91c2")


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b'{"error": "invalid_grant"}', TokenRefused, "invalid_grant"),
        (b'{"token_type": "bearer", "expires_in": 86400}', MalformedResponse, "no access_token"),
        (b'{"access_token": "x", "token_type": "mac"}', MalformedResponse, "not bearer"),
        (b"<html>Too Many Requests</html>", MalformedResponse, "not JSON"),
        (b'["token"]', MalformedResponse, "expected a JSON object"),
    ],
)
def test_unusable_token_responses(body: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_access_token(body)


def test_listing_pages_are_read_with_their_after() -> None:
    page1 = parse_listing((FIXTURES / "search_sklep_page1.json").read_bytes())
    assert (len(page1.children), page1.after) == (3, "t3_1h27f0c")
    assert parse_listing((FIXTURES / "search_sklep_page2.json").read_bytes()).after is None
    assert parse_listing((FIXTURES / "empty_listing.json").read_bytes()).children == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((FIXTURES / "malformed_comments_page.json").read_bytes(), "expected a JSON object, got list"),
        ((FIXTURES / "malformed_maintenance.html").read_bytes(), "not JSON"),
        (b'{"kind": "t3", "data": {}}', "not a Listing .kind 't3'"),
        (b'{"kind": "Listing"}', "no 'data' object"),
        (b'{"kind": "Listing", "data": {"children": {}}}', "'children' is dict"),
        (b'{"kind": "Listing", "data": {"children": [], "after": 5}}', "'after' is not a string"),
    ],
)
def test_malformed_listings(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_listing(body)


def test_a_self_post_is_its_title_and_text_with_a_website_link() -> None:
    [post, _, _] = children("search_sklep_page1.json")
    mention = to_mention_in(thing_to_item(post, scope=SCOPE, target="Sklep Testowy"))
    assert mention.external_id == "t3_1h2k9qa" and mention.source == "reddit"
    assert mention.text.startswith("Sklep Testowy – zwrot pieniędzy trwa już 3 tygodnie\n\nOdesłałem")
    assert mention.url is not None and mention.url.startswith(
        "https://www.reddit.com/r/Polska/comments/1h2k9qa/"
    )
    assert (mention.author, mention.reach, mention.parent_id, mention.rating) == (
        "kaczy_dziob_77",
        57,
        None,
        None,
    )
    assert mention.created_at == mention.updated_at == W


def test_a_comment_points_at_its_thread_and_an_edit_is_its_update_time() -> None:
    comment = children("search_sklep_page1.json")[1]
    mention = to_mention_in(thing_to_item(comment, scope=SCOPE, target=None))
    assert (mention.external_id, mention.parent_id) == ("t1_lzq4m2b", "t3_1h29xk1")
    assert mention.text.startswith("Miałem to samo z Sklep Testowy")
    edited = next(c for c in children("search_sklep_rerun.json") if c["data"]["name"] == "t3_1h27f0c")
    mention = to_mention_in(thing_to_item(edited, scope=SCOPE, target=None))
    assert mention.updated_at == datetime(2026, 11, 21, 8, 0, tzinfo=UTC) > mention.created_at  # type: ignore[operator]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"selftext": ""}, ("Tytuł", 3)),  # a link post: its title is its text
        ({"score": -4}, ("Tytuł\n\nTreść", 0)),  # downvoted: reach is never negative
        ({"score": True}, ("Tytuł\n\nTreść", None)),
    ],
)
def test_post_text_and_reach(change: dict[str, Any], expected: tuple[str, int | None]) -> None:
    data = {"name": "t3_a", "title": "Tytuł", "selftext": "Treść", "score": 3, "created_utc": 1.7e9, **change}
    item = thing_to_item({"kind": "t3", "data": data}, scope=SCOPE, target=None)
    assert (item["text"], item["reach"]) == expected


@pytest.mark.parametrize(
    ("thing", "reason"),
    [
        ({"kind": "t3", "data": {"name": "t3_a", "title": "T", "selftext": "[removed]"}}, "removed"),
        ({"kind": "t1", "data": {"name": "t1_a", "body": "[deleted]"}}, "removed"),
        ({"kind": "t5", "data": {"display_name": "Polska"}}, "unexpected_kind"),
        ({"kind": "t1", "data": "x"}, "not_an_object"),
        ("t3_a", "not_an_object"),
    ],
)
def test_records_the_spider_refuses(thing: Any, reason: str) -> None:
    with pytest.raises(InvalidItem) as caught:
        thing_to_item(thing, scope=SCOPE, target=None)
    assert caught.value.reason == reason


def test_a_deleted_author_is_no_author() -> None:
    data = {"name": "t1_a", "body": "Sklep Testowy ok", "author": "[deleted]", "created_utc": 1.7e9}
    assert thing_to_item({"kind": "t1", "data": data}, scope=SCOPE, target=None)["author"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1795197600.0, datetime(2026, 11, 20, 18, 0, tzinfo=UTC)),
        (1795197600, datetime(2026, 11, 20, 18, 0, tzinfo=UTC)),
        (False, None),  # "edited": false
        (True, None),
        ("1795197600", None),
        (math.inf, None),
        (1e300, None),
        (None, None),
    ],
)
def test_epoch_times(value: Any, expected: datetime | None) -> None:
    assert epoch_time(value) == expected


def test_thing_times_come_from_created_utc_and_edited() -> None:
    rerun = children("search_sklep_rerun.json")
    assert thing_times(rerun[3]) == (
        datetime(2026, 11, 20, 12, tzinfo=UTC),
        datetime(2026, 11, 21, 8, tzinfo=UTC),
    )
    assert thing_times({"kind": "t3"}) == (None, None)


@pytest.mark.parametrize(
    ("created", "edited", "changed", "past"),
    [
        (W + timedelta(seconds=1), None, True, False),  # new
        (W, None, False, False),  # the newest record of the last run
        (W - timedelta(hours=6), W + timedelta(minutes=1), True, False),  # edited since
        (W - timedelta(hours=6), W, False, False),  # edited before the last run read it
        (W - DAY, None, False, True),  # at the lookback's edge: stop
        (W - DAY - timedelta(hours=1), W + timedelta(hours=1), True, True),  # in hand: still handed on
    ],
)
def test_what_is_new_and_where_paging_stops(
    created: datetime, edited: datetime | None, changed: bool, past: bool
) -> None:
    assert is_changed(created, edited, W) is changed
    assert is_past_lookback(created, W, DAY) is past
    assert is_changed(created, edited, None) and not is_past_lookback(created, None, DAY)  # first run


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ((FIXTURES / "error_403_private.json").read_bytes(), "private", "Forbidden"),
        ((FIXTURES / "error_401_token.json").read_bytes(), "", "Unauthorized"),
        (b'{"error": "invalid_grant"}', "invalid_grant", "invalid_grant"),
        (
            b"<html><body>whoa there, pardner!</body></html>",
            "",
            "<html><body>whoa there, pardner!</body></html>",
        ),
        (b"", "", "(empty body)"),
    ],
)
def test_error_bodies(body: bytes, code: str, message: str) -> None:
    error = parse_reddit_error(body)
    assert (error.code, error.message) == (code, message)


@pytest.mark.parametrize("value", ["Polska", "r/Polska", "/r/Polska/", " R/Polska "])
def test_subreddits_may_be_written_with_or_without_r(value: str) -> None:
    assert subreddit_name(value) == "Polska"


_json = json_values(
    [
        "kind",
        "data",
        "children",
        "after",
        "name",
        "title",
        "selftext",
        "body",
        "created_utc",
        "edited",
        "score",
        "permalink",
        "link_id",
        "author",
    ],
    max_keys=6,
    nan=True,
)
_things = st.fixed_dictionaries({"kind": st.sampled_from(["t1", "t3", "t5"]), "data": _json})
_listings = st.fixed_dictionaries(
    {
        "kind": st.just("Listing"),
        "data": st.fixed_dictionaries({"children": st.lists(_things | _json, max_size=4)}),
    }
)


@settings(max_examples=300, deadline=None)
@given(bodies(_json | _listings))
def test_listing_parser_and_mapping_never_crash(body: bytes) -> None:
    try:
        listing = parse_listing(body)
    except MalformedResponse:
        return
    for thing in listing.children:
        created, edited = thing_times(thing)
        assert all(t is None or t.tzinfo is UTC for t in (created, edited))
        try:
            mention = to_mention_in(thing_to_item(thing, scope=SCOPE, target=None))
        except InvalidItem as exc:
            assert exc.reason  # refused with a stated reason, never an unexpected exception
        else:
            assert mention.source == "reddit" and mention.external_id
            assert mention.reach is None or mention.reach >= 0
