"""Source health: a source failing N runs in a row or going quiet raises one alert, and its recovery another."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from alerts.message_limits import limit_violations
from alerts.outbox import deliver_pending, run_alerts
from alerts.slack_sender import ConsoleSender, SlackSender
from alerts.source_message import KIND_FAILING, KIND_QUIET, KIND_RECOVERED, build_source_message
from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine
from monitor.core.migrations import ensure_schema
from monitor.core.models import Alert, AlertStatus, CrawlRun, Mention, StageRun
from monitor.source_health import check_sources, median_gap, quiet_limit
from tests.alerts.fake_slack import FakeSlack

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # alerts fall due at "now"
SOURCE = "ceneo"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)


def make_settings(tmp_path: Path, **health: Any) -> EarshotSettings:
    slack = {"default_channel": "#cs-alerts", "language": "en"}  # the English message text is checked
    return EarshotSettings(data_dir=tmp_path, source_health=health, slack=slack)


def add_run(
    engine: Engine,
    reason: str | None = "finished",
    *,
    errors: int = 0,
    new: int = 0,
    source: str = SOURCE,
    finished: bool = True,
    error_message: str | None = None,
) -> int:
    stats = {"earshot/error_messages": [error_message]} if error_message else {}
    run = CrawlRun(
        spider=source,
        finished_at=NOW if finished else None,
        finish_reason=reason,
        errors=errors,
        items_new=new,
        requests=3,
        stats=stats,
    )
    with Session(engine) as s:
        s.add(run)
        s.commit()
        assert run.id is not None
        return run.id


def add_items(engine: Engine, times: list[datetime], source: str = SOURCE) -> list[int]:
    with Session(engine) as s:
        rows = [
            Mention(source=source, external_id=f"{source}-{t.isoformat()}-{i}", text="x", created_at=t)
            for i, t in enumerate(times)
        ]
        s.add_all(rows)
        s.commit()
        return [r.id or 0 for r in rows]


def health_alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as s:
        return list(s.exec(select(Alert).where(col(Alert.source).is_not(None)).order_by(col(Alert.id))))


def every(hours: float, count: int, newest: datetime) -> list[datetime]:
    """``count`` item times ``hours`` apart, the newest at ``newest``."""
    return [newest - timedelta(hours=hours * i) for i in range(count)]


# -- failing ---------------------------------------------------------------------------------------------


def test_third_failed_run_in_a_row_raises_one_alert_and_a_good_run_recovers_it(
    engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    add_run(engine, "finished", new=4)
    first_failed = add_run(engine, "auth_failed", errors=1, error_message="HTTP 401: token refused")
    add_run(engine, "crashed")
    assert check_sources(engine, settings, [SOURCE], now=NOW)["opened"] == 0
    assert health_alerts(engine) == []

    last = add_run(engine, "finished", errors=2)  # finished, but with errors: still a failed run
    counts = check_sources(engine, settings, [SOURCE], now=NOW)
    assert (counts["failing"], counts["opened"]) == (1, 1)
    [alert] = health_alerts(engine)
    assert (alert.kind, alert.source, alert.mention_id, alert.channel) == (
        KIND_FAILING,
        SOURCE,
        None,
        "#cs-alerts",
    )
    assert alert.status == AlertStatus.PENDING
    assert alert.reason.startswith("3 crawls in a row failed")
    assert f"last run #{last}: finished, 2 error(s), 3 request(s)" in alert.reason

    # A fourth failure and a re-check: still one alert, counted as open.
    add_run(engine, "closespider_timeout")
    again = check_sources(engine, settings, [SOURCE], now=NOW)
    assert (again["opened"], again["still_open"]) == (0, 1)
    assert len(health_alerts(engine)) == 1

    good = add_run(engine, "finished", new=7)
    recovered = check_sources(engine, settings, [SOURCE], now=NOW)
    assert (recovered["recovered"], recovered["ok"], recovered["opened"]) == (1, 1, 0)
    problem, recovery = health_alerts(engine)
    assert recovery.kind == KIND_RECOVERED and recovery.dedupe_key == problem.dedupe_key + ":recovered"
    assert f"run #{good} finished normally: 7 new" in recovery.reason
    assert f"began with run #{first_failed}" in recovery.reason

    assert check_sources(engine, settings, [SOURCE], now=NOW)["recovered"] == 0
    assert len(health_alerts(engine)) == 2


def test_a_new_streak_after_recovery_is_a_new_alert(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, failed_runs=2)
    for _ in range(2):
        add_run(engine, "auth_failed", errors=1)
    check_sources(engine, settings, [SOURCE], now=NOW)
    add_run(engine, "finished")
    check_sources(engine, settings, [SOURCE], now=NOW)
    for _ in range(2):
        add_run(engine, "crashed")
    counts = check_sources(engine, settings, [SOURCE], now=NOW)
    assert counts["opened"] == 1
    kinds = [a.kind for a in health_alerts(engine)]
    assert kinds == [KIND_FAILING, KIND_RECOVERED, KIND_FAILING]
    assert len({a.dedupe_key for a in health_alerts(engine)}) == 3


def test_unfinished_runs_and_other_sources_do_not_count(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, failed_runs=2)
    add_run(engine, "crashed")
    add_run(engine, None, finished=False)  # still running
    add_run(engine, "crashed", source="rss")
    assert check_sources(engine, settings, [SOURCE, "rss"], now=NOW)["opened"] == 0
    add_run(engine, "auth_failed", errors=1)
    assert check_sources(engine, settings, [SOURCE], now=NOW)["opened"] == 1


def test_every_check_is_recorded_as_a_stage_run(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    add_run(engine, "finished")
    check_sources(engine, settings, [SOURCE, "rss"], now=NOW)
    with Session(engine) as s:
        [run] = s.exec(select(StageRun).where(StageRun.stage == "source_health")).all()
    assert run.counts["evaluated"] == 2 and run.counts["ok"] == 1 and run.counts["no_runs"] == 1
    assert run.error is None and run.finished_at is not None


# -- quiet -----------------------------------------------------------------------------------------------


def test_quiet_source_alerts_after_the_minimum_and_recovers_with_a_new_item(
    engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)  # min 24 h, 3 x median gap, 10 items in 30 days
    add_run(engine, "finished")
    add_items(engine, every(2, 12, NOW - timedelta(hours=23)))  # usually every 2 h: limit is the 24 h floor
    assert check_sources(engine, settings, [SOURCE], now=NOW)["quiet"] == 0

    later = NOW + timedelta(hours=2)  # 25 h without an item
    counts = check_sources(engine, settings, [SOURCE], now=later)
    assert (counts["quiet"], counts["opened"]) == (1, 1)
    [alert] = health_alerts(engine)
    assert alert.kind == KIND_QUIET and alert.mention_id is None
    assert alert.reason == (
        "no new item for 25 h; usually one every 2.0 h (median of 12 items over 30 days), so the limit is 24 h"
    )
    assert check_sources(engine, settings, [SOURCE], now=later + timedelta(hours=5))["still_open"] == 1

    add_items(engine, [later + timedelta(hours=6)])
    counts = check_sources(engine, settings, [SOURCE], now=later + timedelta(hours=6, minutes=5))
    assert (counts["recovered"], counts["ok"]) == (1, 1)
    assert [a.kind for a in health_alerts(engine)] == [KIND_QUIET, KIND_RECOVERED]
    assert "new items arrive again" in health_alerts(engine)[1].reason


def test_quiet_limit_follows_the_sources_usual_gap(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    add_run(engine, "finished")
    add_items(engine, every(12, 15, NOW - timedelta(hours=30)))  # one every 12 h: limit 36 h
    assert check_sources(engine, settings, [SOURCE], now=NOW)["opened"] == 0
    assert check_sources(engine, settings, [SOURCE], now=NOW + timedelta(hours=7))["opened"] == 1
    assert "so the limit is 36 h" in health_alerts(engine)[0].reason


def test_too_little_history_is_never_called_quiet(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    add_run(engine, "finished")
    add_items(engine, every(1, 9, NOW - timedelta(days=5)))  # 9 items < min_history 10
    add_items(engine, every(1, 5, NOW - timedelta(days=40)))  # outside the 30-day window
    assert check_sources(engine, settings, [SOURCE], now=NOW)["quiet"] == 0
    assert health_alerts(engine) == []


def test_a_failing_source_is_not_also_reported_quiet(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    add_items(engine, every(2, 12, NOW - timedelta(days=3)))
    for _ in range(3):
        add_run(engine, "auth_failed", errors=1)
    counts = check_sources(engine, settings, [SOURCE], now=NOW)
    assert (counts["failing"], counts["quiet"], counts["opened"]) == (1, 0, 1)
    assert [a.kind for a in health_alerts(engine)] == [KIND_FAILING]


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=2, max_size=40))
def test_median_gap_and_limit_properties(offsets: list[int]) -> None:
    times = sorted(NOW - timedelta(seconds=s) for s in offsets)
    gap = median_gap(times)
    assert gap is not None
    gaps = sorted((b - a) for a, b in pairwise(times))
    assert gaps[0] <= gap <= gaps[-1]
    cfg = EarshotSettings().source_health
    limit = quiet_limit(gap, len(times), cfg)
    if len(times) < cfg.min_history:
        assert limit is None
    else:
        assert limit is not None and limit >= timedelta(hours=cfg.min_quiet_hours) and limit >= gap * 3


# -- delivery --------------------------------------------------------------------------------------------


def _failing_source(engine: Engine, settings: EarshotSettings) -> None:
    for _ in range(3):
        add_run(engine, "auth_failed", errors=1, error_message="HTTP 401 <b>&</b> token refused")
    check_sources(engine, settings, [SOURCE], now=NOW)


def test_source_alert_is_posted_to_slack_exactly_once(engine: Engine, tmp_path: Path) -> None:
    with FakeSlack() as slack:
        slack.add_channel("ops", "C0OPS00001")
        settings = EarshotSettings(
            data_dir=tmp_path,
            slack={"bot_token": slack.token, "api_url": slack.url, "timeout_seconds": 1.0, "language": "en"},
            source_health={"channel": "#ops"},
        )
        _failing_source(engine, settings)
        sender = SlackSender(settings)
        first = run_alerts(engine, settings, sender)
        second = run_alerts(engine, settings, sender)
        [message] = slack.messages("C0OPS00001")
    assert (first["sent"], second["sent"]) == (1, 0)
    [alert] = health_alerts(engine)
    assert alert.status == AlertStatus.SENT and alert.slack_ts == message.ts
    assert message.metadata == {"event_type": "earshot_alert", "event_payload": {"alert_id": alert.id}}
    assert message.blocks[0]["text"]["text"] == "Source failing: ceneo"
    assert (
        "first error: HTTP 401 &amp; token refused)" in message.blocks[1]["text"]["text"]
    )  # tags dropped, & escaped
    assert message.text.startswith("Source failing: ceneo: 3 crawls in a row failed")


def test_without_a_token_the_alert_is_printed_once(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path)
    _failing_source(engine, settings)
    assert deliver_pending(engine, settings, ConsoleSender(settings))["printed"] == 1
    assert deliver_pending(engine, settings, ConsoleSender(settings))["printed"] == 0
    out = capsys.readouterr().out
    assert out.count("[Earshot] Source failing: ceneo") == 1
    assert "Why: 3 crawls in a row failed" in out and "earshot crawl --source ceneo" in out


@given(
    source=st.text(max_size=80), reason=st.text(max_size=5000), kind=st.sampled_from(["source_failing", "x"])
)
@hyp_settings(max_examples=200, deadline=None)
def test_source_message_always_fits_and_never_carries_raw_markup(source: str, reason: str, kind: str) -> None:
    alert = Alert(id=3, dedupe_key="k", source=source, kind=kind, reason=reason, channel="#c")
    message = build_source_message(alert)
    assert limit_violations(message) == []
    for block in message.blocks[1:]:
        texts = [block.get("text", {}).get("text", "")] + [e["text"] for e in block.get("elements", [])]
        for value in texts:
            assert not re.search(r"<(?!!date)", value), value  # user text cannot open a Slack link or mention


# -- upgrading an existing database ----------------------------------------------------------------------


def mention_id_required(engine: Engine) -> bool:
    """Whether the database still refuses an alert without a mention."""
    return not {c["name"]: c for c in inspect(engine).get_columns("alerts")}["mention_id"]["nullable"]


def _make_mention_id_required(engine: Engine) -> None:
    """Turn the alerts table back into its shape before source-health alerts (mention_id NOT NULL), in a
    database from before schema versions (as a hand-written upgrade that stopped early left it)."""
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        # Tables born after schema versions (Alembic 0005 on) never stand in an unversioned database.
        conn.execute(text("DROP TABLE web_sessions"))
        conn.execute(text("DROP TABLE login_throttle"))
        conn.execute(text("DROP TABLE source_credentials"))
        for table in ("reply_templates", "mention_tags", "web_preferences"):  # born in 0009, 0010, 0011
            conn.execute(text(f"DROP TABLE {table}"))
        for column in ("failure", "failure_detail", "pid", "host"):  # born in 0007
            conn.execute(text(f"ALTER TABLE crawl_runs DROP COLUMN {column}"))
    if engine.url.get_backend_name() == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE alerts ALTER COLUMN mention_id SET NOT NULL"))
        return
    with engine.begin() as conn:
        ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'alerts'")).scalar_one()
        conn.execute(text("DROP TABLE alerts"))
        conn.execute(text(ddl.replace("mention_id INTEGER,", "mention_id INTEGER NOT NULL,")))
        conn.execute(text("CREATE INDEX ix_alerts_mention_id ON alerts (mention_id)"))


@pytest.fixture
def legacy_engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    _make_mention_id_required(eng)
    yield eng
    eng.dispose()


def test_an_older_database_accepts_source_alerts_after_the_upgrade(
    legacy_engine: Engine, tmp_path: Path
) -> None:
    engine = legacy_engine
    assert mention_id_required(engine)
    [mention_id] = add_items(engine, [NOW])
    with Session(engine) as s:
        s.add(Alert(dedupe_key="mention:1:alert", mention_id=mention_id, channel="#c", reason="old"))
        s.commit()
    with pytest.raises(IntegrityError), Session(engine) as s:
        s.add(Alert(dedupe_key="source:x", mention_id=None, channel="#c"))
        s.commit()

    assert ensure_schema(engine).action == "adopted"
    assert not mention_id_required(engine)
    assert ensure_schema(engine).action == "current"  # once is enough

    with Session(engine) as s:
        [old] = s.exec(select(Alert)).all()
    assert (old.dedupe_key, old.mention_id, old.reason) == ("mention:1:alert", mention_id, "old")
    index_columns = {tuple(ix["column_names"]) for ix in inspect(engine).get_indexes("alerts")}
    assert ("mention_id",) in index_columns
    with pytest.raises(IntegrityError), Session(engine) as s:  # the unique dedupe key survived the rebuild
        s.add(Alert(dedupe_key="mention:1:alert", mention_id=mention_id, channel="#c"))
        s.commit()

    settings = make_settings(tmp_path)
    for _ in range(3):
        add_run(engine, "crashed")
    assert check_sources(engine, settings, [SOURCE], now=NOW)["opened"] == 1
