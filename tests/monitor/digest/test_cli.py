"""`earshot digest --week`: the report on demand, from the command line, without Slack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.core.db import make_engine
from tests.monitor.digest.seed import TARGET, seed

ROOT = Path(__file__).resolve().parents[3]


def _earshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``earshot --config FILE digest ARGS`` through the command line's entry point, as the service runs it."""
    config = tmp_path / "earshot.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[[targets]]\nname = "{TARGET}"\n', encoding="utf-8")
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT)
    return main(["--config", str(config), "digest", *args])


def test_digest_for_a_given_week_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'earshot.db'}")
    seed(engine)
    engine.dispose()
    returncode = _earshot(tmp_path, monkeypatch, "--week", "2026-W47", "--no-slack", "--language", "en")
    out = capsys.readouterr()
    assert returncode == 0, out.err
    [line] = out.out.splitlines()
    assert line.startswith(f"{TARGET} 2026-W47: ")
    report = Path(line.split(": ", 1)[1])
    assert report.is_file() and report.is_relative_to(tmp_path / "reports")
    html = report.read_text(encoding="utf-8")
    assert "Weekly digest: Sklep Kowalski" in html and "data:image/png;base64," in html


def test_a_malformed_week_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _earshot(tmp_path, monkeypatch, "--week", "2026-47", "--no-slack") == 2
    assert "2026-W47" in capsys.readouterr().err  # the message shows the expected form
