"""The YouTube commentThreads mapping: list pages, threads and replies, error bodies and channel ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.http import TextResponse

from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, clean_str, to_mention_in
from spiders.spiders.youtube import (
    YouTubeCommentsSpider,
    channel_scope,
    comment_changed_at,
    comment_to_item,
    parse_threads_page,
    parse_youtube_error,
    thread_comments,
    watch_url,
)
from tests.spiders.replay_server import SPIDER_FIXTURES

FIXTURES = SPIDER_FIXTURES / "youtube"
SCOPE = "channels/UCxKomTestChannel00000AA"


def _threads(name: str) -> list[Any]:
    threads: list[Any] = json.loads((FIXTURES / name).read_text())["items"]
    return threads


def test_a_list_page_is_read_with_its_next_page_token() -> None:
    page = parse_threads_page((FIXTURES / "channel_a_page1.json").read_bytes())
    assert (len(page.threads), page.next_page_token) == (2, "QURTSl9pMVRlc3RYa29tUGFnZTI=")
    assert parse_threads_page((FIXTURES / "channel_b.json").read_bytes()).next_page_token is None


def test_a_channel_without_comments_is_an_empty_page() -> None:
    body = b'{"kind": "youtube#commentThreadListResponse", "pageInfo": {"totalResults": 0}}'
    assert parse_threads_page(body).threads == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((FIXTURES / "malformed_truncated.json").read_bytes(), "not JSON"),
        ((FIXTURES / "malformed_video_list.json").read_bytes(), "kind is 'youtube#videoListResponse'"),
        ((FIXTURES / "error_429.json").read_bytes(), r"no 'items' list in the response \(error\)"),
        (b'{"kind": "youtube#commentThreadListResponse", "nextPageToken": "x"}', "no 'items' list"),
        (b'{"kind": "youtube#commentThreadListResponse", "items": {}}', "not a list"),
        (b'{"items": [], "nextPageToken": 7}', "nextPageToken is not a string"),
        (b"[]", "expected a JSON object"),
    ],
)
def test_malformed_list_pages(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_threads_page(body)


def test_top_level_comments_and_replies_map_to_items() -> None:
    thread = _threads("channel_a_page1.json")[0]
    top, replies = thread_comments(thread)
    assert len(replies) == 2
    mention = to_mention_in(comment_to_item(top, thread=thread, top_id=None, scope=SCOPE, target="x-kom"))
    assert (mention.source, mention.external_id, mention.parent_id, mention.reach) == (
        "youtube",
        "UgzA1testXkomThread0001AaABAg",
        None,
        14,
    )
    assert mention.created_at == mention.updated_at == datetime(2026, 11, 22, 18, 3, 11, tzinfo=UTC)
    reply = to_mention_in(
        comment_to_item(replies[0], thread=thread, top_id=top["id"], scope=SCOPE, target=None)
    )
    assert reply.parent_id == "UgzA1testXkomThread0001AaABAg" and reply.author == "@xkom"
    assert reply.raw is not None and reply.raw["thread"]["id"] == thread["id"]
    assert "topLevelComment" not in reply.raw["thread"]


def test_a_reply_without_parent_id_belongs_to_its_thread() -> None:
    reply = {"id": "T.r", "snippet": {"textOriginal": "Też!", "publishedAt": "2026-11-01T10:00:00Z"}}
    thread = {"id": "T", "snippet": {"videoId": "vid00000001", "topLevelComment": {"id": "T"}}}
    item = comment_to_item(reply, thread=thread, top_id="T", scope=SCOPE, target=None)
    assert item["parent_id"] == "T"
    assert item["url"] == "https://www.youtube.com/watch?v=vid00000001&lc=T.r"  # the thread's video


def test_display_text_is_used_without_markup_when_there_is_no_original() -> None:
    comment = {"id": "c", "snippet": {"textDisplay": "Super obsługa<br>polecam &amp; dziękuję"}}
    item = comment_to_item(comment, thread={}, top_id=None, scope=SCOPE, target=None)
    assert item["text"] == "Super obsługa\npolecam & dziękuję"


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            {"publishedAt": "2026-11-01T10:00:00Z", "updatedAt": "2026-11-02T08:00:00Z"},
            datetime(2026, 11, 2, 8, tzinfo=UTC),
        ),
        ({"publishedAt": "2026-11-01T10:00:00Z"}, datetime(2026, 11, 1, 10, tzinfo=UTC)),
        (
            {"publishedAt": "2026-11-01T10:00:00Z", "updatedAt": "jutro"},
            datetime(2026, 11, 1, 10, tzinfo=UTC),
        ),
        ({}, None),
    ],
)
def test_a_comment_changed_when_it_was_last_updated(
    snippet: dict[str, Any], expected: datetime | None
) -> None:
    assert comment_changed_at({"snippet": snippet}) == expected


@pytest.mark.parametrize(
    "thread", [{"id": "T", "snippet": {}}, {"id": "T"}, "T", {"snippet": {"topLevelComment": "x"}}]
)
def test_threads_without_a_top_level_comment_are_rejected(thread: Any) -> None:
    with pytest.raises(InvalidItem) as caught:
        thread_comments(thread)
    assert caught.value.reason == "bad_thread"


def test_odd_like_counts_are_left_in_raw_only() -> None:
    comment = {
        "id": "c",
        "snippet": {"likeCount": -1, "textOriginal": "x", "publishedAt": "2026-11-01T10:00:00Z"},
    }
    assert (
        to_mention_in(comment_to_item(comment, thread={}, top_id=None, scope=SCOPE, target=None)).reach
        is None
    )


@pytest.mark.parametrize(
    ("fixture", "status", "reasons", "quota"),
    [
        ("error_403_quota_exceeded.json", 403, ("quotaExceeded",), True),
        ("error_400_key_invalid.json", 400, ("badRequest", "API_KEY_INVALID"), False),
        ("error_400_key_invalid_legacy.json", 400, ("keyInvalid",), False),
        ("error_403_comments_disabled.json", 403, ("commentsDisabled",), False),
    ],
)
def test_error_reasons_are_read(fixture: str, status: int, reasons: tuple[str, ...], quota: bool) -> None:
    error = parse_youtube_error((FIXTURES / fixture).read_bytes(), status)
    assert (error.code, error.reasons, error.quota_exceeded) == (status, reasons, quota)
    assert "<" not in error.message  # YouTube's HTML links are reduced to their text


@pytest.mark.parametrize(
    ("fixture", "status", "auth", "code", "hint"),
    [
        ("error_400_key_invalid.json", 400, True, "badRequest, API_KEY_INVALID", "the API key was refused"),
        ("error_400_key_invalid_legacy.json", 400, True, "keyInvalid", "EARSHOT_SOURCES__YOUTUBE__API_KEY"),
        ("error_403_quota_exceeded.json", 403, False, "quotaExceeded", "resets at midnight Pacific Time"),
        ("error_403_comments_disabled.json", 403, False, "commentsDisabled", "comments turned off"),
        ("error_404_channel_not_found.json", 404, False, "channelNotFound", "youtube_channel_ids"),
        ("error_429.json", 429, False, "rateLimitExceeded", ""),
    ],
)
def test_what_each_error_means_for_the_run(
    fixture: str, status: int, auth: bool, code: str, hint: str
) -> None:
    response = TextResponse(
        "https://www.googleapis.com/youtube/v3/commentThreads",
        status=status,
        body=(FIXTURES / fixture).read_bytes(),
    )
    error = YouTubeCommentsSpider().parse_error_response(response)
    assert (error.status, error.auth, error.code) == (status, auth, code)
    assert hint in error.hint


def test_a_non_json_error_body_is_kept_as_text() -> None:
    error = parse_youtube_error(b"<html><title>502 Bad Gateway</title></html>", 502)
    assert (error.code, error.reasons) == (502, ())
    assert "502 Bad Gateway" in error.message


@pytest.mark.parametrize(
    "value",
    [
        "UCxKomTestChannel00000AA",
        " channels/UCxKomTestChannel00000AA ",
        "https://www.youtube.com/channel/UCxKomTestChannel00000AA/",
    ],
)
def test_channel_ids_may_be_ids_names_or_urls(value: str) -> None:
    assert channel_scope(value) == SCOPE


def test_watch_urls_need_a_video_and_a_comment() -> None:
    assert watch_url(None, "c") is None and watch_url("v", "") is None
    assert watch_url("v id", "a&b") == "https://www.youtube.com/watch?v=v%20id&lc=a%26b"


_text = st.text(max_size=20)
_value = st.none() | st.booleans() | st.integers(-5, 10**6) | _text
_comment_snippet = st.dictionaries(
    st.sampled_from(
        [
            "textOriginal",
            "textDisplay",
            "authorDisplayName",
            "likeCount",
            "publishedAt",
            "updatedAt",
            "videoId",
            "parentId",
        ]
    ),
    _value | st.sampled_from(["2026-11-01T10:00:00Z", "2026-11-02T10:00:00.5+01:00"]),
    max_size=8,
)
_comment = st.fixed_dictionaries({"id": _value, "snippet": _comment_snippet}) | _value
_thread = st.fixed_dictionaries(
    {
        "id": _value,
        "snippet": st.fixed_dictionaries(
            {"videoId": _value, "topLevelComment": _comment, "totalReplyCount": _value}
        )
        | _value,
        "replies": st.fixed_dictionaries({"comments": st.lists(_comment, max_size=3) | _value}) | _value,
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_thread | _value, max_size=4))
def test_any_page_maps_to_stored_items_or_stated_rejections(threads: list[Any]) -> None:
    body = json.dumps({"kind": "youtube#commentThreadListResponse", "items": threads}).encode()
    for thread in parse_threads_page(body).threads:
        try:
            top, replies = thread_comments(thread)
        except InvalidItem as exc:
            assert exc.reason == "bad_thread"
            continue
        for comment, top_id in [(top, None), *((r, top.get("id")) for r in replies)]:
            try:
                mention = to_mention_in(
                    comment_to_item(comment, thread=thread, top_id=top_id, scope=SCOPE, target=None)
                )
            except InvalidItem as exc:
                assert exc.reason  # rejected with a stated reason, never an unexpected exception
                continue
            assert mention.source == "youtube"
            if top_id is None:
                assert mention.parent_id is None  # top-level comments hang off the video, not a comment
            elif "parentId" not in comment["snippet"] and isinstance(top_id, str):
                assert mention.parent_id == (clean_str(top_id).strip() or None)
            if mention.url is not None and comment["id"] == clean_str(comment["id"]):
                assert parse_qs(urlsplit(mention.url).query)["lc"] == [comment["id"]]
