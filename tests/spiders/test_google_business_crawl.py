"""End-to-end crawls of the google_business spider against recorded responses on a loopback server.

Every crawl runs through ``run_crawl(..., isolate=True)``: a fresh child process (and Twisted reactor)
each time, exactly as the scheduler runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from monitor.core.db import make_engine
from monitor.core.models import MentionRevision
from tests.spiders.conftest import (
    LOC1,
    LOC2,
    LOC3,
    LOC4,
    TARGET,
    TOKEN,
    crawl,
    gbp_settings,
    mentions,
    scope,
    watermark,
)
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import ReplayServer, Reply, reviews_path

PAGE2_TOKEN = "CiAKGAoUMTExMjIyMzMzLzkwMDEvcGFnZTIQAQ"
RERUN_PAGE2_TOKEN = "CiAKGAoUMTExMjIyMzMzLzkwMDEvcGFnZTIQAg"
LOC1_NEWEST = datetime(2026, 11, 10, 9, 30, 12, 123456, tzinfo=UTC)
LOC2_NEWEST = datetime(2026, 11, 9, 15, 20, tzinfo=UTC)  # 16:20+01:00


def _serve_first_run(replay: ReplayServer) -> None:
    replay.add(reviews_path("111222333", LOC1), Reply.fixture("loc1_page1.json"))
    replay.add(reviews_path("111222333", LOC1), Reply.fixture("loc1_page2.json"), page_token=PAGE2_TOKEN)
    replay.add(reviews_path("111222333", LOC2), Reply.fixture("loc2_page1.json"))


def test_first_run_stores_all_pages_and_rerun_reads_only_up_to_the_watermark(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(db_url, replay.base_url, [LOC1, LOC2])
    _serve_first_run(replay)

    first = crawl(settings, tmp_path)

    s = first.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_rejected, s.errors) == (
        "finished",
        7,
        0,
        0,
        0,
    )
    assert s.requests == 3 == len(replay.requests)
    assert [r.page_token for r in replay.requests_for(reviews_path("111222333", LOC1))] == [None, PAGE2_TOKEN]
    request = replay.requests[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.query["pageSize"] == ["3"] and request.query["orderBy"] == ["updateTime desc"]
    assert request.headers["User-Agent"].startswith("Earshot/0.1")
    stored = mentions(db_url)
    assert len(stored) == 7
    r4 = stored["AbFvOqTest0004"]
    assert r4.text == "Szybka wysyłka, wszystko zgodnie z opisem."  # Google's translation removed
    assert (r4.author, r4.rating) == (None, 5.0)  # anonymous reviewer
    r2 = stored["AbFvOqTest0002"]
    assert (r2.author, r2.rating, r2.reply_text) == (
        "Paweł Nowicki",
        4.0,
        "Dziękujemy za opinię, Panie Pawle!",
    )
    assert (stored["AbFvOqTest0001"].text, stored["AbFvOqTest0001"].rating) == (
        "",
        None,
    )  # rating-only, unspecified
    assert stored["AbFvOqTest0005"].url == f"{replay.base_url}/v4/{scope(LOC1)}/reviews/AbFvOqTest0005"
    assert stored["AbFvOqTest0005"].updated_at == LOC1_NEWEST
    assert watermark(db_url, LOC1) == LOC1_NEWEST
    assert watermark(db_url, LOC2) == LOC2_NEWEST
    assert first.stats["earshot/items_new"] == 7 and first.stats["earshot/watermarks_advanced"] == 2
    assert first.stats["finish_reason"] == "finished" and first.stats["earshot/crawl_run_id"] == s.run_id

    # Later: one new review, one edited (2 -> 4 stars); page 2 exists but holds only older reviews.
    replay.reset()
    replay.add(reviews_path("111222333", LOC1), Reply.fixture("loc1_rerun_page1.json"))
    replay.add(
        reviews_path("111222333", LOC1), Reply.fixture("loc1_page2.json"), page_token=RERUN_PAGE2_TOKEN
    )
    replay.add(reviews_path("111222333", LOC2), Reply.fixture("loc2_page1.json"))

    second = crawl(settings, tmp_path)

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        1,
        1,
        0,
        0,
    )
    assert s.requests == 2 == len(replay.requests)
    assert all(r.page_token is None for r in replay.requests)  # no page 2 for either location
    stored = mentions(db_url)
    assert len(stored) == 8
    edited = stored["AbFvOqTest0003"]
    assert (edited.rating, edited.version) == (4.0, 2)
    assert edited.text.startswith("Update: the refund finally arrived")
    engine = make_engine(db_url)
    with Session(engine) as session:
        history = session.exec(select(MentionRevision).where(MentionRevision.mention_id == edited.id)).all()
    engine.dispose()
    assert [(h.version, h.rating, h.text) for h in history] == [
        (1, 2.0, "Sent the mixer back three weeks ago, still waiting for my refund.")
    ]
    assert watermark(db_url, LOC1) == datetime(2026, 11, 12, 7, 11, 9, tzinfo=UTC)
    assert watermark(db_url, LOC2) == LOC2_NEWEST
    assert_no_leak(db_url, (TOKEN,), first.log, second.log)


def test_interrupted_paging_holds_the_watermark_so_nothing_is_skipped(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(sqlite_url, replay.base_url, [LOC1])
    replay.add(reviews_path("111222333", LOC1), Reply.fixture("loc1_page1.json"))
    replay.add(
        reviews_path("111222333", LOC1), Reply.fixture("error_503.json", status=503), page_token=PAGE2_TOKEN
    )

    broken = crawl(settings, tmp_path)

    assert broken.summary.items_new == 3 and broken.summary.errors == 1
    assert broken.stats["retry/count"] == 1 and broken.stats["earshot/retry/backoff_seconds"] > 0
    assert broken.stats["earshot/api_errors/503"] == 1 and broken.stats["earshot/scopes_failed"] == 1
    assert "The service is currently unavailable." in broken.log
    assert watermark(sqlite_url, LOC1) is None  # page 2 was never read: do not move past it

    replay.reset()
    _serve_first_run(replay)
    healed = crawl(settings, tmp_path)

    assert (healed.summary.items_new, healed.summary.items_unchanged, healed.summary.errors) == (2, 3, 0)
    assert set(mentions(sqlite_url)) == {f"AbFvOqTest000{i}" for i in range(1, 6)}
    assert watermark(sqlite_url, LOC1) == LOC1_NEWEST


def test_rate_limit_is_retried_after_retry_after(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(sqlite_url, replay.base_url, [LOC2])
    replay.add(
        reviews_path("111222333", LOC2),
        Reply.fixture("error_429.json", status=429, headers={"Retry-After": "1"}),
        Reply.fixture("loc2_page1.json"),
    )

    result = crawl(settings, tmp_path)

    first, second = replay.requests
    assert second.at - first.at >= 0.95  # Retry-After: 1 was honoured
    assert result.stats["earshot/ratelimited"] == 1
    assert result.stats["earshot/ratelimit/count"] == 1
    assert result.stats["earshot/ratelimit/delay_seconds"] == 1.0
    assert "retry/count" not in result.stats  # the generic retry did not also retry it
    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 2, 0)
    assert watermark(sqlite_url, LOC2) == LOC2_NEWEST


def test_bad_locations_are_counted_and_the_others_still_stored(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(sqlite_url, replay.base_url, [LOC1, LOC2, LOC3, LOC4])
    replay.add(reviews_path("111222333", LOC1), Reply.fixture("malformed_truncated.txt"))
    replay.add(reviews_path("111222333", LOC2), Reply.fixture("loc2_page1.json"))
    replay.add(reviews_path("111222333", LOC3), Reply.fixture("malformed_no_reviews.json"))
    replay.add(reviews_path("111222333", LOC4), Reply.fixture("error_403.json", status=403))

    result = crawl(settings, tmp_path)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 4, 3)
    assert len(replay.requests_for(reviews_path("111222333", LOC4))) == 1  # 403 is not retried
    assert result.stats["earshot/malformed_responses"] == 2
    assert result.stats["earshot/api_errors/403"] == 1
    assert set(mentions(sqlite_url)) == {"AbFvOqTest0101", "AbFvOqTest0102"}
    assert watermark(sqlite_url, LOC2) == LOC2_NEWEST
    assert [watermark(sqlite_url, loc) for loc in (LOC1, LOC3, LOC4)] == [None, None, None]
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert f"{scope(LOC1)}: malformed response for page 1: body is not JSON" in messages
    assert f"{scope(LOC3)}: malformed response for page 1: no 'reviews' list" in messages
    assert f"{scope(LOC4)}: HTTP 403 PERMISSION_DENIED: The caller does not have permission" in messages


def test_unauthorised_token_is_reported_with_googles_message_and_not_retried(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(sqlite_url, replay.base_url, [LOC1, LOC2])
    for location in (LOC1, LOC2):
        replay.add(
            reviews_path("111222333", location),
            Reply.fixture("error_401.json", status=401, headers={"WWW-Authenticate": 'Bearer realm="x"'}),
        )

    result = crawl(settings, tmp_path)

    s = result.summary
    assert s.finish_reason == "auth_failed"
    assert s.items_new == 0 and s.errors >= 1
    assert len(replay.requests) == s.requests <= 2  # at most once per location: no retries
    assert "retry/count" not in result.stats and "earshot/ratelimited" not in result.stats
    assert "HTTP 401 UNAUTHENTICATED: Request had invalid authentication credentials" in result.log
    assert any(
        "Request had invalid authentication credentials" in m for m in result.stats["earshot/error_messages"]
    )
    assert TOKEN not in result.log


def test_demo_source_crawls_end_to_end(sqlite_url: str, tmp_path: Path) -> None:
    from monitor.core.config import EarshotSettings
    from monitor.demo_source import DemoSource

    with DemoSource() as demo:
        settings = demo.configure(EarshotSettings(database_url=sqlite_url), target_name=TARGET)
        result = crawl(settings, tmp_path)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.errors, s.requests) == ("finished", 12, 0, 2)
    stored = mentions(sqlite_url)
    assert sum(1 for m in stored.values() if m.rating is not None and m.rating <= 2) >= 5
    assert any("UOKiK" in m.text for m in stored.values())
