"""End-to-end crawls of the mastodon spider against recorded Mastodon API responses on loopback.

Every crawl runs in a child process through ``run_crawl``, as the scheduler runs it. ``Link`` headers name
the replay server through the ``{base}`` placeholder, filled in when the reply is served.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from monitor.core.config import EarshotSettings, Target
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import SPIDER_FIXTURES, ReplayServer, Reply

TOKEN = "TEST-mastodon-token-Zx81qP"  # distinctive, so a leak into logs or the database is easy to find
OTHER = "Elektro-Dom"
TAG = "/api/v1/timelines/tag/skleptestowy"
SEARCH = "/api/v2/search"
HASHTAG_SCOPE = f"{TARGET}|#skleptestowy"
SEARCH_SCOPE = f"{TARGET}|q=Sklep Testowy"
# Mastodon's snowflake for 2026-11-20T09:15:00Z (the watermark 09:15 on the 21st minus the 24 h
# lookback): (1795166100 * 1000) << 16, minus one so that a status at that very millisecond is included.
BOUND = "117648005529599999"
SEARCH_BOUND = "117644997427199999"  # the search's watermark is 20:30 on the 20th: 2026-11-19T20:30:00Z
S2_URI = "https://101010.pl/users/kuba/statuses/117650659737604103"


def ids(name: str) -> list[str]:
    return [status["id"] for status in json.loads((SPIDER_FIXTURES / "mastodon" / name).read_text())]


S1, S2, S3 = ids("tag_page1.json")
[S4] = ids("tag_page2.json")
S8 = ids("tag_rerun.json")[0]


def mastodon_settings(db_url: str, base_url: str, targets: list[Target]) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=targets,
        sources={"mastodon": {"base_url": base_url, "access_token": TOKEN}},
    )


def served(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    kind = {"Content-Type": "text/html; charset=utf-8"} if name.endswith(".html") else {}
    return Reply.recorded("mastodon", name, status, {**kind, **(headers or {})})


def link(next_max_id: str, prev_min_id: str, path: str = TAG, host: str = "{base}") -> dict[str, str]:
    """The Link header Mastodon sends with a non-empty timeline page."""
    return {
        "Link": f'<{host}{path}?limit=40&max_id={next_max_id}>; rel="next", '
        f'<{host}{path}?limit=40&min_id={prev_min_id}>; rel="prev"'
    }


def params(replay: ReplayServer, path: str) -> list[dict[str, str]]:
    return [{k: v[-1] for k, v in r.query.items()} for r in replay.requests_for(path)]


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC)


def test_first_run_pages_then_rerun_reads_only_the_window_since_the_watermark(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = mastodon_settings(
        db_url, replay.base_url, [Target(name=TARGET, hashtags=["#SklepTestowy"], keywords=["Sklep Testowy"])]
    )
    replay.route(TAG, served("tag_page1.json", headers=link(S3, S1)), max_id=None, since_id=None)
    replay.route(TAG, served("tag_page2.json", headers=link(S4, S4)), max_id=S3)
    replay.route(TAG, served("empty_array.json"), max_id=S4)
    replay.route(SEARCH, served("search_sklep.json"), q="Sklep Testowy", offset=None)
    replay.route(SEARCH, served("search_empty.json"), q="Sklep Testowy", offset="40")

    first = crawl(settings, tmp_path, spider="mastodon")

    s = first.summary
    # Six statuses; the one in the hashtag and in the search is handed on once.
    assert (s.finish_reason, s.items_new, s.items_unchanged, s.items_rejected, s.errors) == (
        "finished",
        5,
        0,
        0,
        0,
    )
    assert first.stats["earshot/mastodon/duplicates_skipped"] == 1
    assert s.requests == 5
    assert params(replay, TAG) == [
        {"limit": "40"},
        {"limit": "40", "max_id": S3},
        {"limit": "40", "max_id": S4},
    ]
    assert params(replay, SEARCH) == [
        {"q": "Sklep Testowy", "type": "statuses", "resolve": "false", "limit": "40"},
        {"q": "Sklep Testowy", "type": "statuses", "resolve": "false", "limit": "40", "offset": "40"},
    ]
    headers = {k.lower(): v for k, v in replay.requests[0].headers.items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    stored = mentions(db_url)
    assert len(stored) == 5
    complaint = stored[S2_URI]  # keyed by the ActivityPub uri, not this instance's id
    assert complaint.text == (
        "Sklep Testowy od 3 tygodni nie oddaje mi pieniędzy za zwrócony odkurzacz. Infolinia: „proszę czekać”. "
        "#SklepTestowy #reklamacja"
    )
    assert complaint.url == "https://101010.pl/@kuba/117650659737604103"
    assert (complaint.author, complaint.lang, complaint.reach) == ("Kuba Nowak", "pl", 1480)
    assert complaint.created_at == complaint.updated_at == at("2026-11-20T20:30:00")
    assert complaint.raw is not None and complaint.raw["id"] == S2
    warned = stored[f"https://mastodon.social/users/ania_kupuje/statuses/{S3}"]
    assert warned.text == (
        "reklamacja, długie\n\nOdpowiedź z czatu: zwrot „w ciągu 14 dni roboczych”.\n"
        "Czyli ile, skoro minęło już 20?\n#SklepTestowy"
    )
    assert warned.parent_id == "117648339763200002"
    english = stored["https://mastodon.online/users/dan/statuses/117642048307204097"]
    assert (english.lang, english.author, english.reach) == ("en", "Dan (he/him)", 95)
    link_text = stored["https://101010.pl/users/kuba/statuses/117649539072004101"].text
    assert "https://101010.pl/@kuba/113523" in link_text and "<" not in link_text
    assert source_watermark(db_url, "mastodon", HASHTAG_SCOPE) == at("2026-11-21T09:15:00")
    assert source_watermark(db_url, "mastodon", SEARCH_SCOPE) == at("2026-11-20T20:30:00")

    # Later: the hashtag has one new status and S3 edited; both scopes ask only for the window from the
    # watermark minus the lookback, and each reads that window to its (empty) end.
    replay.reset()
    replay.route(TAG, served("tag_rerun.json", headers=link(S3, S8)), max_id=None, since_id=BOUND)
    replay.route(TAG, served("empty_array.json"), max_id=S3, since_id=BOUND)
    replay.route(SEARCH, served("search_sklep.json"), q="Sklep Testowy", min_id=SEARCH_BOUND, offset=None)
    replay.route(SEARCH, served("search_empty.json"), q="Sklep Testowy", min_id=SEARCH_BOUND, offset="40")

    second = crawl(settings, tmp_path, spider="mastodon")

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        1,
        1,
        0,
        0,
    )
    assert s.requests == 4
    assert params(replay, TAG) == [
        {"limit": "40", "since_id": BOUND},
        {"limit": "40", "max_id": S3, "since_id": BOUND},  # Mastodon's next link, with the window kept
    ]
    assert [p.get("min_id") for p in params(replay, SEARCH)] == [SEARCH_BOUND, SEARCH_BOUND]
    stored = mentions(db_url)
    assert len(stored) == 6
    edited = stored[f"https://mastodon.social/users/ania_kupuje/statuses/{S3}"]
    assert edited.version == 2 and "EDIT: pieniądze wróciły 21.11" in edited.text
    assert edited.updated_at == at("2026-11-21T10:30:00")
    [old] = revisions(db_url, edited.external_id)
    assert "EDIT" not in old.text and old.text.startswith("reklamacja, długie")
    assert source_watermark(db_url, "mastodon", HASHTAG_SCOPE) == at("2026-11-21T12:00:00")
    assert_no_leak(db_url, (TOKEN,), first.log, second.log)


def test_a_429_waits_for_retry_after_or_until_x_ratelimit_reset(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = mastodon_settings(
        sqlite_url, replay.base_url, [Target(name=TARGET, hashtags=["skleptestowy"])]
    )
    told = {"Retry-After": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "{iso+30}"}
    limited = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "{iso+1}"}
    replay.route(
        TAG,
        served("error_429.json", status=429, headers=told),  # a proxy's Retry-After beats the reset
        served("error_429.json", status=429, headers=limited),  # Mastodon itself sends no Retry-After
        served("tag_page2.json", headers=link(S4, S4)),
        max_id=None,
    )
    replay.route(TAG, served("empty_array.json"), max_id=S4)

    result = crawl(settings, tmp_path, spider="mastodon")

    told_429, reset_429, page, _ = replay.requests
    assert 0.95 <= reset_429.at - told_429.at < 5
    assert page.at - reset_429.at >= 0.9
    assert (
        result.stats["earshot/ratelimit/count"] == 2 and result.stats["earshot/ratelimit/delay_seconds"] > 1.9
    )
    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 1, 4, 0)


def test_malformed_bodies_bad_statuses_and_a_foreign_next_link_fail_alone(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    targets = [
        Target(
            name=TARGET, hashtags=["SklepTestowy", "#ZakupyOnline", "allegro"], keywords=["Sklep Testowy"]
        ),
        Target(name=OTHER, keywords=["Elektro-Dom"]),
    ]
    settings = mastodon_settings(sqlite_url, replay.base_url, targets)
    allegro = "/api/v1/timelines/tag/allegro"
    replay.route(TAG, served("malformed_maintenance.html"))
    replay.route("/api/v1/timelines/tag/zakupyonline", served("search_sklep.json"))  # an object, not an array
    elsewhere = link("1", "2", path=allegro, host="https://evil.example.net")
    replay.route(allegro, served("tag_bad_records.json", headers=elsewhere))
    replay.route(SEARCH, served("tag_page2.json"), q="Sklep Testowy")  # an array, not a search result
    replay.route(SEARCH, served("search_elektrodom.json"), q="Elektro-Dom", offset=None)
    replay.route(SEARCH, served("search_empty.json"), q="Elektro-Dom", offset="40")

    result = crawl(settings, tmp_path, spider="mastodon")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.items_rejected, s.requests, s.errors) == ("finished", 2, 2, 6, 4)
    assert result.stats["earshot/malformed_responses"] == 3 and result.stats["earshot/scopes_failed"] == 4
    assert result.stats["earshot/items_rejected/bad_timestamp"] == 1  # created_at "wczoraj"
    assert result.stats["earshot/items_rejected/missing_external_id"] == 1  # no uri
    assert sorted(m.author or "" for m in mentions(sqlite_url).values()) == [
        "Kuba Nowak",
        "Sklep Testowy – obsługa klienta",
    ]
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert f"{HASHTAG_SCOPE}: malformed response for page 1: body is not JSON" in messages
    assert (
        f"{TARGET}|#zakupyonline: malformed response for page 1: expected a JSON array of statuses"
        in messages
    )
    assert (
        f"{SEARCH_SCOPE}: malformed response for page 1: expected a search result object, got list"
        in messages
    )
    assert f"{TARGET}|#allegro: refused to follow a Link to another host (evil.example.net)" in messages
    assert all("evil" not in r.path for r in replay.requests)
    assert source_watermark(sqlite_url, "mastodon", f"{TARGET}|#allegro") is None  # failed: read again
    assert source_watermark(sqlite_url, "mastodon", f"{OTHER}|q=Elektro-Dom") == at("2026-11-21T08:10:00")


def test_a_refused_token_ends_the_run_after_one_request(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = mastodon_settings(
        sqlite_url,
        replay.base_url,
        [Target(name=TARGET, hashtags=["SklepTestowy", "allegro"], keywords=["x"])],
    )
    for path in (TAG, "/api/v1/timelines/tag/allegro", SEARCH):
        replay.route(path, served("error_401.json", status=401))

    result = crawl(settings, tmp_path, spider="mastodon")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("auth_failed", 0, 1)
    assert len(replay.requests) == 1
    [message] = result.stats["earshot/error_messages"]
    assert "HTTP 401: The access token is invalid (the access token was refused: check " in message
    assert "EARSHOT_SOURCES__MASTODON__ACCESS_TOKEN" in message
    assert_no_leak(sqlite_url, (TOKEN,), result.log)
