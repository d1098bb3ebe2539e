"""End-to-end crawls of the ceneo spider against recorded opinion pages on a loopback server.

Ceneo is a website: every crawl also asks for /robots.txt, which the replay server serves, and the
request counts below include it. Crawls run in a child process through ``run_crawl``, as the scheduler
runs them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.core.config import EarshotSettings, Target
from spiders.settings import USER_AGENT
from tests.spiders.conftest import TARGET, crawl, mentions, revisions, source_watermark
from tests.spiders.replay_server import ReplayServer, Reply

PRODUCT = "/142071337"
PRODUCT_PAGE2 = "/142071337/opinie-2"
SHOP = "/sklepy/sklep-testowy.pl-s40321"
EMPTY = "/158830021"
GONE = "/139999001"
BLOCKED = "/142071337;szukaj-odkurzacz"
HTML = {"Content-Type": "text/html; charset=utf-8"}
PRODUCT_NEWEST = datetime(2026, 11, 8, 20, 14, 9, tzinfo=UTC)  # 21:14:09 in Warsaw (CET)
SHOP_NEWEST = datetime(2026, 11, 10, 8, 12, tzinfo=UTC)


def ceneo_settings(db_url: str, base_url: str, urls: list[str], **section: Any) -> EarshotSettings:
    return EarshotSettings(
        database_url=db_url,
        targets=[Target(name=TARGET, ceneo_urls=urls)],
        sources={"ceneo": {"base_url": base_url, **section}},
    )


def page(name: str, status: int = 200) -> Reply:
    return Reply.recorded("ceneo", name, status, HTML)


def serve_robots(replay: ReplayServer, body: bytes | None = None) -> None:
    reply = (
        Reply(200, body, {"Content-Type": "text/plain"}) if body else Reply.recorded("ceneo", "robots.txt")
    )
    replay.add("/robots.txt", reply)


def page_requests(replay: ReplayServer) -> list[str]:
    return [r.path for r in replay.requests if r.path != "/robots.txt"]


def test_first_run_pages_back_and_rerun_stops_at_the_watermark(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    # A product as a path, and the shop as a full URL with Ceneo's #tab=reviews fragment.
    settings = ceneo_settings(db_url, replay.base_url, [PRODUCT, f"{replay.base_url}{SHOP}#tab=reviews"])
    serve_robots(replay)
    replay.add(PRODUCT, page("product_page1.html"))
    replay.add(PRODUCT_PAGE2, page("product_page2.html"))
    replay.add(SHOP, page("shop_page1.html"))

    first = crawl(settings, tmp_path, spider="ceneo")

    s = first.summary
    # 6 product opinions on two pages (a seventh block has no data-entry-id) and 3 shop opinions.
    assert (s.finish_reason, s.items_new, s.items_rejected, s.errors) == ("finished", 9, 1, 0)
    assert first.stats["earshot/items_rejected/missing_external_id"] == 1
    assert sorted(page_requests(replay)) == sorted([PRODUCT, PRODUCT_PAGE2, SHOP])
    assert s.requests == 4  # robots.txt once, three pages
    request = next(r for r in replay.requests if r.path == PRODUCT)
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept-Language"].startswith("pl")
    stored = mentions(db_url)
    assert len(stored) == 9
    marta = stored["18734021"]
    assert (marta.author, marta.rating, marta.reach, marta.lang) == ("Marta K.", 4.5, 14, None)
    assert marta.text == (
        "Odkurzacz kupiony w Sklepie Testowym, kurier dowiózł go na drugi dzień.\n"
        "Po dwóch tygodniach: ssie bardzo dobrze, bateria wystarcza na całe mieszkanie (70 m²).\n\n"
        "Zalety: cichy, długo trzyma bateria\nWady: mały pojemnik na kurz"
    )
    assert marta.created_at == marta.updated_at == PRODUCT_NEWEST
    assert marta.url == f"{replay.base_url}{PRODUCT}#tab=reviews"
    assert marta.raw is not None
    assert (marta.raw["verified_purchase"], marta.raw["unhelpful"], marta.raw["recommendation"]) == (
        True,
        2,
        "Polecam",
    )
    assert marta.raw["purchased_at"] == "2026-10-30T11:02:44+00:00"
    assert stored["18540990"].rating == 0.5
    assert stored["18540990"].created_at == datetime(2026, 7, 15, 8, tzinfo=UTC)  # 10:00 CEST
    assert stored["18729655"].text.endswith(
        "reklamacji & zwrotu.\n\nWady: obsługa reklamacji, brak kontaktu ze sklepem"
    )
    assert stored["31870055"].rating == 2.0 and stored["31870055"].reach == 4
    assert source_watermark(db_url, "ceneo", PRODUCT) == PRODUCT_NEWEST
    assert source_watermark(db_url, "ceneo", SHOP) == SHOP_NEWEST

    # Later: two new opinions on page 1, 18734021 edited, 18729655 has more votes; page 2 is not read.
    replay.reset()
    serve_robots(replay)
    replay.add(PRODUCT, page("product_page1_rerun.html"))
    replay.add(PRODUCT_PAGE2, page("product_page2.html"))
    replay.add(SHOP, page("shop_page1.html"))

    second = crawl(settings, tmp_path, spider="ceneo")

    s = second.summary
    assert (s.finish_reason, s.items_new, s.items_updated, s.items_unchanged, s.errors) == (
        "finished",
        2,
        1,
        4,
        0,
    )
    assert sorted(page_requests(replay)) == sorted([PRODUCT, SHOP])  # no page 2: the watermark is on page 1
    stored = mentions(db_url)
    assert len(stored) == 11
    assert stored["18761544"].rating == 2.0
    edited = stored["18734021"]
    assert (edited.version, edited.rating, edited.reach) == (2, 3.0, 16)
    assert "Aktualizacja: po miesiącu bateria wyraźnie słabnie" in edited.text
    [old] = revisions(db_url, "18734021")
    assert (old.version, old.rating) == (1, 4.5) and "Aktualizacja" not in old.text
    assert (stored["18729655"].version, stored["18729655"].reach) == (1, 11)  # votes refreshed, no revision
    assert source_watermark(db_url, "ceneo", PRODUCT) == datetime(2026, 11, 12, 17, 22, 10, tzinfo=UTC)
    assert source_watermark(db_url, "ceneo", SHOP) == SHOP_NEWEST


def test_rate_limited_page_is_fetched_after_retry_after(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = ceneo_settings(sqlite_url, replay.base_url, [SHOP])
    serve_robots(replay)
    replay.add(
        SHOP,
        Reply(429, b"<html><body>Too Many Requests</body></html>", {**HTML, "Retry-After": "1"}),
        page("shop_page1.html"),
    )

    result = crawl(settings, tmp_path, spider="ceneo")

    first, second = (r for r in replay.requests if r.path == SHOP)
    assert second.at - first.at >= 0.95
    assert result.stats["earshot/ratelimit/count"] == 1 and "retry/count" not in result.stats
    s = result.summary
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", 3, 0)
    assert source_watermark(sqlite_url, "ceneo", SHOP) == SHOP_NEWEST


def test_unrecognised_and_missing_pages_fail_alone(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = ceneo_settings(sqlite_url, replay.base_url, [PRODUCT, GONE, EMPTY, SHOP])
    serve_robots(replay)
    replay.add(PRODUCT, page("malformed_bot_check.html"))
    replay.add(GONE, page("error_404.html", status=404))
    replay.add(EMPTY, page("product_no_opinions.html"))
    replay.add(SHOP, page("shop_page1.html"))

    result = crawl(settings, tmp_path, spider="ceneo")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", 3, 2)
    assert result.stats["earshot/malformed_responses"] == 1
    assert result.stats["earshot/scopes_failed"] == 2 and result.stats["earshot/scopes_completed"] == 2
    assert len(replay.requests_for(GONE)) == 1  # a 404 is not retried
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert "no opinions and no opinions section on the page ('Ceneo.pl – weryfikacja')" in messages
    assert (
        f"{GONE}: HTTP 404: Nie znaleziono strony - Ceneo.pl – Ups! Nie znaleźliśmy takiej strony ("
        in messages
    )
    assert "(the product or shop is gone; check the target's ceneo_urls)" in messages
    assert {m.external_id for m in mentions(sqlite_url).values()} == {"31877402", "31870055", "31861120"}
    assert source_watermark(sqlite_url, "ceneo", PRODUCT) is None
    assert source_watermark(sqlite_url, "ceneo", EMPTY) is None  # read completely, nothing to mark


def test_robots_txt_is_obeyed_for_pages_and_pagination(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = ceneo_settings(sqlite_url, replay.base_url, [BLOCKED, PRODUCT])
    serve_robots(replay, b"User-agent: *\nDisallow: /*;szukaj-\nDisallow: /142071337/opinie-\n")
    replay.add(BLOCKED, page("product_page1.html"))
    replay.add(PRODUCT, page("product_page1.html"))
    replay.add(PRODUCT_PAGE2, page("product_page2.html"))

    result = crawl(settings, tmp_path, spider="ceneo")

    assert page_requests(replay) == [PRODUCT]  # neither the disallowed page nor the disallowed page 2
    assert result.stats["earshot/requests_ignored"] == 2
    messages = "\n".join(result.stats["earshot/error_messages"])
    assert f"{BLOCKED}: request not sent: Forbidden by robots.txt" in messages
    assert f"{PRODUCT}: request not sent: Forbidden by robots.txt" in messages
    # Page 1 was stored, but its watermark waits: older opinions on page 2 were not read.
    assert result.summary.items_new == 3
    assert source_watermark(sqlite_url, "ceneo", PRODUCT) is None


def test_a_redirected_product_is_read_at_its_new_address(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    merged = "/139000111"  # Ceneo merged this product into 142071337
    settings = ceneo_settings(sqlite_url, replay.base_url, [merged])
    serve_robots(replay)
    replay.add(merged, Reply(301, b"", {"Location": PRODUCT}))
    replay.add(PRODUCT, page("product_page1.html"))
    replay.add(PRODUCT_PAGE2, page("product_page2.html"))

    result = crawl(settings, tmp_path, spider="ceneo")

    assert page_requests(replay) == [merged, PRODUCT, PRODUCT_PAGE2]
    assert (result.summary.finish_reason, result.summary.items_new, result.summary.errors) == (
        "finished",
        6,
        0,
    )
    assert f"{merged}: Ceneo now serves it at {PRODUCT}" in result.log
    assert mentions(sqlite_url)["18734021"].url == f"{replay.base_url}{PRODUCT}#tab=reviews"
    assert source_watermark(sqlite_url, "ceneo", merged) == PRODUCT_NEWEST
