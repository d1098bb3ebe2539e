"""The bundled demo Google Business Profile source speaks the real API formats on loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import EarshotSettings
from monitor.demo_source import DEFAULT_ACCESS_TOKEN, DemoSource
from spiders.items import to_mention_in
from spiders.spiders.google_business import parse_reviews_page, review_to_item


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
