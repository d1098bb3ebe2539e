"""Schema revisions (Alembic): the head equals the models, released databases upgrade without losing a row,
and processes upgrading at the same moment do not get in each other's way."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.cli import main
from monitor.core.db import DatabaseError, make_engine, open_engine, upgrade_schema
from monitor.core.migrations import (
    alembic_config,
    current_revision,
    ensure_schema,
    head_revision,
    revisions,
)
from monitor.core.models import Alert, Mention, SentimentScore
from monitor.core.timeutil import as_utc
from tests.monitor.core.schema_helpers import all_rows, build_at, load_fixture, schema_diffs

REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011"]
HEAD = REVISIONS[-1]
ROOT = Path(__file__).resolve().parents[3]


def test_the_revisions_are_one_line_from_the_baseline_to_the_head() -> None:
    assert revisions() == REVISIONS
    assert head_revision() == REVISIONS[-1]


def test_every_revision_run_on_an_empty_database_gives_exactly_the_models(db_url: str) -> None:
    engine = open_engine(db_url)
    with engine.connect() as conn:
        command.upgrade(alembic_config(connection=conn), "head")
        conn.commit()
    assert schema_diffs(engine) == []
    with engine.connect() as conn:  # and back down to nothing, and up again
        command.downgrade(alembic_config(connection=conn), "base")
        conn.commit()
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
        command.upgrade(alembic_config(connection=conn), "head")
        conn.commit()
    assert schema_diffs(engine) == []
    engine.dispose()


def test_a_fresh_database_is_created_and_stamped_in_one_step(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert schema_diffs(engine) == []
    change = ensure_schema(engine)  # the next open finds it current
    assert (change.action, change.describe()) == ("current", f"schema is current (revision {HEAD})")
    engine.dispose()


@pytest.mark.parametrize("fixture", ["released", "v01-upgraded"])
def test_a_database_of_a_released_earshot_upgrades_to_head_without_losing_a_row(
    db_url: str, fixture: str
) -> None:
    """``released``: the released schema (b312d55); ``v01-upgraded``: a v0.1 database its code upgraded."""
    load_fixture(db_url, fixture)
    before = open_engine(db_url)
    rows = all_rows(before)
    before.dispose()
    assert all(rows[t] for t in rows), "the fixture has rows in every table"

    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert schema_diffs(engine) == []
    after = all_rows(engine)
    assert after.pop("web_sessions") == [] and after.pop("login_throttle") == []  # new in 0005
    assert after.pop("source_credentials") == []  # new in 0006
    assert after.pop("reply_templates") == []  # new in 0009
    assert after.pop("mention_tags", []) == []  # new in 0010
    assert after.pop("web_preferences") == []  # new in 0011
    for run in after["crawl_runs"]:  # columns new in 0007, empty for the runs recorded before
        assert [run.pop(c) for c in ("failure", "failure_detail", "pid", "host")] == [None] * 4
    assert after == rows

    with Session(engine) as s:  # the ORM reads them, with aware UTC moments
        alerts = s.exec(select(Alert).order_by(Alert.id)).all()  # type: ignore[arg-type]
        assert [a.dedupe_key for a in alerts][:2] == ["mention:1:alert", "mention:3:alert"]
        assert alerts[2].mention_id is None and alerts[2].source == "ceneo"
        assert (
            alerts[0].created_at.tzinfo is not None and alerts[0].created_at.utcoffset().total_seconds() == 0
        )
        assert alerts[0].state_version == 0 and alerts[0].broadcast is False
        score = s.get(SentimentScore, 1)
        assert score is not None and score.label_source in {"text", "fused"}
        s.add(Mention(source="google", external_id="g-new", text="nowa"))  # ids go on after the old rows
        s.commit()
    engine.dispose()


def test_an_adopted_v01_database_gets_what_its_hand_written_upgrades_left_out(db_url: str) -> None:
    load_fixture(db_url, "v01-upgraded")
    engine = open_engine(db_url)
    loose = schema_diffs(engine)
    assert loose, "the hand-written upgrades left nullable counters and missing indexes"
    change = ensure_schema(engine)
    assert (change.action, change.before, change.applied) == (
        "adopted",
        "0004",
        tuple(REVISIONS[4:]),
    )
    assert schema_diffs(engine) == []
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("sentiment_scores")}
    assert "ix_sentiment_scores_urgency" in indexes
    engine.dispose()


def test_naive_postgresql_timestamps_of_an_older_sqlmodel_become_timestamptz_at_the_same_moment(
    db_url: str,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one DATETIME type")
    load_fixture(db_url, "released")
    engine = open_engine(db_url)
    with engine.begin() as conn:  # what SQLModel before its own UTCDateTime created: timestamp, UTC inside
        conn.execute(
            text(
                "ALTER TABLE mentions ALTER COLUMN created_at TYPE timestamp USING created_at AT TIME ZONE 'UTC'"
            )
        )
    naive = [r["created_at"] for r in all_rows(engine)["mentions"]]
    assert naive[0] == datetime(2026, 11, 10, 10, 30)
    assert ensure_schema(engine).action == "adopted"
    assert schema_diffs(engine) == []
    assert [r["created_at"] for r in all_rows(engine)["mentions"]] == [as_utc(m) for m in naive]
    engine.dispose()


def test_a_versioned_older_database_is_upgraded_revision_by_revision(db_url: str) -> None:
    build_at(db_url, "0001")
    engine = open_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mentions (id, source, external_id, text, first_seen_at, last_seen_at, version) "
                "VALUES (1, 'google', 'g-1', 'x', '2026-11-20 10:00:00+00', '2026-11-20 10:00:00+00', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO alerts (id, dedupe_key, mention_id, kind, reason, channel, status, attempts, "
                "created_at) VALUES (1, 'mention:1:alert', 1, 'negative', 'r', '#c', 'sent', 1, "
                "'2026-11-20 10:00:00+00')"
            )
        )
    change = ensure_schema(engine)
    assert (change.action, change.before, change.after, change.applied) == (
        "upgraded",
        "0001",
        HEAD,
        tuple(REVISIONS[1:]),
    )
    assert change.describe() == (
        f"schema upgraded from revision 0001 to {HEAD} (ran {', '.join(REVISIONS[1:])})"
    )
    assert schema_diffs(engine) == []
    with Session(engine) as s:
        alert = s.exec(select(Alert)).one()
        assert (alert.severity, alert.state_version, alert.synced_version, alert.broadcast) == (
            "negative",
            0,
            0,
            False,
        )
    engine.dispose()


def test_a_database_from_a_newer_earshot_is_refused_untouched(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    make_engine(url).dispose()
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseError, match="revision '9999', which this Earshot does not know"):
        make_engine(url)
    with engine.connect() as conn:
        assert current_revision(conn) == "9999"
    engine.dispose()


def test_an_unversioned_database_that_is_not_earshot_s_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE mentions (id INTEGER PRIMARY KEY)"))
    with pytest.raises(DatabaseError, match="not an Earshot database"):
        make_engine(url)
    assert set(inspect(engine).get_table_names()) == {"mentions"}  # nothing was created or stamped
    engine.dispose()


def test_a_half_upgraded_unversioned_database_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'half.db'}"
    build_at(url, "0002", versioned=False)
    engine = open_engine(url)
    with engine.begin() as conn:  # an old upgrade that created the new tables and then stopped
        conn.execute(text("CREATE TABLE checkpoints (id INTEGER PRIMARY KEY)"))
    with pytest.raises(DatabaseError, match="half-upgraded by an older Earshot: it has checkpoints"):
        make_engine(url)
    engine.dispose()


_RACER = """
import sys, time
from pathlib import Path
from monitor.core.db import open_engine, upgrade_schema
url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
engine = open_engine(url)
ready.touch()
while not go.exists():
    time.sleep(0.005)
print(upgrade_schema(engine).action)
"""


def test_processes_upgrading_a_released_database_at_the_same_moment_upgrade_it_once(
    db_url: str, tmp_path: Path
) -> None:
    load_fixture(db_url, "v01-upgraded")  # the slowest upgrade there is: rebuilds, fills, new indexes
    engine = open_engine(db_url)
    rows = all_rows(engine)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, db_url, str(tmp_path / f"ready{i}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = [r.communicate(timeout=120) for r in racers]
    assert [r.returncode for r in racers] == [0, 0], [err for _out, err in results]
    assert sorted(out.strip() for out, _err in results) == ["adopted", "current"]
    assert schema_diffs(engine) == []
    after = all_rows(engine)
    assert after.pop("web_sessions") == [] and after.pop("login_throttle") == []  # new in 0005
    assert after.pop("source_credentials") == []  # new in 0006
    assert after.pop("reply_templates") == []  # new in 0009
    assert after.pop("mention_tags", []) == []  # new in 0010
    assert after.pop("web_preferences") == []  # new in 0011
    for run in after["crawl_runs"]:  # columns new in 0007, empty for the runs recorded before
        assert [run.pop(c) for c in ("failure", "failure_detail", "pid", "host")] == [None] * 4
    assert after == rows
    engine.dispose()


def test_engines_creating_a_fresh_database_at_the_same_moment_create_it_once(db_url: str) -> None:
    engines = [open_engine(db_url) for _ in range(4)]
    start = threading.Barrier(len(engines))

    def create(engine: Engine) -> str:
        start.wait()
        return upgrade_schema(engine).action

    with ThreadPoolExecutor(len(engines)) as pool:
        actions = sorted(pool.map(create, engines))
    assert actions == ["created", "current", "current", "current"]
    assert schema_diffs(engines[0]) == []
    for engine in engines:
        engine.dispose()


def test_earshot_db_upgrade_says_what_it_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    build_at(url, "0002")
    monkeypatch.setenv("EARSHOT_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == (
        f"database {url}: schema upgraded from revision 0002 to {HEAD} (ran {', '.join(REVISIONS[2:])})\n"
    )
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == f"database {url}: schema is current (revision {HEAD})\n"
