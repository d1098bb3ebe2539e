"""The digest tests' database, whose every figure is known by construction (SQLite and PostgreSQL).

Why a module of its own: the tests of each digest module (queries, items, render, run, charts, the CLI)
assert against the same rows, so they all import :func:`seed` and the helpers here.

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

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, AlertStatus, Mention, SentimentScore, Storm, TargetRow
from tests.alerts.fake_slack import FakeSlack

WARSAW = ZoneInfo("Europe/Warsaw")
TARGET = "Sklep Kowalski"
OTHER = "Inny Sklep"
PUBLIC = "https://earshot.example.com"
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 23 Nov 08:00 Warsaw: digest time
HOSTILE_AUTHOR = '<script>alert("autor")</script>'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
W47 = "2026-W47"


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


def slack_settings(tmp_path: Path, slack: FakeSlack, **digest: Any) -> EarshotSettings:
    return make_settings(
        tmp_path,
        digest=digest,
        slack={"bot_token": slack.token, "api_url": slack.url, "timeout_seconds": 2.0},
    )
