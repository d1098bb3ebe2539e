"""The figures of a digest on the seeded week: volume, sentiment, ratings, KPIs, storms."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from monitor.digest.queries import build_digest
from monitor.digest.weeks import parse_week
from tests.monitor.digest.seed import (
    NOW,
    TARGET,
    W47,
    Seeder,
    local,
    make_settings,
)


def test_dst_week_counts_items_on_their_local_day(engine: Engine, tmp_path: Path) -> None:
    sd = Seeder(engine)
    for moment in (
        datetime(2026, 10, 24, 21, 30, tzinfo=UTC),  # Sat 23:30 CEST
        datetime(2026, 10, 24, 22, 30, tzinfo=UTC),  # Sun 00:30 CEST
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # Sun 02:30 CEST (before the switch)
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # Sun 02:30 CET (after it: the hour repeats)
        datetime(2026, 10, 25, 22, 30, tzinfo=UTC),  # Sun 23:30 CET
        datetime(2026, 10, 25, 23, 30, tzinfo=UTC),  # Mon 00:30 CET: the next week
        datetime(2026, 10, 18, 21, 59, tzinfo=UTC),  # Sun 18 Oct 23:59 CEST: the week before
    ):
        sd.mention("google", moment, rating=4, label="positive", score=0.5)
    settings = make_settings(tmp_path)
    digest = build_digest(engine, settings, TARGET, parse_week("2026-W43", "Europe/Warsaw"), now=NOW)
    assert [d.count for d in digest.days] == [0, 0, 0, 0, 0, 1, 4]
    assert [d.day.isoformat() for d in digest.days][5:] == ["2026-10-24", "2026-10-25"]
    assert (digest.total, digest.previous_total) == (5, 1)
    after = build_digest(engine, settings, TARGET, parse_week("2026-W44", "Europe/Warsaw"), now=NOW)
    assert after.days[0].count == 1 and after.total == 1


def test_volume_by_source_and_by_local_day(engine: Engine, seeded: dict[str, int], tmp_path: Path) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    assert (d.total, d.previous_total) == (9, 5)
    assert [(s.source, s.count, s.previous) for s in d.sources] == [
        ("google", 5, 3),
        ("ceneo", 2, 1),
        ("mastodon", 2, 0),
        ("rss", 0, 1),
    ]
    assert [d.day.isoformat() for d in d.days] == [f"2026-11-{n}" for n in range(16, 23)]
    assert [day.count for day in d.days] == [2, 1, 2, 1, 1, 1, 1]  # m1 (Sun 23:30 UTC) is Monday locally
    assert d.days[0].by_source == {"google": 2}
    assert d.days[2].by_source == {"ceneo": 1, "google": 1}  # m8 counted by first_seen_at
    assert d.days[6].by_source == {"mastodon": 1}  # m6 at 23:30 on Sunday stays in the week
    assert d.volume_change == pytest.approx(0.8)


def test_sentiment_split_uses_the_newest_score_of_the_current_version(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    s = d.sentiment
    assert s.counts == {"negative": 4, "neutral": 2, "positive": 2}
    assert (s.unscored, s.previous_unscored) == (1, 0)
    assert s.shares == {"negative": 0.5, "neutral": 0.25, "positive": 0.25}
    assert s.previous_counts == {"negative": 1, "neutral": 1, "positive": 3}
    assert s.change_pp == pytest.approx({"negative": 30.0, "neutral": 5.0, "positive": -35.0})


def test_average_rating_this_week_last_week_and_per_day(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    assert d.rating.average == pytest.approx(19 / 6)
    assert (d.rating.count, d.rating.previous_count) == (6, 4)
    assert d.rating.previous_average == pytest.approx(3.5)
    assert d.rating.change == pytest.approx(19 / 6 - 3.5)
    assert [day.rating_avg for day in d.days] == [3.0, 2.0, 3.5, None, 4.0, None, None]


def test_response_kpis_from_the_weeks_top_level_mention_alerts(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    k = d.kpis
    assert (k.alerts, k.handled, k.unhandled) == (7, 5, 2)
    # handled after [30, 70, 90, 600, 1500] minutes
    assert k.median_minutes == pytest.approx(90)
    assert k.p90_minutes == pytest.approx(600 + 0.6 * 900)
    # judged: 30 (urgent, in), 90 (in), 1500 (negative 1440: out), 70 (urgent 60: out), the assigned one
    # open 6 days (out); not judged: the info alert (no SLA), the open one whose 24 h are not over at NOW
    assert (k.within_sla, k.sla_judged) == (2, 5)
    assert k.within_sla_share == pytest.approx(0.4)
    assert k.open_total == 4  # this week's 2 + the previous week's + next week's open ones


def test_storms_opened_in_the_week(engine: Engine, seeded: dict[str, int], tmp_path: Path) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    assert [(s.opened_at, s.closed_at, s.count, s.peak) for s in d.storms] == [
        (local(18, 15), local(18, 17), 9, 12)
    ]
    assert [th["aspect"] for th in d.storms[0].themes] == ["delivery", "customer_service"]


def test_a_target_without_mentions_gives_an_empty_digest(engine: Engine, tmp_path: Path) -> None:
    d = build_digest(engine, make_settings(tmp_path), "Nowy Sklep", parse_week(W47, "Europe/Warsaw"), now=NOW)
    assert (d.total, d.aspects, d.urgent, d.storms, d.rating.average) == (0, [], [], [], None)
    assert d.sentiment.shares == {"negative": None, "neutral": None, "positive": None}
    assert d.kpis.median_minutes is None and d.kpis.within_sla_share is None
    json.dumps(d.to_dict())  # still JSON-serialisable
