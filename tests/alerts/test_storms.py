"""Storms: one alert when a target's negative volume jumps far above its usual level, one when it is over."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import alerts.storms as storms
from alerts.storms import check_storms, open_storm_alert_id
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, AlertStatus, Mention, SentimentScore, Storm, TargetRow

NOW = datetime(2024, 5, 8, 14, 0, tzinfo=UTC)
SHOP = "Sklep Zielony"
OTHER = "Sklep Czerwony"


def make_settings(tmp_path: Path, **storm: Any) -> EarshotSettings:
    return EarshotSettings(
        data_dir=tmp_path,
        alerts={"negative_threshold": -0.5, "max_stars": 2, "storm": storm},
        slack={"default_channel": "#earshot-alerts"},
        targets=[{"name": SHOP, "channel": "#zielony"}, {"name": OTHER}],
    )


@pytest.fixture
def cfg(tmp_path: Path) -> EarshotSettings:
    return make_settings(tmp_path)


@dataclass
class Item:
    """One mention with its newest score, as the crawler and scorer would have stored it."""

    at: datetime | None
    score: float | None = -0.9
    rating: float | None = None
    target: str | None = SHOP
    source: str = "google_business"
    first_seen: datetime | None = None
    aspects: list[dict[str, Any]] = field(default_factory=list)
    text: str = "Paczka nie dotarła, nikt nie odpowiada."
    author: str = "Anna"


def _target_id(session: Session, name: str) -> int:
    row = session.exec(select(TargetRow).where(TargetRow.name == name)).first()
    if row is None:
        row = TargetRow(name=name)
        session.add(row)
        session.flush()
    assert row.id is not None
    return row.id


def seed(engine: Engine, items: list[Item]) -> list[int]:
    """Insert mentions (and a score for each with one); returns their ids, in order."""
    ids = []
    with Session(engine) as session:
        for n, item in enumerate(items):
            mention = Mention(
                source=item.source,
                external_id=f"{item.source}-{time.monotonic_ns()}-{n}",
                target_id=_target_id(session, item.target) if item.target else None,
                url=f"https://example.com/r/{n}",
                author=item.author,
                text=item.text,
                lang="pl",
                rating=item.rating,
                created_at=item.at,
                first_seen_at=item.first_seen or item.at or NOW,
            )
            session.add(mention)
            session.flush()
            assert mention.id is not None
            ids.append(mention.id)
            if item.score is not None:
                session.add(
                    SentimentScore(
                        mention_id=mention.id,
                        mention_version=1,
                        label="negative" if item.score < 0 else "positive",
                        score=item.score,
                        confidence=0.9,
                        model_name="test",
                        model_version="1",
                        aspects=item.aspects,
                    )
                )
        session.commit()
    return ids


def burst(n: int, end: datetime = NOW, *, span: timedelta = timedelta(minutes=50), **kw: Any) -> list[Item]:
    """``n`` negative items spread over ``span`` before ``end``."""
    return [Item(at=end - span * (i / max(n, 1)), **kw) for i in range(n)]


def storm_rows(engine: Engine) -> list[Storm]:
    with Session(engine) as session:
        return list(session.exec(select(Storm).order_by(col(Storm.id))).all())


def alert_rows(engine: Engine, kind: str | None = None) -> list[Alert]:
    with Session(engine) as session:
        stmt = select(Alert).order_by(col(Alert.id))
        if kind is not None:
            stmt = stmt.where(Alert.kind == kind)
        return list(session.exec(stmt).all())


def aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


# --- opening -----------------------------------------------------------------------------------------------


def test_baseline_is_the_mean_of_the_same_window_on_seven_prior_days(
    engine: Engine, cfg: EarshotSettings
) -> None:
    history = []
    for day in range(1, 8):
        then = NOW - timedelta(days=day)
        history += [Item(at=then), Item(at=then - timedelta(minutes=59))]  # inside that day's window
        history += [Item(at=then - timedelta(minutes=60)), Item(at=then + timedelta(minutes=1))]  # outside
    history.append(Item(at=NOW - timedelta(days=8)))  # older than the baseline period
    seed(engine, history + burst(9))
    counts = check_storms(engine, cfg, NOW)
    assert counts == {"checked": 2, "opened": 1, "subsided": 0, "open": 1}
    (storm,) = storm_rows(engine)
    assert (storm.target, storm.window_count, storm.baseline, storm.peak_count) == (SHOP, 9, 2.0, 9)
    (alert,) = alert_rows(engine)
    assert alert.reason == "9 negative mentions in the last 60 min (usual: 2.0)"
    assert (alert.kind, alert.severity, alert.channel, alert.target) == (
        AlertKind.STORM,
        "negative",
        "#zielony",
        SHOP,
    )
    assert (alert.status, aware(alert.next_attempt_at), aware(alert.created_at)) == (
        AlertStatus.PENDING,
        NOW,
        NOW,
    )
    assert storm.alert_id == alert.id
    assert alert.payload["storm_id"] == storm.id
    assert alert.payload["count"] == 9 and alert.payload["baseline"] == 2.0
    assert alert.payload["window_minutes"] == 60 and alert.payload["opened_at"] == NOW.isoformat()


def test_no_storm_when_the_baseline_is_high(engine: Engine, cfg: EarshotSettings) -> None:
    """A shop that always gets three complaints at lunchtime needs 4 × 3 = 12 to storm, not 9."""
    history = [Item(at=NOW - timedelta(days=d, minutes=m)) for d in range(1, 8) for m in (5, 20, 40)]
    seed(engine, history + burst(9))
    assert check_storms(engine, cfg, NOW)["opened"] == 0
    seed(engine, burst(3, span=timedelta(minutes=10)))
    assert check_storms(engine, cfg, NOW)["opened"] == 1
    assert storm_rows(engine)[0].baseline == 3.0


def test_no_storm_below_min_count_even_without_a_baseline(engine: Engine, cfg: EarshotSettings) -> None:
    seed(engine, burst(7))
    assert check_storms(engine, cfg, NOW) == {"checked": 2, "opened": 0, "subsided": 0, "open": 0}
    assert alert_rows(engine) == []


def test_only_negative_items_count(engine: Engine, cfg: EarshotSettings) -> None:
    """Praise, mild items and items whose *current* version is fine do not storm; a 1★ without score does."""
    happy = burst(20, score=0.8, rating=5)
    mild = burst(20, score=-0.49, rating=3)
    seed(engine, happy + mild + burst(7))
    edited = seed(engine, burst(3))
    with Session(engine) as session:  # the customers edited their reviews; the new text is positive
        for mention_id in edited:
            mention = session.get(Mention, mention_id)
            assert mention is not None
            mention.version = 2
            session.add(mention)
            session.add(
                SentimentScore(
                    mention_id=mention_id,
                    mention_version=2,
                    label="positive",
                    score=0.7,
                    confidence=0.9,
                    model_name="test",
                    model_version="1",
                )
            )
        session.commit()
    assert check_storms(engine, cfg, NOW)["opened"] == 0
    seed(engine, [Item(at=NOW - timedelta(minutes=1), score=None, rating=1)])  # not scored yet, 1★
    assert check_storms(engine, cfg, NOW)["opened"] == 1
    assert storm_rows(engine)[0].window_count == 8


def test_a_backfill_of_old_reviews_opens_nothing(engine: Engine, cfg: EarshotSettings) -> None:
    """The first crawl imports years of one-star reviews at once: their item time is when they were written."""
    old = [
        Item(at=datetime(2021, 3, 1, tzinfo=UTC) + timedelta(days=i), first_seen=NOW - timedelta(minutes=5))
        for i in range(200)
    ]
    seed(engine, old)
    assert check_storms(engine, cfg, NOW)["opened"] == 0
    # Items without a source time are dated by when we first saw them.
    seed(engine, [Item(at=None, first_seen=NOW - timedelta(minutes=i)) for i in range(8)])
    assert check_storms(engine, cfg, NOW)["opened"] == 1


def test_targets_are_independent_and_untargeted_items_are_ignored(
    engine: Engine, cfg: EarshotSettings
) -> None:
    seed(engine, burst(8, target=OTHER) + burst(5) + burst(30, target=None) + burst(9, target="Nowy sklep"))
    counts = check_storms(engine, cfg, NOW)
    assert counts == {"checked": 3, "opened": 2, "subsided": 0, "open": 2}
    by_target = {a.target: a.channel for a in alert_rows(engine)}
    assert by_target == {OTHER: "#earshot-alerts", "Nowy sklep": "#earshot-alerts"}  # no target channel set


def test_storm_channel_setting_wins(engine: Engine, tmp_path: Path) -> None:
    seed(engine, burst(8))
    check_storms(engine, make_settings(tmp_path, channel="#burza"), NOW)
    assert [a.channel for a in alert_rows(engine)] == ["#burza"]


def test_disabled_detection_opens_nothing(engine: Engine, tmp_path: Path) -> None:
    seed(engine, burst(50))
    assert check_storms(engine, make_settings(tmp_path, enabled=False), NOW)["opened"] == 0


def test_themes_sources_and_examples(engine: Engine, cfg: EarshotSettings) -> None:
    delivery = {"aspect": "delivery", "sentiment": "negative"}
    payment = {"aspect": "payment", "sentiment": "negative"}
    items = [
        Item(
            at=NOW - timedelta(minutes=1), score=-0.95, aspects=[delivery, delivery, payment], text="Ż" * 400
        ),
        Item(at=NOW - timedelta(minutes=2), score=-0.99, aspects=[delivery], author="Zenon", source="ceneo"),
        Item(
            at=NOW - timedelta(minutes=3),
            score=-0.6,
            aspects=[payment, {"aspect": "returns", "sentiment": "negative"}],
        ),
        Item(
            at=NOW - timedelta(minutes=4),
            score=-0.7,
            aspects=[delivery, {"aspect": "price", "sentiment": "positive"}],
        ),
        Item(
            at=NOW - timedelta(minutes=5), score=-0.8, aspects=[{"aspect": "staff", "sentiment": "negative"}]
        ),
        Item(at=NOW - timedelta(minutes=6), score=-0.97, source="ceneo", rating=1),
        Item(at=NOW - timedelta(minutes=7), score=-0.6),
        Item(at=NOW - timedelta(minutes=8), score=None, rating=1, source="allegro"),
        Item(
            at=NOW - timedelta(minutes=90), score=-1.0, aspects=[{"aspect": "staff", "sentiment": "negative"}]
        ),
    ]
    ids = seed(engine, items)
    check_storms(engine, cfg, NOW)
    payload = alert_rows(engine)[0].payload
    assert payload["themes"] == [
        {"aspect": "delivery", "count": 3},
        {"aspect": "payment", "count": 2},
        {"aspect": "returns", "count": 1},  # ties broken by name: returns before staff
    ]
    assert payload["sources"] == {"google_business": 5, "ceneo": 2, "allegro": 1}
    examples = payload["examples"]
    assert [e["mention_id"] for e in examples] == [
        ids[1],
        ids[5],
        ids[0],
    ]  # most negative first, in the window
    assert examples[0] == {
        "mention_id": ids[1],
        "source": "ceneo",
        "author": "Zenon",
        "text": "Paczka nie dotarła, nikt nie odpowiada.",
        "url": "https://example.com/r/1",
        "rating": None,
    }
    assert examples[1]["rating"] == 1
    assert examples[2]["text"] == "Ż" * 300


# --- races ------------------------------------------------------------------------------------------------


def test_running_twice_opens_one_storm(engine: Engine, cfg: EarshotSettings) -> None:
    seed(engine, burst(10))
    assert check_storms(engine, cfg, NOW)["opened"] == 1
    assert check_storms(engine, cfg, NOW + timedelta(minutes=1)) == {
        "checked": 2,
        "opened": 0,
        "subsided": 0,
        "open": 1,
    }
    assert len(storm_rows(engine)) == 1 and len(alert_rows(engine)) == 1


def test_two_threads_racing_open_one_storm(engine: Engine, cfg: EarshotSettings) -> None:
    seed(engine, burst(10))
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(check_storms(engine, cfg, NOW))
        except Exception as exc:  # noqa: BLE001 - reported below, the test fails on it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(r["opened"] for r in results) == [0, 1]
    assert len(storm_rows(engine)) == 1 and len(alert_rows(engine)) == 1


def test_a_run_that_missed_the_open_storm_is_stopped_by_the_dedupe_key(
    engine: Engine, cfg: EarshotSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PostgreSQL race: both runs saw no open storm; the unique alert key lets only one commit."""
    seed(engine, burst(10))
    monkeypatch.setattr(storms, "_open_storm", lambda session, target: None)
    monkeypatch.setattr(
        storms, "_storms_ever", lambda session, target: 0
    )  # counted before the other committed
    assert storms._open(engine, cfg, SHOP, 10, 0.0, NOW) is True
    assert storms._open(engine, cfg, SHOP, 10, 0.0, NOW + timedelta(seconds=1)) is False
    assert len(storm_rows(engine)) == 1 and len(alert_rows(engine)) == 1
    assert alert_rows(engine)[0].dedupe_key == f"storm:{SHOP}:open:0"


# --- following and closing -----------------------------------------------------------------------------------


def test_storm_stays_open_while_busy_and_tracks_its_peak(engine: Engine, cfg: EarshotSettings) -> None:
    seed(engine, burst(8))
    check_storms(engine, cfg, NOW)
    seed(engine, burst(12, end=NOW + timedelta(minutes=40), span=timedelta(minutes=30)))
    assert check_storms(engine, cfg, NOW + timedelta(minutes=40))["open"] == 1  # window: 12 + 4 older
    seed(engine, burst(3, end=NOW + timedelta(minutes=150), span=timedelta(minutes=30)))
    counts = check_storms(engine, cfg, NOW + timedelta(minutes=150))
    assert counts == {"checked": 2, "opened": 0, "subsided": 0, "open": 1}
    (storm,) = storm_rows(engine)
    assert storm.peak_count == 16 and storm.quiet_since is None and storm.closed_at is None
    assert len(alert_rows(engine)) == 1


def test_storm_subsides_only_after_subside_minutes_of_calm(engine: Engine, cfg: EarshotSettings) -> None:
    seed(engine, burst(10) + burst(4, end=NOW + timedelta(minutes=20), span=timedelta(minutes=15)))
    check_storms(engine, cfg, NOW)
    storm_alert = alert_rows(engine)[0]
    check_storms(engine, cfg, NOW + timedelta(minutes=20))
    calm_from = NOW + timedelta(minutes=90)  # window (30, 90]: nothing
    assert check_storms(engine, cfg, calm_from)["subsided"] == 0
    assert aware(storm_rows(engine)[0].quiet_since) == calm_from
    assert check_storms(engine, cfg, calm_from + timedelta(minutes=59))["open"] == 1
    with Session(engine) as session:
        assert open_storm_alert_id(session, SHOP) == storm_alert.id
        assert open_storm_alert_id(session, OTHER) is None

    end = calm_from + timedelta(minutes=60)
    assert check_storms(engine, cfg, end) == {"checked": 2, "opened": 0, "subsided": 1, "open": 0}
    assert check_storms(engine, cfg, end + timedelta(minutes=5))["subsided"] == 0  # once only
    (storm,) = storm_rows(engine)
    assert aware(storm.closed_at) == end
    (over,) = alert_rows(engine, AlertKind.STORM_SUBSIDED)
    assert (over.parent_id, over.broadcast, over.channel, over.target) == (
        storm_alert.id,
        True,
        "#zielony",
        SHOP,
    )
    assert over.dedupe_key == f"storm:{storm.id}:subsided"
    assert over.reason == "storm over: 14 negative mentions from 13:00 to 16:30 UTC"
    assert over.payload == {
        "storm_id": storm.id,
        "opened_at": NOW.isoformat(),
        "since": (NOW - timedelta(minutes=60)).isoformat(),
        "closed_at": end.isoformat(),
        "total": 14,
        "peak_count": 12,  # 8 of the first burst and the 4 later ones shared a window
    }
    (parent,) = alert_rows(engine, AlertKind.STORM)
    assert parent.state_version == storm_alert.state_version + 1
    assert (parent.payload["closed_at"], parent.payload["total"]) == (end.isoformat(), 14)
    with Session(engine) as session:
        assert open_storm_alert_id(session, SHOP) is None


def test_renewed_activity_restarts_the_calm_period(engine: Engine, cfg: EarshotSettings) -> None:
    seed(engine, burst(10))
    check_storms(engine, cfg, NOW)
    check_storms(engine, cfg, NOW + timedelta(minutes=70))  # calm from here
    seed(engine, burst(3, end=NOW + timedelta(minutes=100), span=timedelta(minutes=5)))
    check_storms(engine, cfg, NOW + timedelta(minutes=100))  # 3 > subside_count: busy again
    assert storm_rows(engine)[0].quiet_since is None
    assert check_storms(engine, cfg, NOW + timedelta(minutes=130))["subsided"] == 0  # 60 min after 70
    assert check_storms(engine, cfg, NOW + timedelta(minutes=170))["subsided"] == 0  # calm again from here
    assert check_storms(engine, cfg, NOW + timedelta(minutes=229))["subsided"] == 0
    assert check_storms(engine, cfg, NOW + timedelta(minutes=230))["subsided"] == 1


def test_a_new_storm_after_the_last_one_is_a_new_alert(engine: Engine, cfg: EarshotSettings) -> None:
    seed(engine, burst(10))
    check_storms(engine, cfg, NOW)
    check_storms(engine, cfg, NOW + timedelta(hours=2))
    check_storms(engine, cfg, NOW + timedelta(hours=3))
    later = NOW + timedelta(hours=5)
    seed(engine, burst(10, end=later))
    assert check_storms(engine, cfg, later)["opened"] == 1
    keys = [a.dedupe_key for a in alert_rows(engine, AlertKind.STORM)]
    assert keys == [f"storm:{SHOP}:open:0", f"storm:{SHOP}:open:1"]


def test_times_in_the_quiet_hours_zone_when_configured(engine: Engine, tmp_path: Path) -> None:
    settings = EarshotSettings(
        data_dir=tmp_path,
        alerts={"storm": {"subside_minutes": 0}, "quiet_hours": {"start": "22:00", "end": "07:00"}},
    )
    seed(engine, burst(8))
    check_storms(engine, settings, NOW)
    check_storms(engine, settings, NOW + timedelta(minutes=65))
    (over,) = alert_rows(engine, AlertKind.STORM_SUBSIDED)
    assert over.reason == "storm over: 8 negative mentions from 15:00 to 17:05 CEST"


# --- timing -----------------------------------------------------------------------------------------------


def test_check_storms_on_100k_mentions_sqlite(sqlite_engine: Engine, cfg: EarshotSettings) -> None:
    """Prints how long one check takes over 100k mentions (30 days, 5 targets); asserts only the outcome."""
    with Session(sqlite_engine) as session:
        target_ids = [_target_id(session, f"shop{i}") for i in range(5)]
        session.commit()
    # Generated in SQL (a recursive CTE) so seeding takes a fraction of a second; times are stored in the
    # format SQLAlchemy writes for SQLite. No item falls in the current window; every 7th is negative.
    first = min(target_ids)
    assert target_ids == list(range(first, first + 5))
    stamp = "strftime('%Y-%m-%d %H:%M:%S', :now, '-' || (60 + (i * 431) % (30 * 24 * 60)) || ' minutes') || '.000000'"
    with sqlite_engine.begin() as conn:
        conn.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999) "
                "INSERT INTO mentions (id, source, external_id, target_id, text, created_at, first_seen_at, "
                "last_seen_at, version) "
                f"SELECT i + 1, 'rss', 'bulk-' || i, {first} + i % 5, 'x', {stamp}, {stamp}, {stamp}, 1 FROM n"
            ),
            {"now": NOW.strftime("%Y-%m-%d %H:%M:%S")},
        )
        conn.execute(
            text(
                "INSERT INTO sentiment_scores (mention_id, mention_version, label, score, confidence, "
                "probabilities, model_name, model_version, urgency, urgency_reasons, aspects, scored_at) "
                "SELECT id, 1, 'x', CASE WHEN id % 7 = 1 THEN -0.9 ELSE 0.5 END, 0.9, '{}', 'm', '1', 'none', "
                "'[]', '[]', created_at FROM mentions"
            )
        )
    seed(sqlite_engine, burst(20, target="shop3"))
    started = time.perf_counter()
    counts = check_storms(sqlite_engine, cfg, NOW)
    elapsed = time.perf_counter() - started
    print(f"\ncheck_storms over 100k mentions (SQLite): {elapsed * 1000:.0f} ms, {counts}")
    assert counts["opened"] == 1
    (storm,) = storm_rows(sqlite_engine)
    assert storm.target == "shop3" and storm.window_count == 20
    assert 3.0 <= storm.baseline <= 5.0  # about 4 negative items per target and hour in the bulk rows
