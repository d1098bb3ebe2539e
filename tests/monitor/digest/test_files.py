"""Where reports are saved and found: paths, slugs, refusal of crafted names, the listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.digest.errors import DigestError
from monitor.digest.files import find_report, list_reports, report_path
from monitor.digest.links import target_slug
from tests.monitor.digest.seed import (
    TARGET,
    W47,
    make_settings,
)


def test_report_paths_and_listing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert (
        report_path(settings, "Sklep Łódź & Co", W47)
        == tmp_path / "reports" / "sklep-lodz-co" / "2026-W47.html"
    )
    assert target_slug("Żółć!") == "zolc" and target_slug("東京").startswith("target-")
    with pytest.raises(DigestError):
        report_path(settings, TARGET, "../../etc/passwd")
    assert find_report(settings, "..", W47) is None and find_report(settings, "sklep-kowalski", "x") is None


def test_reports_list_reads_target_names_of_targets_gone_from_the_config(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    path = tmp_path / "reports" / "stary-sklep" / f"{W47}.html"
    path.parent.mkdir(parents=True)
    path.write_text("<html></html>", encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps({"target": "Stary Sklep"}), encoding="utf-8")
    (tmp_path / "reports" / "stary-sklep" / "notes.html").write_text("x", encoding="utf-8")
    assert [(r.target, r.week_iso, r.target_slug) for r in list_reports(settings)] == [
        ("Stary Sklep", W47, "stary-sklep")
    ]
