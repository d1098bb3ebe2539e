"""The bundled demo Google Business Profile source speaks the real API formats on loopback."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.config import EarshotSettings
from monitor.demo_source import DEFAULT_ACCESS_TOKEN, DemoSource
from spiders.google_business_reviews import parse_reviews_page, review_to_item
from spiders.items import to_mention_in


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoSource]:
    with DemoSource() as source:
        yield source


def _get(demo: DemoSource, path: str, token: str | None = DEFAULT_ACCESS_TOKEN) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(demo.base_url + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _reviews_path(demo: DemoSource, location: str) -> str:
    return f"/v4/accounts/{demo.account_id}/locations/{location}/reviews"


def test_pages_follow_next_page_token_newest_first(demo: DemoSource) -> None:
    location = demo.location_ids[0]
    seen: list[dict[str, Any]] = []
    token = ""
    for _ in range(10):
        status, body = _get(
            demo, f"{_reviews_path(demo, location)}?pageSize=4&orderBy=updateTime%20desc{token}"
        )
        assert status == 200
        page = parse_reviews_page(json.dumps(body).encode(), first_page=not seen)
        seen.extend(page.reviews)
        if not page.next_page_token:
            break
        token = f"&pageToken={page.next_page_token}"
    assert len(seen) == body["totalReviewCount"] == 9
    assert len({r["reviewId"] for r in seen}) == 9
    times = [r["updateTime"] for r in seen]
    assert times == sorted(times, reverse=True)


def test_every_demo_review_is_valid(demo: DemoSource) -> None:
    mentions = []
    for location in demo.location_ids:
        status, body = _get(demo, _reviews_path(demo, location))
        assert status == 200 and "nextPageToken" not in body
        scope = f"accounts/{demo.account_id}/locations/{location}"
        mentions += [
            to_mention_in(review_to_item(r, scope=scope, target="Demo", base_url=demo.base_url))
            for r in body["reviews"]
        ]
    assert len(mentions) == 12
    negative = [m for m in mentions if m.rating is not None and m.rating <= 2]
    assert len(negative) >= 5 and any(m.reply_text for m in mentions)
    texts = " ".join(m.text for m in mentions)
    assert "UOKiK" in texts and "chargeback" in texts and "refund" in texts
    newest = max(m.updated_at for m in mentions if m.updated_at)
    assert timedelta(minutes=80) < datetime.now(UTC) - newest < timedelta(minutes=100)  # shifted to "now"
    assert not any("(Translated by Google)" in m.text for m in mentions)


def test_single_review_resource(demo: DemoSource) -> None:
    _, body = _get(demo, _reviews_path(demo, demo.location_ids[1]))
    review = body["reviews"][0]
    status, fetched = _get(demo, f"/v4/{review['name']}")
    assert (status, fetched) == (200, review)


@pytest.mark.parametrize(
    ("path_suffix", "token", "status", "google_status"),
    [
        ("", None, 401, "UNAUTHENTICATED"),
        ("", "wrong", 401, "UNAUTHENTICATED"),
        ("?pageSize=51", DEFAULT_ACCESS_TOKEN, 400, "INVALID_ARGUMENT"),
        ("?pageToken=bm9wZQ", DEFAULT_ACCESS_TOKEN, 400, "INVALID_ARGUMENT"),
        ("?orderBy=updateTime", DEFAULT_ACCESS_TOKEN, 400, "INVALID_ARGUMENT"),
    ],
)
def test_errors_use_googles_format(
    demo: DemoSource, path_suffix: str, token: str | None, status: int, google_status: str
) -> None:
    code, body = _get(demo, _reviews_path(demo, demo.location_ids[0]) + path_suffix, token)
    assert code == status and body["error"]["status"] == google_status and body["error"]["code"] == status


def test_unknown_location_is_not_found(demo: DemoSource) -> None:
    code, body = _get(demo, _reviews_path(demo, "404404"))
    assert (code, body["error"]["status"]) == (404, "NOT_FOUND")


def test_configure_points_settings_at_the_demo(demo: DemoSource) -> None:
    settings = demo.configure(EarshotSettings(database_url="sqlite://"), target_name="Sklep Demo")
    google = settings.sources.google_business
    assert google.base_url == demo.base_url
    assert google.access_token is not None and google.access_token.get_secret_value() == DEFAULT_ACCESS_TOKEN
    assert [(t.name, t.google_account_id, t.google_location_ids) for t in settings.targets] == [
        ("Sklep Demo", demo.account_id, demo.location_ids)
    ]
    assert demo.token.get_secret_value() == DEFAULT_ACCESS_TOKEN


def test_unshifted_data_keeps_the_bundled_times() -> None:
    source = DemoSource(shift_to_now=False)
    with pytest.raises(RuntimeError, match="not started"):
        _ = source.base_url
    with source:
        status, body = _get(source, _reviews_path(source, source.location_ids[0]) + "?pageSize=1")
    assert status == 200 and body["reviews"][0]["updateTime"] == "2026-11-23T18:42:11.204519337Z"


# -- the other demo sites: each speaks its source's format, read here with the source's own parser -----


def _fetch(demo: DemoSource, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(demo.base_url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def test_google_alerts_feeds_read_like_real_ones(demo: DemoSource) -> None:
    from spiders.feeds import parse_feed

    entries = []
    for url in demo.target().feeds:
        status, body, headers = _fetch(demo, url.removeprefix(demo.base_url))
        assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
        feed = parse_feed(body, url)
        assert feed.kind == "atom" and feed.title.startswith("Alert Google")
        entries += feed.entries
        # A feed host answers a conditional GET with 304 when nothing changed since.
        assert (
            _fetch(demo, url.removeprefix(demo.base_url), {"If-Modified-Since": headers["Last-Modified"]})[0]
            == 304
        )
        older = "Mon, 01 Jan 2024 00:00:00 GMT"
        assert _fetch(demo, url.removeprefix(demo.base_url), {"If-Modified-Since": older})[0] == 200
    assert len(entries) == 6 and len({e.external_id for e in entries}) == 6
    assert all(e.link and "google.com" not in e.link for e in entries), (
        "Google's redirect links are unwrapped"
    )
    assert all("<b>" not in e.title for e in entries) and any("UOKiK" in e.text for e in entries)
    newest = max(e.changed_at for e in entries if e.changed_at)
    assert timedelta(minutes=80) < datetime.now(UTC) - newest < timedelta(minutes=100)


def test_ceneo_pages_parse_and_page_through_the_next_link(demo: DemoSource) -> None:
    from spiders.spiders.ceneo import parse_opinions_page

    seen: dict[str, list[Any]] = {}
    for path in demo.target().ceneo_urls:
        url, first = demo.base_url + path, True
        while url:
            status, body, _ = _fetch(demo, url.removeprefix(demo.base_url))
            assert status == 200
            page = parse_opinions_page(body.decode("utf-8"), url, first_page=first)
            seen.setdefault(path, []).extend(page.opinions)
            url, first = page.next_url or "", False
    shop, product = seen["/sklepy/dobrakuchnia.pl-s48213"], seen["/153904817"]
    assert (len(shop), len(product)) == (11, 4)
    opinions = shop + product
    assert len({o.entry_id for o in opinions}) == 15
    assert all(isinstance(o.score, float) and 0 < o.score <= 5 for o in opinions)
    assert {o.recommendation for o in opinions} == {"Polecam", "Nie polecam", None}
    assert any(o.score == 4.5 for o in opinions) and any(o.cons for o in opinions)
    times = [o.published for o in shop if o.published]
    assert times == sorted(times, reverse=True), "newest first, as on Ceneo"
    assert _fetch(demo, "/sklepy/dobrakuchnia.pl-s48213/opinie-3")[0] == 404


def _search(site: Any, **params: Any) -> dict[str, Any]:
    from monitor.demo_data.site import DemoRequest

    return site.search(DemoRequest("/api/v1/search_by_date", {k: [str(v)] for k, v in params.items()}, {}))


@given(
    lower_hours=st.integers(min_value=0, max_value=24 * 20), per_page=st.integers(min_value=1, max_value=7)
)
@settings(max_examples=60, deadline=None)
def test_hacker_news_search_pages_through_exactly_the_matching_hits(lower_hours: int, per_page: int) -> None:
    from monitor.demo_data.hackernews import HackerNewsSite

    site = HackerNewsSite.load(token="", shift_to_now=True)
    lower = int((datetime.now(UTC) - timedelta(hours=lower_hours)).timestamp())
    query = {"query": "DobraKuchnia", "tags": "(story,comment)", "numericFilters": f"created_at_i>{lower}"}
    first = _search(site, **query, hitsPerPage=per_page, page=0)
    hits = [
        h
        for page in range(first["nbPages"])
        for h in _search(site, **query, hitsPerPage=per_page, page=page)["hits"]
    ]
    expected = [h for h in site.hits if h["created_at_i"] > lower and "dobrakuchnia" in json.dumps(h).lower()]
    assert [h["objectID"] for h in hits] == [h["objectID"] for h in expected]
    assert first["nbHits"] == len(expected) and len(hits) <= 5
    stamps = [h["created_at_i"] for h in hits]
    assert stamps == sorted(stamps, reverse=True)


def test_hacker_news_hits_are_valid_mentions(demo: DemoSource) -> None:
    from spiders.spiders.hackernews import hit_to_item, parse_search_page

    status, body, _ = _fetch(demo, "/api/v1/search_by_date?query=DobraKuchnia&tags=comment&hitsPerPage=50")
    page = parse_search_page(body)
    assert status == 200 and page.nb_hits == 3 and all("comment" in h["_tags"] for h in page.hits)
    mentions = [
        to_mention_in(hit_to_item(h, scope="hackernews:DobraKuchnia", target="Demo")) for h in page.hits
    ]
    assert all(m.parent_id and m.author and "DobraKuchnia" in m.text for m in mentions)
    status, body, _ = _fetch(demo, "/api/v1/search_by_date?query=x&numericFilters=created_at_i%3Dabc")
    assert status == 400 and "numericFilters" in json.loads(body)["message"]


def test_mastodon_tag_timeline_pages_by_link_header_and_search_needs_the_token(demo: DemoSource) -> None:
    ids: list[str] = []
    path = "/api/v1/timelines/tag/dobrakuchnia?limit=1"
    while path:
        status, body, headers = _fetch(demo, path)
        page = json.loads(body)
        assert status == 200
        if not page:
            break
        ids += [s["id"] for s in page]
        assert all(any(t["name"] == "dobrakuchnia" for t in s["tags"]) for s in page)
        next_link = re.search(r'<([^>]+)>; rel="next"', headers["Link"])
        path = next_link.group(1).removeprefix(demo.base_url) if next_link else ""
    assert len(ids) == 3 and ids == sorted(ids, key=int, reverse=True), "each status once, newest first"
    _, body, _ = _fetch(demo, f"/api/v1/timelines/tag/dobrakuchnia?since_id={ids[1]}")
    assert [s["id"] for s in json.loads(body)] == [ids[0]]

    search = "/api/v2/search?q=DobraKuchnia&type=statuses&resolve=false&limit=40"
    assert json.loads(_fetch(demo, search)[1])["statuses"] == []  # status search needs a signed-in user
    assert _fetch(demo, search, {"Authorization": "Bearer wrong"})[0] == 401
    status, body, _ = _fetch(demo, search, {"Authorization": f"Bearer {DEFAULT_ACCESS_TOKEN}"})
    statuses = json.loads(body)["statuses"]
    assert status == 200 and len(statuses) == 4
    assert {s["language"] for s in statuses} == {"pl", "en"} and all(s["account"]["acct"] for s in statuses)


def test_configure_points_every_source_at_the_demo(demo: DemoSource) -> None:
    settings = demo.configure(EarshotSettings(database_url="sqlite://"))
    for name in demo.sources:
        assert getattr(settings.sources, name).base_url == demo.base_url
    assert settings.sources.mastodon.credential("access_token") == DEFAULT_ACCESS_TOKEN
    [target] = settings.targets
    assert (target.keywords, target.hashtags) == (["DobraKuchnia"], ["dobrakuchnia"])
    assert len(target.feeds) == 2 and len(target.ceneo_urls) == 2
