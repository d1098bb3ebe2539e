"""The README's configuration table stays true: every setting is listed with its current default."""

from __future__ import annotations

from pathlib import Path

from monitor.core.settings_table import settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_setting_with_its_default() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
    documented = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert documented == settings_table(), (
        "README settings table is stale: run `python -m monitor.core.settings_table`"
    )


def test_readme_names_install_test_and_demo_commands() -> None:
    text = README.read_text(encoding="utf-8")
    for command in ("make install", "make test", "earshot demo"):
        assert command in text
