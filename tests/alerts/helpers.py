"""Test data for the alert tests: mentions and scores inserted directly, settings, a controllable clock."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, Mention, SentimentScore, TargetRow, utcnow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
PUBLIC_URL = "https://earshot.example.com"


def review(key: str) -> dict[str, Any]:
    """One sample review from tests/fixtures/alerts/reviews.json."""
    data = json.loads((FIXTURES / "reviews.json").read_text(encoding="utf-8"))
    return next(r for r in data["reviews"] if r["key"] == key)


def make_settings(tmp_path: Path, **slack: Any) -> EarshotSettings:
    """Settings for tests: no bot token unless given, loopback Slack, short timeouts.

    Messages are in English and times in UTC unless a test asks for ``language="pl"`` (the product's
    default): most tests here are about layout, escaping and delivery, and read the English text.
    """
    slack_cfg: dict[str, Any] = {
        "bot_token": None,
        "timeout_seconds": 1.0,
        "max_attempts": 5,
        "language": "en",
        "timezone": "UTC",
    }
    slack_cfg.update(slack)
    return EarshotSettings(data_dir=tmp_path, public_url=PUBLIC_URL, slack=slack_cfg)


def add_mention(
    engine: Engine,
    key: str = "pl_negative",
    *,
    external_id: str | None = None,
    score: float | None = None,
    rating: float | str | None = "fixture",
    text: str | None = None,
    version: int = 1,
    scored_version: int | None = None,
    author: str | None = None,
) -> int:
    """Insert a mention from the fixture file (fields overridable) and its sentiment score; return its id."""
    r = review(key)
    with Session(engine) as session:
        target = session.exec(select(TargetRow).where(TargetRow.name == r["target"])).first()
        if target is None:
            target = TargetRow(name=r["target"])
            session.add(target)
            session.flush()
        mention = Mention(
            source=r["source"],
            external_id=external_id or f"{key}-{utcnow().timestamp()}",
            target_id=target.id,
            url=r["url"],
            author=r["author"] if author is None else author,
            text=r["text"] if text is None else text,
            lang=r["lang"],
            rating=r["rating"] if rating == "fixture" else rating,  # type: ignore[arg-type]
            created_at=datetime(2024, 5, 1, 14, 3, tzinfo=UTC),
            first_seen_at=datetime(2024, 5, 1, 14, 10, tzinfo=UTC),
            version=version,
        )
        session.add(mention)
        session.flush()
        assert mention.id is not None
        session.add(
            SentimentScore(
                mention_id=mention.id,
                mention_version=scored_version or version,
                label=r["label"],
                score=r["score"] if score is None else score,
                confidence=r["confidence"],
                model_name="test-model",
                model_version="1",
            )
        )
        session.commit()
        return mention.id


def alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.exec(select(Alert).order_by(Alert.id)).all())  # type: ignore[arg-type]


def only_alert(engine: Engine) -> Alert:
    rows = alerts(engine)
    assert len(rows) == 1, rows
    return rows[0]


@dataclass
class Clock:
    """A UTC clock the test moves by hand (``deliver_pending(clock=clock)``)."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Sleeps:
    """Records requested sleeps instead of sleeping, so a Retry-After test does not wait."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
