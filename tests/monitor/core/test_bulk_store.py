"""Set-based storage (``upsert_mentions``) against the per-item upsert it replaced, on SQLite and PostgreSQL.

The oracle is the old rule kept verbatim in ``per_item_upsert.py``: random batches (repeats and edits of
one review inside a batch, the same id on two sources, targets appearing and missing, replies changing)
go through both into two empty databases, and every row and every outcome must match.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from monitor.core.db import make_engine, session_scope, write_session
from monitor.core.store import MentionIn, UpsertOutcome, ensure_target, upsert_mention, upsert_mentions
from tests.conftest import POSTGRES_URL, _require_postgres
from tests.monitor.core.per_item_upsert import legacy_upsert_mention

Upsert = Callable[[Any, list[MentionIn]], list[UpsertOutcome]]


def _per_item(session: Any, items: list[MentionIn]) -> list[UpsertOutcome]:
    """The batch as the pipeline stored it before: the old upsert, item by item, in one transaction."""
    return [legacy_upsert_mention(session, item)[1] for item in items]


def _set_based(session: Any, items: list[MentionIn]) -> list[UpsertOutcome]:
    return [result.outcome for result in upsert_mentions(session, items)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engines(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two empty databases of one kind: the reference's and the set-based path's."""
    if request.param == "sqlite":
        pair = (
            make_engine(f"sqlite:///{tmp_path / 'ref.db'}"),
            make_engine(f"sqlite:///{tmp_path / 'set.db'}"),
        )
        yield pair
        for engine in pair:
            engine.dispose()
        return
    _require_postgres()
    admin = create_engine(POSTGRES_URL)
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    urls = [f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}" for schema in schemas]
    pair = (make_engine(urls[0]), make_engine(urls[1]))
    yield pair
    for engine in pair:
        engine.dispose()
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("mention_revisions", "mentions", "targets"):
            conn.execute(text(f"DELETE FROM {table}"))


def _snapshot(engine: Engine) -> dict[str, Any]:
    """Everything a reader can see, keyed by (source, external id): row ids and clock times aside.

    Of the clock times, only their order: items of one batch may share a microsecond."""
    with engine.connect() as conn:
        mentions = {
            (row[0], row[1]): tuple(row[2:])
            for row in conn.execute(
                text(
                    "SELECT m.source, m.external_id, t.name, m.url, m.author, m.text, m.lang, m.rating, "
                    "m.reply_text, m.parent_id, m.reach, m.created_at, m.updated_at, m.version, "
                    "m.raw IS NULL, CAST(m.raw AS TEXT), m.first_seen_at <= m.last_seen_at FROM mentions m LEFT JOIN targets t ON t.id = m.target_id"
                )
            )
        }
        revisions = sorted(
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT m.source, m.external_id, r.version, r.text, r.rating, r.updated_at, "
                    "r.recorded_at IS NOT NULL FROM mention_revisions r JOIN mentions m ON m.id = r.mention_id"
                )
            )
        )
        targets = sorted(name for (name,) in conn.execute(text("SELECT name FROM targets")))
    return {"mentions": mentions, "revisions": revisions, "targets": targets}


def _store(engine: Engine, batches: list[list[MentionIn]], upsert: Upsert) -> list[list[UpsertOutcome]]:
    """Each batch in its own transaction, as the pipeline's writer commits them."""
    outcomes = []
    for batch in batches:
        with write_session(engine) as session:
            outcomes.append(upsert(session, batch))
    return outcomes


T1, T2 = datetime(2026, 11, 20, 10, tzinfo=UTC), datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


@st.composite
def mentions(draw: st.DrawFn) -> MentionIn:
    """Few ids and few values, so that repeats, edits and reply changes are common."""
    return MentionIn(
        source=draw(st.sampled_from(["google_business", "trustpilot"])),
        external_id=draw(st.sampled_from(["a", "b", "c"])),
        text=draw(st.sampled_from(["Paczka nie dotarła.", "Dotarła po tygodniu, ok.", "", "😡 " * 3])),
        rating=draw(st.sampled_from([1.0, 4.0, 4.5, None])),
        reply_text=draw(st.sampled_from([None, "Dziękujemy!", ""])),
        target=draw(st.sampled_from([None, "Sklep Kowalski", "Sklep Nowak"])),
        author=draw(st.sampled_from([None, "Anna", "Jan"])),
        url=draw(st.sampled_from([None, "https://example.invalid/r/1"])),
        lang=draw(st.sampled_from([None, "pl", "en"])),
        parent_id=draw(st.sampled_from([None, "p1"])),
        reach=draw(st.sampled_from([None, 0, 120])),
        created_at=draw(st.sampled_from([None, T1])),
        updated_at=draw(st.sampled_from([None, T1, T2])),
        raw=draw(st.sampled_from([None, {"reviewId": "a"}, {"reviewId": "a", "starRating": "FOUR"}])),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(mentions(), min_size=1, max_size=12), min_size=1, max_size=4))
def test_set_based_upsert_stores_what_the_per_item_upsert_stored(
    engines: tuple[Engine, Engine], batches: list[list[MentionIn]]
) -> None:
    reference, candidate = engines
    for engine in engines:
        _empty(engine)
    expected = _store(reference, batches, _per_item)
    assert _store(candidate, batches, _set_based) == expected
    assert _snapshot(candidate) == _snapshot(reference)


def _a_review(text_: str, rating: float) -> MentionIn:
    return MentionIn(source="google_business", external_id="a", text=text_, rating=rating, target="Sklep")


@pytest.mark.parametrize("upsert", [_per_item, _set_based], ids=["per_item", "set_based"])
def test_a_review_another_writer_stored_meanwhile_is_updated_not_duplicated(
    engines: tuple[Engine, Engine], upsert: Upsert
) -> None:
    """Between our select and our insert a second crawl stores the same review: ours becomes an edit."""
    engine = engines[0]
    with session_scope(engine) as session:
        ensure_target(session, "Sklep")  # so our first write is the mention's insert
    other = create_engine(engine.url)
    raced: list[bool] = []

    def other_writer_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MENTIONS") and not raced:
            raced.append(True)
            with other.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO mentions (source, external_id, text, rating, version, first_seen_at, "
                        "last_seen_at) VALUES ('google_business', 'a', 'Stored by the other crawl', 2, 1, "
                        ":now, :now)"
                    ),
                    {"now": T1},
                )

    event.listen(engine, "before_cursor_execute", other_writer_first)
    try:
        with session_scope(engine) as session:  # not BEGIN IMMEDIATE: on SQLite the other writer may go first
            outcomes = upsert(session, [_a_review("Ours", 5.0)])
    finally:
        event.remove(engine, "before_cursor_execute", other_writer_first)
        other.dispose()
    assert raced and outcomes == [UpsertOutcome.UPDATED]
    snapshot = _snapshot(engine)
    assert len(snapshot["mentions"]) == 1
    stored = snapshot["mentions"][("google_business", "a")]
    assert (stored[0], stored[3], stored[5]) == ("Sklep", "Ours", 5.0)
    assert [r[2:5] for r in snapshot["revisions"]] == [(1, "Stored by the other crawl", 2.0)]


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql.split()[0]))
    return seen


def test_a_batch_costs_a_handful_of_statements_whatever_its_size(engines: tuple[Engine, Engine]) -> None:
    """What made PostgreSQL ingestion slow was ~5 round trips per item; a batch now costs about five."""
    engine = engines[1]
    seen = _statements(engine)
    first = [_a_review(f"Opinia {n}", 3.0) for n in range(200)]
    first = [MentionIn(**{**vars(m), "external_id": f"r{n}"}) for n, m in enumerate(first)]
    with write_session(engine) as session:
        assert {r.outcome for r in upsert_mentions(session, first)} == {UpsertOutcome.NEW}
    new_batch = len(seen)
    edited = [MentionIn(**{**vars(m), "text": m.text + " (edytowana)"}) for m in first]
    seen.clear()
    with write_session(engine) as session:
        assert {r.outcome for r in upsert_mentions(session, edited)} == {UpsertOutcome.UPDATED}
    assert new_batch <= 6 and len(seen) <= 6, (new_batch, seen)


def test_the_per_item_form_returns_the_stored_row(engines: tuple[Engine, Engine]) -> None:
    engine = engines[0]
    with session_scope(engine) as session:
        row, outcome = upsert_mention(session, _a_review("Źle", 1.0))
        assert (outcome, row.text, row.version) == (UpsertOutcome.NEW, "Źle", 1)
        row, outcome = upsert_mention(session, _a_review("Jednak dobrze", 5.0))
        assert (outcome, row.text, row.rating, row.version) == (
            UpsertOutcome.UPDATED,
            "Jednak dobrze",
            5.0,
            2,
        )
