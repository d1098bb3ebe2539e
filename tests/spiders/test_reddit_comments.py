"""Reddit comments of the watched subreddits: the Listing of ``/r/{sub}/comments``, filtered by keywords.

Parsing and paging are tested on the recorded pages directly (a spider on a test crawler, fed
``TextResponse`` objects); one crawl replays the same pages on loopback, as the scheduler runs it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from alerts.rules import keyword_matcher
from monitor.core.config import EarshotSettings, Target
from spiders.errors import MalformedResponse
from spiders.items import MentionItem, to_mention_in
from spiders.spiders.reddit import (
    CommentScope,
    RedditSearchSpider,
    comment_scope,
    parse_comment_page,
    thing_to_item,
)
from tests.spiders.conftest import crawl, mentions, source_watermark
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import SPIDER_FIXTURES, ReplayServer, Reply

FIXTURES = SPIDER_FIXTURES / "reddit"
OTHER = "Elektro-Dom"
KEYWORDS = ["Elektro-Dom", "elektrodom"]
SCOPE = comment_scope(OTHER, "Polska")
SECRET = "TESTsecret-reddit-comments-3e1a"
ACCESS = "TEST-reddit-app-token-91c2"  # part of the token in token.json
TOKEN_PATH = "/api/v1/access_token"
COMMENTS = "/r/Polska/comments"


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC)


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def reddit_settings(base_url: str, comment_pages: int = 3, db_url: str = "sqlite://") -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=[Target(name=OTHER, keywords=KEYWORDS, subreddits=["r/Polska", "Polska"])],
        sources={
            "reddit": {
                "base_url": base_url,
                "auth_url": base_url,
                "client_id": "TESTclientId-7Qx2",
                "client_secret": SECRET,
                "user_agent": "python:earshot-tests:0.1 (by /u/earshot_ci)",
                "comment_pages": comment_pages,
            }
        },
    )


# -- parsing ------------------------------------------------------------------------------------------


def test_a_comments_page_is_read_newest_first_with_its_after() -> None:
    page = parse_comment_page(body("comments_polska_page1.json"))
    assert page.after == "t1_m0a0003"
    assert [(c.name, c.created, c.removed) for c in page.comments] == [
        ("t1_m0a0005", at("2026-11-21T10:00:00"), False),
        ("t1_m0a0004", at("2026-11-21T09:30:00"), False),
        ("t1_m0a0003", at("2026-11-21T09:00:00"), True),  # [deleted]
    ]
    assert [c.removed for c in parse_comment_page(body("comments_polska_page2.json")).comments] == [
        True,  # [removed]
        False,
        False,
    ]
    assert parse_comment_page(body("empty_listing.json")).comments == []


def test_a_comment_becomes_a_mention_of_its_thread() -> None:
    [comment, *_] = parse_comment_page(body("comments_polska_page1.json")).comments
    item = thing_to_item(comment.thing, scope=SCOPE, target=OTHER)
    mention = to_mention_in(item)
    assert (mention.external_id, mention.parent_id, mention.author) == (
        "t1_m0a0005",
        "t3_1h2f00a",  # the thread (link_id), not the parent comment
        "pralkowy_wojownik",
    )
    assert mention.url == (
        "https://www.reddit.com/r/Polska/comments/1h2f00a/gdzie_kupić_pralkę_przed_świętami/m0a0005/"
    )
    assert mention.text.startswith("Tylko nie w Elektro-Domu.")
    assert mention.reach == 14 and mention.created_at == at("2026-11-21T10:00:00")


def _listing(*children: Any) -> bytes:
    return json.dumps({"kind": "Listing", "data": {"after": None, "children": list(children)}}).encode()


GOOD = json.loads(body("comments_polska_page1.json"))["data"]["children"][0]


def _without(key: str) -> dict[str, Any]:
    return {"kind": "t1", "data": {k: v for k, v in GOOD["data"].items() if k != key}}


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (body("comments_bad_child.json"), "child 1 is not a comment .kind 'more'"),
        (_listing(GOOD, "t1_x"), "child 1 is not a comment .kind 'str'"),
        (_listing({"kind": "t3", "data": {}}), "child 0 is not a comment .kind 't3'"),
        (_listing({"kind": "t1", "data": []}), "comment 0 has no 'data' object"),
        (_listing(_without("name")), "comment 0 has no t1_ fullname"),
        (_listing({"kind": "t1", "data": {**GOOD["data"], "name": "t3_1h2f00a"}}), "no t1_ fullname"),
        (_listing(_without("created_utc")), "no readable 'created_utc'"),
        (_listing({"kind": "t1", "data": {**GOOD["data"], "body": None}}), "no 'body' text"),
        (body("malformed_comments_page.json"), "expected a JSON object, got list"),
        (body("malformed_maintenance.html"), "not JSON"),
    ],
)
def test_a_malformed_comments_page_is_refused(page: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_comment_page(page)


# -- one spider, fed pages ----------------------------------------------------------------------------


def comments_spider(comment_pages: int = 3, watermark: datetime | None = None) -> RedditSearchSpider:
    settings = reddit_settings("https://oauth.reddit.test", comment_pages)
    crawler = get_crawler(RedditSearchSpider, settings_dict={"EARSHOT_SETTINGS": settings})
    spider = RedditSearchSpider.from_crawler(crawler)
    spider.scopes = {s.scope: s for s in spider.plan_scopes()}
    if SCOPE in spider.scopes:
        spider.scopes[SCOPE].watermark = watermark
    spider.login_token = "TEST-token"
    return spider


def state_of(spider: RedditSearchSpider) -> CommentScope:
    state = spider.scopes[SCOPE]
    assert isinstance(state, CommentScope)
    return state


def feed(spider: RedditSearchSpider, name: str) -> tuple[list[str], list[str | None]]:
    """The external ids the page yields, and the ``after`` of each next-page request."""
    response = TextResponse(f"https://oauth.reddit.test{COMMENTS}", body=body(name), encoding="utf-8")
    out = list(spider.parse_comments(response, scope=SCOPE))
    items = [o["external_id"] for o in out if isinstance(o, MentionItem)]
    requests = [o for o in out if isinstance(o, Request)]
    for request in requests:
        assert urlsplit(request.url).path == COMMENTS
        assert request.headers.get("Authorization") == b"bearer TEST-token"
    return items, [parse_qs(urlsplit(r.url).query).get("after", [None])[-1] for r in requests]


def stat(spider: RedditSearchSpider, key: str) -> Any:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_value(f"earshot/reddit/{key}", 0)


def test_one_comments_scope_per_watched_subreddit_with_the_alert_rules_matcher() -> None:
    spider = comments_spider()
    [state] = [s for s in spider.scopes.values() if isinstance(s, CommentScope)]  # r/Polska given twice
    assert (state.scope, state.subreddit, state.target) == (SCOPE, "Polska", OTHER)
    assert state.matcher == keyword_matcher(tuple(KEYWORDS))  # the very rule an alert would apply
    assert not [s for s in comments_spider(0).scopes.values() if isinstance(s, CommentScope)]


def test_matching_comments_are_kept_and_paging_follows_after_to_the_end() -> None:
    spider = comments_spider()
    assert feed(spider, "comments_polska_page1.json") == (["t1_m0a0005"], ["t1_m0a0003"])
    assert feed(spider, "comments_polska_page2.json") == (["t1_m0a0001"], [])  # no after: the end
    state = state_of(spider)
    assert state.done and state.yielded == 2
    assert state.newest == at("2026-11-21T10:00:00")  # the newest comment seen moves the watermark
    assert (stat(spider, "comments_seen"), stat(spider, "comments_matched")) == (6, 2)
    assert stat(spider, "comments_removed") == 2  # [deleted] and [removed]: skipped, not rejected
    assert spider.crawler.stats is not None
    assert spider.crawler.stats.get_value("earshot/items_rejected", 0) == 0


def test_paging_stops_at_the_watermark_although_the_listing_offers_an_after() -> None:
    spider = comments_spider(watermark=at("2026-11-21T10:00:00"))
    assert feed(spider, "comments_polska_rerun.json") == (["t1_m0a0007"], [])
    state = state_of(spider)
    assert state.done and state.newest == at("2026-11-22T09:00:00")
    assert (stat(spider, "comments_seen"), stat(spider, "comments_matched")) == (2, 1)


def test_a_watermark_the_pages_never_reach_only_on_a_first_run_ends_the_scope() -> None:
    first = comments_spider(comment_pages=1)
    assert feed(first, "comments_polska_page1.json") == (["t1_m0a0005"], [])
    assert state_of(first).done  # a first run reads the newest pages only
    later = comments_spider(comment_pages=1, watermark=at("2026-11-20T00:00:00"))
    assert feed(later, "comments_polska_page1.json") == (["t1_m0a0005"], [])
    assert state_of(later).truncated and not state_of(later).done  # the watermark stays


def test_a_malformed_child_fails_the_scope_before_any_comment_is_kept() -> None:
    spider = comments_spider()
    assert feed(spider, "comments_bad_child.json") == ([], [])
    assert state_of(spider).failed and stat(spider, "comments_seen") == 0
    assert spider.crawler.stats is not None
    assert spider.crawler.stats.get_value("earshot/malformed_responses") == 1


# -- a crawl on loopback ------------------------------------------------------------------------------


def served(name: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.recorded("reddit", name, 200, headers)


def test_a_crawl_reads_new_comments_to_the_watermark_and_keeps_the_matching_ones(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = reddit_settings(replay.base_url, db_url=sqlite_url)
    nearly_spent = {"X-Ratelimit-Used": "997", "X-Ratelimit-Remaining": "3.0", "X-Ratelimit-Reset": "1"}
    replay.route(TOKEN_PATH, served("token.json"))
    replay.route("/r/Polska/search", served("empty_listing.json"))
    replay.route(COMMENTS, served("comments_polska_page1.json", nearly_spent), after=None)
    replay.route(COMMENTS, served("comments_polska_page2.json"), after="t1_m0a0003")

    first = crawl(settings, tmp_path, spider="reddit")

    s = first.summary
    assert (s.finish_reason, s.items_new, s.items_rejected, s.errors, s.requests) == ("finished", 2, 0, 0, 5)
    assert first.stats["earshot/reddit/comments_seen"] == 6
    assert first.stats["earshot/reddit/comments_matched"] == 2
    assert first.stats["earshot/reddit/comments_removed"] == 2
    page1, page2 = replay.requests_for(COMMENTS)
    assert {k: v[-1] for k, v in page1.query.items()} == {"limit": "100", "raw_json": "1"}
    assert page2.query["after"] == ["t1_m0a0003"]
    assert page2.at - page1.at >= 0.95  # 3 requests left in Reddit's window: paused until its reset
    assert first.stats["earshot/ratelimit/paused"] == 1
    headers = {k.lower(): v for k, v in page1.headers.items()}
    assert headers["authorization"].startswith("bearer eyJ") and headers["authorization"].endswith(ACCESS)
    stored = mentions(sqlite_url)
    assert list(stored) == ["t1_m0a0005", "t1_m0a0001"]
    assert stored["t1_m0a0001"].parent_id == "t3_1h2e77b"
    assert source_watermark(sqlite_url, "reddit", SCOPE) == at("2026-11-21T10:00:00")

    replay.reset()
    replay.route(TOKEN_PATH, served("token.json"))
    replay.route("/r/Polska/search", served("empty_listing.json"))
    replay.route(COMMENTS, served("comments_polska_rerun.json"), after=None)

    second = crawl(settings, tmp_path, spider="reddit")

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_unchanged, s.errors) == ("finished", 1, 0, 0)
    assert len(replay.requests_for(COMMENTS)) == 1  # stopped at the watermark: its "after" is not read
    assert list(mentions(sqlite_url)) == ["t1_m0a0005", "t1_m0a0001", "t1_m0a0007"]
    assert source_watermark(sqlite_url, "reddit", SCOPE) == at("2026-11-22T09:00:00")
    assert_no_leak(sqlite_url, (SECRET, ACCESS), first.log, second.log)
