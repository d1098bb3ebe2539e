"""The Bluesky mapping: sessions, searchPosts pages, PostViews, post links, XRPC error bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings

from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, rfc3339_millis, to_mention_in
from spiders.spiders.bluesky import (
    parse_search_page,
    parse_session,
    parse_xrpc_error,
    post_times,
    post_to_item,
    post_url,
)
from tests.spiders.replay_server import SPIDER_FIXTURES
from tests.spiders.strategies import bodies, json_values

FIXTURES = SPIDER_FIXTURES / "bluesky"
SCOPE = "Sklep Testowy|q=Sklep Testowy"
DID = "did:plc:m4rt4zakupy7x2kq3v5nw6a"


def posts(name: str) -> list[Any]:
    return parse_search_page((FIXTURES / name).read_bytes()).posts


def test_session_and_pages_are_read() -> None:
    assert parse_session((FIXTURES / "session.json").read_bytes()).endswith("TEST-bluesky-access-jwt-55aa")
    page = parse_search_page((FIXTURES / "search_sklep_page1.json").read_bytes())
    assert (len(page.posts), page.cursor) == (3, "3")
    assert parse_search_page((FIXTURES / "search_sklep_page2.json").read_bytes()).cursor is None


@pytest.mark.parametrize(
    ("parse", "body", "message"),
    [
        (
            parse_session,
            b'{"did": "did:plc:x", "handle": "a.bsky.social"}',
            r"no accessJwt in the session \(did, handle\)",
        ),
        (parse_session, b'{"accessJwt": ""}', "no accessJwt"),
        (
            parse_search_page,
            (FIXTURES / "malformed_timeline.json").read_bytes(),
            r"no 'posts' list .* \(cursor, feed\)",
        ),
        (parse_search_page, (FIXTURES / "malformed_maintenance.html").read_bytes(), "not JSON"),
        (parse_search_page, b'{"posts": [], "cursor": 25}', "'cursor' is not a string"),
        (parse_search_page, b"[]", "expected a JSON object, got list"),
    ],
)
def test_malformed_bodies(parse: Any, body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse(body)


def test_a_post_maps_to_its_uri_link_text_and_engagement() -> None:
    post = posts("search_sklep_page1.json")[0]
    mention = to_mention_in(post_to_item(post, scope=SCOPE, target="Sklep Testowy"))
    assert mention.external_id == f"at://{DID}/app.bsky.feed.post/3lbr4xk7m2c2a"
    assert mention.url == "https://bsky.app/profile/marta-zakupy.bsky.social/post/3lbr4xk7m2c2a"
    assert mention.text.startswith("Sklep Testowy znowu przesunął")
    assert (mention.author, mention.lang, mention.reach) == ("Marta 🌿", "pl", 23 + 4 + 1)
    assert mention.created_at == datetime(2026, 11, 21, 10, 0, 0, 123000, tzinfo=UTC)
    assert mention.updated_at == datetime(2026, 11, 21, 10, 0, 2, 345000, tzinfo=UTC)  # indexedAt


def test_a_reply_points_at_its_parent() -> None:
    reply = posts("search_sklep_page1.json")[1]
    item = post_to_item(reply, scope=SCOPE, target=None)
    assert item["parent_id"] == "at://did:plc:sk13ptest0wy2a4c6e8g0i2k/app.bsky.feed.post/3lbpz2yq5cs2k"
    assert item["lang"] == "en"


@pytest.mark.parametrize(
    ("post", "indexed", "sort_at"),
    [
        (  # a client clock ahead of the AppView: sortAt is the indexing time
            {"indexedAt": "2026-11-21T10:00:00Z", "record": {"createdAt": "2026-11-21T10:05:00Z"}},
            datetime(2026, 11, 21, 10, tzinfo=UTC),
            datetime(2026, 11, 21, 10, tzinfo=UTC),
        ),
        (
            {"indexedAt": "2026-11-21T10:00:02Z", "record": {"createdAt": "2026-11-21T10:00:00+01:00"}},
            datetime(2026, 11, 21, 10, 0, 2, tzinfo=UTC),
            datetime(2026, 11, 21, 9, tzinfo=UTC),
        ),
        (
            {"record": {"createdAt": "2026-11-21T10:00:00Z"}},
            datetime(2026, 11, 21, 10, tzinfo=UTC),
            datetime(2026, 11, 21, 10, tzinfo=UTC),
        ),
        ({"indexedAt": "wczoraj", "record": {"createdAt": 5}}, None, None),
        ("at://x", None, None),
    ],
)
def test_change_and_sort_times(post: Any, indexed: datetime | None, sort_at: datetime | None) -> None:
    assert (post_times(post).indexed, post_times(post).sort_at) == (indexed, sort_at)


@pytest.mark.parametrize(
    ("uri", "handle", "url"),
    [
        (
            f"at://{DID}/app.bsky.feed.post/3lb",
            "a.bsky.social",
            "https://bsky.app/profile/a.bsky.social/post/3lb",
        ),
        (f"at://{DID}/app.bsky.feed.post/3lb", "handle.invalid", f"https://bsky.app/profile/{DID}/post/3lb"),
        (f"at://{DID}/app.bsky.feed.post/3lb", None, f"https://bsky.app/profile/{DID}/post/3lb"),
        (f"at://{DID}/app.bsky.feed.repost/3lb", "a.bsky.social", None),
        ("https://bsky.app/profile/a/post/3lb", "a.bsky.social", None),
        (f"at://{DID}/app.bsky.feed.post/", "a.bsky.social", None),
    ],
)
def test_post_links(uri: str, handle: str | None, url: str | None) -> None:
    assert post_url(uri, {"handle": handle}) == url


def test_a_post_with_an_unreadable_created_at_is_dated_by_its_indexing() -> None:
    post = {
        "uri": f"at://{DID}/app.bsky.feed.post/3lb",
        "indexedAt": "2026-11-21T10:00:00Z",
        "record": {"text": "x"},
    }
    mention = to_mention_in(post_to_item(post, scope=SCOPE, target=None))
    assert mention.created_at == datetime(2026, 11, 21, 10, tzinfo=UTC) and mention.reach is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            (FIXTURES / "error_401_session.json").read_bytes(),
            ("AuthenticationRequired", "Invalid identifier or password"),
        ),
        ((FIXTURES / "error_400_expired.json").read_bytes(), ("ExpiredToken", "Token has expired")),
        (b'{"error": "InvalidRequest"}', ("InvalidRequest", "InvalidRequest")),
        (b"<html>Bad Gateway</html>", ("", "<html>Bad Gateway</html>")),
    ],
)
def test_xrpc_error_bodies(body: bytes, expected: tuple[str, str]) -> None:
    assert parse_xrpc_error(body) == expected


def test_since_is_written_as_the_lexicon_expects() -> None:
    assert rfc3339_millis(datetime(2026, 11, 21, 9, 0, 2, 345678, tzinfo=UTC)) == "2026-11-21T09:00:02.345Z"


_json = json_values(
    [
        "posts",
        "cursor",
        "uri",
        "author",
        "handle",
        "displayName",
        "record",
        "text",
        "createdAt",
        "langs",
        "reply",
        "parent",
        "indexedAt",
        "likeCount",
        "repostCount",
    ],
    max_keys=6,
)


@settings(max_examples=300, deadline=None)
@given(bodies(_json))
def test_search_parser_and_mapping_never_crash(body: bytes) -> None:
    try:
        page = parse_search_page(body)
    except MalformedResponse:
        return
    for post in page.posts:
        times = post_times(post)
        assert times.sort_at is None or times.indexed is None or times.sort_at <= times.indexed
        try:
            mention = to_mention_in(post_to_item(post, scope=SCOPE, target=None))
        except InvalidItem as exc:
            assert exc.reason
        else:
            assert mention.source == "bluesky" and mention.external_id
            assert mention.url is None or mention.url.startswith("https://bsky.app/profile/")
