"""The digest pages: the list of saved weekly reports, serving one, and no way out of the reports folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from monitor.digest.files import report_path
from monitor.digest.run import run_digest
from monitor.digest.weeks import parse_week
from tests.web.conftest import Site


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_no_reports_yet(sqlite_site: Site) -> None:
    page = sqlite_site.logged_in().get("/digests").text
    assert 'id="digest-list"' in page and "digest-link" not in page
    assert 'id="no-digests"' in page


def test_list_links_each_saved_report_and_serves_it(sqlite_site: Site) -> None:
    settings = sqlite_site.settings
    _write(
        report_path(settings, "Księgarnia Żuraw", "2026-W47"),
        "<html><body><h1>Żuraw W47 ✓</h1></body></html>",
    )
    _write(report_path(settings, "Sklep Kowalski", "2026-W46"), "<html><body>Kowalski W46</body></html>")
    client = sqlite_site.logged_in()
    page = client.get("/digests").text
    links = re.findall(r'<a class="digest-link" href="([^"]+)">([^<]+)</a>', page)
    assert [(href, text) for href, text in links] == [
        ("/digests/ksiegarnia-zuraw/2026-W47", "2026-W47 · Księgarnia Żuraw"),
        ("/digests/sklep-kowalski/2026-W46", "2026-W46 · Sklep Kowalski"),
    ]
    report = client.get("/digests/ksiegarnia-zuraw/2026-W47")
    assert report.status == 200 and "Żuraw W47 ✓" in report.text
    csp = report.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # a report runs no script at all


def test_a_generated_digest_is_served(sqlite_site: Site) -> None:
    settings = sqlite_site.settings
    week = parse_week("2026-W47", settings.digest.timezone)
    [_result] = run_digest(sqlite_site.engine, settings, week=week, targets=["Sklep Kowalski"])
    client = sqlite_site.logged_in()
    assert 'href="/digests/sklep-kowalski/2026-W47"' in client.get("/digests").text
    page = client.get("/digests/sklep-kowalski/2026-W47")
    assert page.status == 200 and "data:image/png;base64," in page.text
    assert "<script>alert(1)" not in page.text  # the hostile mention's text, if quoted, stays inert


@pytest.mark.parametrize(
    "path",
    [
        "/digests/sklep-kowalski/2026-W48",
        "/digests/nobody/2026-W47",
        "/digests/..%2F..%2Fsecret/2026-W47",
        "/digests/%2e%2e/secret",
        "/digests/sklep-kowalski/..%2F..%2Fsecret",
        "/digests/sklep-kowalski/2026-W47.html",
        "/digests/Sklep-Kowalski/2026-W47",
        "/digests/..%5C..%5Csecret/2026-W47",
    ],
)
def test_missing_and_crafted_paths_are_404(sqlite_site: Site, path: str) -> None:
    settings = sqlite_site.settings
    _write(Path(settings.data_dir) / "secret.html", "TOP SECRET")
    _write(report_path(settings, "Sklep Kowalski", "2026-W47"), "<p>ok</p>")
    reply = sqlite_site.logged_in().get(path)
    assert reply.status == 404
    assert "TOP SECRET" not in reply.text


def test_a_symlink_out_of_the_reports_folder_is_not_followed(sqlite_site: Site) -> None:
    data = Path(sqlite_site.settings.data_dir)
    _write(data / "outside.html", "OUTSIDE THE REPORTS")
    link = data / "reports" / "sklep-kowalski" / "2026-W45.html"
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(data / "outside.html", link)
    client = sqlite_site.logged_in()
    reply = client.get("/digests/sklep-kowalski/2026-W45")
    assert reply.status == 404 and "OUTSIDE THE REPORTS" not in reply.text
    assert "2026-W45" not in client.get("/digests").text
