"""End-to-end crawls of the rss spider against recorded feeds on a loopback server.

Feeds have no paging (a feed is one document), so there is no paging test. The spider obeys robots.txt,
so every crawl also asks the server for /robots.txt (the replay server answers 404: no rules).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.core.config import EarshotSettings, Target
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.replay_server import ReplayServer, Reply

ALERT = "/alerts/feeds/05212345678901234567/1234567890123456789"
ALERT_DOMAIN = "/alerts/feeds/05212345678901234567/9876543210987654321"
TALKWALKER = "/alerts/rss/TESTALERTKEY0001"
BLOG = "/feed/atom/"
ATOM_TYPE = {"Content-Type": "application/atom+xml; charset=utf-8"}
RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
FORUM = "https://forum.example.pl/t/zwrot-pieniedzy-sklep-testowy/8812"
BLOG_POST = "https://blog.sklep-testowy.example.pl/?p=412"


def rss_settings(db_url: str, base_url: str, feeds: list[str], **section: Any) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=[Target(name=TARGET, feeds=feeds)],
        sources={"rss": {"base_url": base_url + "/", **section}},
    )


def feed(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    kind = RSS_TYPE if name.endswith(".rss") else ATOM_TYPE
    return Reply.recorded("rss", name, status, {**kind, **(headers or {})})


def feed_requests(replay: ReplayServer) -> list[str]:
    return sorted(r.path for r in replay.requests if r.path != "/robots.txt")


def mark(db_url: str, base_url: str, path: str) -> datetime | None:
    return source_watermark(db_url, "rss", base_url + path)


def test_first_run_then_rerun_reads_only_new_and_updated_entries(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    base = replay.base_url
    # Absolute URLs and one path relative to sources.rss.base_url (a self-hosted feed service).
    settings = rss_settings(
        db_url, base, [base + ALERT, base + ALERT_DOMAIN, base + TALKWALKER, "feed/atom/"]
    )
    replay.add(ALERT, feed("alert_sklep.atom"))
    replay.add(ALERT_DOMAIN, feed("alert_domain.atom"))
    replay.add(TALKWALKER, feed("talkwalker.rss"))
    replay.add(BLOG, feed("blog.atom"))

    first = crawl(settings, tmp_path, spider="rss")

    s = first.summary
    # 10 entries: the forum thread found by both alerts is one mention; the id-less Talkwalker item is rejected.
    assert (s.finish_reason, s.items_new, s.items_unchanged, s.items_rejected, s.errors) == (
        "finished",
        8,
        1,
        1,
        0,
    )
    assert first.stats["earshot/items_rejected/missing_external_id"] == 1
    assert feed_requests(replay) == sorted([ALERT, ALERT_DOMAIN, TALKWALKER, BLOG])
    assert [r.path for r in replay.requests].count("/robots.txt") == 1
    assert s.requests == 5
    request = next(r for r in replay.requests if r.path == ALERT)
    assert "application/atom+xml" in request.headers["Accept"]
    assert "If-Modified-Since" not in request.headers
    stored = mentions(db_url)
    assert len(stored) == 8
    forum = stored[FORUM]  # Google Alerts: unwrapped link as id and url
    assert forum.url == FORUM
    assert forum.text.startswith("Zwrot pieniędzy – Sklep Testowy milczy od miesiąca\n\nOdesłałem odkurzacz")
    assert (forum.author, forum.lang) == (None, None)
    assert forum.raw is not None and "www.google.com/url?" in forum.raw["xml"]
    assert "https://kupony.example.pl/sklep-testowy" in stored
    review = stored["talkwalker:5f1e3c7a9b2d4e60"]
    assert review.url == "https://www.reviewblog.example.com/2026/11/sklep-testowy-review"
    assert review.author == "Hannah Brooks"
    assert "trackView" not in review.text and "<" not in review.text
    assert review.text.endswith("Returning it, however, took six weeks & four emails.")
    assert stored["talkwalker:8a0c2b6d1e7f3a91"].created_at == datetime(2026, 11, 10, 20, 5, tzinfo=UTC)
    post = stored[BLOG_POST]
    assert (post.author, post.lang) == ("Zespół Obsługi Klienta", "pl")
    assert post.text == (
        "Opóźnienia w dostawach – wyjaśniamy\n\n"
        "W listopadzie część paczek dociera z opóźnieniem do\xa03 dni.\n"
        "Przepraszamy – każdy klient dostanie kod rabatowy."
    ).replace("\xa0", " ")
    assert stored["https://blog.sklep-testowy.example.pl/?p=398"].url == (
        "https://blog.sklep-testowy.example.pl/2026/10/jak-zwrocic-towar/"  # resolved against xml:base
    )
    assert all("<b>" not in m.text and "&nbsp;" not in m.text for m in stored.values())
    assert mark(db_url, base, ALERT) == datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
    assert mark(db_url, base, ALERT_DOMAIN) == datetime(2026, 11, 9, 18, tzinfo=UTC)
    assert mark(db_url, base, TALKWALKER) == datetime(2026, 11, 11, 16, 45, tzinfo=UTC)
    assert mark(db_url, base, BLOG) == datetime(2026, 11, 6, 9, tzinfo=UTC)

    # Later: the alert has one new entry, the domain alert nothing (304), Talkwalker the same items,
    # and the blog one new post and post ?p=412 edited (newer <updated>).
    replay.reset()
    replay.add(ALERT, feed("alert_sklep_rerun.atom"))
    replay.add(ALERT_DOMAIN, Reply(304, b"", {}))
    replay.add(TALKWALKER, feed("talkwalker.rss"))
    replay.add(BLOG, feed("blog_rerun.atom"))

    second = crawl(settings, tmp_path, spider="rss")

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.items_rejected, s.errors) == (
        "finished",
        2,
        1,
        0,
        0,
        0,
    )
    assert second.stats["earshot/rss/not_modified"] == 1
    conditional = next(r for r in replay.requests if r.path == ALERT_DOMAIN)
    assert conditional.headers["If-Modified-Since"] == "Sun, 08 Nov 2026 18:00:00 GMT"  # watermark - 24 h
    stored = mentions(db_url)
    assert len(stored) == 10
    assert "https://www.prawokonsumenta.example.pl/uokik-sklep-testowy" in stored
    edited = stored[BLOG_POST]
    assert edited.version == 2 and edited.text.startswith(
        "Opóźnienia w dostawach – wyjaśniamy\n\nAktualizacja 12.11:"
    )
    assert edited.updated_at == datetime(2026, 11, 12, 15, 20, tzinfo=UTC)
    [old] = revisions(db_url, BLOG_POST)
    assert "dociera z opóźnieniem" in old.text
    assert mark(db_url, base, ALERT) == datetime(2026, 11, 12, 7, tzinfo=UTC)
    assert mark(db_url, base, ALERT_DOMAIN) == datetime(2026, 11, 9, 18, tzinfo=UTC)  # 304: unchanged
    assert mark(db_url, base, BLOG) == datetime(2026, 11, 13, 8, 15, tzinfo=UTC)


def test_rate_limited_feed_is_fetched_after_retry_after(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = rss_settings(sqlite_url, replay.base_url, [ALERT.lstrip("/")])
    replay.add(
        ALERT,
        Reply(429, b"Too Many Requests", {"Content-Type": "text/plain", "Retry-After": "1"}),
        feed("alert_sklep.atom"),
    )

    result = crawl(settings, tmp_path, spider="rss")

    first, second = (r for r in replay.requests if r.path == ALERT)
    assert second.at - first.at >= 0.95
    assert result.stats["earshot/ratelimit/count"] == 1 and "retry/count" not in result.stats
    s = result.summary
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", 3, 0)


def test_malformed_and_hostile_feeds_are_refused_and_the_others_read(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    bad = {
        "/cut.rss": "malformed_truncated.rss",
        "/page.html": "not_a_feed.html",
        "/bomb.xml": "billion_laughs.xml",
        "/xxe.xml": "external_entity.xml",
    }
    settings = rss_settings(sqlite_url, replay.base_url, [p.lstrip("/") for p in [*bad, BLOG]])
    for path, name in bad.items():
        replay.add(path, feed(name))
    replay.add(BLOG, feed("blog.atom"))

    result = crawl(settings, tmp_path, spider="rss")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", 2, 4)
    assert result.stats["earshot/malformed_responses"] == 4
    assert result.stats["earshot/rss/feed_errors/hostile_xml"] == 2
    assert result.stats["earshot/rss/feed_errors/not_xml"] == 2
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert "/bomb.xml: malformed feed: refused XML with EntitiesForbidden" in messages
    assert "/xxe.xml: malformed feed: refused XML with EntitiesForbidden" in messages
    assert "/cut.rss: malformed feed: body is not well-formed XML" in messages
    assert set(mentions(sqlite_url)) == {BLOG_POST, "https://blog.sklep-testowy.example.pl/?p=398"}
    for path in bad:
        assert mark(sqlite_url, replay.base_url, path) is None
    assert mark(sqlite_url, replay.base_url, BLOG) == datetime(2026, 11, 6, 9, tzinfo=UTC)


def test_refused_feeds_fail_alone_with_a_hint_and_are_not_retried(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = rss_settings(
        sqlite_url, replay.base_url, ["private/feed.xml", "members/feed.xml", BLOG.lstrip("/")]
    )
    html = {"Content-Type": "text/html; charset=utf-8"}
    replay.add("/private/feed.xml", Reply.recorded("rss", "error_403.html", 403, html))
    replay.add(
        "/members/feed.xml", Reply(401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="members"'})
    )
    replay.add(BLOG, feed("blog.atom"))

    result = crawl(settings, tmp_path, spider="rss")

    s = result.summary
    # A feed has no Earshot credential to revoke: one refusing site must not stop the other feeds.
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", 2, 2)
    assert feed_requests(replay) == sorted(["/private/feed.xml", "/members/feed.xml", BLOG])
    assert "retry/count" not in result.stats
    assert result.stats["earshot/api_errors/403"] == 1 and result.stats["earshot/api_errors/401"] == 1
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert (
        "/private/feed.xml: HTTP 403: 403 Forbidden Forbidden You don't have permission to access this "
        "resource." in messages
    )
    assert "(the site refuses the request (a private feed, or it blocks bots))" in messages
    assert "/members/feed.xml: HTTP 401: Unauthorized (the feed needs a login" in messages


def test_robots_txt_is_obeyed(sqlite_url: str, replay: ReplayServer, tmp_path: Path) -> None:
    settings = rss_settings(sqlite_url, replay.base_url, ["private/feed.xml", BLOG.lstrip("/")])
    replay.add(
        "/robots.txt", Reply(200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"})
    )
    replay.add("/private/feed.xml", feed("alert_sklep.atom"))
    replay.add(BLOG, feed("blog.atom"))

    result = crawl(settings, tmp_path, spider="rss")

    assert feed_requests(replay) == [BLOG]  # the disallowed feed was never fetched
    assert result.summary.items_new == 2
    assert result.stats["earshot/requests_ignored"] == 1
    assert any(
        "/private/feed.xml: request not sent: Forbidden by robots.txt" in m
        for m in result.stats["earshot/error_messages"]
    )


def test_a_feed_over_the_per_feed_limit_is_read_oldest_first_over_several_runs(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = rss_settings(sqlite_url, replay.base_url, [BLOG.lstrip("/")], max_items_per_feed=2)
    replay.add(BLOG, feed("blog_rerun.atom"))

    first = crawl(settings, tmp_path, spider="rss")

    assert first.summary.items_new == 2 and first.stats["earshot/rss/entries_deferred"] == 1
    assert set(mentions(sqlite_url)) == {BLOG_POST, "https://blog.sklep-testowy.example.pl/?p=398"}
    assert mark(sqlite_url, replay.base_url, BLOG) == datetime(2026, 11, 12, 15, 20, tzinfo=UTC)

    second = crawl(settings, tmp_path, spider="rss")

    assert (second.summary.items_new, second.summary.items_unchanged) == (1, 0)
    assert "https://blog.sklep-testowy.example.pl/?p=420" in mentions(sqlite_url)
    assert mark(sqlite_url, replay.base_url, BLOG) == datetime(2026, 11, 13, 8, 15, tzinfo=UTC)
