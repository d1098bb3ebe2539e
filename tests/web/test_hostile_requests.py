"""Requests a fuzzer sends, through HTTP: ids no database can hold, dates at the calendar's ends, names too
long for the file system, and CSV cells that hide a formula behind whitespace. Each must get a clean
answer (404, 400 or a complete 200), never a 500 and never a 200 cut off mid-file."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from monitor.core.models import Mention
from monitor.web.queries import Filters
from monitor.web.routes import exports
from monitor.web.routes.exports import csv_cell
from tests.web.conftest import Site, SiteFactory

BAD_IDS = (
    "99999999999999999999999",
    str(2**63),
    str(2**63 - 1),
    str(2**31),
    "0",
    "-1",
    "-99999999999999999999",
)
ACTIONS = {
    "handle": {},
    "reopen": {},
    "assign": {"assignee": "Ola"},
    "correct": {"label": "negative"},
    "reply": {"text": "Dziękujemy"},
}
FORMULA = ("=", "+", "-", "@")


def _mention_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Mention)).one())


# ------------------------------------------------------------------------------------------- item ids


def test_an_item_id_no_database_holds_is_404_on_the_page_and_every_action(site: Site) -> None:
    client = site.logged_in()
    token = client.csrf_from(f"/items/{site.seed.mentions['gbp_pl_negative']}")
    for bad in BAD_IDS:
        page = client.get(f"/items/{bad}")
        assert page.status == 404 and "No such item" in page.text, (bad, page.status)
        for action, form in ACTIONS.items():
            reply = client.post(f"/items/{bad}/{action}", {"csrf_token": token, **form})
            assert reply.status == 404 and "No such item" in reply.text, (bad, action, reply.status)


def test_an_action_on_a_huge_id_still_checks_the_csrf_token_first(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    reply = client.post(f"/items/{BAD_IDS[0]}/handle", {"csrf_token": "forged"})
    assert reply.status == 403


# ----------------------------------------------------------------------------------- extreme dates

EXTREME_DATES = {  # query -> whether every mention matches it
    "date_to=9999-12-31": True,
    "date_from=0001-01-01": True,
    "date_from=0001-01-01&date_to=9999-12-31": True,
    "date_from=9999-12-31": False,
    "date_to=0001-01-01": False,
}


@pytest.mark.parametrize("zone", ["Europe/Warsaw", "Pacific/Kiritimati", "America/Adak"])
def test_dates_at_the_ends_of_the_calendar_filter_the_inbox_and_exports_completely(
    make_site: SiteFactory, engine: Engine, zone: str
) -> None:
    site = make_site(engine, web={"timezone": zone})  # the zone the inbox's days are read in
    client = site.logged_in()
    total = _mention_count(site.engine)
    assert total > 5  # more than one inbox page
    for query, everything in EXTREME_DATES.items():
        inbox = client.get(f"/inbox?{query}")
        assert inbox.status == 200, (query, inbox.status)
        body = client.get(f"/export.json?{query}")
        assert body.status == 200, (query, body.status)
        records = json.loads(body.text)
        assert len(records) == (total if everything else 0), query
        sheet = client.get(f"/export.csv?{query}")
        assert sheet.status == 200 and sheet.body.endswith(b"\r\n"), query
        rows = list(csv.reader(io.StringIO(sheet.body.decode("utf-8-sig"))))
        assert rows[0][0] == "id" and len(rows) - 1 == len(records), query


def test_an_export_whose_query_fails_is_an_error_not_a_cut_off_200(
    sqlite_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(engine: Engine, filters: Filters, timezone: str, batch: int = 500) -> Iterator[object]:
        raise RuntimeError("the database went away")
        yield  # a generator, as the real one: it fails on the first row

    monkeypatch.setattr(exports, "filtered_rows", failing)
    client = sqlite_site.logged_in()
    for path in ("/export.csv", "/export.json"):
        reply = client.get(path)
        assert reply.status == 500, (path, reply.status, reply.body[:40])


# ------------------------------------------------------------------------------------------ digests


@pytest.mark.parametrize("length", [255, 256, 300, 5000])
def test_a_digest_slug_too_long_for_a_file_name_is_404(sqlite_site: Site, length: int) -> None:
    (Path(sqlite_site.settings.data_dir) / "reports").mkdir(parents=True, exist_ok=True)
    reply = sqlite_site.logged_in().get(f"/digests/{'a' * length}/2026-W49")
    assert reply.status == 404 and "No such digest" in reply.text


# ---------------------------------------------------------------------------------------- CSV cells


def _blank(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")


def _visible(text: str) -> str:
    start = 0
    while start < len(text) and _blank(text[start]):
        start += 1
    return text[start:]


_HOSTILE_CHARS = st.sampled_from(list(" \t\r\n\x0b\x0c\x00\x1f\u00a0\u2003\u3000\u200b\ufeff=+-@'x"))


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(), st.text(alphabet=_HOSTILE_CHARS, max_size=12)))
def test_no_csv_cell_starts_a_formula_after_whitespace_unless_quoted(text: str) -> None:
    cell = csv_cell(text)
    assert cell in (text, "'" + text)
    if _visible(text).startswith(FORMULA):
        assert cell == "'" + text
    if cell != text:  # only what a spreadsheet could read as a formula is changed
        assert _visible(text).startswith(FORMULA) or text.startswith(("\t", "\r"))


def test_formulas_behind_spaces_newlines_and_invisible_characters_are_defused(sqlite_site: Site) -> None:
    when = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    texts = ["  =1+1", "\n=cmd|' /C calc'!A0", "\u200b@SUM(A1)", " \r\n -2+3", "\ufeff+48 600"]
    base = {"source": "trustpilot", "created_at": when, "first_seen_at": when, "last_seen_at": when}
    with Session(sqlite_site.engine) as session:
        session.execute(
            insert(Mention),
            [{**base, "version": 1, "external_id": f"ws{i}", "text": t} for i, t in enumerate(texts)],
        )
        session.commit()
    reply = sqlite_site.logged_in().get("/export.csv?source=trustpilot&date_from=2026-11-24")
    assert reply.status == 200
    rows = list(csv.DictReader(io.StringIO(reply.body.decode("utf-8-sig"))))
    assert sorted(r["text"] for r in rows) == sorted("'" + t for t in texts)
