"""Schema upgrades: a database created by an older Earshot gains the new columns on open."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session, select

from monitor.core.db import make_engine, write_session
from monitor.core.models import Alert, SentimentScore, TargetRow


def test_old_sentiment_scores_table_gains_urgency_and_aspects(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    with old.begin() as conn:  # the v0.1 shape of the table, with one row in it
        conn.execute(
            text(
                "CREATE TABLE sentiment_scores (id INTEGER PRIMARY KEY, mention_id INTEGER NOT NULL, "
                "mention_version INTEGER NOT NULL, label VARCHAR(16) NOT NULL, score FLOAT NOT NULL, "
                "confidence FLOAT NOT NULL, probabilities JSON, lang VARCHAR(16), model_name VARCHAR(200) "
                "NOT NULL, model_version VARCHAR(100) NOT NULL, scored_at DATETIME NOT NULL)"
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
    old = create_engine(url)
    with old.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE alerts (id INTEGER PRIMARY KEY, dedupe_key VARCHAR(255) NOT NULL UNIQUE, "
                "mention_id INTEGER, source VARCHAR(64), kind VARCHAR(32) NOT NULL, reason TEXT NOT NULL, "
                "channel VARCHAR(128) NOT NULL, status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL, "
                "last_error TEXT, next_attempt_at DATETIME, slack_ts VARCHAR(64), slack_channel_id VARCHAR(64), "
                "created_at DATETIME NOT NULL, sent_at DATETIME)"
            )
        )
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
