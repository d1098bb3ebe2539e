"""The layer rule in .importlinter holds, and it would catch a wrong import: `make check` runs the same tool.

monitor.core (the ground) imports no other package; sentiment imports nothing of ours; alerts and spiders
use only monitor.core (and sentiment) and never each other; no two modules of a package import each other.
"""

from __future__ import annotations

import configparser
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import monitor

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "alerts", "spiders", "sentiment")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _copy_tree(dest: Path) -> Path:
    """The four packages' Python files and the contract file: enough for import-linter, no data."""
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            target = dest / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    shutil.copyfile(ROOT / ".importlinter", dest / ".importlinter")
    return dest


def test_the_contracts_hold_on_this_tree() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("victim", "bad_import", "broken"),
    [
        ("monitor/core/models.py", "import alerts.rules", "The ground floor (monitor.core) imports no other"),
        (
            "monitor/core/store.py",
            "import monitor.pipeline",
            "The ground floor (monitor.core) imports no other",
        ),
        ("sentiment/scorer.py", "import monitor.core.config", "Dependencies point down"),
        ("spiders/pipelines.py", "import alerts.outbox", "Dependencies point down"),
        ("alerts/rules.py", "import monitor.cli", "Dependencies point down"),
        ("sentiment/labels.py", "import sentiment.scorer", "No import cycles"),
    ],
)
def test_a_deliberately_wrong_import_breaks_a_contract(
    tmp_path: Path, victim: str, bad_import: str, broken: str
) -> None:
    tree = _copy_tree(tmp_path)
    target = tree / victim
    target.write_text(target.read_text(encoding="utf-8") + f"\n{bad_import}  # deliberately wrong\n")
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout


def test_every_top_floor_module_is_forbidden_to_the_ground() -> None:
    """A new top-floor module must join the ground contract's list, or core could import it unnoticed."""
    config = configparser.ConfigParser(inline_comment_prefixes=(";",), comment_prefixes=(";",))
    config.read(ROOT / ".importlinter")
    forbidden = set(config["importlinter:contract:ground"]["forbidden_modules"].split())
    top_floor = {f"monitor.{m.name}" for m in pkgutil.iter_modules(monitor.__path__) if m.name != "core"}
    assert top_floor <= forbidden, f"add to .importlinter's ground contract: {sorted(top_floor - forbidden)}"
