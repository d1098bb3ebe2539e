"""The demo's second act: ``DemoSource.advance()`` serves new activity that the next incremental crawl finds.

Google: a burst of bad reviews about a courier breakdown (one by an author who complained before) and an
edited review; Mastodon: a reply in the thread of an earlier complaint. Checked over HTTP as the spiders
read it, and by crawling the demo before and after with the real spiders into SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.config import EarshotSettings
from monitor.demo_data.google_business import GoogleBusinessSite
from monitor.demo_data.mastodon import MastodonSite
from monitor.demo_data.site import DATA_DIR, DemoRequest
from monitor.demo_source import DEFAULT_ACCESS_TOKEN, SITES, DemoSource
from sentiment.language import detect_language
from sentiment.textfold import fold
from tests.spiders.conftest import crawl, mentions, revisions

NOW = datetime.now(UTC).replace(microsecond=0)  # renewed before each test (the demo shifts to the real now)
SHOP, PICKUP = "5730512841", "5730512842"  # the online shop (Poznań) and the pickup point (Warsaw)
EDITED = "AbFvOqr6YdP1sNv8bKe3Gu0Tw9Hm4F"  # Piotr Kamiński's 2★ review about a refund, edited to 1★
DELIVERY_WORDS = ("kurier", "paczk", "dostaw", "przesylk", "courier", "deliver", "parcel")


def _get(src: DemoSource, path: str, token: str | None = DEFAULT_ACCESS_TOKEN) -> Any:
    request = urllib.request.Request(src.base_url + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _reviews(src: DemoSource, location: str) -> list[dict[str, Any]]:
    body = _get(src, f"/v4/accounts/{src.account_id}/locations/{location}/reviews?pageSize=50")
    reviews: list[dict[str, Any]] = body["reviews"]
    assert body["totalReviewCount"] == len(reviews)
    return reviews


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.fixture(autouse=True)
def _now_is_now() -> None:
    """The demo's act one ends 90 minutes before the real now, so "later" must be the real now too."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def demo() -> Iterator[DemoSource]:
    with DemoSource() as src:
        yield src


def test_advance_adds_a_delivery_storm_a_repeat_complaint_and_an_edit(demo: DemoSource) -> None:
    before = {loc: _reviews(demo, loc) for loc in demo.location_ids}
    act_one_newest = max(_when(r["updateTime"]) for reviews in before.values() for r in reviews)

    assert demo.advance(NOW) == {
        "google_business": 11,
        "rss": 0,
        "hackernews": 0,
        "ceneo": 0,
        "mastodon": 1,
    }

    shop = _reviews(demo, SHOP)
    assert _reviews(demo, PICKUP) == before[PICKUP], "the pickup point has no news"
    assert len(shop) == len(before[SHOP]) + 10
    # Newest edit first: the 10 new reviews and the edit lead the list, above everything act one served.
    times = [_when(r["updateTime"]) for r in shop]
    assert times == sorted(times, reverse=True)
    fresh = [r for r in shop if _when(r["updateTime"]) > act_one_newest]
    assert len(fresh) == 11 and fresh == shop[:11]

    new = [r for r in fresh if r["reviewId"] != EDITED]
    created = sorted(_when(r["createTime"]) for r in new)
    assert all(_when(r["updateTime"]) == _when(r["createTime"]) for r in new)
    assert NOW - timedelta(minutes=50) <= created[0] and created[-1] <= NOW - timedelta(minutes=5)
    assert all(b - a >= timedelta(minutes=4) for a, b in pairwise(created)), "spaced"
    assert {r["starRating"] for r in new} <= {"ONE", "TWO"}
    authors = [r["reviewer"]["displayName"] for r in new]
    assert len(set(authors)) == 10
    assert Counter(detect_language(r["comment"]) for r in new) == {"pl": 8, "en": 2}
    assert all(any(w in fold(r["comment"]) for w in DELIVERY_WORDS) for r in new), "about the courier"
    assert all(r["name"].endswith(f"/locations/{SHOP}/reviews/{r['reviewId']}") for r in new)

    # One author complains again: a 1★ reviewer of act one (at the pickup point; Google keeps one review
    # per person and place) now reviews the shop.
    act_one_low = {r["reviewer"]["displayName"] for r in before[PICKUP] if r["starRating"] == "ONE"}
    assert act_one_low & set(authors) == {"Krzysztof Lewandowski"}

    # The edit: same review and createTime, new text and rating, updateTime 10 minutes ago.
    [old] = [r for r in before[SHOP] if r["reviewId"] == EDITED]
    [edited] = [r for r in shop if r["reviewId"] == EDITED]
    assert (old["starRating"], edited["starRating"]) == ("TWO", "ONE")
    assert edited["createTime"] == old["createTime"] and edited["comment"] != old["comment"]
    assert _when(edited["updateTime"]) == NOW - timedelta(minutes=10)
    assert edited["comment"].startswith("Aktualizacja") and "zwrotu" in edited["comment"]
    assert _get(demo, f"/v4/{edited['name']}") == edited

    # Advancing again adds nothing: the second act happens once.
    assert set(demo.advance(NOW + timedelta(hours=1)).values()) == {0}
    assert _reviews(demo, SHOP) == shop


def test_mastodon_reply_joins_the_thread_of_an_earlier_complaint(demo: DemoSource) -> None:
    tag_path = "/api/v1/timelines/tag/dobrakuchnia?limit=40"
    search_path = "/api/v2/search?q=DobraKuchnia&type=statuses&resolve=false&limit=40"
    before = _get(demo, tag_path)
    [parent] = [s for s in before if s["account"]["username"] == "kasia_z_krakowa"]
    newest = before[0]["id"]

    demo.advance(NOW)

    # Incremental reads (since_id on the hashtag, min_id on the search) find only the reply.
    [reply] = _get(demo, f"{tag_path}&since_id={newest}")
    assert [s["id"] for s in _get(demo, f"{search_path}&min_id={newest}")["statuses"]] == [reply["id"]]
    assert reply["in_reply_to_id"] == parent["id"]
    assert reply["in_reply_to_account_id"] == parent["account"]["id"]
    assert [m["acct"] for m in reply["mentions"]] == ["kasia_z_krakowa"]
    assert reply["account"]["username"] != "kasia_z_krakowa"
    assert _when(reply["created_at"].replace("Z", "+00:00")) == NOW - timedelta(minutes=15)
    assert int(reply["id"]) > int(newest), "snowflake ids follow creation time"
    assert "DobraKuchnia.pl" in reply["content"] and reply["language"] == "pl"
    [parent_now] = [s for s in _get(demo, tag_path) if s["id"] == parent["id"]]
    assert parent_now["replies_count"] == parent["replies_count"] + 1


def test_advance_defaults_to_the_clock_and_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        DemoSource(sources=["mastodon"]).advance(datetime(2026, 11, 24, 12, 0))
    src = DemoSource(sources=["google_business"])
    t0 = datetime.now(UTC)
    assert src.advance() == {"google_business": 11}
    newest = _when(src._google().locations[SHOP][0]["updateTime"])
    assert t0 - timedelta(minutes=6) <= newest <= datetime.now(UTC) - timedelta(minutes=5)


def test_a_site_without_later_data_or_a_wrong_reference_is_reported(tmp_path: Path) -> None:
    data = json.loads((DATA_DIR / "google_business_reviews.json").read_text(encoding="utf-8"))
    plain = {k: v for k, v in data.items() if k != "later"}
    (tmp_path / "plain.json").write_text(json.dumps(plain), encoding="utf-8")
    assert DemoSource(tmp_path / "plain.json", sources=["google_business"]).advance(NOW) == {
        "google_business": 0
    }
    data["later"]["edits"][0]["reviewId"] = "no-such-review"
    (tmp_path / "bad.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="no-such-review"):
        DemoSource(tmp_path / "bad.json", sources=["google_business"]).advance(NOW)


@given(
    minutes_later=st.integers(min_value=0, max_value=60 * 24 * 30),
    page_size=st.integers(min_value=1, max_value=50),
)
@settings(max_examples=40, deadline=None)
def test_paging_down_to_the_act_one_watermark_reads_exactly_the_changes(
    minutes_later: int, page_size: int
) -> None:
    """Whenever the second act happens, and whatever the page size, reading newest-edit first down to
    act one's newest review (the spider's watermark) yields the 10 new reviews and the edit, each once."""
    site = GoogleBusinessSite.load(token="t", shift_to_now=True)
    watermark = max(_when(r["updateTime"]) for r in site.locations[SHOP])
    site.advance(datetime.now(UTC) + timedelta(minutes=minutes_later))
    match = site.routes()[0][0].fullmatch(f"/v4/accounts/{site.account_id}/locations/{SHOP}/reviews")
    assert match is not None
    read: list[str] = []
    token = ""
    while True:
        query = {"pageSize": [str(page_size)], "pageToken": [token]}
        body = site._list_body(DemoRequest("", query, {"authorization": "Bearer t"}), match)
        page = body.get("reviews", [])
        newer = [r for r in page if _when(r["updateTime"]) > watermark]
        read += [r["reviewId"] for r in newer]
        if len(newer) < len(page) or "nextPageToken" not in body:
            break
        token = body["nextPageToken"]
    assert len(read) == len(set(read)) == 11 and EDITED in read


def test_every_site_can_be_advanced() -> None:
    for name in SITES:
        site = DemoSource(sources=[name]).sites[name]
        assert site.advance(NOW) >= 0 and site.advance(NOW) == 0
    assert MastodonSite.load(token="t", shift_to_now=False).advance(NOW) == 1


# -- crawling: act one, advance, act two -----------------------------------------------------------------


def test_a_crawl_after_advance_stores_the_news_the_edit_and_the_thread_reply(
    db_url: str, tmp_path: Path
) -> None:
    with DemoSource(sources=["google_business", "mastodon"]) as src:
        cfg = src.configure(EarshotSettings(database_url=db_url), target_name="DobraKuchnia.pl")
        for spider in ("google_business", "mastodon"):
            assert crawl(cfg, tmp_path, spider).summary.finish_reason == "finished"
        act_one = mentions(db_url)
        src.advance()
        google = crawl(cfg, tmp_path, "google_business").summary
        mastodon = crawl(cfg, tmp_path, "mastodon").summary

    assert (google.items_new, google.items_updated, google.errors) == (10, 1, 0)
    assert (mastodon.items_new, mastodon.items_updated, mastodon.errors) == (1, 0, 0)
    stored = mentions(db_url)
    new = {k: m for k, m in stored.items() if k not in act_one}
    assert len(new) == 11

    # The edit is version 2 of the same mention; version 1 is kept as a revision.
    edited = stored[EDITED]
    assert (edited.version, edited.rating, edited.id) == (2, 1, act_one[EDITED].id)
    assert edited.text.startswith("Aktualizacja")
    [revision] = revisions(db_url, EDITED)
    assert (revision.version, revision.rating, revision.text) == (1, 2, act_one[EDITED].text)

    reviews = [m for m in new.values() if m.source == "google_business"]
    assert len(reviews) == 10 and all(m.rating is not None and m.rating <= 2 for m in reviews)
    earlier = {m.author for m in act_one.values() if m.source == "google_business" and m.rating == 1}
    assert {m.author for m in reviews} & earlier == {"Krzysztof Lewandowski"}

    # The reply keeps its parent: Mastodon gives the instance's id of the parent status (in_reply_to_id),
    # which is the tail of the parent's ActivityPub uri (its external id) on this instance.
    [reply] = [m for m in new.values() if m.source == "mastodon"]
    [parent] = [m for m in act_one.values() if m.author == "Kasia"]
    assert reply.parent_id is not None and parent.raw is not None
    assert reply.parent_id == parent.raw["id"]
    assert parent.external_id.endswith(f"/statuses/{reply.parent_id}")
    assert reply.author == "Tomek w kuchni" and "DobraKuchnia.pl" in reply.text
