"""Engines and schema upgrades: a database created by an older Earshot gains the new columns on open."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session, select

from monitor.core.db import make_engine, write_session
from monitor.core.models import Alert, SentimentScore, TargetRow
from tests.monitor.core.schema_helpers import build_at


def test_old_sentiment_scores_table_gains_urgency_and_aspects(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    build_at(url, "0001", versioned=False)  # the v0.1 shape of every table, as v0.1 left it
    old = create_engine(url)
    with old.begin() as conn:  # one row in the old sentiment_scores table
        conn.execute(
            text(
                "INSERT INTO mentions (id, source, external_id, text, first_seen_at, last_seen_at, version) "
                "VALUES (7, 'google', 'g-7', 'x', '2026-11-20 10:00:00', '2026-11-20 10:00:00', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sentiment_scores VALUES (1, 7, 1, 'negative', -0.9, 0.9, '{}', 'pl', 'm', 'v', "
                "'2026-11-20 10:00:00')"
            )
        )
    old.dispose()
    engine = make_engine(url)
    columns = {c["name"] for c in inspect(engine).get_columns("sentiment_scores")}
    assert {"urgency", "urgency_reasons", "aspects"} <= columns
    with Session(engine) as s:
        row = s.exec(select(SentimentScore)).one()
        assert (row.label, row.urgency) == ("negative", "none")  # old rows get the column's default
    make_engine(url).dispose()  # opening again changes nothing and does not fail
    engine.dispose()


def test_a_savepoint_first_write_is_rolled_back_with_its_transaction(tmp_path: Path) -> None:
    """pysqlite opens no transaction before a SAVEPOINT, so without write_session its RELEASE commits."""
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    with pytest.raises(RuntimeError), write_session(engine) as s:
        with s.begin_nested():
            s.add(TargetRow(name="Sklep"))
        raise RuntimeError("a later row of the batch failed")
    with Session(engine) as s:
        assert s.exec(select(TargetRow)).all() == []
    engine.dispose()


def test_old_alerts_table_gains_triage_columns_with_their_defaults(tmp_path: Path) -> None:
    """An alerts table from before the Slack triage loop: rows keep working (counters 0, not NULL)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    build_at(url, "0002", versioned=False)  # every table as the release before triage left it
    old = create_engine(url)
    with old.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (id, dedupe_key, kind, reason, channel, status, attempts, created_at) "
                "VALUES (1, 'mention:7:alert', 'negative', 'r', '#c', 'sent', 1, '2026-11-20 10:00:00')"
            )
        )
    old.dispose()
    engine = make_engine(url)
    with Session(engine) as s:
        row = s.exec(select(Alert)).one()
        assert (row.state_version, row.synced_version, row.broadcast, row.severity) == (
            0,
            0,
            False,
            "negative",
        )
        assert row.handled_at is None and row.parent_id is None
    engine.dispose()
