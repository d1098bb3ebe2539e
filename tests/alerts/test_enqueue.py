"""Where each scored mention goes: a new message (routed), a thread reply, a storm, held, or nowhere.

Runs on SQLite and PostgreSQL; delivery checks use the real WebClient against the fake Slack.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.enqueue import enqueue_alerts
from alerts.outbox import deliver_pending
from alerts.slack_sender import SlackSender
from monitor.core.config import EarshotSettings
from monitor.core.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Mention,
    MentionRevision,
    SentimentScore,
    Storm,
    TargetRow,
)
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.helpers import Sleeps, alerts

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday, 13:00 in Warsaw
_seq = iter(range(1, 1_000_000))


def _settings(tmp_path: Path, slack: FakeSlack | None = None, **alerts_cfg: Any) -> EarshotSettings:
    slack_cfg: dict[str, Any] = {
        "timeout_seconds": 1.0,
        "max_attempts": 5,
        "critical_channel": "#cs-critical",
    }
    if slack is not None:
        slack_cfg.update(bot_token=slack.token, api_url=slack.url)
        for name in ("cs-critical", "cs-kuchnia", "cs-returns"):
            slack.add_channel(name, "C" + name.upper().replace("-", "")[:9])
    return EarshotSettings(
        data_dir=tmp_path,
        public_url="http://127.0.0.1:8000",
        slack=slack_cfg,
        targets=[{"name": "DobraKuchnia", "channel": "#cs-kuchnia"}],
        alerts=alerts_cfg,
    )


def _mention(
    engine: Engine,
    *,
    text: str = "Paczka nie dotarła, fatalna obsługa.",
    score: float = -0.9,
    rating: float | None = None,
    urgency: str = "none",
    source: str = "google_business",
    target: str | None = "DobraKuchnia",
    author: str | None = None,
    external_id: str | None = None,
    parent_id: str | None = None,
    created_at: datetime | None = None,
    first_seen_at: datetime | None = None,
    lang: str = "pl",
) -> int:
    n = next(_seq)
    with Session(engine) as session:
        target_id = None
        if target:
            row = session.exec(select(TargetRow).where(TargetRow.name == target)).first()
            if row is None:
                row = TargetRow(name=target)
                session.add(row)
                session.flush()
            target_id = row.id
        mention = Mention(
            source=source,
            external_id=external_id or f"ext-{n}",
            target_id=target_id,
            url=f"https://example.com/r/{n}",
            author=author or f"Klient {n}",
            text=text,
            lang=lang,
            rating=rating,
            parent_id=parent_id,
            created_at=created_at or NOW - timedelta(minutes=30),
            first_seen_at=first_seen_at or NOW - timedelta(minutes=20),
        )
        session.add(mention)
        session.flush()
        assert mention.id is not None
        _score(session, mention.id, 1, score, urgency, lang)
        session.commit()
        return mention.id


def _score(
    session: Session, mention_id: int, version: int, score: float, urgency: str, lang: str = "pl"
) -> None:
    label = "negative" if score < -0.3 else "positive" if score > 0.3 else "neutral"
    reasons = (
        [{"code": "legal_threat", "evidence": "pozew", "severity": "critical"}] if urgency != "none" else []
    )
    session.add(
        SentimentScore(
            mention_id=mention_id,
            mention_version=version,
            label=label,
            score=score,
            confidence=0.9,
            lang=lang,
            model_name="test",
            model_version="1",
            urgency=urgency,
            urgency_reasons=reasons,
        )
    )


def _edit(engine: Engine, mention_id: int, text: str, rating: float | None, score: float) -> None:
    with Session(engine) as session:
        m = session.get(Mention, mention_id)
        assert m is not None
        session.add(MentionRevision(mention_id=mention_id, version=m.version, text=m.text, rating=m.rating))
        m.text, m.rating, m.version = text, rating, m.version + 1
        session.add(m)
        _score(session, mention_id, m.version, score, "none")
        session.commit()


def _by_mention(engine: Engine) -> dict[int | None, Alert]:
    return {
        a.mention_id: a for a in alerts(engine) if a.kind not in (AlertKind.EDITED, AlertKind.SLA_ESCALATION)
    }


# ------------------------------------------------------------------------------------------- routing


def test_routes_by_target_rule_and_critical_channel(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        rules=[
            {"name": "urgent", "urgency": "elevated"},
            {"name": "returns", "keywords": ["zwrot"], "channel": "#cs-returns"},
            {"name": "negative", "max_sentiment": -0.5, "max_stars": 2},
        ],
    )
    urgent = _mention(engine, text="Złożę pozew, to oszustwo!", urgency="critical")
    returns = _mention(engine, text="Czekam na zwrotu pieniędzy od miesiąca.", score=-0.2)
    negative = _mention(engine, text="Słaba jakość.", score=-0.8)
    other = _mention(engine, text="Słaba jakość.", score=-0.8, target="InnyKlient")
    happy = _mention(engine, text="Super, polecam!", score=0.9, rating=5)

    counts = enqueue_alerts(engine, settings, now=NOW)

    rows = _by_mention(engine)
    assert counts["created"] == 4
    assert happy not in rows
    assert (rows[urgent].channel, rows[urgent].severity, rows[urgent].rule) == (
        "#cs-critical",
        "urgent",
        "urgent",
    )
    assert (rows[returns].channel, rows[returns].rule, rows[returns].kind) == (
        "#cs-returns",
        "returns",
        "keyword",
    )
    assert (rows[negative].channel, rows[negative].severity) == ("#cs-kuchnia", "negative")
    assert rows[other].channel == settings.slack.default_channel
    assert rows[negative].suggested_reply  # every mention alert carries a draft reply


def test_a_pass_reads_only_new_scores_and_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _mention(engine)
    first = enqueue_alerts(engine, settings, now=NOW)
    again = enqueue_alerts(engine, settings, now=NOW)
    assert first["created"] == 1
    assert again["created"] == 0 and again["evaluated"] == 0
    assert len(alerts(engine)) == 1


def test_backlog_from_a_first_crawl_does_not_alert(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _mention(engine, created_at=NOW - timedelta(days=400), first_seen_at=NOW)
    counts = enqueue_alerts(engine, settings, now=NOW)
    assert counts["backlog"] == 1 and alerts(engine) == []


# ------------------------------------------------------------------------------- cooldown and quiet


def test_cooldown_threads_repeats_of_a_rule_until_it_ends(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path, rules=[{"name": "returns", "keywords": ["zwrot"], "cooldown_minutes": 60}])
    first = _mention(engine, text="Gdzie mój zwrot?", score=-0.6)
    enqueue_alerts(engine, settings, now=NOW)
    second = _mention(engine, text="Zwrotem towaru nikt się nie zajmuje.", score=-0.6)
    enqueue_alerts(engine, settings, now=NOW + timedelta(minutes=30))
    late = _mention(engine, text="Nadal brak zwrotu.", score=-0.6)
    enqueue_alerts(engine, settings, now=NOW + timedelta(minutes=90))

    rows = _by_mention(engine)
    assert rows[second].kind == AlertKind.COOLDOWN and rows[second].parent_id == rows[first].id
    assert rows[late].parent_id is None and rows[late].kind == "keyword"


def test_urgent_items_skip_cooldown(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path, rules=[{"name": "all", "max_sentiment": -0.5, "cooldown_minutes": 60}])
    _mention(engine)
    enqueue_alerts(engine, settings, now=NOW)
    urgent = _mention(engine, text="Pozew złożony.", urgency="critical")
    enqueue_alerts(engine, settings, now=NOW + timedelta(minutes=5))
    assert _by_mention(engine)[urgent].parent_id is None


def test_quiet_hours_hold_alerts_until_they_end_but_not_urgent_ones(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = _settings(tmp_path, fake_slack, quiet_hours={"start": "22:00", "end": "07:00"})
    night = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 00:30 in Warsaw
    morning = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 07:00 in Warsaw
    calm = _mention(engine, created_at=night - timedelta(minutes=5), first_seen_at=night)
    urgent = _mention(
        engine, urgency="critical", created_at=night - timedelta(minutes=5), first_seen_at=night
    )
    counts = enqueue_alerts(engine, settings, now=night)
    assert counts["held"] == 1 and counts["created"] == 1

    sender = SlackSender(settings)
    deliver_pending(engine, settings, sender, clock=lambda: night, sleep=Sleeps())
    rows = _by_mention(engine)
    assert rows[urgent].status == AlertStatus.SENT
    assert rows[calm].status == AlertStatus.PENDING
    held_until = rows[calm].next_attempt_at
    assert held_until is not None and held_until.replace(tzinfo=UTC) == morning

    deliver_pending(engine, settings, sender, clock=lambda: morning, sleep=Sleeps())
    assert _by_mention(engine)[calm].status == AlertStatus.SENT
    assert len(fake_slack.messages()) == 2


# ------------------------------------------------------------------------------------------ threads


def _deliver(engine: Engine, settings: EarshotSettings, now: datetime = NOW) -> dict[str, int]:
    return deliver_pending(engine, settings, SlackSender(settings), clock=lambda: now, sleep=Sleeps())


def test_an_edited_review_goes_into_the_alerts_thread(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = _settings(tmp_path, fake_slack)
    mid = _mention(engine, text="Towar uszkodzony, 1 gwiazdka.", rating=1)
    enqueue_alerts(engine, settings, now=NOW)
    _deliver(engine, settings)
    _edit(engine, mid, "Sklep wymienił towar, jednak polecam.", 4, 0.7)
    counts = enqueue_alerts(engine, settings, now=NOW + timedelta(hours=1))
    assert counts["edited"] == 1
    _deliver(engine, settings, NOW + timedelta(hours=1))

    edit = next(a for a in alerts(engine) if a.kind == AlertKind.EDITED)
    parent = _by_mention(engine)[mid]
    assert edit.parent_id == parent.id
    assert (
        edit.payload["previous_text"] == "Towar uszkodzony, 1 gwiazdka."
        and edit.payload["previous_rating"] == 1
    )
    posted = fake_slack.messages()
    assert len(posted) == 2
    assert posted[1].params.get("thread_ts") == parent.slack_ts


def test_a_reply_in_the_same_social_thread_is_threaded(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    root = _mention(engine, source="mastodon", external_id="1100", text="@DobraKuchnia oszuści, nie polecam")
    enqueue_alerts(engine, settings, now=NOW)
    reply = _mention(engine, source="mastodon", parent_id="1100", text="Mam to samo!", score=0.0)
    enqueue_alerts(engine, settings, now=NOW)
    rows = _by_mention(engine)
    assert rows[reply].kind == AlertKind.THREAD_REPLY and rows[reply].parent_id == rows[root].id


def test_the_same_author_complaining_again_is_threaded_unless_urgent(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = _mention(engine, author="Anna Nowak")
    enqueue_alerts(engine, settings, now=NOW)
    again = _mention(engine, author="Anna Nowak", text="Dalej nic, skandal.")
    urgent = _mention(engine, author="Anna Nowak", text="Składam pozew.", urgency="critical")
    enqueue_alerts(engine, settings, now=NOW + timedelta(hours=2))
    rows = _by_mention(engine)
    assert rows[again].kind == AlertKind.REPEAT and rows[again].parent_id == rows[first].id
    assert rows[again].payload["previous_mention_id"] == first
    assert rows[urgent].parent_id is None and rows[urgent].severity == "urgent"


def test_alerts_during_an_open_storm_are_folded_into_it(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = _settings(tmp_path, fake_slack)
    with Session(engine) as session:
        storm_alert = Alert(
            dedupe_key="storm:test", kind=AlertKind.STORM, channel="#cs-kuchnia", target="DobraKuchnia"
        )
        session.add(storm_alert)
        session.flush()
        session.add(
            Storm(target="DobraKuchnia", opened_at=NOW - timedelta(minutes=10), alert_id=storm_alert.id)
        )
        session.commit()
        storm_id = storm_alert.id
    folded = _mention(engine)
    urgent = _mention(engine, urgency="critical")
    counts = enqueue_alerts(engine, settings, now=NOW)
    rows = _by_mention(engine)
    assert counts["folded"] == 1
    assert rows[folded].status == AlertStatus.FOLDED and rows[folded].parent_id == storm_id
    assert rows[urgent].status == AlertStatus.PENDING and rows[urgent].parent_id is None


@pytest.mark.parametrize("lang", ["pl", "en"])
def test_suggested_reply_is_in_the_items_language(engine: Engine, tmp_path: Path, lang: str) -> None:
    settings = _settings(tmp_path)
    text = "Paczka nie dotarła." if lang == "pl" else "My parcel never arrived."
    mid = _mention(engine, text=text, lang=lang)
    enqueue_alerts(engine, settings, now=NOW)
    alert = _by_mention(engine)[mid]
    assert alert.payload["reply_lang"] == lang
    assert alert.suggested_reply and text not in alert.suggested_reply
