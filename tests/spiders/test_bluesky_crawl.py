"""End-to-end crawls of the bluesky spider against recorded XRPC responses on loopback.

Every crawl runs in a child process through ``run_crawl``, as the scheduler runs it; createSession and
searchPosts are served by the same replay server (``base_url`` points at it, as at a PDS).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from monitor.core.config import EarshotSettings, Target
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import ReplayServer, Reply

IDENTIFIER = "earshot-monitor.bsky.social"
PASSWORD = "TEST-app-pass-k3v9-q2x7"  # distinctive, so a leak into logs or the database is easy to find
ACCESS = "TEST-bluesky-access-jwt-55aa"  # part of the accessJwt in session.json
OTHER = "Elektro-Dom"
SESSION = "/xrpc/com.atproto.server.createSession"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
SKLEP = f"{TARGET}|q=Sklep Testowy"
DOMAIN = f"{TARGET}|q=sklep-testowy.pl"
MARTA = "at://did:plc:m4rt4zakupy7x2kq3v5nw6a/app.bsky.feed.post/3lbr4xk7m2c2a"


def bluesky_settings(db_url: str, base_url: str, targets: list[Target]) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=targets,
        sources={"bluesky": {"base_url": base_url, "identifier": IDENTIFIER, "app_password": PASSWORD}},
    )


def served(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    kind = {"Content-Type": "text/html; charset=utf-8"} if name.endswith(".html") else {}
    return Reply.recorded("bluesky", name, status, {**kind, **(headers or {})})


def searches(replay: ReplayServer) -> list[dict[str, str]]:
    return [{k: v[-1] for k, v in r.query.items()} for r in replay.requests_for(SEARCH)]


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC)


def test_first_run_pages_then_rerun_reads_new_and_rewritten_posts_since_the_watermark(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = bluesky_settings(
        db_url, replay.base_url, [Target(name=TARGET, keywords=["Sklep Testowy", "sklep-testowy.pl"])]
    )
    replay.route(SESSION, served("session.json"))
    replay.route(SEARCH, served("search_sklep_page1.json"), q="Sklep Testowy", cursor=None)
    replay.route(SEARCH, served("search_sklep_page2.json"), q="Sklep Testowy", cursor="3")
    replay.route(SEARCH, served("search_domain.json"), q="sklep-testowy.pl")

    first = crawl(settings, tmp_path, spider="bluesky")

    s = first.summary
    # Seven posts; the one matching both keywords is handed on once.
    assert (s.finish_reason, s.items_new, s.items_unchanged, s.items_rejected, s.errors) == (
        "finished",
        6,
        0,
        0,
        0,
    )
    assert first.stats["earshot/bluesky/duplicates_skipped"] == 1
    assert s.requests == 4
    [login] = replay.posts
    assert json.loads(login.body) == {"identifier": IDENTIFIER, "password": PASSWORD}
    assert sorted(searches(replay), key=lambda p: (p["q"], p.get("cursor", ""))) == [
        {"q": "Sklep Testowy", "sort": "latest", "limit": "100"},
        {"q": "Sklep Testowy", "sort": "latest", "limit": "100", "cursor": "3"},
        {"q": "sklep-testowy.pl", "sort": "latest", "limit": "100"},
    ]
    search = replay.requests_for(SEARCH)[0]
    headers = {k.lower(): v for k, v in search.headers.items()}
    assert headers["authorization"].startswith("Bearer eyJ") and headers["authorization"].endswith(ACCESS)
    stored = mentions(db_url)
    assert len(stored) == 6
    marta = stored[MARTA]
    assert marta.url == "https://bsky.app/profile/marta-zakupy.bsky.social/post/3lbr4xk7m2c2a"
    assert marta.text.startswith("Sklep Testowy znowu przesunął dostawę mojej pralki")
    assert (marta.author, marta.lang, marta.reach, marta.parent_id) == ("Marta 🌿", "pl", 28, None)
    assert (marta.created_at, marta.updated_at) == (
        at("2026-11-21T10:00:00.123000"),
        at("2026-11-21T10:00:02.345000"),
    )
    reply = stored["at://did:plc:t0mhardy9k2m4n6p8r1s3u5w/app.bsky.feed.post/3lbqxx3rfal2b"]
    assert reply.parent_id == "at://did:plc:sk13ptest0wy2a4c6e8g0i2k/app.bsky.feed.post/3lbpz2yq5cs2k"
    assert (reply.lang, reply.author) == ("en", "Tom Whitfield")
    no_handle = stored["at://did:plc:g0n3acc0unt5x7z9b1d3f5h7/app.bsky.feed.post/3lbmb7e2cvk2h"]
    assert no_handle.url == "https://bsky.app/profile/did:plc:g0n3acc0unt5x7z9b1d3f5h7/post/3lbmb7e2cvk2h"
    nameless = stored["at://did:plc:p10trkow4lsk1b3d5f7h9j1l/app.bsky.feed.post/3lbo5ttc2oc2e"]
    assert nameless.author == "piotrk.bsky.social"  # empty displayName: the handle
    mark = at("2026-11-21T10:00:02.345000")
    assert source_watermark(db_url, "bluesky", SKLEP) == mark
    assert source_watermark(db_url, "bluesky", DOMAIN) == mark  # the skipped duplicate counts as read

    # Later: one new post, and Marta's post rewritten in place (same uri, new cid and text, re-indexed).
    # The first keyword's page also holds a post from before `since` and a cursor: paging stops there.
    replay.reset()
    replay.route(SESSION, served("session.json"))
    replay.route(SEARCH, served("search_sklep_rerun.json"), q="Sklep Testowy", cursor=None)
    replay.route(SEARCH, served("search_domain_rerun.json"), q="sklep-testowy.pl", cursor=None)

    second = crawl(settings, tmp_path, spider="bluesky")

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        1,
        1,
        0,
        0,
    )
    assert s.requests == 3
    assert [
        (p["q"], p["since"], p.get("cursor")) for p in sorted(searches(replay), key=lambda p: p["q"])
    ] == [
        ("Sklep Testowy", "2026-11-21T09:00:02.345Z", None),  # the watermark minus the 1 h lookback
        ("sklep-testowy.pl", "2026-11-21T09:00:02.345Z", None),
    ]
    stored = mentions(db_url)
    assert len(stored) == 7
    rewritten = stored[MARTA]
    assert rewritten.version == 2 and rewritten.text.endswith(
        "Aktualizacja: zadzwonili, pralka będzie jutro."
    )
    assert rewritten.updated_at == at("2026-11-21T11:45:00") and rewritten.reach == 35
    assert rewritten.raw is not None and rewritten.raw["cid"] != marta.raw["cid"]  # type: ignore[index]
    [old] = revisions(db_url, MARTA)
    assert old.version == 1 and "Aktualizacja" not in old.text
    assert source_watermark(db_url, "bluesky", SKLEP) == at("2026-11-21T12:30:00.100000")
    assert_no_leak(db_url, (PASSWORD, ACCESS), first.log, second.log)


def test_a_429_waits_for_retry_after_or_until_ratelimit_reset(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = bluesky_settings(
        sqlite_url, replay.base_url, [Target(name=TARGET, keywords=["Sklep Testowy"])]
    )
    told = {"Retry-After": "1", "RateLimit-Remaining": "0", "RateLimit-Reset": "{epoch+30}"}
    limited = {
        "RateLimit-Limit": "3000",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "{epoch+2}",  # epoch seconds, 1 to 2 s after the reply
        "RateLimit-Policy": "3000;w=300",
    }
    replay.route(SESSION, served("session.json"))
    replay.route(
        SEARCH,
        served("error_429.json", status=429, headers=told),  # Retry-After beats the reset
        served("error_429.json", status=429, headers=limited),
        served("search_sklep_page2.json"),
    )

    result = crawl(settings, tmp_path, spider="bluesky")

    told_429, reset_429, page = replay.requests_for(SEARCH)
    assert 0.95 <= reset_429.at - told_429.at < 5
    assert page.at - reset_429.at >= 0.95
    assert (
        result.stats["earshot/ratelimit/count"] == 2 and result.stats["earshot/ratelimit/delay_seconds"] > 1.9
    )
    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 2, 4, 0)


def test_malformed_bodies_and_bad_posts_fail_alone(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    targets = [
        Target(name=TARGET, keywords=["Sklep Testowy", "sklep-testowy.pl"]),
        Target(name=OTHER, keywords=["Elektro-Dom"]),
    ]
    replay.route(SESSION, served("session.json"))
    replay.route(SEARCH, served("malformed_maintenance.html"), q="Sklep Testowy")
    replay.route(SEARCH, served("malformed_timeline.json"), q="sklep-testowy.pl")
    replay.route(SEARCH, served("search_bad_records.json"), q="Elektro-Dom")

    result = crawl(bluesky_settings(sqlite_url, replay.base_url, targets), tmp_path, spider="bluesky")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.items_rejected, s.requests, s.errors) == ("finished", 1, 2, 4, 2)
    assert result.stats["earshot/malformed_responses"] == 2 and result.stats["earshot/scopes_failed"] == 2
    assert result.stats["earshot/items_rejected/bad_timestamp"] == 1
    assert result.stats["earshot/items_rejected/missing_external_id"] == 1
    assert [m.author for m in mentions(sqlite_url).values()] == ["piotrk.bsky.social"]
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert f"{SKLEP}: malformed response for page 1: body is not JSON" in messages
    assert (
        f"{DOMAIN}: malformed response for page 1: no 'posts' list in the response (cursor, feed)" in messages
    )
    assert source_watermark(sqlite_url, "bluesky", SKLEP) is None
    assert source_watermark(sqlite_url, "bluesky", f"{OTHER}|q=Elektro-Dom") == at(
        "2026-11-21T13:10:01.300000"
    )


def test_a_refused_login_ends_the_run_after_one_request(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = bluesky_settings(
        sqlite_url, replay.base_url, [Target(name=TARGET, keywords=["Sklep Testowy", "sklep-testowy.pl"])]
    )
    replay.route(SESSION, served("error_401_session.json", status=401))

    result = crawl(settings, tmp_path, spider="bluesky")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("auth_failed", 0, 1)
    assert len(replay.requests) == 1 and "retry/count" not in result.stats
    [message] = result.stats["earshot/error_messages"]
    assert (
        "HTTP 401 AuthenticationRequired: Invalid identifier or password (the login was refused: check"
        in message
    )
    assert "EARSHOT_SOURCES__BLUESKY__IDENTIFIER and EARSHOT_SOURCES__BLUESKY__APP_PASSWORD" in message
    assert_no_leak(sqlite_url, (PASSWORD, ACCESS), result.log)
