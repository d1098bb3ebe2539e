"""End-to-end crawls of the allegro spider against recorded ``/sale/user-ratings`` responses on loopback.

Allegro pages by ``offset``, and two sellers share one path, so replies are routed on ``user.id`` and
``offset``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import TextResponse

from monitor.core.config import EarshotSettings, Target
from spiders.spiders.allegro import AllegroRatingsSpider
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import SPIDER_FIXTURES, Recorded, ReplayServer, Reply

TOKEN = "allegro-TEST-token-5b2e71c9d4"  # distinctive, so a leak into logs or the database is easy to find
SELLER_A, SELLER_B, SELLER_C, SELLER_D = "48213977", "51230088", "60770001", "99999999"
PATH = "/sale/user-ratings"
A_NEWEST = datetime(2026, 11, 12, 9, 41, 27, 512000, tzinfo=UTC)
B_NEWEST = datetime(2026, 11, 11, 14, 0, tzinfo=UTC)


def ratings(replay: ReplayServer, seller: str, offset: int, *replies: Reply) -> None:
    replay.route(PATH, *replies, **{"user.id": seller, "offset": str(offset)})


def asked(replay: ReplayServer, seller: str) -> list[Recorded]:
    return replay.requests_for(PATH, **{"user.id": seller})


def allegro_settings(
    db_url: str, base_url: str, sellers: list[str], token: str | None = TOKEN, **section: Any
) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=[Target(name=TARGET, allegro_user_ids=sellers)],
        sources={"allegro": {"base_url": base_url, "access_token": token, "page_size": 3, **section}},
    )


def served(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply.recorded(
        "allegro", name, status, {"Content-Type": "application/vnd.allegro.public.v1+json", **(headers or {})}
    )


def test_first_run_pages_by_offset_and_rerun_reads_only_new_and_edited_ratings(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = allegro_settings(db_url, replay.base_url, [SELLER_A, f" {SELLER_B} "])
    ratings(replay, SELLER_A, 0, served("ratings_seller_a_offset0.json"))
    ratings(replay, SELLER_A, 3, served("ratings_seller_a_offset3.json"))
    ratings(replay, SELLER_A, 6, served("ratings_empty.json"))
    ratings(replay, SELLER_B, 0, served("ratings_seller_b_offset0.json"))

    first = crawl(settings, tmp_path, spider="allegro")

    s = first.summary
    # Seller A: 6 ratings on two full pages (one without an id is rejected) and an empty third; seller B: 2.
    assert (s.finish_reason, s.items_new, s.items_rejected, s.errors) == ("finished", 7, 1, 0)
    assert first.stats["earshot/items_rejected/missing_external_id"] == 1
    assert [r.query["offset"] for r in asked(replay, SELLER_A)] == [["0"], ["3"], ["6"]]
    assert [r.query["offset"] for r in asked(replay, SELLER_B)] == [["0"]]
    request = asked(replay, SELLER_A)[0]
    assert request.query["limit"] == ["3"] and "lastChangedAt.gte" not in request.query
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["accept"] == "application/vnd.allegro.public.v1+json"
    stored = mentions(db_url)
    assert len(stored) == 7
    complaint = stored["672f8e10c4d2a3001e7b5c02"]
    assert (complaint.author, complaint.rating, complaint.url, complaint.lang) == (
        "marek_k1982",
        2.25,
        None,
        None,
    )
    assert complaint.text == "Paczka szła tydzień, a kontakt ze sprzedawcą żaden. Nie polecam."
    assert complaint.reply_text is not None and complaint.reply_text.startswith("Dzień dobry, przepraszamy")
    assert complaint.raw is not None and complaint.raw["recommended"] is False
    recommend_only = stored["672b41d0e8f9b7001c2d4e03"]
    assert (recommend_only.rating, recommend_only.raw and recommend_only.raw["recommended"]) == (None, True)
    assert (stored["6725d3e1f0a1b2001b9c8d04"].text, stored["6725d3e1f0a1b2001b9c8d04"].rating) == ("", 4.75)
    edited_before = stored["671fe2b3c4d5e6001a0b1c06"]
    assert edited_before.created_at == datetime(2026, 10, 25, 21, 50, 2, tzinfo=UTC)
    assert edited_before.updated_at == datetime(2026, 10, 27, 9, tzinfo=UTC)
    assert source_watermark(db_url, "allegro", f"users/{SELLER_A}") == A_NEWEST
    assert source_watermark(db_url, "allegro", f"users/{SELLER_B}") == B_NEWEST

    # Later: one new rating and one edited, newest first and filtered by lastChangedAt.gte.
    replay.reset()
    ratings(replay, SELLER_A, 0, served("ratings_seller_a_rerun.json"))
    ratings(replay, SELLER_A, 3, served("ratings_seller_a_offset3.json"))
    ratings(replay, SELLER_B, 0, served("ratings_seller_b_rerun.json"))

    second = crawl(settings, tmp_path, spider="allegro")

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        1,
        1,
        0,
        0,
    )
    assert [r.query["offset"] for r in asked(replay, SELLER_A)] == [["0"]]  # stopped at the watermark
    assert asked(replay, SELLER_A)[0].query["lastChangedAt.gte"] == ["2026-11-12T09:41:27.512Z"]
    assert asked(replay, SELLER_B)[0].query["lastChangedAt.gte"] == ["2026-11-11T14:00:00.000Z"]
    stored = mentions(db_url)
    assert len(stored) == 8
    assert stored["6734b5c6d7e8f9001f4a5b21"].rating == 2.5
    edited = stored["672f8e10c4d2a3001e7b5c02"]
    assert (edited.version, edited.rating) == (2, 4.5)
    assert edited.text.startswith("Aktualizacja: sprzedawca zwrócił koszt wysyłki")
    assert edited.updated_at == datetime(2026, 11, 13, 19, 2, 44, tzinfo=UTC)
    assert [(r.version, r.rating) for r in revisions(db_url, edited.external_id)] == [(1, 2.25)]
    assert source_watermark(db_url, "allegro", f"users/{SELLER_A}") == datetime(
        2026, 11, 14, 16, 25, 33, tzinfo=UTC
    )
    assert source_watermark(db_url, "allegro", f"users/{SELLER_B}") == B_NEWEST
    assert_no_leak(db_url, (TOKEN,), first.log, second.log)


def test_rate_limit_is_retried_after_retry_after(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = allegro_settings(sqlite_url, replay.base_url, [SELLER_B])
    ratings(
        replay,
        SELLER_B,
        0,
        served("error_429.json", 429, {"Retry-After": "1"}),
        served("ratings_seller_b_offset0.json"),
    )

    result = crawl(settings, tmp_path, spider="allegro")

    first, second = asked(replay, SELLER_B)
    assert second.at - first.at >= 0.95
    assert result.stats["earshot/ratelimit/count"] == 1 and "retry/count" not in result.stats
    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 2, 0)


def test_malformed_bodies_and_a_bad_seller_id_fail_alone(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = allegro_settings(sqlite_url, replay.base_url, [SELLER_A, SELLER_B, SELLER_C, SELLER_D])
    ratings(replay, SELLER_A, 0, served("malformed_truncated.json"))
    ratings(replay, SELLER_B, 0, served("ratings_seller_b_offset0.json"))
    ratings(replay, SELLER_C, 0, served("malformed_offers_listing.json"))
    ratings(replay, SELLER_D, 0, served("error_422_user_id.json", 422))

    result = crawl(settings, tmp_path, spider="allegro")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 4, 3)
    assert result.stats["earshot/malformed_responses"] == 2 and result.stats["earshot/scopes_failed"] == 3
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert f"users/{SELLER_A}: malformed response at offset 0: body is not JSON" in messages
    assert (
        f"users/{SELLER_C}: malformed response at offset 0: no 'ratings' list in the response (count, offers, totalCount)"
        in messages
    )
    assert (
        f"users/{SELLER_D}: HTTP 422 VALIDATION_ERROR: The user id is invalid. (at user.id) "
        "(check the target's allegro_user_ids)" in messages
    )
    assert {m.external_id for m in mentions(sqlite_url).values()} == {
        "6730aa11bb22cc001d0e0f11",
        "672c9988776655001c0d0e12",
    }
    for seller in (SELLER_A, SELLER_C, SELLER_D):
        assert source_watermark(sqlite_url, "allegro", f"users/{seller}") is None


def test_a_refused_token_ends_the_run_without_sending_it_again(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = allegro_settings(sqlite_url, replay.base_url, [SELLER_A, SELLER_B])
    for seller in (SELLER_A, SELLER_B):
        ratings(replay, seller, 0, served("error_401_invalid_token.json", 401))

    # One request at a time, so "no further requests" is observable rather than racing concurrency.
    result = crawl(settings, tmp_path, spider="allegro", CONCURRENT_REQUESTS=1)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("auth_failed", 0, 1)
    assert len(replay.requests) == 1 and "retry/count" not in result.stats
    assert "HTTP 401 invalid_token: Access token expired" in result.log
    [message] = result.stats["earshot/error_messages"]
    assert "EARSHOT_SOURCES__ALLEGRO__ACCESS_TOKEN" in message
    assert_no_leak(sqlite_url, (TOKEN,), result.log)


@pytest.mark.parametrize(
    ("fixture", "status", "auth", "described"),
    [
        (
            "error_403_access_denied.json",
            403,
            True,
            "HTTP 403 AccessDenied: You do not have permission to access",
        ),
        (
            "error_422_user_id.json",
            422,
            False,
            "HTTP 422 VALIDATION_ERROR: The user id is invalid. (at user.id)",
        ),
        ("error_429.json", 429, False, "HTTP 429 TooManyRequests: Too many requests. Try again later."),
    ],
)
def test_which_errors_condemn_the_token(fixture: str, status: int, auth: bool, described: str) -> None:
    body = (SPIDER_FIXTURES / "allegro" / fixture).read_bytes()
    response = TextResponse("https://api.allegro.pl/sale/user-ratings", status=status, body=body)
    error = AllegroRatingsSpider().parse_error_response(response)
    assert error.auth is auth and error.describe().startswith(described)


def test_a_missing_token_is_reported_before_any_crawl(sqlite_url: str) -> None:
    settings = allegro_settings(sqlite_url, "http://127.0.0.1:9", [SELLER_A], token=" ")
    assert (
        AllegroRatingsSpider.skip_reason(settings)
        == "not configured: set EARSHOT_SOURCES__ALLEGRO__ACCESS_TOKEN"
    )
    assert AllegroRatingsSpider.skip_reason(allegro_settings(sqlite_url, "http://127.0.0.1:9", [])) == (
        "no target has allegro_user_ids"
    )


def test_a_spent_request_budget_holds_the_watermark(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = allegro_settings(sqlite_url, replay.base_url, [SELLER_A], max_requests=2)
    ratings(replay, SELLER_A, 0, served("ratings_seller_a_offset0.json"))
    ratings(replay, SELLER_A, 3, served("ratings_seller_a_offset3.json"))

    result = crawl(settings, tmp_path, spider="allegro")

    assert [r.query["offset"] for r in asked(replay, SELLER_A)] == [["0"], ["3"]]  # offset 6 was over budget
    assert result.stats["earshot/budget_exhausted"] == 1 and result.stats["earshot/scopes_truncated"] == 1
    assert result.summary.items_new == 5  # stored, but the seller is read again next run
    assert source_watermark(sqlite_url, "allegro", f"users/{SELLER_A}") is None
