"""Digest charts are valid PNGs labelled in the digest's language, even for an empty week."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.image
import pytest
from sqlalchemy.engine import Engine

from monitor.digest.charts import CHART_NAMES, render_charts
from monitor.digest.errors import DigestError
from monitor.digest.queries import build_digest
from monitor.digest.report import Digest
from monitor.digest.weeks import parse_week
from tests.monitor.digest.seed import (
    NOW,
    PNG_MAGIC,
    TARGET,
    W47,
    Seeder,
    local,
    make_settings,
    neg,
)


@pytest.fixture
def digest_pl(sqlite_engine: Engine, tmp_path: Path) -> Digest:
    sd = Seeder(sqlite_engine)
    for day, rating, label, score in (
        (16, 1, "negative", -0.9),
        (17, 5, "positive", 0.8),
        (19, 3, "neutral", 0),
    ):
        sd.mention("google", local(day, 12), rating=rating, label=label, score=score,
                   aspects=[neg("delivery", -0.5, "Długo")] if label == "negative" else [])  # fmt: skip
    sd.mention("ceneo", local(20, 12), rating=2, label="negative", score=-0.5)
    return build_digest(
        sqlite_engine, make_settings(tmp_path), TARGET, parse_week("2026-W47", "Europe/Warsaw"), now=NOW
    )


def test_every_chart_is_a_decodable_png(digest_pl: Digest) -> None:
    charts = render_charts(digest_pl, "pl")
    assert tuple(charts) == CHART_NAMES
    for png in charts.values():
        assert png.startswith(PNG_MAGIC)
        height, width, _ = matplotlib.image.imread(io.BytesIO(png), format="png").shape
        assert width >= 600 and height >= 200


def test_chart_labels_follow_the_language(digest_pl: Digest) -> None:
    pl, en = render_charts(digest_pl, "pl"), render_charts(digest_pl, "en")
    assert all(pl[name] != en[name] for name in CHART_NAMES)
    assert render_charts(digest_pl, "pl") == pl  # deterministic: the same digest gives the same bytes
    with pytest.raises(DigestError, match="'pl' or 'en'"):
        render_charts(digest_pl, "de")


def test_png_of_an_empty_week_is_still_valid(engine: Engine, tmp_path: Path) -> None:
    d = build_digest(engine, make_settings(tmp_path), "Pusty", parse_week(W47, "Europe/Warsaw"), now=NOW)
    import matplotlib.image

    for png in render_charts(d, "pl").values():
        assert png.startswith(PNG_MAGIC)
        assert matplotlib.image.imread(io.BytesIO(png), format="png").shape[2] == 4
