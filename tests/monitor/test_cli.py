"""The command line reports configuration problems clearly and never prints secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)


def test_malformed_setting_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EARSHOT_ALERTS__MAX_STARS", "nine")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "alerts.max_stars" in err and "EARSHOT_ALERTS__MAX_STARS" in err


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "missing.toml"), "config", "show"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_config_show_masks_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EARSHOT_SLACK__BOT_TOKEN", "xoxb-very-secret-value")
    monkeypatch.setenv("EARSHOT_DATABASE_URL", "postgresql+psycopg://earshot:hunter2@127.0.0.1/test")
    monkeypatch.setenv("EARSHOT_DATA_DIR", str(tmp_path))
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "xoxb-very-secret-value" not in out and "hunter2" not in out
    shown = json.loads(out)
    assert shown["slack"]["bot_token"] == "**********"
    assert shown["database_url"].startswith("postgresql+psycopg://earshot:***@")


def test_unreachable_database_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EARSHOT_DATABASE_URL", "postgresql+psycopg://nobody:pw@127.0.0.1:1/none")
    assert main(["alerts", "send"]) == 2
    err = capsys.readouterr().err
    assert "cannot open database" in err and "pw@" not in err


def test_alerts_requeue_retries_only_the_failed_alerts_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command the Slack error hints name: failed alerts get fresh attempts, others are untouched."""
    from sqlmodel import Session, select

    from alerts.enqueue import enqueue_alerts
    from monitor.core.db import make_engine
    from monitor.core.models import Alert, AlertStatus
    from tests.alerts.helpers import add_mention, make_settings

    monkeypatch.setenv("EARSHOT_DATA_DIR", str(tmp_path))
    settings = make_settings(tmp_path)
    engine = make_engine(settings.effective_database_url)
    add_mention(engine)
    add_mention(engine, "en_low_rating")
    add_mention(engine, "pl_negative", external_id="third")
    enqueue_alerts(engine, settings)
    with Session(engine) as session:
        rows = list(session.exec(select(Alert).order_by(Alert.id)))
        assert len(rows) == 3
        for row in rows[:2]:
            row.status, row.attempts, row.last_error = AlertStatus.FAILED, 5, "not_in_channel: invite the bot"
            session.add(row)
        session.commit()
        first, second = (row.id for row in rows[:2])

    assert main(["alerts", "requeue", "--id", str(first)]) == 0
    assert "requeued 1 failed alert(s)" in capsys.readouterr().out
    with Session(engine) as session:
        status = {row.id: (row.status, row.attempts) for row in session.exec(select(Alert))}
    assert status[first] == (AlertStatus.PENDING, 0)
    assert status[second] == (AlertStatus.FAILED, 5)

    monkeypatch.setenv("EARSHOT_CONSOLE_LANGUAGE", "pl")
    assert main(["alerts", "requeue"]) == 0
    assert "ponownie w kolejce: 1" in capsys.readouterr().out
    with Session(engine) as session:
        assert all(row.status == AlertStatus.PENDING for row in session.exec(select(Alert)))
