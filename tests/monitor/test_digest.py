"""The weekly digest on a seeded database whose every figure is known by construction (SQLite and PostgreSQL).

The seeded week is 2026-W47 (Mon 16 - Sun 22 Nov 2026, Europe/Warsaw = UTC+1) for "Sklep Kowalski":

this week (9 mentions)                                    previous week W46 (5 mentions)
 m1  google   Mon 00:30 local (Sun 23:30 UTC)  1★ neg critical    p1 google Mon 9   5★ pos
 m2  google   Mon 10:00                        5★ pos             p2 google Tue 10  4★ pos
 m3  ceneo    Tue 12:00                        2★ neg elevated    p3 ceneo  Wed 11  2★ neg
 m4  ceneo    Wed 09:00   4★ neutral (its newer score; an older one said negative)
 m5  mastodon Thu 15:00   -  neg (-0.95)                          p4 google created Sat 14 (first seen in W47) 3★ neu
 m6  mastodon Sun 23:30 local (Sun 22:30 UTC)  unscored           p5 rss Sun 15 23:30 local  pos
 m8  google   no created_at, first seen Wed 08:00  3★ neutral
 m10 google   Fri 12:00   4★ version 2 positive (version 1 was negative with a "returns" aspect)
 m11 google   Sat 10:00   -  neg (-0.4)
 m7  rss      Mon 23 00:30 local (Sun 23:30 UTC): next week, never counted
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.slack_sender import ConsoleSender, SlackSender
from monitor.core.config import CONFIG_ENV, EarshotSettings
from monitor.core.models import Alert, AlertKind, AlertStatus, Mention, SentimentScore, Storm, TargetRow
from monitor.digest import (
    DigestError,
    Week,
    build_digest,
    find_report,
    last_full_week,
    list_reports,
    parse_week,
    previous_week,
    render_charts,
    render_html,
    report_path,
    run_digest,
    summary_text,
    target_slug,
    week_days,
)
from tests.alerts.fake_slack import FakeSlack

WARSAW = ZoneInfo("Europe/Warsaw")
TARGET = "Sklep Kowalski"
OTHER = "Inny Sklep"
PUBLIC = "https://earshot.example.com"
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 23 Nov 08:00 Warsaw: digest time
HOSTILE_AUTHOR = '<script>alert("autor")</script>'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _no_earshot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the developer's environment."""
    for name in list(os.environ):
        if name == CONFIG_ENV or name.startswith("EARSHOT_"):
            monkeypatch.delenv(name)


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A Warsaw wall-clock time in 2026 as aware UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=WARSAW).astimezone(UTC)


def make_settings(
    tmp_path: Path, language: str = "pl", digest: dict[str, Any] | None = None, **extra: Any
) -> EarshotSettings:
    return EarshotSettings(
        data_dir=tmp_path,
        public_url=PUBLIC,
        targets=[{"name": TARGET}, {"name": OTHER}],
        digest={"language": language, "timezone": "Europe/Warsaw", **(digest or {})},
        **extra,
    )


class Seeder:
    """Inserts mentions, scores, alerts and storms directly, as the pipeline would have left them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.targets: dict[str, int] = {}
        self.n = 0

    def target(self, name: str) -> int:
        if name not in self.targets:
            with Session(self.engine) as s:
                row = TargetRow(name=name)
                s.add(row)
                s.commit()
                assert row.id is not None
                self.targets[name] = row.id
        return self.targets[name]

    def mention(
        self,
        source: str,
        created: datetime | None,
        *,
        target: str = TARGET,
        rating: float | None = None,
        label: str | None = None,
        score: float = 0.0,
        urgency: str = "none",
        aspects: list[dict[str, Any]] | None = None,
        text: str = "Tekst opinii",
        author: str | None = "Klient",
        first_seen: datetime | None = None,
        version: int = 1,
    ) -> int:
        self.n += 1
        with Session(self.engine) as s:
            m = Mention(
                source=source,
                external_id=f"ext-{self.n}",
                target_id=self.target(target),
                text=text,
                author=author,
                rating=rating,
                created_at=created,
                first_seen_at=first_seen or created or NOW,
                last_seen_at=NOW,
                version=version,
                url=f"https://{source}.example/review/{self.n}",
            )
            s.add(m)
            s.commit()
            assert m.id is not None
            mid = m.id
        if label is not None:
            self.score(mid, version, label, score, urgency=urgency, aspects=aspects or [])
        return mid

    def score(
        self,
        mention_id: int,
        version: int,
        label: str,
        score: float,
        *,
        urgency: str = "none",
        aspects: list[dict[str, Any]] | None = None,
        model: str = "earshot-sentiment-v1",
        scored_at: datetime | None = None,
    ) -> None:
        with Session(self.engine) as s:
            s.add(
                SentimentScore(
                    mention_id=mention_id,
                    mention_version=version,
                    label=label,
                    score=score,
                    confidence=0.9,
                    model_name=model,
                    model_version="1",
                    urgency=urgency,
                    aspects=aspects or [],
                    scored_at=scored_at or NOW,
                )
            )
            s.commit()

    def alert(
        self,
        mention_id: int | None,
        created: datetime,
        *,
        target: str = TARGET,
        severity: str = "negative",
        kind: str = AlertKind.NEGATIVE,
        sent: datetime | None = None,
        handled_after: float | None = None,
        assignee: str | None = None,
        parent_id: int | None = None,
        status: str = AlertStatus.SENT,
        handled_by: str | None = "marek",
    ) -> int:
        self.n += 1
        began = sent or created
        with Session(self.engine) as s:
            a = Alert(
                dedupe_key=f"k{self.n}",
                mention_id=mention_id,
                target=target,
                kind=kind,
                severity=severity,
                channel="#earshot-alerts",
                created_at=created,
                sent_at=sent,
                handled_at=None if handled_after is None else began + timedelta(minutes=handled_after),
                handled_by=None if handled_after is None else handled_by,
                assignee=assignee,
                parent_id=parent_id,
                status=status,
            )
            s.add(a)
            s.commit()
            assert a.id is not None
            return a.id

    def storm(self, target: str, opened: datetime, closed: datetime | None, count: int, peak: int) -> None:
        with Session(self.engine) as s:
            s.add(
                Storm(
                    target=target,
                    opened_at=opened,
                    closed_at=closed,
                    window_count=count,
                    peak_count=peak,
                    payload={
                        "themes": [
                            {"aspect": "delivery", "count": 7},
                            {"aspect": "customer_service", "count": 3},
                        ]
                    },
                )
            )
            s.commit()


def neg(aspect: str, score: float, evidence: str) -> dict[str, Any]:
    return {"aspect": aspect, "sentiment": "negative", "score": score, "evidence": evidence, "via": "both"}


@pytest.fixture
def seeded(engine: Engine) -> dict[str, int]:
    return seed(engine)


def seed(engine: Engine) -> dict[str, int]:
    """The database described in the module docstring; returns the ids the tests refer to."""
    sd = Seeder(engine)
    ids: dict[str, int] = {}
    ids["m1"] = sd.mention(
        "google", local(16, 0, 30), rating=1, label="negative", score=-0.9, urgency="critical",
        aspects=[neg("delivery", -0.8, "Paczka przyszła po dwóch tygodniach")],
        text="Paczka przyszła po dwóch tygodniach, grożę pozwem.",
    )  # fmt: skip
    ids["m2"] = sd.mention(
        "google", local(16, 10), rating=5, label="positive", score=0.9,
        aspects=[{"aspect": "price", "sentiment": "positive", "score": 0.8, "evidence": "Tanio", "via": "lexicon"}],
    )  # fmt: skip
    ids["m3"] = sd.mention(
        "ceneo", local(17, 12), rating=2, label="negative", score=-0.6, urgency="elevated",
        aspects=[neg("delivery", -0.5, "Kurier zgubił paczkę"), neg("customer_service", -0.7, "Obsługa nie odpisuje")],
        author=HOSTILE_AUTHOR,
    )  # fmt: skip
    ids["m4"] = sd.mention("ceneo", local(18, 9), rating=4)
    sd.score(ids["m4"], 1, "negative", -0.7, model="old-model", scored_at=NOW - timedelta(days=3))
    sd.score(ids["m4"], 1, "neutral", 0.0, model="new-model", scored_at=NOW - timedelta(days=1))
    ids["m5"] = sd.mention(
        "mastodon", local(19, 15), label="negative", score=-0.95,
        aspects=[neg("customer_service", -0.9, "")],
        text="Obsługa klienta to żart <script>alert('xss')</script> nikt nie odpisuje od tygodnia",
    )  # fmt: skip
    ids["m6"] = sd.mention("mastodon", local(22, 23, 30))  # unscored, Sunday late evening locally
    ids["m7"] = sd.mention(
        "rss", local(23, 0, 30), label="negative", score=-0.9, urgency="critical",
        aspects=[neg("delivery", -0.99, "Next week's complaint")],
    )  # fmt: skip
    ids["m8"] = sd.mention(
        "google", None, first_seen=local(18, 8), rating=3, label="neutral", score=0.0,
        aspects=[neg("delivery", -0.3, "Dostawa trwała długo")],
    )  # fmt: skip
    ids["m9"] = sd.mention("google", local(14, 12), first_seen=local(17, 9), rating=3, label="neutral")
    ids["m10"] = sd.mention("google", local(20, 12), rating=4, version=2)
    sd.score(ids["m10"], 1, "negative", -0.8, aspects=[neg("returns", -0.9, "Zwrot odrzucony")])
    sd.score(ids["m10"], 2, "positive", 0.7)
    ids["m11"] = sd.mention("google", local(21, 10), label="negative", score=-0.4)
    # previous week
    sd.mention("google", local(9, 10), rating=5, label="positive", score=0.8)
    sd.mention("google", local(10, 10), rating=4, label="positive", score=0.6)
    sd.mention(
        "ceneo", local(11, 10), rating=2, label="negative", score=-0.6, aspects=[neg("price", -0.5, "Drogo")]
    )
    sd.mention("rss", local(15, 23, 30), label="positive", score=0.5)
    # another target in the same week: never in Sklep Kowalski's numbers
    other = sd.mention("google", local(17, 10), target=OTHER, rating=1, label="negative", score=-0.99,
                       urgency="critical", aspects=[neg("payment", -0.9, "Płatność nie działa")])  # fmt: skip

    # alerts of the week (KPIs): minutes to handle 30, 120-open, -, 90, 1500, 600, 70
    ids["a1"] = sd.alert(ids["m1"], local(16, 0, 35), severity="urgent", kind=AlertKind.URGENT,
                         sent=local(16, 0, 40), handled_after=30)  # fmt: skip
    sd.alert(ids["m3"], local(17, 12, 5), sent=local(17, 12, 5), assignee="anna")  # open past its SLA
    sd.alert(ids["m5"], local(22, 20), sent=local(22, 20))  # open, SLA not yet due at NOW
    sd.alert(
        ids["m2"], local(18, 11), handled_after=90, kind=AlertKind.LOW_RATING
    )  # never sent: from created
    sd.alert(ids["m4"], local(19, 9), sent=local(19, 9), handled_after=1500, kind=AlertKind.KEYWORD)
    sd.alert(ids["m8"], local(20, 11), sent=local(20, 11), severity="info", handled_after=600)
    sd.alert(ids["m10"], local(21, 11), sent=local(21, 11), severity="urgent", handled_after=70)
    # not counted: a thread reply, a storm and an item folded into it, another target, other weeks
    sd.alert(ids["m1"], local(16, 3), kind=AlertKind.THREAD_REPLY, parent_id=ids["a1"], handled_after=1)
    storm_alert = sd.alert(None, local(18, 15), kind=AlertKind.STORM)
    sd.alert(ids["m11"], local(21, 10, 5), parent_id=storm_alert, status=AlertStatus.FOLDED)
    sd.alert(other, local(17, 10, 5), target=OTHER, handled_after=5)
    sd.alert(ids["m9"], local(14, 13))  # previous week, still open
    sd.alert(ids["m7"], local(23, 0, 35))  # next week, still open
    sd.storm(TARGET, local(18, 15), local(18, 17), 9, 12)
    sd.storm(TARGET, local(12, 15), local(12, 16), 8, 8)  # previous week
    sd.storm(OTHER, local(18, 15), None, 10, 10)
    return ids


W47 = "2026-W47"


# --------------------------------------------------------------------------------------------- weeks


def test_parse_week_gives_local_monday_midnights_in_utc() -> None:
    week = parse_week("2026-W47", "Europe/Warsaw")
    assert week == Week(
        "2026-W47", datetime(2026, 11, 15, 23, tzinfo=UTC), datetime(2026, 11, 22, 23, tzinfo=UTC)
    )
    assert parse_week(" 2026w7 ", "Europe/Warsaw").iso == "2026-W07"
    assert parse_week("2026-W47", "UTC").start == datetime(2026, 11, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-47", "not an ISO week; write it like 2026-W47"),
        ("last week", "not an ISO week"),
        ("", "not an ISO week"),
        ("2026-W53", "2026 has weeks 1 to 53"),  # 2026 has 53 ISO weeks, so W53 is fine...
        ("2027-W53", "does not exist: 2027 has weeks 1 to 52"),
        ("2026-W00", "does not exist"),
    ],
)
def test_parse_week_errors_say_what_is_wrong(text: str, message: str) -> None:
    if text == "2026-W53":
        assert parse_week(text, "Europe/Warsaw").iso == "2026-W53"
        return
    with pytest.raises(DigestError, match=re.escape(message)):
        parse_week(text, "Europe/Warsaw")


def test_unknown_time_zone_is_a_digest_error() -> None:
    with pytest.raises(DigestError, match="unknown time zone 'Mars/Olympus'"):
        parse_week("2026-W47", "Mars/Olympus")


def test_last_full_week_is_the_week_before_now_in_local_time() -> None:
    # Monday 00:30 in Warsaw is still Sunday 23:30 UTC: locally W48 has begun, so W47 is the last full week.
    assert last_full_week(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "Europe/Warsaw").iso == "2026-W47"
    assert last_full_week(datetime(2026, 11, 22, 22, 30, tzinfo=UTC), "Europe/Warsaw").iso == "2026-W46"
    assert last_full_week(datetime(2027, 1, 4, 8, tzinfo=UTC), "Europe/Warsaw").iso == "2026-W53"
    assert previous_week(parse_week("2027-W01", "Europe/Warsaw"), "Europe/Warsaw").iso == "2026-W53"


def test_dst_weeks_have_a_25_and_a_23_hour_day() -> None:
    autumn = parse_week("2026-W43", "Europe/Warsaw")  # Mon 19 - Sun 25 Oct; clocks go back on Sunday
    assert autumn.end - autumn.start == timedelta(hours=169)
    sunday = week_days(autumn, "Europe/Warsaw")[6]
    assert sunday[2] - sunday[1] == timedelta(hours=25)
    assert parse_week("2026-W44", "Europe/Warsaw").start == datetime(2026, 10, 25, 23, tzinfo=UTC)
    spring = parse_week("2026-W13", "Europe/Warsaw")  # clocks go forward on Sun 29 Mar
    assert spring.end - spring.start == timedelta(hours=167)
    assert [end - start for _, start, end in week_days(spring, "Europe/Warsaw")][6] == timedelta(hours=23)


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


# --------------------------------------------------------------------------------------------- numbers


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


def test_top_negative_aspects_with_two_worst_quotes_each(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    # delivery: m1, m3, m8; customer_service: m3, m5. Not: m2's positive price, m10's old version's
    # "returns", next week's m7, the other target's "payment".
    assert [(a.aspect, a.count) for a in d.aspects] == [("delivery", 3), ("customer_service", 2)]
    delivery, service = d.aspects
    assert [q.text for q in delivery.quotes] == [
        "Paczka przyszła po dwóch tygodniach",
        "Kurier zgubił paczkę",
    ]
    assert [q.mention_id for q in delivery.quotes] == [seeded["m1"], seeded["m3"]]
    assert delivery.quotes[0].url == f"{PUBLIC}/items/{seeded['m1']}"
    # m5 has no evidence: its text stands in, without the script element
    assert service.quotes[0].mention_id == seeded["m5"]
    assert service.quotes[0].text.startswith("Obsługa klienta to żart")
    assert "script" not in service.quotes[0].text and "xss" not in service.quotes[0].text
    assert service.quotes[1].text == "Obsługa nie odpisuje"


def test_quotes_are_at_most_200_characters(engine: Engine, tmp_path: Path) -> None:
    sd = Seeder(engine)
    long_evidence = "Zamówienie " + "bardzo długo nie przychodziło i nikt nie odpowiadał " * 10
    sd.mention(
        "google", local(17, 10), label="negative", score=-0.9, aspects=[neg("delivery", -0.9, long_evidence)]
    )
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    quote = d.aspects[0].quotes[0].text
    assert len(quote) <= 200 and quote.endswith("…") and quote.startswith("Zamówienie bardzo długo")


def test_most_urgent_items_in_order_with_their_status(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    got = [(u.mention_id, u.urgency, u.status, u.assignee) for u in d.urgent]
    assert got == [
        (seeded["m1"], "critical", "handled", None),
        (seeded["m3"], "elevated", "assigned", "anna"),
        (seeded["m5"], "none", "open", None),  # the most negative score of the rest
        (seeded["m11"], "none", "storm", None),  # folded into the storm's alert
    ]
    assert d.urgent[0].url == f"{PUBLIC}/items/{seeded['m1']}"
    assert d.urgent[0].handled_by == "marek" and d.urgent[0].rating == 1.0
    assert d.urgent[1].author == HOSTILE_AUTHOR


def test_urgent_list_is_capped_and_an_item_without_alert_says_so(engine: Engine, tmp_path: Path) -> None:
    sd = Seeder(engine)
    for k in range(4):
        sd.mention("google", local(17, 10 + k), label="negative", score=-0.1 * (k + 1))
    settings = make_settings(tmp_path, digest={"top_urgent": 2})
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    assert [u.score for u in d.urgent] == [pytest.approx(-0.4), pytest.approx(-0.3)]
    assert {u.status for u in d.urgent} == {"no_alert"}


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


def test_to_dict_is_json_with_iso_dates(engine: Engine, seeded: dict[str, int], tmp_path: Path) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    data = json.loads(json.dumps(d.to_dict()))
    assert data["week"] == W47 and data["previous_week"] == "2026-W46"
    assert data["days"][0]["day"] == "2026-11-16" and data["start"] == "2026-11-15T23:00:00+00:00"
    assert data["kpis"]["within_sla_share"] == pytest.approx(0.4)
    assert data["volume_change"] == pytest.approx(0.8)
    assert data["report_url"] == f"{PUBLIC}/digests/sklep-kowalski/2026-W47"


# --------------------------------------------------------------------------------------------- text, HTML


def test_polish_summary_with_diacritics_and_polish_numbers(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    text = summary_text(d)
    assert text.splitlines()[0] == "*Raport tygodniowy: Sklep Kowalski — 2026-W47 (16–22.11.2026)*"
    assert "Wzmianki: 9 (+80,0% vs poprzedni tydzień): google 5, ceneo 2, mastodon 2" in text
    assert "negatywne 50,0% (+30,0 p.p.)" in text and "pozytywne 25,0% (−35,0 p.p.)" in text
    assert "Średnia ocena: 3,17★ (poprzednio 3,50★)" in text
    assert (
        "Najczęstsze problemy: Dostawa (3), Obsługa klienta (2) — „Paczka przyszła po dwóch tygodniach”"
        in text
    )
    assert "mediana 1 godz. 30 min, p90 19 godz., w SLA 40,0%, nieobsłużone 2" in text
    assert "Burze: 1 (Dostawa, Obsługa klienta)" in text
    assert text.splitlines()[-1] == f"<{PUBLIC}/digests/sklep-kowalski/2026-W47|Pełny raport>"


def test_english_summary(engine: Engine, seeded: dict[str, int], tmp_path: Path) -> None:
    settings = make_settings(tmp_path, language="en")
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    text = summary_text(d)
    assert text.splitlines()[0] == "*Weekly digest: Sklep Kowalski — 2026-W47 (16–22 Nov 2026)*"
    assert "Mentions: 9 (+80.0% vs previous week)" in text
    assert "negative 50.0% (+30.0 pp)" in text and "Average rating: 3.17★ (previously 3.50★)" in text
    assert "Top negative aspects: Delivery (3), Customer service (2)" in text
    assert "median 1 h 30 min, p90 19 h, within SLA 40.0%, unhandled 2" in text
    assert "Storms: 1 (Delivery, Customer service)" in text
    assert text.splitlines()[-1].endswith("|Full report>")


def test_summary_escapes_untrusted_text_for_slack(engine: Engine, tmp_path: Path) -> None:
    sd = Seeder(engine)
    sd.mention("google", local(17, 10), label="negative", score=-0.9, target=OTHER,
               aspects=[neg("delivery", -0.9, "<!channel> kliknij <https://evil.example|tutaj>")])  # fmt: skip
    d = build_digest(engine, make_settings(tmp_path), OTHER, parse_week(W47, "Europe/Warsaw"), now=NOW)
    text = summary_text(d)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text


def test_html_report_is_self_contained_and_escapes_hostile_text(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    charts = render_charts(d, "pl")
    page = render_html(d, charts, settings)
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    for src in srcs:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.IGNORECASE)
    assert "@import" not in page and "url(" not in page
    assert "&lt;script&gt;alert(&#34;autor&#34;)&lt;/script&gt;" in page  # m3's author, shown as text
    assert '<html lang="pl">' in page and "Najpilniejsze wzmianki" in page and "Zwroty" not in page
    assert "„Paczka przyszła po dwóch tygodniach”" in page
    assert f'href="{PUBLIC}/items/{seeded["m1"]}"' in page
    assert "przypisane" in page and "anna" in page


def test_html_report_in_english(engine: Engine, seeded: dict[str, int], tmp_path: Path) -> None:
    settings = make_settings(tmp_path, language="en")
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    page = render_html(d, render_charts(d, "en"), settings)
    assert '<html lang="en">' in page and "Most urgent items" in page and "Response KPIs" in page
    assert "Najpilniejsze" not in page


# --------------------------------------------------------------------------------------------- files, run


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


def test_run_digest_writes_reports_and_prints_without_a_token(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    printed: list[str] = []
    results = run_digest(engine, settings, sender=ConsoleSender(settings), now=NOW, out=printed.append)
    assert [(r.target, r.week, r.printed, r.posted) for r in results] == [
        (TARGET, W47, True, False),
        (OTHER, W47, True, False),
    ]  # the last full week before NOW, every configured target
    assert results[0].path.is_file() and results[0].json_path.is_file()
    assert json.loads(results[0].json_path.read_text(encoding="utf-8"))["total"] == 9
    assert "Wzmianki: 9" in printed[0] and str(results[0].path) in printed[0]
    assert find_report(settings, "sklep-kowalski", W47) == results[0].path
    listed = list_reports(settings)
    assert [(r.target, r.week_iso) for r in listed] == [(OTHER, W47), (TARGET, W47)]
    run_digest(engine, settings, week=parse_week("2026-W46", "Europe/Warsaw"), targets=[TARGET], now=NOW)
    assert [r.week_iso for r in list_reports(settings)] == [W47, W47, "2026-W46"]


def test_run_digest_refuses_an_unknown_target(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="unknown target\\(s\\) 'Sklep Kowalsky'"):
        run_digest(engine, make_settings(tmp_path), targets=["Sklep Kowalsky"], now=NOW)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def slack_settings(tmp_path: Path, slack: FakeSlack, **digest: Any) -> EarshotSettings:
    return make_settings(
        tmp_path,
        digest=digest,
        slack={"bot_token": slack.token, "api_url": slack.url, "timeout_seconds": 2.0},
    )


def test_posting_uploads_the_charts_with_the_summary(
    engine: Engine, seeded: dict[str, int], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path, fake_slack, channel="#general")
    week = parse_week(W47, "Europe/Warsaw")
    [result] = run_digest(
        engine, settings, week=week, targets=[TARGET], sender=SlackSender(settings), now=NOW
    )
    assert result.posted and result.error is None
    [upload] = fake_slack.uploads()
    assert upload.channel == fake_slack.channel_id("general")
    assert upload.initial_comment == summary_text(result.digest)
    assert [f.filename for f in upload.files] == [
        f"sklep-kowalski-2026-W47-{name}.png" for name in ("volume", "sentiment", "rating", "aspects")
    ]
    assert all(f.content is not None and f.content.startswith(PNG_MAGIC) for f in upload.files)
    assert {f.title for f in upload.files} == {"Raport tygodniowy 2026-W47"}
    assert fake_slack.calls("files.getUploadURLExternal") == 4 and fake_slack.calls("upload") == 4
    assert fake_slack.messages() == []  # nothing else was posted


def test_slack_failure_is_reported_and_the_report_still_written(
    engine: Engine, seeded: dict[str, int], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path, fake_slack)
    fake_slack.set_member(fake_slack.channel_id("earshot-alerts"), False)
    fake_slack.fail_next("files.getUploadURLExternal", "ratelimited", retry_after=7)
    week = parse_week(W47, "Europe/Warsaw")
    sender = SlackSender(settings)
    results = run_digest(engine, settings, week=week, sender=sender, now=NOW)
    assert [r.posted for r in results] == [False, False]
    assert results[0].error == "Slack rate-limited files.upload_v2; retry after 7s"
    assert results[1].error is not None and results[1].error.startswith("not_in_channel:")
    assert fake_slack.token not in (results[1].error or "")
    assert all(r.path.is_file() for r in results) and fake_slack.uploads() == []


def test_upload_files_needs_files(tmp_path: Path, fake_slack: FakeSlack) -> None:
    sender = SlackSender(slack_settings(tmp_path, fake_slack))
    with pytest.raises(ValueError, match="at least one file"):
        sender.upload_files("#earshot-alerts", [], "x")
    sender.upload_files("#earshot-alerts", [("a.png", PNG_MAGIC + b"...")], "zażółć <b>", title="Tytuł")
    [upload] = fake_slack.uploads("#earshot-alerts")
    assert upload.initial_comment == "zażółć <b>" and upload.files[0].title == "Tytuł"
    assert upload.files[0].content == PNG_MAGIC + b"..."


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


def test_png_of_an_empty_week_is_still_valid(engine: Engine, tmp_path: Path) -> None:
    d = build_digest(engine, make_settings(tmp_path), "Pusty", parse_week(W47, "Europe/Warsaw"), now=NOW)
    import matplotlib.image

    for png in render_charts(d, "pl").values():
        assert png.startswith(PNG_MAGIC)
        assert matplotlib.image.imread(io.BytesIO(png), format="png").shape[2] == 4
