"""End-to-end crawls of the hackernews spider against recorded HN Search (Algolia) responses on loopback.

Every keyword searches the same path, so replies are routed by the ``query`` and ``page`` parameters. Each crawl runs in a child process through ``run_crawl``, as the scheduler runs it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.core.config import EarshotSettings, Target
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.replay_server import Recorded, ReplayServer, Reply

PATH = "/api/v1/search_by_date"
XKOM_NEWEST = datetime(2026, 11, 23, 19, 42, 5, tzinfo=UTC)
MORELE_NEWEST = datetime(2026, 11, 23, 18, 5, 11, tzinfo=UTC)
SHARED_STORY = "45012200"  # an Ask HN story naming both x-kom and morele
EDITED = "45012310"


def add_search(replay: ReplayServer, query: str, *replies: Reply, page: int = 0) -> None:
    replay.route(PATH, *replies, query=query, page=str(page))


def searched(replay: ReplayServer, query: str) -> list[Recorded]:
    return replay.requests_for(PATH, query=query)


def hn_settings(db_url: str, base_url: str, keywords: list[str], hits_per_page: int = 3) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=[Target(name=TARGET, keywords=keywords)],
        sources={"hackernews": {"base_url": base_url, "hits_per_page": hits_per_page}},
    )


def served(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply.recorded("hackernews", name, status, headers)


def lower_bound_of(request: Recorded) -> int:
    [numeric] = request.query["numericFilters"]
    assert numeric.startswith("created_at_i>") and "," not in numeric
    return int(numeric.removeprefix("created_at_i>"))


def crawl_hn(settings: EarshotSettings, tmp_path: Path, **overrides: Any) -> Any:
    return crawl(settings, tmp_path, spider="hackernews", **overrides)


def test_first_run_pages_then_rerun_reads_only_the_edit_window(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = hn_settings(db_url, replay.base_url, ["x-kom", "morele"])
    add_search(replay, "x-kom", served("search_xkom_page0.json"))
    add_search(replay, "x-kom", served("search_xkom_page1.json"), page=1)
    add_search(replay, "morele", served("search_morele.json"))

    started = time.time()
    first = crawl_hn(settings, tmp_path)

    s = first.summary
    # The shared story is found by both keywords: stored once, seen again as unchanged.
    assert (s.finish_reason, s.items_new, s.items_unchanged, s.items_rejected, s.errors) == (
        "finished",
        6,
        1,
        0,
        0,
    )
    assert s.requests == 3 == len(replay.requests)
    assert [r.query["page"] for r in searched(replay, "x-kom")] == [["0"], ["1"]]
    for request in replay.requests:
        assert request.path == PATH
        assert request.query["tags"] == ["(story,comment)"] and request.query["hitsPerPage"] == ["3"]
        # First run: a 30-day lookback, not the keyword's whole history.
        assert abs(lower_bound_of(request) - (started - 30 * 86400)) < 120
    stored = mentions(db_url)
    assert len(stored) == 6 and SHARED_STORY in stored
    comment = stored[EDITED]
    assert comment.text == (
        "Ordered a GPU from x-kom last week. It arrived in two days, but the box was clearly opened & "
        "resealed. Support answered within an hour though."
    )
    assert (comment.author, comment.parent_id, comment.reach) == ("mkowalski_dev", "45012200", None)
    assert comment.url == "https://news.ycombinator.com/item?id=45012310"
    assert comment.created_at == XKOM_NEWEST
    assert comment.raw is not None and comment.raw["story_title"].startswith("Ask HN")
    assert "_highlightResult" not in comment.raw
    story = stored[SHARED_STORY]
    assert story.text.startswith("Ask HN: Best place to buy hardware in the EU?\n\nMoving to Warsaw")
    assert (story.parent_id, story.reach) == (None, 14)
    polish = stored["45008877"]
    assert (
        polish.text
        == "x-kom ma beznadziejny proces RMA – czekałem 5 tygodni na wymianę monitora.\nNigdy więcej, serio."
    )
    assert stored["44951234"].text == (
        "Polish retailer x-kom exposed customer invoices through a public storage bucket"
    )
    assert source_watermark(db_url, "hackernews", "search:x-kom") == XKOM_NEWEST
    assert source_watermark(db_url, "hackernews", "search:morele") == MORELE_NEWEST

    # Later: one new comment, one comment edited within HN's two hours, and the story again (more points).
    replay.reset()
    add_search(replay, "x-kom", served("search_xkom_rerun.json"))
    add_search(replay, "morele", served("search_morele_rerun.json"))

    second = crawl_hn(settings, tmp_path)

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        1,
        1,
        2,
        0,
    )
    assert s.requests == 2 and all(r.query["page"] == ["0"] for r in replay.requests)  # no page 1
    # Only what was created after the watermark less the two-hour edit window is asked for.
    [xkom] = searched(replay, "x-kom")
    [morele] = searched(replay, "morele")
    assert lower_bound_of(xkom) == int(XKOM_NEWEST.timestamp()) - 7200
    assert lower_bound_of(morele) == int(MORELE_NEWEST.timestamp()) - 7200
    stored = mentions(db_url)
    assert len(stored) == 7
    edited = stored[EDITED]
    assert edited.version == 2 and edited.text.endswith(
        "Edit: they sent a replacement the same day, no questions asked."
    )
    assert [(r.version, r.text) for r in revisions(db_url, EDITED)] == [(1, comment.text)]
    assert stored[SHARED_STORY].reach == 21
    assert stored["45013999"].parent_id == EDITED
    assert source_watermark(db_url, "hackernews", "search:x-kom") == datetime(
        2026, 11, 23, 22, 10, tzinfo=UTC
    )
    assert source_watermark(db_url, "hackernews", "search:morele") == MORELE_NEWEST


def test_rate_limit_is_retried_after_retry_after(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = hn_settings(sqlite_url, replay.base_url, ["morele"])
    add_search(
        replay,
        "morele",
        served("error_429.json", status=429, headers={"Retry-After": "1"}),
        served("search_morele.json"),
    )

    result = crawl_hn(settings, tmp_path)

    first, second = replay.requests
    assert second.at - first.at >= 0.95  # Retry-After: 1 was honoured
    assert first.query == second.query
    assert result.stats["earshot/ratelimit/count"] == 1 and "retry/count" not in result.stats
    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 2, 0)
    assert source_watermark(sqlite_url, "hackernews", "search:morele") == MORELE_NEWEST


def test_bad_bodies_and_records_are_counted_and_the_other_keywords_still_stored(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    keywords = ["x-kom", "komputronik", "allegro", "empik", "morele"]
    settings = hn_settings(sqlite_url, replay.base_url, keywords, hits_per_page=5)
    add_search(replay, "x-kom", served("malformed_truncated.json"))
    add_search(replay, "komputronik", served("not_a_result.html", headers={"Content-Type": "text/html"}))
    add_search(replay, "allegro", served("error_400_numeric_filters.json", status=400))
    add_search(replay, "empik", served("search_with_bad_hits.json"))
    add_search(replay, "morele", served("search_morele.json"))

    result = crawl_hn(settings, tmp_path)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.items_rejected, s.requests, s.errors) == ("finished", 3, 3, 5, 3)
    assert len(searched(replay, "allegro")) == 1  # 400 is not retried
    stats = result.stats
    assert stats["earshot/malformed_responses"] == 2 and stats["earshot/scopes_failed"] == 3
    for reason in ("missing_created_at", "not_an_object", "missing_external_id"):
        assert stats[f"earshot/items_rejected/{reason}"] == 1
    assert set(mentions(sqlite_url)) == {"45006611", SHARED_STORY, "45001111"}
    messages = "\n".join(stats["earshot/error_messages"])
    assert "search:x-kom: malformed response for page 1: body is not JSON" in messages
    assert "search:komputronik: malformed response for page 1: body is not JSON" in messages
    assert "search:allegro: HTTP 400: Invalid syntax for numeric value" in messages
    for keyword in ("x-kom", "komputronik", "allegro"):
        assert source_watermark(sqlite_url, "hackernews", f"search:{keyword}") is None
    assert source_watermark(sqlite_url, "hackernews", "search:empik") == datetime(
        2026, 11, 22, 9, 14, tzinfo=UTC
    )
    assert source_watermark(sqlite_url, "hackernews", "search:morele") == MORELE_NEWEST


def test_a_refusal_ends_the_run_as_auth_failed(sqlite_url: str, replay: ReplayServer, tmp_path: Path) -> None:
    settings = hn_settings(sqlite_url, replay.base_url, ["x-kom", "morele", "empik"])
    for keyword in ("x-kom", "morele", "empik"):
        add_search(replay, keyword, served("error_403.json", status=403))

    result = crawl_hn(settings, tmp_path, CONCURRENT_REQUESTS=1)

    s = result.summary
    assert (s.finish_reason, s.items_new) == ("auth_failed", 0)
    # No credential means no probe request: the one already on the wire is answered, nothing after it.
    assert s.requests == len(replay.requests) <= 2
    assert "retry/count" not in result.stats
    messages = result.stats["earshot/error_messages"]
    assert len(messages) == s.requests
    assert all(
        "HTTP 403: Invalid Application-ID or API key (HN Search refused this client" in m for m in messages
    )
