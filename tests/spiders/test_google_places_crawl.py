"""End-to-end crawls of the google_places spider against recorded Places API (New) responses on loopback.

The API has no paging (at most five reviews per place, by relevance), so there is no paging test: a
place is one request. Every crawl runs in a child process through ``run_crawl``, as the scheduler runs it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.core.config import EarshotSettings, Target
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import ReplayServer, Reply

KEY = "AIzaSyTEST-places-key-7d1e0c4b"  # distinctive, so a leak into logs or the database is easy to find
PLACE_A = "ChIJtestKonkurentWarszawa01"
PLACE_B = "ChIJtestOtherChainKrakow002"
PLACE_C = "ChIJtestNewShopGdansk00003"
PLACE_GONE = "ChIJtestClosedLodz00000004"
REVIEWS_A = f"places/{PLACE_A}/reviews/"
A_NEWEST = datetime(2026, 10, 27, 18, 2, 11, 482913, tzinfo=UTC)
B_NEWEST = datetime(2026, 11, 3, 13, 22, tzinfo=UTC)  # 14:22+01:00


def places_settings(
    db_url: str, base_url: str, place_ids: list[str], key: str | None = KEY, **section: Any
) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=[Target(name=TARGET, place_ids=place_ids)],
        sources={"google_places": {"base_url": base_url, "api_key": key, **section}},
    )


def path(place_id: str) -> str:
    return f"/v1/places/{place_id}"


def served(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply.recorded("google_places", name, status, headers)


def test_first_run_then_rerun_stores_new_edited_and_newly_ranked_reviews(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = places_settings(db_url, replay.base_url, [PLACE_A, PLACE_B, f"places/{PLACE_C}"])
    replay.add(path(PLACE_A), served("place_a.json"))
    replay.add(path(PLACE_B), served("place_b.json"))
    replay.add(path(PLACE_C), served("place_no_reviews.json"))

    first = crawl(settings, tmp_path, spider="google_places")

    s = first.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_rejected, s.errors) == (
        "finished",
        7,
        0,
        0,
        0,
    )
    assert s.requests == 3 == len(replay.requests)
    assert {r.path for r in replay.requests} == {path(PLACE_A), path(PLACE_B), path(PLACE_C)}
    headers = {name.lower(): value for name, value in replay.requests[0].headers.items()}  # case-insensitive
    assert headers["x-goog-api-key"] == KEY
    assert headers["x-goog-fieldmask"] == "id,displayName,reviews"
    assert "languageCode" not in replay.requests[0].query
    stored = mentions(db_url)
    assert len(stored) == 7
    kettle = stored[REVIEWS_A + "ChZDSUhNMG9nS0VJQ0FnSUR0ZXN0MDE"]
    assert kettle.text.startswith("Kurier przywiózł paczkę po 12 dniach")  # original, not Google's English
    assert (kettle.lang, kettle.rating, kettle.author) == ("pl", 1.0, "Joanna Kowalczyk")
    assert kettle.url is not None and kettle.url.startswith("https://www.google.com/maps/reviews/")
    assert (kettle.created_at, kettle.updated_at) == (A_NEWEST, A_NEWEST)
    assert kettle.raw is not None and kettle.raw["relativePublishTimeDescription"] == "2 tygodnie temu"
    english = stored[REVIEWS_A + "ChdDSUhNMG9nS0VJQ0FnSUR0ZXN0MDI"]
    assert (english.lang, english.rating) == ("en", 5.0)
    rating_only = stored[REVIEWS_A + "ChdDSUhNMG9nS0VJQ0FnSUR0ZXN0MDQ"]
    assert (rating_only.text, rating_only.lang, rating_only.rating) == ("", None, 4.0)
    assert {m.target_id for m in stored.values()} == {kettle.target_id}
    assert source_watermark(db_url, "google_places", f"places/{PLACE_A}") == A_NEWEST
    assert source_watermark(db_url, "google_places", f"places/{PLACE_B}") == B_NEWEST
    assert source_watermark(db_url, "google_places", f"places/{PLACE_C}") is None  # nothing to mark
    assert first.stats["earshot/watermarks_advanced"] == 2 and first.stats["earshot/scopes_completed"] == 3

    # Later: one new review, one edited in place (same publishTime, 2 -> 4 stars), and one June review
    # that the relevance ranking now shows for the first time.
    replay.reset()
    replay.add(path(PLACE_A), served("place_a_rerun.json"))
    replay.add(path(PLACE_B), served("place_b.json"))
    replay.add(path(PLACE_C), served("place_no_reviews.json"))

    second = crawl(settings, tmp_path, spider="google_places")

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        2,
        1,
        4,
        0,
    )
    assert s.requests == 3
    stored = mentions(db_url)
    assert len(stored) == 9
    assert (
        stored[REVIEWS_A + "ChZDSUhNMG9nS0VJQ0FnSUR0ZXN0MDc"].text
        == "Serwis montażowy nie przyjechał w umówionym dniu."
    )
    edited = stored[REVIEWS_A + "ChZDSUhNMG9nS0VJQ0FnSUR0ZXN0MDM"]
    assert (edited.rating, edited.version) == (4.0, 2)
    assert edited.text.startswith("Aktualizacja: zwrot w końcu dotarł")
    assert [(r.version, r.rating, r.text) for r in revisions(db_url, edited.external_id)] == [
        (1, 2.0, "Odesłałem mikser trzy tygodnie temu, nadal czekam na zwrot pieniędzy.")
    ]
    assert source_watermark(db_url, "google_places", f"places/{PLACE_A}") == datetime(
        2026, 11, 8, 20, 14, 9, 120000, tzinfo=UTC
    )
    assert_no_leak(db_url, (KEY,), first.log, second.log)


def test_rate_limit_is_retried_after_retry_after(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = places_settings(sqlite_url, replay.base_url, [PLACE_B], language_code="pl")
    replay.add(
        path(PLACE_B),
        served("error_429.json", status=429, headers={"Retry-After": "1"}),
        served("place_b.json"),
    )

    result = crawl(settings, tmp_path, spider="google_places")

    first, second = replay.requests
    assert second.at - first.at >= 0.95
    assert first.query["languageCode"] == ["pl"] == second.query["languageCode"]
    assert result.stats["earshot/ratelimit/count"] == 1 and "retry/count" not in result.stats
    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 2, 0)
    assert source_watermark(sqlite_url, "google_places", f"places/{PLACE_B}") == B_NEWEST


def test_malformed_bodies_and_unknown_places_fail_alone(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = places_settings(sqlite_url, replay.base_url, [PLACE_A, PLACE_B, PLACE_C, PLACE_GONE])
    replay.add(path(PLACE_A), served("malformed_truncated.json"))
    replay.add(path(PLACE_B), served("place_b.json"))
    replay.add(path(PLACE_C), served("malformed_search_response.json"))
    replay.add(path(PLACE_GONE), served("error_404_not_found.json", status=404))

    result = crawl(settings, tmp_path, spider="google_places")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 4, 3)
    assert len(replay.requests_for(path(PLACE_GONE))) == 1  # 404 is not retried
    assert result.stats["earshot/malformed_responses"] == 2 and result.stats["earshot/scopes_failed"] == 3
    assert all(m.external_id.startswith(f"places/{PLACE_B}/") for m in mentions(sqlite_url).values())
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert f"places/{PLACE_A}: malformed response: body is not JSON" in messages
    assert f"places/{PLACE_C}: malformed response: no place 'id' in the response (places)" in messages
    assert (
        f"places/{PLACE_GONE}: HTTP 404 NOT_FOUND: The requested entity was not found. "
        "(check the target's place_ids)" in messages
    )
    for place in (PLACE_A, PLACE_C, PLACE_GONE):
        assert source_watermark(sqlite_url, "google_places", f"places/{place}") is None


@pytest.mark.parametrize(
    ("fixture", "status", "google_says"),
    [
        (
            "error_403_service_disabled.json",
            403,
            "PERMISSION_DENIED SERVICE_DISABLED: Places API (New) has not",
        ),
        ("error_400_api_key_invalid.json", 400, "INVALID_ARGUMENT API_KEY_INVALID: API key not valid."),
    ],
)
def test_a_refused_key_ends_the_run_without_sending_it_again(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path, fixture: str, status: int, google_says: str
) -> None:
    settings = places_settings(sqlite_url, replay.base_url, [PLACE_A, PLACE_B, PLACE_C])
    for place in (PLACE_A, PLACE_B, PLACE_C):
        replay.add(path(place), served(fixture, status=status))

    # One request at a time, so "no further requests" is observable rather than racing concurrency.
    result = crawl(settings, tmp_path, spider="google_places", CONCURRENT_REQUESTS=1)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("auth_failed", 0, 1)
    assert len(replay.requests) == 1
    assert "retry/count" not in result.stats
    assert f"HTTP {status} {google_says}" in result.log
    [message] = result.stats["earshot/error_messages"]
    assert "EARSHOT_SOURCES__GOOGLE_PLACES__API_KEY" in message
    assert KEY not in result.log
