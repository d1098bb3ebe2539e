"""CSV and JSON export of the filtered mentions, on SQLite and PostgreSQL: content, filters, all pages,
Polish text, and cells a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.core.models import Mention
from tests.web.conftest import Site


def _csv(site: Site, query: str = "") -> tuple[list[str], list[dict[str, str]], bytes]:
    reply = site.logged_in().get("/export.csv" + (f"?{query}" if query else ""))
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/csv")
    assert reply.headers["Content-Disposition"].startswith('attachment; filename="earshot-mentions-')
    assert reply.body.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Polish letters right
    rows = list(csv.reader(io.StringIO(reply.body.decode("utf-8-sig"))))
    header = rows[0]
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]], reply.body


def _json(site: Site, query: str = "") -> list[dict[str, object]]:
    reply = site.logged_in().get("/export.json" + (f"?{query}" if query else ""))
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    data = json.loads(reply.text)
    assert isinstance(data, list)
    return data


def test_csv_has_a_header_and_every_mention_newest_first(site: Site) -> None:
    header, rows, _ = _csv(site)
    assert header[:4] == ["id", "time", "source", "target"] and "text" in header and "sentiment" in header
    assert len(rows) == 12  # every page, not just web.page_size (5)
    assert rows[0]["id"] == str(site.seed.mentions["gbp_pl_negative"])
    first = rows[0]
    assert first["text"].startswith("Kurier zostawił paczkę") and first["author"] == "Zofia Wójcik"
    assert first["time"] == "2026-11-22T15:00:00+00:00"
    assert (first["sentiment"], first["urgency"], first["status"], first["rating"]) == (
        "negative",
        "elevated",
        "open",
        "1.0",
    )
    assert first["sentiment_score"] == "-0.86"  # a number we wrote stays a number
    handled = next(r for r in rows if r["id"] == str(site.seed.mentions["tp_en_negative"]))
    assert handled["status"] == "handled" and handled["handled_by"] == "U0AGENT01"


def test_exports_apply_the_inbox_filters(site: Site) -> None:
    _, rows, _ = _csv(site, "sentiment=negative&target=Sklep+Kowalski")
    expected = {
        site.seed.mentions[k]
        for k in ("gbp_pl_negative", "tp_en_negative", "mastodon_hostile", "gbp_en_negative")
    }
    assert {int(r["id"]) for r in rows} == expected
    data = _json(site, "q=ZAZOLC")  # the inbox's search: "Zażółć", any case, diacritics optional
    assert [d["id"] for d in data] == [site.seed.mentions["mastodon_pl_positive"]]
    assert "Zażółć gęślą jaźń" in str(data[0]["text"])
    assert site.logged_in().get("/export.csv?sentiment=furious").status == 400


def test_json_records_carry_the_fields(site: Site) -> None:
    data = _json(site)
    assert len(data) == 12
    hostile = next(d for d in data if d["id"] == site.seed.mentions["mastodon_hostile"])
    assert (
        hostile["text"]
        == "<script>alert(1)</script> <!channel> Worst shop ever, they lost my order & ignored me"
    )
    assert hostile["assignee"] == "U0AGENT02" and hostile["status"] == "assigned"
    assert hostile["sentiment"] == "negative" and hostile["confidence"] == 0.97 and hostile["reach"] == 1200
    assert _json(site, "source=nowhere") == []


def _add(engine: Engine, rows: list[dict[str, object]]) -> None:
    with Session(engine) as session:
        session.execute(insert(Mention), rows)
        session.commit()


def test_formula_cells_are_defused_in_csv_only(site: Site) -> None:
    when = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    base = {
        "source": "trustpilot",
        "created_at": when,
        "first_seen_at": when,
        "last_seen_at": when,
        "version": 1,
    }
    _add(
        site.engine,
        [
            {
                **base,
                "external_id": "f1",
                "text": '=HYPERLINK("http://evil.example","klik")',
                "author": "@attacker",
            },
            {**base, "external_id": "f2", "text": "+48 600 100 200 zadzwoń", "author": "-minus"},
            {**base, "external_id": "f3", "text": "\t=cmd|' /C calc'!A0", "author": "Zwykły Jan"},
        ],
    )
    _, rows, _ = _csv(site, "source=trustpilot&date_from=2026-11-23")
    cells = {(r["text"], r["author"]) for r in rows}
    assert cells == {
        ('\'=HYPERLINK("http://evil.example","klik")', "'@attacker"),
        ("'+48 600 100 200 zadzwoń", "'-minus"),
        ("'\t=cmd|' /C calc'!A0", "Zwykły Jan"),
    }
    texts = {d["text"] for d in _json(site, "source=trustpilot&date_from=2026-11-23")}
    assert '=HYPERLINK("http://evil.example","klik")' in texts  # JSON keeps the data as it is


def test_export_streams_every_row_of_a_large_result(site: Site) -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    _add(
        site.engine,
        [
            {
                "source": "rss",
                "external_id": f"bulk-{i}",
                "text": f"Wpis numer {i} o sklepie — źdźbło",
                "created_at": start + timedelta(minutes=i),
                "first_seen_at": start,
                "last_seen_at": start,
                "version": 1,
            }
            for i in range(1500)
        ],
    )
    _, rows, body = _csv(site, "source=rss")
    assert len(rows) == 1500 and rows[0]["text"] == "Wpis numer 1499 o sklepie — źdźbło"
    assert len({r["id"] for r in rows}) == 1500
    assert len(_json(site, "source=rss")) == 1500
    assert body.count(b"\xef\xbb\xbf") == 1
