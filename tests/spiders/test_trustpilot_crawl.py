"""End-to-end crawls of the trustpilot spider against recorded Business Units API responses on loopback.

Trustpilot pages by ``page``, so replies are routed on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import TextResponse

from monitor.core.config import EarshotSettings, Target
from spiders.spiders.trustpilot import TrustpilotReviewsSpider
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import ReplayServer, Reply

KEY = "tp-TEST-apikey-0c7d19e4a2"  # distinctive, so a leak into logs or the database is easy to find
UNIT_A, UNIT_B = "5f8a1c2d3e4b5a0001c9d8e7", "60b1c2d3e4f5a60001b2c3d4"
UNIT_C, UNIT_GONE = "61c2d3e4f5a6b70001c3d4e5", "000000000000000000000000"
A_NEWEST = datetime(2026, 11, 12, 10, tzinfo=UTC)
B_NEWEST = datetime(2026, 11, 9, 11, 20, tzinfo=UTC)
EDITED = "672fd0e1f2a3b4c5d6e7f804"


def reviews(replay: ReplayServer, unit: str, page: int, *replies: Reply) -> None:
    replay.route(path(unit), *replies, page=str(page))


def pages_asked(replay: ReplayServer, unit: str) -> list[str]:
    return [r.query["page"][-1] for r in replay.requests_for(path(unit))]


def path(unit: str) -> str:
    return f"/v1/business-units/{unit}/reviews"


def trustpilot_settings(
    db_url: str, base_url: str, units: list[str], key: str | None = KEY, **section: Any
) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=[Target(name=TARGET, trustpilot_business_unit_ids=units)],
        sources={"trustpilot": {"base_url": base_url, "api_key": key, "page_size": 3, **section}},
    )


def served(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply.recorded("trustpilot", name, status, headers)


def test_first_run_reads_every_page_and_rerun_rereads_only_the_recheck_window(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = trustpilot_settings(db_url, replay.base_url, [UNIT_A, UNIT_B])
    reviews(replay, UNIT_A, 1, served("reviews_a_page1.json"))
    reviews(replay, UNIT_A, 2, served("reviews_a_page2.json"))
    reviews(replay, UNIT_B, 1, served("reviews_b_page1.json"))

    first = crawl(settings, tmp_path, spider="trustpilot")

    s = first.summary
    # Unit A: 6 reviews on two pages, one without an id (rejected); unit B: 2.
    assert (s.finish_reason, s.items_new, s.items_rejected, s.errors) == ("finished", 7, 1, 0)
    assert first.stats["earshot/items_rejected/missing_external_id"] == 1
    assert pages_asked(replay, UNIT_A) == ["1", "2"] and pages_asked(replay, UNIT_B) == ["1"]
    request = replay.requests_for(path(UNIT_A))[0]
    assert (request.query["perPage"], request.query["orderBy"]) == (["3"], ["createdat.desc"])
    assert {name.lower(): value for name, value in request.headers.items()}["apikey"] == KEY
    stored = mentions(db_url)
    assert len(stored) == 7
    tv = stored["6721e0f1a2b3c4d5e6f7a802"]
    assert (tv.author, tv.rating, tv.lang, tv.reach) == ("Adam N.", 1.0, "pl", 12)
    assert tv.text.startswith("Uszkodzony telewizor\n\nTelewizor przyszedł z pękniętą matrycą.")
    assert tv.reply_text is not None and tv.reply_text.startswith("Panie Adamie, przepraszamy.")
    assert tv.url == "https://www.trustpilot.com/reviews/6721e0f1a2b3c4d5e6f7a802"
    assert stored["6718c0d1e2f3a4b5c6d7e801"].lang == "en"
    assert stored["6729b8c7d6e5f4a3b2c1d0b1"].created_at == B_NEWEST  # an offset-less time is UTC
    assert source_watermark(db_url, "trustpilot", f"business-units/{UNIT_A}") == A_NEWEST
    assert source_watermark(db_url, "trustpilot", f"business-units/{UNIT_B}") == B_NEWEST

    # Later: two new reviews, and review 672fd0… (written Nov 10) edited with a company reply. Paging
    # stops once it reaches reviews written a week before the watermark: page 3 is not asked for.
    replay.reset()
    reviews(replay, UNIT_A, 1, served("reviews_a_rerun_page1.json"))
    reviews(replay, UNIT_A, 2, served("reviews_a_rerun_page2.json"))
    reviews(replay, UNIT_A, 3, served("reviews_a_rerun_page3.json"))
    reviews(replay, UNIT_B, 1, served("reviews_b_page1.json"))

    second = crawl(settings, tmp_path, spider="trustpilot")

    s = second.summary
    # New: 2; edited: 1; unchanged: the Nov 12 review on A and both B reviews (all inside the window).
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        2,
        1,
        3,
        0,
    )
    assert pages_asked(replay, UNIT_A) == ["1", "2"] and pages_asked(replay, UNIT_B) == ["1"]
    stored = mentions(db_url)
    assert len(stored) == 9
    edited = stored[EDITED]
    assert (edited.version, edited.rating) == (2, 4.0)
    assert edited.text == (
        "Zwrot w końcu dotarł\n\nAktualizacja: pieniądze wróciły po mojej opinii, konsultant przeprosił. "
        "Podnoszę ocenę."
    )
    assert edited.reply_text is not None and edited.reply_text.startswith("Pani Magdo")
    assert edited.updated_at == datetime(2026, 11, 13, 15, tzinfo=UTC)
    [old] = revisions(db_url, EDITED)
    assert (old.version, old.rating) == (1, 2.0) and old.text.startswith("Czekam na zwrot pieniędzy")
    assert source_watermark(db_url, "trustpilot", f"business-units/{UNIT_A}") == datetime(
        2026, 11, 14, 20, 10, tzinfo=UTC
    )
    assert_no_leak(db_url, (KEY,), first.log, second.log)


def test_spike_arrest_429_is_retried_after_retry_after(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = trustpilot_settings(sqlite_url, replay.base_url, [UNIT_B])
    reviews(
        replay,
        UNIT_B,
        1,
        served("error_429_spike_arrest.json", 429, {"Retry-After": "1"}),
        served("reviews_b_page1.json"),
    )

    result = crawl(settings, tmp_path, spider="trustpilot")

    first, second = replay.requests_for(path(UNIT_B))
    assert second.at - first.at >= 0.95
    assert result.stats["earshot/ratelimit/count"] == 1 and "retry/count" not in result.stats
    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 2, 0)


def test_malformed_bodies_and_unknown_units_fail_alone(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = trustpilot_settings(sqlite_url, replay.base_url, [UNIT_A, UNIT_B, UNIT_C, UNIT_GONE])
    reviews(replay, UNIT_A, 1, served("malformed_truncated.json"))
    reviews(replay, UNIT_B, 1, served("reviews_b_page1.json"))
    reviews(replay, UNIT_C, 1, served("malformed_maintenance.html", headers={"Content-Type": "text/html"}))
    reviews(replay, UNIT_GONE, 1, served("error_404_business_unit.json", 404))

    result = crawl(settings, tmp_path, spider="trustpilot")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 4, 3)
    assert result.stats["earshot/malformed_responses"] == 2 and result.stats["earshot/scopes_failed"] == 3
    assert len(replay.requests_for(path(UNIT_GONE))) == 1  # a 404 is not retried
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert f"business-units/{UNIT_A}: malformed response for page 1: body is not JSON" in messages
    assert f"business-units/{UNIT_C}: malformed response for page 1: body is not JSON" in messages
    assert (
        f"business-units/{UNIT_GONE}: HTTP 404 0: Not Found: Business unit 000000000000000000000000 was not "
        "found (check the target's trustpilot_business_unit_ids)" in messages
    )
    assert {m.external_id for m in mentions(sqlite_url).values()} == {
        "6729b8c7d6e5f4a3b2c1d0b1",
        "67288a7b6c5d4e3f2a1b0cb2",
    }
    for unit in (UNIT_A, UNIT_C, UNIT_GONE):
        assert source_watermark(sqlite_url, "trustpilot", f"business-units/{unit}") is None


def test_a_refused_api_key_ends_the_run_without_sending_it_again(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = trustpilot_settings(sqlite_url, replay.base_url, [UNIT_A, UNIT_B])
    for unit in (UNIT_A, UNIT_B):
        reviews(replay, unit, 1, served("error_401_invalid_api_key.json", 401))

    result = crawl(settings, tmp_path, spider="trustpilot", CONCURRENT_REQUESTS=1)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("auth_failed", 0, 1)
    assert len(replay.requests) == 1 and "retry/count" not in result.stats
    assert "HTTP 401 oauth.v2.InvalidApiKey: Invalid ApiKey" in result.log
    [message] = result.stats["earshot/error_messages"]
    assert "EARSHOT_SOURCES__TRUSTPILOT__API_KEY" in message
    assert_no_leak(sqlite_url, (KEY,), result.log)


def test_a_missing_key_is_reported_before_any_crawl(sqlite_url: str) -> None:
    settings = trustpilot_settings(sqlite_url, "http://127.0.0.1:9", [UNIT_A], key="")
    assert (
        TrustpilotReviewsSpider.skip_reason(settings)
        == "not configured: set EARSHOT_SOURCES__TRUSTPILOT__API_KEY"
    )


@pytest.mark.parametrize(
    ("status", "body", "auth"),
    [
        (
            401,
            b'{"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}}',
            True,
        ),
        (
            400,
            b'{"fault": {"faultstring": "Unresolved key", "detail": {"errorcode": "oauth.v2.FailedToResolveAPIKey"}}}',
            True,
        ),
        (404, b'{"message": "Not Found"}', False),
        (
            429,
            b'{"fault": {"faultstring": "Spike arrest violation", "detail": {"errorcode": "policies.ratelimit.SpikeArrestViolation"}}}',
            False,
        ),
    ],
)
def test_which_errors_condemn_the_key(status: int, body: bytes, auth: bool) -> None:
    response = TextResponse(
        "https://api.trustpilot.com/v1/business-units/x/reviews", status=status, body=body
    )
    assert TrustpilotReviewsSpider().parse_error_response(response).auth is auth
