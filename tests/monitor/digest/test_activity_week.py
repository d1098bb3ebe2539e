"""The week whose digest shows a freshly filled database (the demo's): its storm's and its alerts' week.

`earshot demo` stamps its items, alerts and storm with the current time, so the digest's default (the last
*full* week) is empty for it; the demo prints ``earshot digest --week <this week>`` from
:func:`monitor.digest.queries.latest_activity_week` instead.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from alerts.storms import check_storms
from monitor.cli import main
from monitor.core.db import make_engine
from monitor.core.models import AlertKind, utcnow
from monitor.digest.queries import latest_activity_week
from monitor.digest.weeks import last_full_week, week_of
from tests.monitor.digest.seed import TARGET, Seeder, make_settings, neg

ROOT = Path(__file__).resolve().parents[3]
TZ = "Europe/Warsaw"


def test_week_of_is_the_local_iso_week_of_a_moment() -> None:
    sunday_late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # Sun 23:30 in Warsaw: still W47
    monday_early = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # Mon 00:30 in Warsaw: W48
    assert week_of(sunday_late, TZ).iso == "2026-W47"
    assert week_of(monday_early, TZ).iso == "2026-W48"
    assert week_of(monday_early, "UTC").iso == "2026-W47"
    assert last_full_week(monday_early, TZ).iso == "2026-W47"


def test_the_newest_storm_decides_else_the_newest_top_level_mention_alert(engine: Engine) -> None:
    sd = Seeder(engine)
    assert latest_activity_week(engine, TZ) is None
    mid = sd.mention("google", datetime(2026, 11, 10, 9, tzinfo=UTC), label="negative", score=-0.9)
    sd.alert(mid, datetime(2026, 11, 10, 10, tzinfo=UTC))  # W46
    parent = sd.alert(mid, datetime(2026, 11, 11, 10, tzinfo=UTC), kind=AlertKind.STORM)
    sd.alert(mid, datetime(2026, 12, 1, 10, tzinfo=UTC), kind=AlertKind.THREAD_REPLY, parent_id=parent)
    week = latest_activity_week(engine, TZ)
    assert week is not None and week.iso == "2026-W46"  # a thread reply or a storm alert alone does not count
    sd.storm(TARGET, datetime(2026, 11, 18, 15, tzinfo=UTC), None, 9, 9)  # W47
    sd.alert(mid, datetime(2026, 11, 23, 10, tzinfo=UTC))  # W48, hours after the storm (the demo's act 3)
    week = latest_activity_week(engine, TZ)
    assert week is not None and week.iso == "2026-W47"


def _earshot_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("EARSHOT_DATA_DIR", str(tmp_path))  # as the demo's printed command sets it
    monkeypatch.chdir(ROOT)
    return main(["digest", *args])


def test_the_printed_week_shows_a_database_filled_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Alerts and a storm stamped with the real clock, as the demo leaves them: the week the demo prints
    shows them (with the storm's themes), the default week shows nothing."""
    engine = make_engine(f"sqlite:///{tmp_path / 'earshot.db'}")
    now = max(
        utcnow(), week_of(utcnow(), TZ).start + timedelta(hours=2)
    )  # the hour before is this week's too
    sd = Seeder(engine)
    for k in range(9):
        mid = sd.mention(
            "google", now - timedelta(minutes=50 - 5 * k), rating=1, label="negative", score=-0.9,
            aspects=[neg("delivery", -0.8, f"Paczka {k} nie dotarła")],
        )  # fmt: skip
        sd.alert(mid, now - timedelta(minutes=45 - 5 * k))
    settings = make_settings(tmp_path, digest={"timezone": TZ})
    assert check_storms(engine, settings, now)["opened"] == 1
    week = latest_activity_week(engine, TZ)
    engine.dispose()
    assert week is not None and week.iso == week_of(now, TZ).iso

    assert _earshot_digest(tmp_path, monkeypatch, "--week", week.iso, "--no-slack") == 0
    report = json.loads(next((tmp_path / "reports").glob(f"*/{week.iso}.json")).read_text(encoding="utf-8"))
    assert (report["total"], report["kpis"]["alerts"]) == (9, 9)
    assert [s["themes"] for s in report["storms"]] == [[{"aspect": "delivery", "count": 9}]]

    assert _earshot_digest(tmp_path, monkeypatch, "--no-slack") == 0  # the old hint: the last full week
    default = last_full_week(datetime.now(UTC), TZ).iso
    before = json.loads(next((tmp_path / "reports").glob(f"*/{default}.json")).read_text(encoding="utf-8"))
    assert (before["total"], before["kpis"]["alerts"], before["storms"]) == (0, 0, [])
    capsys.readouterr()
