"""The Mastodon mapping: Link headers, snowflake bounds, statuses (boosts, content warnings), error bodies."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, to_mention_in
from spiders.spiders.mastodon import (
    hashtag_name,
    parse_link_header,
    parse_mastodon_error,
    parse_search,
    parse_statuses,
    same_origin,
    snowflake_floor,
    status_times,
    status_to_item,
    with_param,
)
from tests.spiders.replay_server import SPIDER_FIXTURES
from tests.spiders.strategies import bodies, json_values

FIXTURES = SPIDER_FIXTURES / "mastodon"
SCOPE = "Sklep Testowy|#skleptestowy"
BASE = "https://mastodon.social"


def statuses(name: str) -> list[Any]:
    return parse_statuses((FIXTURES / name).read_bytes())


def test_mastodons_own_link_header_is_read() -> None:
    header = (
        f'<{BASE}/api/v1/timelines/tag/skleptestowy?limit=40&max_id=117648418406400003>; rel="next", '
        f'<{BASE}/api/v1/timelines/tag/skleptestowy?limit=40&min_id=117653667840000011>; rel="prev"'
    )
    assert parse_link_header(header) == {
        "next": f"{BASE}/api/v1/timelines/tag/skleptestowy?limit=40&max_id=117648418406400003",
        "prev": f"{BASE}/api/v1/timelines/tag/skleptestowy?limit=40&min_id=117653667840000011",
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "<https://a.example/x?b=1,2>; rel=next",
            {"next": "https://a.example/x?b=1,2"},
        ),  # unquoted, comma in URL
        (
            '<https://a.example/1>; title="p, q"; REL="Next Last"',
            {"next": "https://a.example/1", "last": "https://a.example/1"},
        ),
        ('<https://a.example/1>; rel="prev"', {}),
        ("", {}),
        ("garbage; rel=next", {}),
    ],
)
def test_link_header_variants(header: str, expected: dict[str, str]) -> None:
    links = parse_link_header(header)
    assert {rel: links[rel] for rel in expected} == expected
    if not expected:
        assert "next" not in links


@pytest.mark.parametrize(
    ("url", "same"),
    [
        (f"{BASE}/api/v1/timelines/tag/x?max_id=1", True),
        ("https://MASTODON.social/api/v1/x", True),
        ("https://mastodon.social:443/api/v1/x", False),  # explicit port differs from the configured URL
        ("http://mastodon.social/api/v1/x", False),
        ("https://evil.example.net/api/v1/timelines/tag/x", False),
        ("https://mastodon.social.evil.example.net/x", False),
        ("//evil.example.net/x", False),
        ("https://[::1/x", False),
    ],
)
def test_next_links_are_followed_only_on_the_configured_instance(url: str, same: bool) -> None:
    assert same_origin(url, BASE) is same


def test_with_param_keeps_the_other_parameters_and_replaces_its_own() -> None:
    url = f"{BASE}/api/v1/timelines/tag/x?limit=40&max_id=5&since_id=1"
    assert with_param(url, "since_id", "9") == f"{BASE}/api/v1/timelines/tag/x?limit=40&max_id=5&since_id=9"


def test_snowflake_floor_is_below_every_id_of_that_second_and_decodes_to_it() -> None:
    for status in statuses("tag_page1.json") + statuses("tag_page2.json"):
        created = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
        bound = snowflake_floor(created)
        assert bound <= int(status["id"]) < snowflake_floor(created + timedelta(seconds=1))
        assert bound >> 16 == int(created.timestamp()) * 1000  # Mastodon's Snowflake.to_time
    assert snowflake_floor(datetime(2026, 11, 20, 9, 15, 0, 999999, tzinfo=UTC)) == 117648005529600000


@pytest.mark.parametrize(
    ("parse", "body", "message"),
    [
        (
            parse_statuses,
            (FIXTURES / "search_sklep.json").read_bytes(),
            "expected a JSON array of statuses, got dict",
        ),
        (parse_statuses, b'{"error": "Record not found"}', r"got dict \(error: Record not found\)"),
        (parse_statuses, (FIXTURES / "malformed_maintenance.html").read_bytes(), "not JSON"),
        (
            parse_search,
            (FIXTURES / "tag_page1.json").read_bytes(),
            "expected a search result object, got list",
        ),
        (
            parse_search,
            b'{"accounts": [], "hashtags": []}',
            r"no 'statuses' list in the search result .accounts, hashtags.",
        ),
    ],
)
def test_malformed_bodies(parse: Any, body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse(body)


def test_a_status_is_plain_text_keyed_by_its_uri() -> None:
    status = statuses("tag_page1.json")[0]
    mention = to_mention_in(status_to_item(status, scope=SCOPE, target="Sklep Testowy"))
    assert mention.external_id == f"{BASE}/users/ania_kupuje/statuses/{status['id']}"
    assert mention.url == f"{BASE}/@ania_kupuje/{status['id']}"
    assert mention.text == (
        "Zamówiłam ekspres w #SklepTestowy w piątek wieczorem, dziś rano kurier już był. Pakowanie wzorowe 👍"
    )
    assert (mention.author, mention.lang, mention.reach, mention.parent_id) == ("Ania 🛒", "pl", 312, None)
    assert mention.created_at == mention.updated_at == datetime(2026, 11, 21, 9, 15, tzinfo=UTC)


def test_an_edit_is_its_update_time() -> None:
    edited = statuses("tag_rerun.json")[3]
    assert status_times(edited) == (
        datetime(2026, 11, 20, 11, tzinfo=UTC),
        datetime(2026, 11, 21, 10, 30, tzinfo=UTC),
    )
    mention = to_mention_in(status_to_item(edited, scope=SCOPE, target=None))
    assert mention.updated_at == datetime(2026, 11, 21, 10, 30, tzinfo=UTC)


def test_a_boost_is_stored_as_the_boosted_status() -> None:
    boost = json.loads((FIXTURES / "boost.json").read_text())
    mention = to_mention_in(status_to_item(boost, scope=SCOPE, target=None))
    assert mention.external_id == boost["reblog"]["uri"] and mention.author == "Kuba Nowak"
    assert mention.text.startswith("Sklep Testowy od 3 tygodni")
    created, _ = status_times(boost)
    assert created == datetime(2026, 11, 21, 14, tzinfo=UTC)  # the boost's time: the listing's order


@pytest.mark.parametrize(
    ("change", "text", "lang"),
    [
        ({"spoiler_text": "CW: reklamacja", "content": ""}, "CW: reklamacja", "pl"),
        ({"content": "<p>a &amp; b<br/>c</p>", "language": "pt-BR"}, "a & b\nc", "pt"),
        ({"content": "<p>x</p>", "language": None}, "x", None),
    ],
)
def test_content_warnings_html_and_languages(change: dict[str, Any], text: str, lang: str | None) -> None:
    item = status_to_item({**statuses("tag_page1.json")[0], **change}, scope=SCOPE, target=None)
    assert (item["text"], item["lang"]) == (text, lang)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ((FIXTURES / "error_401.json").read_bytes(), "", "The access token is invalid"),
        ((FIXTURES / "error_422.json").read_bytes(), "", "Validation failed: Query can't be blank"),
        (
            b'{"error": "invalid_token", "error_description": "The access token expired"}',
            "invalid_token",
            "The access token expired",
        ),
        (
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            "",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
        (b"[1]", "", "[1]"),
    ],
)
def test_error_bodies(body: bytes, code: str, message: str) -> None:
    assert parse_mastodon_error(body) == (code, message)


@pytest.mark.parametrize("value", ["SklepTestowy", "#SklepTestowy", " #skleptestowy "])
def test_hashtags_are_written_with_or_without_hash_in_any_case(value: str) -> None:
    assert hashtag_name(value) == "skleptestowy"


_json = json_values(
    [
        "id",
        "uri",
        "url",
        "content",
        "spoiler_text",
        "created_at",
        "edited_at",
        "language",
        "account",
        "display_name",
        "acct",
        "followers_count",
        "reblog",
        "in_reply_to_id",
        "statuses",
    ],
    max_keys=6,
)


@settings(max_examples=300, deadline=None)
@given(bodies(_json))
def test_status_parsers_and_mapping_never_crash(body: bytes) -> None:
    found: list[Any] = []
    for parse in (parse_statuses, parse_search):
        with contextlib.suppress(MalformedResponse):
            found += parse(body)
    for status in found:
        created, edited = status_times(status)
        assert all(t is None or t.tzinfo is UTC for t in (created, edited))
        try:
            mention = to_mention_in(status_to_item(status, scope=SCOPE, target=None))
        except InvalidItem as exc:
            assert exc.reason
        else:
            assert mention.source == "mastodon" and mention.external_id


@given(st.text(max_size=200))
def test_link_header_parser_never_crashes_and_returns_bracketed_urls(header: str) -> None:
    for rel, url in parse_link_header(header).items():
        assert rel and rel == rel.lower() and url in header
