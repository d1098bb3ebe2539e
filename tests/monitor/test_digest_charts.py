"""Digest charts are valid PNGs labelled in the digest's language; the number formats people read."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import matplotlib.image
import pytest
from sqlalchemy.engine import Engine

from monitor.digest import Digest, DigestError, build_digest, parse_week, render_charts
from monitor.digest_charts import CHART_NAMES
from monitor.digest_i18n import (
    ASPECT_LABELS,
    day_label,
    fmt_minutes,
    fmt_number,
    fmt_pp,
    fmt_share,
    period_label,
)
from tests.monitor.test_digest import NOW, PNG_MAGIC, TARGET, Seeder, local, make_settings, neg


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


def test_aspect_labels_match_the_sentiment_package() -> None:
    from sentiment.aspects import ASPECT_LABELS as SOURCE

    assert SOURCE == ASPECT_LABELS


def test_numbers_dates_and_durations_as_each_language_writes_them() -> None:
    assert (fmt_number(12345.5, "pl", 1), fmt_number(12345.5, "en", 1)) == ("12\u00a0345,5", "12,345.5")
    assert fmt_number(1234, "pl") == "1234"
    assert (fmt_share(0.4286, "pl"), fmt_share(None, "en")) == ("42,9%", "–")
    assert (fmt_pp(-35, "pl"), fmt_pp(3.25, "en"), fmt_pp(0, "en")) == ("−35,0 p.p.", "+3.2 pp", "±0.0 pp")
    assert (fmt_minutes(42, "pl"), fmt_minutes(190, "pl"), fmt_minutes(3000, "en")) == (
        "42 min",
        "3 godz. 10 min",
        "2 d 2 h",
    )
    assert (
        day_label(date(2026, 11, 18), "pl") == "śr 18.11"
        and day_label(date(2026, 11, 18), "en") == "Wed 18 Nov"
    )
    assert period_label(date(2026, 12, 28), date(2027, 1, 3), "pl") == "28.12.2026–03.01.2027"
    assert period_label(date(2026, 11, 30), date(2026, 12, 6), "en") == "30 Nov – 6 Dec 2026"
