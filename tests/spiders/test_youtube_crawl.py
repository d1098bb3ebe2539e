"""End-to-end crawls of the youtube spider against recorded YouTube Data API v3 responses on loopback.

Every channel lists its threads on the same path, so replies are routed by the
``allThreadsRelatedToChannelId`` and ``pageToken`` parameters. Each crawl runs in a child process through
``run_crawl``, as the scheduler runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.core.config import EarshotSettings, Target
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import Recorded, ReplayServer, Reply

KEY = "AIzaSyTEST-youtube-key-5b2e9a71"  # distinctive, so a leak into logs or the database is easy to find
PATH = "/youtube/v3/commentThreads"
CHANNEL_A = "UCxKomTestChannel00000AA"
CHANNEL_B = "UCmoreleTestChannel000BB"
CHANNEL_C = "UCcomputerShopTest0000CC"
PAGE2 = "QURTSl9pMVRlc3RYa29tUGFnZTI="
RERUN_PAGE2 = "QURTSl9pMVRlc3RYa29tUmVydW4y"
T1, T2 = "UgzA1testXkomThread0001AaABAg", "UgxB2testXkomThread0002AaABAg"
A_NEWEST = datetime(2026, 11, 23, 7, 45, 20, tzinfo=UTC)
B_NEWEST = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def add_channel(replay: ReplayServer, channel: str, *replies: Reply, page_token: str | None = None) -> None:
    replay.route(PATH, *replies, allThreadsRelatedToChannelId=channel, pageToken=page_token)


def listed(replay: ReplayServer, channel: str) -> list[Recorded]:
    return replay.requests_for(PATH, allThreadsRelatedToChannelId=channel)


def yt_settings(db_url: str, base_url: str, channels: list[str], key: str | None = KEY) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=[Target(name=TARGET, youtube_channel_ids=channels)],
        sources={"youtube": {"base_url": base_url, "api_key": key}},
    )


def served(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply.recorded("youtube", name, status, headers)


def crawl_yt(settings: EarshotSettings, tmp_path: Path, **overrides: Any) -> Any:
    return crawl(settings, tmp_path, spider="youtube", **overrides)


def test_first_run_pages_then_rerun_reads_new_replies_and_edits_only(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = yt_settings(
        db_url, replay.base_url, [CHANNEL_A, f"https://www.youtube.com/channel/{CHANNEL_B}"]
    )
    add_channel(replay, CHANNEL_A, served("channel_a_page1.json"))
    add_channel(replay, CHANNEL_A, served("channel_a_page2.json"), page_token=PAGE2)
    add_channel(replay, CHANNEL_B, served("channel_b.json"))

    first = crawl_yt(settings, tmp_path)

    s = first.summary
    assert (s.finish_reason, s.items_new, s.items_rejected, s.errors) == ("finished", 10, 0, 0)
    assert s.requests == 3 == len(replay.requests)
    assert [r.page_token for r in listed(replay, CHANNEL_A)] == [None, PAGE2]
    request = replay.requests[0]
    assert {k: v for k, v in request.query.items() if k != "allThreadsRelatedToChannelId"} == {
        "part": ["snippet,replies"],
        "order": ["time"],
        "maxResults": ["100"],
        "textFormat": ["plainText"],
    }
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["x-goog-api-key"] == KEY  # the key travels in a header, never in the URL
    stored = mentions(db_url)
    assert len(stored) == 10
    top = stored[T1]
    assert top.text.startswith("Zamówiłam kartę graficzną 3 tygodnie temu")
    assert (top.author, top.reach, top.parent_id) == ("@marta.zielinska", 14, None)
    assert top.url == f"https://www.youtube.com/watch?v=Xk0mRtx5090&lc={T1}"
    reply = stored[f"{T1}.AbC1testReply01"]
    assert (reply.parent_id, reply.author) == (T1, "@xkom")
    assert reply.url == f"https://www.youtube.com/watch?v=Xk0mRtx5090&lc={T1}.AbC1testReply01"
    assert (
        stored["UgwF4testXkomThread0004AaABAg"].text == "Czy będzie promocja na Black Friday?"
    )  # textDisplay only
    edited_before = stored["UgwD2testMoreleThread002AaABAg"]
    assert edited_before.updated_at == datetime(2026, 11, 13, 9, 30, tzinfo=UTC)
    assert top.raw is not None and top.raw["thread"]["totalReplyCount"] == 2
    assert first.stats["earshot/youtube/replies_not_listed"] == 5  # a busy thread: 7 replies, 2 included
    assert source_watermark(db_url, "youtube", f"channels/{CHANNEL_A}") == A_NEWEST
    assert source_watermark(db_url, "youtube", f"channels/{CHANNEL_B}") == B_NEWEST

    # Later: a new thread, a new reply on an existing thread and an edited comment on page 1, then a
    # thread with nothing new; page 1 carries a next page token that must not be followed.
    replay.reset()
    add_channel(replay, CHANNEL_A, served("channel_a_rerun_page1.json"))
    add_channel(replay, CHANNEL_A, served("channel_a_page2.json"), page_token=RERUN_PAGE2)
    add_channel(replay, CHANNEL_B, served("channel_b.json"))

    second = crawl_yt(settings, tmp_path)

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        2,
        1,
        0,
        0,
    )
    assert s.requests == 2 and all(r.page_token is None for r in replay.requests)
    stored = mentions(db_url)
    assert len(stored) == 12
    assert stored[f"{T1}.AbC5testReply05"].parent_id == T1
    edited = stored[T2]
    assert edited.version == 2 and edited.text.endswith(
        "EDIT: x-kom support called me and sorted the refund, thanks!"
    )
    assert edited.reach == 6 and edited.updated_at == datetime(2026, 11, 24, 7, 12, tzinfo=UTC)
    assert [(r.version, r.text) for r in revisions(db_url, T2)] == [
        (
            1,
            "Great unboxing, but please show the return process next time – I had a nightmare returning a monitor.",
        )
    ]
    assert source_watermark(db_url, "youtube", f"channels/{CHANNEL_A}") == datetime(
        2026, 11, 24, 8, 0, tzinfo=UTC
    )
    assert source_watermark(db_url, "youtube", f"channels/{CHANNEL_B}") == B_NEWEST
    assert_no_leak(db_url, (KEY,), first.log, second.log)


def test_rate_limit_is_retried_after_retry_after(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = yt_settings(sqlite_url, replay.base_url, [CHANNEL_B])
    add_channel(
        replay,
        CHANNEL_B,
        served("error_429.json", status=429, headers={"Retry-After": "1"}),
        served("channel_b.json"),
    )

    result = crawl_yt(settings, tmp_path)

    first, second = replay.requests
    assert second.at - first.at >= 0.95  # Retry-After: 1 was honoured
    assert result.stats["earshot/ratelimit/count"] == 1 and "retry/count" not in result.stats
    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 2, 0)
    assert source_watermark(sqlite_url, "youtube", f"channels/{CHANNEL_B}") == B_NEWEST


def test_bad_channels_fail_alone_and_the_others_are_stored(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    gone = "UCclosedShopTest000000DD"
    video_list = "UCwrongEndpointTest0000E"
    settings = yt_settings(sqlite_url, replay.base_url, [CHANNEL_A, CHANNEL_B, CHANNEL_C, gone, video_list])
    add_channel(replay, CHANNEL_A, served("malformed_truncated.json"))
    add_channel(replay, CHANNEL_B, served("channel_b.json"))
    add_channel(replay, CHANNEL_C, served("error_403_comments_disabled.json", status=403))
    add_channel(replay, gone, served("error_404_channel_not_found.json", status=404))
    add_channel(replay, video_list, served("malformed_video_list.json"))

    result = crawl_yt(settings, tmp_path)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 5, 4)
    assert result.stats["earshot/malformed_responses"] == 2 and result.stats["earshot/scopes_failed"] == 4
    assert len(listed(replay, CHANNEL_C)) == 1  # a 403 that is not about the key is not retried
    assert set(mentions(sqlite_url)) == {"UgwD1testMoreleThread001AaABAg", "UgwD2testMoreleThread002AaABAg"}
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert f"channels/{CHANNEL_A}: malformed response for page 1: body is not JSON" in messages
    assert (
        f"channels/{video_list}: malformed response for page 1: kind is 'youtube#videoListResponse'"
        in messages
    )
    assert (
        f"channels/{CHANNEL_C}: HTTP 403 commentsDisabled: The video identified by the videoId parameter has "
        "disabled comments. (the channel has comments turned off)" in messages
    )
    assert f"channels/{gone}: HTTP 404 channelNotFound" in messages
    for channel in (CHANNEL_A, CHANNEL_C, gone, video_list):
        assert source_watermark(sqlite_url, "youtube", f"channels/{channel}") is None


def test_a_refused_key_ends_the_run_without_sending_it_again(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = yt_settings(sqlite_url, replay.base_url, [CHANNEL_A, CHANNEL_B, CHANNEL_C])
    for channel in (CHANNEL_A, CHANNEL_B, CHANNEL_C):
        add_channel(replay, channel, served("error_400_key_invalid.json", status=400))

    result = crawl_yt(settings, tmp_path, CONCURRENT_REQUESTS=1)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("auth_failed", 0, 1)
    assert len(replay.requests) == 1 and "retry/count" not in result.stats
    [message] = result.stats["earshot/error_messages"]
    assert "HTTP 400 badRequest, API_KEY_INVALID: API key not valid." in message
    assert "EARSHOT_SOURCES__YOUTUBE__API_KEY" in message
    assert_no_leak(sqlite_url, (KEY,), result.log)


def test_a_spent_quota_stops_the_run_and_keeps_every_watermark(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = yt_settings(sqlite_url, replay.base_url, [CHANNEL_A, CHANNEL_B])
    add_channel(replay, CHANNEL_A, served("error_403_quota_exceeded.json", status=403))
    add_channel(replay, CHANNEL_B, served("channel_b.json"))

    result = crawl_yt(settings, tmp_path, CONCURRENT_REQUESTS=1)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("quota_exceeded", 0, 1)  # not auth_failed
    assert listed(replay, CHANNEL_B) == []  # the other channel is left for the next run
    assert (
        result.stats["earshot/youtube/quota_exceeded"] == 1 and result.stats["earshot/scopes_truncated"] == 1
    )
    [message] = result.stats["earshot/error_messages"]
    assert message.startswith(
        f"channels/{CHANNEL_A}: HTTP 403 quotaExceeded: The request cannot be completed because you have "
        "exceeded your quota. (the Google Cloud project's daily YouTube Data API quota is spent; it resets"
    )
    assert source_watermark(sqlite_url, "youtube", f"channels/{CHANNEL_A}") is None
    assert_no_leak(sqlite_url, (KEY,), result.log)
