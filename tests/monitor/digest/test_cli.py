"""`earshot digest --week`: the report on demand, from the command line, without Slack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from monitor.core.db import make_engine
from tests.monitor.digest.seed import TARGET, seed

ROOT = Path(__file__).resolve().parents[3]


def _earshot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "earshot.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[[targets]]\nname = "{TARGET}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), "digest", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_digest_for_a_given_week_writes_the_report(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'earshot.db'}")
    seed(engine)
    engine.dispose()
    out = _earshot(tmp_path, "--week", "2026-W47", "--no-slack", "--language", "en")
    assert out.returncode == 0, out.stderr
    [line] = out.stdout.splitlines()
    assert line.startswith(f"{TARGET} 2026-W47: ")
    report = Path(line.split(": ", 1)[1])
    assert report.is_file() and report.is_relative_to(tmp_path / "reports")
    html = report.read_text(encoding="utf-8")
    assert "Weekly digest: Sklep Kowalski" in html and "data:image/png;base64," in html


def test_a_malformed_week_is_a_usage_error(tmp_path: Path) -> None:
    out = _earshot(tmp_path, "--week", "2026-47", "--no-slack")
    assert out.returncode == 2
    assert "2026-W47" in out.stderr  # the message shows the expected form
