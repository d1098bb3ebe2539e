"""End-to-end crawls of the reddit spider against recorded Reddit API responses on loopback.

Every crawl runs in a child process through ``run_crawl``, as the scheduler runs it; the token endpoint
and the API are the same replay server (``auth_url`` and ``base_url`` both point at it).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.core.config import EarshotSettings, Target
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import ReplayServer, Reply

CLIENT_ID = "TESTclientId-7Qx2"
SECRET = "TESTsecret-reddit-5b0e8f1d"  # distinctive, so a leak into logs or the database is easy to find
ACCESS = "TEST-reddit-app-token-91c2"  # part of the token in token.json
UA = "python:earshot-tests:0.1 (by /u/earshot_ci)"
OTHER = "Elektro-Dom"
SKLEP = f"{TARGET}|q=sklep testowy"
DOMAIN = f"{TARGET}|q=sklep-testowy.pl"
POLSKA = f"{OTHER}|r/Polska|q=Elektro-Dom"
TOKEN_PATH = "/api/v1/access_token"


def reddit_settings(
    db_url: str, base_url: str, targets: list[Target], secret: str = SECRET
) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=targets,
        sources={
            "reddit": {
                "base_url": base_url,
                "auth_url": base_url,
                "client_id": CLIENT_ID,
                "client_secret": secret,
                "user_agent": UA,
                "comment_pages": 0,  # these runs are about search; tests/spiders/test_reddit_comments.py reads comments
            }
        },
    )


def served(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    kind = {"Content-Type": "text/html; charset=utf-8"} if name.endswith(".html") else {}
    return Reply.recorded("reddit", name, status, {**kind, **(headers or {})})


def searches(replay: ReplayServer) -> list[tuple[str, str, str]]:
    """(path, q, after or "") of every search request, in order."""
    return [
        (r.path, r.query["q"][-1], r.query.get("after", [""])[-1])
        for r in replay.requests
        if r.path != TOKEN_PATH
    ]


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC)


def test_first_run_pages_then_rerun_reads_only_new_and_edited_records(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    targets = [
        Target(name=TARGET, keywords=["sklep testowy", "sklep-testowy.pl"]),
        Target(name=OTHER, keywords=["Elektro-Dom"], subreddits=["r/Polska"]),
    ]
    settings = reddit_settings(db_url, replay.base_url, targets)
    replay.route(TOKEN_PATH, served("token.json"))
    replay.route("/search", served("search_sklep_page1.json"), q="sklep testowy", after=None)
    replay.route("/search", served("search_sklep_page2.json"), q="sklep testowy", after="t3_1h27f0c")
    replay.route("/search", served("search_domain.json"), q="sklep-testowy.pl")
    replay.route("/r/Polska/search", served("search_polska_elektrodom.json"), q="Elektro-Dom")

    first = crawl(settings, tmp_path, spider="reddit")

    s = first.summary
    # 9 records; the post found by both keywords is handed on once.
    assert (s.finish_reason, s.items_new, s.items_unchanged, s.items_rejected, s.errors) == (
        "finished",
        8,
        0,
        0,
        0,
    )
    assert first.stats["earshot/reddit/duplicates_skipped"] == 1
    assert s.requests == 5
    [token] = replay.posts
    assert token.body == b"grant_type=client_credentials"
    token_headers = {k.lower(): v for k, v in token.headers.items()}
    assert (
        token_headers["authorization"]
        == "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    )
    assert token_headers["user-agent"] == UA
    assert sorted(searches(replay)) == [
        ("/r/Polska/search", "Elektro-Dom", ""),
        ("/search", "sklep testowy", ""),
        ("/search", "sklep testowy", "t3_1h27f0c"),
        ("/search", "sklep-testowy.pl", ""),
    ]
    search = next(r for r in replay.requests if r.path == "/r/Polska/search")
    headers = {k.lower(): v for k, v in search.headers.items()}
    assert headers["authorization"].startswith("bearer eyJ") and headers["authorization"].endswith(ACCESS)
    assert headers["user-agent"] == UA
    assert {k: v[-1] for k, v in search.query.items()} == {
        "q": "Elektro-Dom",
        "restrict_sr": "1",
        "sort": "new",
        "type": "link,comment",
        "limit": "100",
        "raw_json": "1",
    }
    stored = mentions(db_url)
    assert len(stored) == 8
    post = stored["t3_1h2k9qa"]
    assert post.text.startswith("Sklep Testowy – zwrot pieniędzy trwa już 3 tygodnie\n\nOdesłałem odkurzacz")
    assert post.url == (
        "https://www.reddit.com/r/Polska/comments/1h2k9qa/sklep_testowy_zwrot_pieniędzy_trwa_już_3_tygodnie/"
    )
    assert (post.author, post.reach, post.parent_id, post.lang) == ("kaczy_dziob_77", 57, None, None)
    assert post.created_at == post.updated_at == at("2026-11-20T18:00:00")
    assert post.raw is not None and post.raw["subreddit_subscribers"] == 612345
    comment = stored["t1_lzp2d7e"]
    assert comment.text.startswith("Elektro-Dom w Krakowie na Zakopiance")
    assert (comment.parent_id, comment.reach) == ("t3_1gzz0aa", 2)  # the thread, not the parent comment
    assert stored["t3_1h2a1bc"].target_id != post.target_id  # each target keeps its own mentions
    assert source_watermark(db_url, "reddit", SKLEP) == at("2026-11-20T18:00:00")
    # The duplicate still counts as read for the scope that skipped it.
    assert source_watermark(db_url, "reddit", DOMAIN) == at("2026-11-20T18:00:00")
    assert source_watermark(db_url, "reddit", POLSKA) == at("2026-11-20T15:30:00")

    # Later: one new post, one post edited (created within the lookback, edited after the watermark),
    # and records read before, down to one older than the lookback: paging stops there although the
    # listing offers an "after".
    replay.reset()
    replay.route(TOKEN_PATH, served("token.json"))
    replay.route("/search", served("search_sklep_rerun.json"), q="sklep testowy", after=None)
    replay.route("/search", served("search_domain.json"), q="sklep-testowy.pl")
    replay.route("/r/Polska/search", served("empty_listing.json"), q="Elektro-Dom")

    second = crawl(settings, tmp_path, spider="reddit")

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        1,
        1,
        0,
        0,
    )
    assert s.requests == 4
    assert sorted(searches(replay)) == [
        ("/r/Polska/search", "Elektro-Dom", ""),
        ("/search", "sklep testowy", ""),
        ("/search", "sklep-testowy.pl", ""),
    ]
    stored = mentions(db_url)
    assert len(stored) == 9
    assert stored["t3_1h3c5de"].text.startswith("Sklep Testowy – paczka zaginęła")
    edited = stored["t3_1h27f0c"]
    assert edited.version == 2 and edited.text.endswith("wszystko OK. Dzięki za odpowiedzi!")
    assert (edited.created_at, edited.updated_at, edited.reach) == (
        at("2026-11-20T12:00:00"),
        at("2026-11-21T08:00:00"),
        19,
    )
    [old] = revisions(db_url, "t3_1h27f0c")
    assert old.version == 1 and "EDIT" not in old.text and old.text.startswith("Czy ktoś zamawiał")
    assert "t3_1gy8b2c" not in stored  # older than the lookback: never handed on
    assert source_watermark(db_url, "reddit", SKLEP) == at("2026-11-21T09:00:00")
    assert source_watermark(db_url, "reddit", POLSKA) == at("2026-11-20T15:30:00")
    assert_no_leak(db_url, (SECRET, ACCESS), first.log, second.log)


def test_a_429_waits_for_retry_after_or_the_reset_and_low_remaining_quota_pauses_paging(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = reddit_settings(sqlite_url, replay.base_url, [Target(name=TARGET, keywords=["sklep testowy"])])
    told = {"Retry-After": "1", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "30"}
    limited = {"X-Ratelimit-Used": "1000", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "1"}
    nearly_spent = {"X-Ratelimit-Used": "997", "X-Ratelimit-Remaining": "3.0", "X-Ratelimit-Reset": "1"}
    replay.route(TOKEN_PATH, served("token.json"))
    replay.route(
        "/search",
        served("error_429.json", status=429, headers=told),  # Retry-After beats the window's reset
        served("error_429.json", status=429, headers=limited),  # no Retry-After: Reddit's reset counts
        served("search_sklep_page1.json", headers=nearly_spent),
        q="sklep testowy",
        after=None,
    )
    replay.route("/search", served("search_sklep_page2.json"), q="sklep testowy", after="t3_1h27f0c")

    result = crawl(settings, tmp_path, spider="reddit")

    told_429, reset_429, page1, page2 = [r for r in replay.requests if r.path == "/search"]
    assert 0.95 <= reset_429.at - told_429.at < 5  # waited Retry-After's 1 s, not the reset's 30 s
    assert page1.at - reset_429.at >= 0.95  # waited for X-Ratelimit-Reset
    assert page2.at - page1.at >= 0.95  # 3 requests left: paused until the window resets
    assert page2.query["after"] == ["t3_1h27f0c"]
    stats: dict[str, Any] = result.stats
    assert stats["earshot/ratelimit/count"] == 2 and stats["earshot/ratelimit/delay_seconds"] == 2.0
    assert stats["earshot/ratelimit/paused"] == 1 and stats["earshot/ratelimit/pause_seconds"] > 0.9
    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 5, 5, 0)


def test_malformed_bodies_bad_records_and_a_private_subreddit_fail_alone(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    targets = [
        Target(name=TARGET, keywords=["sklep testowy", "sklep-testowy.pl", "Sklep Testowy opinie"]),
        Target(name=OTHER, keywords=["Elektro-Dom"], subreddits=["PolskaPrywatna"]),
    ]
    settings = reddit_settings(sqlite_url, replay.base_url, targets)
    replay.route(TOKEN_PATH, served("token.json"))
    replay.route("/search", served("malformed_maintenance.html"), q="sklep testowy")
    replay.route("/search", served("malformed_comments_page.json"), q="sklep-testowy.pl")
    replay.route("/search", served("search_bad_records.json"), q="Sklep Testowy opinie")
    replay.route("/r/PolskaPrywatna/search", served("error_403_private.json", status=403), q="Elektro-Dom")

    result = crawl(settings, tmp_path, spider="reddit")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests, s.errors) == ("finished", 1, 5, 3)
    assert result.stats["earshot/malformed_responses"] == 2 and result.stats["earshot/scopes_failed"] == 3
    # A removed post and a record without created_utc are refused by the spider, one without a fullname
    # by validation; each is counted by reason and the good comment next to them is stored.
    assert s.items_rejected == 3
    for reason in ("removed", "bad_timestamp", "missing_external_id"):
        assert result.stats[f"earshot/items_rejected/{reason}"] == 1
    assert list(mentions(sqlite_url)) == ["t1_lzr7t3k"]
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert f"{SKLEP}: malformed response for page 1: body is not JSON" in messages
    assert f"{DOMAIN}: malformed response for page 1: expected a JSON object, got list" in messages
    assert (
        f"{OTHER}|r/PolskaPrywatna|q=Elektro-Dom: HTTP 403 private: Forbidden (the subreddit is private or "
        "quarantined; remove it from the target's subreddits)" in messages
    )
    assert len(replay.requests_for("/r/PolskaPrywatna/search")) == 1  # 403 is not retried
    assert source_watermark(sqlite_url, "reddit", SKLEP) is None
    assert source_watermark(sqlite_url, "reddit", f"{TARGET}|q=Sklep Testowy opinie") == at(
        "2026-11-21T11:20:00"
    )


def test_refused_app_credentials_end_the_run_after_one_request(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = reddit_settings(
        sqlite_url, replay.base_url, [Target(name=TARGET, keywords=["sklep testowy", "sklep-testowy.pl"])]
    )
    replay.route(TOKEN_PATH, served("error_401_token.json", status=401))

    result = crawl(settings, tmp_path, spider="reddit")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("auth_failed", 0, 1)
    assert len(replay.requests) == 1 and "retry/count" not in result.stats
    [message] = result.stats["earshot/error_messages"]
    assert "HTTP 401: Unauthorized (the app's credentials were refused: check" in message
    assert "EARSHOT_SOURCES__REDDIT__CLIENT_ID and EARSHOT_SOURCES__REDDIT__CLIENT_SECRET" in message
    assert_no_leak(sqlite_url, (SECRET, ACCESS), result.log)
