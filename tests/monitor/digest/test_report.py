"""A digest's JSON form: ISO dates and the derived figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from monitor.digest.queries import build_digest
from monitor.digest.weeks import parse_week
from tests.monitor.digest.seed import (
    NOW,
    PUBLIC,
    TARGET,
    W47,
    make_settings,
)


def test_to_dict_is_json_with_iso_dates(engine: Engine, seeded: dict[str, int], tmp_path: Path) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    data = json.loads(json.dumps(d.to_dict()))
    assert data["week"] == W47 and data["previous_week"] == "2026-W46"
    assert data["days"][0]["day"] == "2026-11-16" and data["start"] == "2026-11-15T23:00:00+00:00"
    assert data["kpis"]["within_sla_share"] == pytest.approx(0.4)
    assert data["volume_change"] == pytest.approx(0.8)
    assert data["report_url"] == f"{PUBLIC}/digests/sklep-kowalski/2026-W47"
