"""The inbox's orders (``sort=time|reach|severity|sla``, either way) on SQLite and PostgreSQL.

Each order is checked against an oracle computed in Python from the rows as written, page by page: the
pages put together are exactly that order, no row twice, none missing, with a filter, a tag and a search
on top. The data has what makes orders go wrong: equal reach, equal times, mentions without a reach or an
alert, a newer follow-up alert that carries the item's state, a handled alert, an unsent one, a severity
without a response target and one no order knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.core.models import Alert, AlertKind, AlertStatus, Mention
from monitor.web import inbox_sort
from monitor.web.queries import FilterError, inbox_page, parse_filters
from monitor.web.tags import add_tag

T0 = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
SLA = {"urgent": 60.0, "negative": 1440.0}.get  # info: no response target


@dataclass(frozen=True)
class Row:
    key: str
    hours: float  # created this many hours after T0
    reach: int | None = None
    severity: str | None = None  # its own alert's severity; None: no alert
    handled: bool = False
    sent_hours: float | None = None  # the alert was sent this many hours after T0; None: not yet sent
    source: str = "mastodon"
    text: str = "paczka"


ROWS = [
    Row("a", 0, reach=500, severity="negative", sent_hours=1),
    Row("b", 1, reach=500, severity="urgent", sent_hours=20),  # due 21 h: before a (due 25 h)
    Row("c", 2, reach=None, severity="urgent", sent_hours=2, text="kurier zgubił"),
    Row("d", 2, reach=10, severity="negative", handled=True, sent_hours=3),
    Row("e", 3, reach=None, severity="info", sent_hours=3),  # info: no SLA
    Row("f", 4, reach=10, severity="negative", sent_hours=None, text="kurierem"),  # unsent: due from creation
    Row("g", 5, reach=None, severity="odd"),
    Row("h", 6, reach=0, source="google_business", text="kurier"),
    Row("i", 6, reach=None, source="google_business"),
    Row("j", 7, reach=9000, severity="urgent", sent_hours=7.5, source="google_business"),
    Row("k", 8, reach=None),
    Row("l", 9, reach=500, severity="negative", sent_hours=9, text="kurier"),
]
RANK = {"urgent": 3, "negative": 2, "info": 1}


def _seed(engine: Engine) -> dict[str, int]:
    ids: dict[str, int] = {}
    with Session(engine) as session:
        for r in ROWS:
            created = T0 + timedelta(hours=r.hours)
            m = Mention(
                source=r.source, external_id=r.key, text=f"{r.text} {r.key}", reach=r.reach,
                created_at=created, first_seen_at=created, last_seen_at=created,
            )  # fmt: skip
            session.add(m)
            session.flush()
            assert m.id is not None
            ids[r.key] = m.id
            if r.severity is None:
                continue
            sent = T0 + timedelta(hours=r.sent_hours) if r.sent_hours is not None else None
            common: dict[str, Any] = {"mention_id": m.id, "channel": "#c", "created_at": created}
            # An older first alert of another severity: the item's state lives on its newest item alert.
            session.add(Alert(dedupe_key=f"old:{r.key}", kind=AlertKind.KEYWORD, severity="info", **common))
            session.add(
                Alert(
                    dedupe_key=f"mention:{m.id}:alert",
                    kind=AlertKind.NEGATIVE,
                    severity=r.severity,
                    status=AlertStatus.SENT if sent else AlertStatus.PENDING,
                    sent_at=sent,
                    handled_at=T0 + timedelta(hours=30) if r.handled else None,
                    **common,
                )
            )
        session.commit()
    return ids


def _newest_first(rows: list[Row], ids: dict[str, int]) -> list[Row]:
    return sorted(rows, key=lambda r: (r.hours, ids[r.key]), reverse=True)


def _due(r: Row) -> float | None:
    minutes = SLA(r.severity or "")
    if r.handled or minutes is None:
        return None
    start = r.sent_hours if r.sent_hours is not None else r.hours
    return start + minutes / 60


def oracle(sort: str, direction: str, rows: list[Row], ids: dict[str, int]) -> list[str]:
    """The order the brief promises, written the plain way: keyed rows by key (ties by id the same way),
    then everything without the key newest first."""
    desc = direction == "desc"
    if sort == "time":
        keyed = sorted(rows, key=lambda r: (r.hours, ids[r.key]), reverse=desc)
        return [r.key for r in keyed]
    if sort == "reach":
        keyed = sorted(
            (r for r in rows if r.reach is not None), key=lambda r: (r.reach, ids[r.key]), reverse=desc
        )
        rest = [r for r in rows if r.reach is None]
    elif sort == "severity":
        alerted = [r for r in rows if r.severity is not None]
        # by rank in the asked direction; within a rank newest first
        keyed = sorted(_newest_first(alerted, ids), key=lambda r: RANK.get(r.severity or "", 0), reverse=desc)
        rest = [r for r in rows if r.severity is None]
    else:
        keyed = sorted(
            (r for r in rows if _due(r) is not None), key=lambda r: (_due(r), ids[r.key]), reverse=desc
        )
        rest = [r for r in rows if _due(r) is None]
    return [r.key for r in keyed] + [r.key for r in _newest_first(rest, ids)]


def _walk(engine: Engine, query: dict[str, str], ids: dict[str, int], page_size: int = 3) -> list[str]:
    """Every page of the inbox for ``query`` in turn, as row keys."""
    by_id = {v: k for k, v in ids.items()}
    seen: list[str] = []
    for number in range(1, 20):
        page = inbox_page(
            engine, parse_filters({**query, "page": str(number)}), page_size, "Europe/Warsaw", SLA
        )
        seen.extend(by_id[row.id] for row in page.rows)
        if not page.has_next:
            return seen
    raise AssertionError("more pages than rows")


ORDERS = [(s, d) for s in ("time", "reach", "severity", "sla") for d in ("desc", "asc")]


@pytest.mark.parametrize(("sort", "direction"), ORDERS)
def test_every_order_pages_through_exactly_the_oracle_order(
    engine: Engine, sort: str, direction: str
) -> None:
    ids = _seed(engine)
    expected = oracle(sort, direction, ROWS, ids)
    for page_size in (1, 3, 5, 50):
        assert _walk(engine, {"sort": sort, "dir": direction}, ids, page_size) == expected, page_size


def test_orders_say_what_a_person_expects(engine: Engine) -> None:
    """Spot checks in words, so the oracle itself is checked against the brief."""
    ids = _seed(engine)
    assert _walk(engine, {"sort": "reach"}, ids)[:3] == ["j", "l", "b"]  # 9000, then the two 500s by id desc
    assert _walk(engine, {"sort": "severity"}, ids)[:3] == ["j", "c", "b"]  # urgent, newest first
    sla = _walk(engine, {"sort": "sla"}, ids)
    assert sla[:5] == ["c", "j", "b", "a", "f"]  # due 3 h, 8.5 h, 21 h, 25 h, 28 h (unsent: from creation)
    assert "d" not in sla[:5] and "e" not in sla[:5]  # handled; info has no response target


@pytest.mark.parametrize(("sort", "direction"), ORDERS)
def test_orders_hold_under_filters_tags_and_search(engine: Engine, sort: str, direction: str) -> None:
    ids = _seed(engine)
    query = {"sort": sort, "dir": direction}
    mastodon = [r for r in ROWS if r.source == "mastodon"]
    assert _walk(engine, {**query, "source": "mastodon"}, ids) == oracle(sort, direction, mastodon, ids)
    tagged = [r for r in ROWS if r.key in {"a", "c", "h", "j"}]
    add_tag(engine, [ids[r.key] for r in tagged], "Zwrot ", "web:test", T0)
    assert _walk(engine, {**query, "tag": "zwrot"}, ids) == oracle(sort, direction, tagged, ids)
    # "kurier" finds its inflected forms (kurierem), as the alert keywords do
    found = [r for r in ROWS if r.text.startswith("kurier")]
    assert _walk(engine, {**query, "q": "kurier"}, ids) == oracle(sort, direction, found, ids)
    assert _walk(engine, {**query, "q": "kurier", "source": "google_business"}, ids) == oracle(
        sort, direction, [r for r in found if r.source == "google_business"], ids
    )


def test_sla_order_without_any_response_target_is_newest_first(engine: Engine) -> None:
    ids = _seed(engine)
    page = inbox_page(engine, parse_filters({"sort": "sla"}), 50, "Europe/Warsaw", None)
    by_id = {v: k for k, v in ids.items()}
    assert [by_id[r.id] for r in page.rows] == oracle("time", "desc", ROWS, ids)
    assert all(r.due_at is None for r in page.rows)


def test_rows_carry_their_due_time_and_a_bad_order_is_a_filter_error(engine: Engine) -> None:
    ids = _seed(engine)
    rows = {r.id: r for r in inbox_page(engine, parse_filters({"sort": "sla"}), 50, "UTC", SLA).rows}
    assert rows[ids["c"]].due_at == T0 + timedelta(hours=3)
    assert rows[ids["f"]].due_at == T0 + timedelta(hours=4 + 24)
    assert rows[ids["d"]].due_at is None and rows[ids["e"]].due_at is None
    assert rows[ids["j"]].severity == "urgent"
    for bad in ({"sort": "loudest"}, {"sort": "reach", "dir": "up"}, {"tag": "<b>"}):
        with pytest.raises(FilterError):
            parse_filters(bad)
    assert parse_filters({"sort": "sla"}).params() == {"sort": "sla"}  # its natural way is not repeated
    assert parse_filters({"sort": "sla", "dir": "desc"}).params() == {"sort": "sla", "dir": "desc"}


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_severity_order_is_the_same_when_the_time_index_is_walked(
    engine: Engine, direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A severity with many alerts walks the time index and probes each mention; same rows, same order."""
    ids = _seed(engine)
    monkeypatch.setattr(inbox_sort, "DRIVE_BELOW", 0)
    expected = oracle("severity", direction, ROWS, ids)
    assert _walk(engine, {"sort": "severity", "dir": direction}, ids) == expected
    found = [r for r in ROWS if r.text.startswith("kurier")]
    query = {"sort": "severity", "dir": direction, "q": "kurier"}
    assert _walk(engine, query, ids) == oracle("severity", direction, found, ids)
