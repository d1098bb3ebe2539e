"""SLA escalation: an unhandled alert past its response target is escalated once, in its thread and to
the critical channel; handled alerts and alerts within target are left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.outbox import deliver_pending
from alerts.sla import escalate_overdue
from alerts.slack_sender import SlackSender
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, AlertStatus
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.helpers import Sleeps, add_mention, alerts

SENT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _settings(tmp_path: Path, slack: FakeSlack) -> EarshotSettings:
    slack.add_channel("cs-critical", "CCRIT0001")
    return EarshotSettings(
        data_dir=tmp_path,
        slack={
            "bot_token": slack.token,
            "api_url": slack.url,
            "critical_channel": "#cs-critical",
            "timeout_seconds": 1,
        },
        alerts={"sla": {"urgent_minutes": 60, "negative_minutes": 1440}},
    )


def _sent_alert(engine: Engine, settings: EarshotSettings, severity: str, *, handled: bool = False) -> Alert:
    """An alert delivered to Slack at SENT (real post to the fake, so escalations can thread under it)."""
    mid = add_mention(engine, "pl_negative")
    with Session(engine) as session:
        alert = Alert(
            dedupe_key=f"mention:{mid}:alert",
            mention_id=mid,
            mention_version=1,
            kind=AlertKind.NEGATIVE,
            severity=severity,
            channel=settings.slack.default_channel,
            created_at=SENT,
            next_attempt_at=SENT,
            handled_at=SENT + timedelta(minutes=5) if handled else None,
            handled_by="U0AGENT" if handled else None,
        )
        session.add(alert)
        session.commit()
        session.refresh(alert)
    deliver_pending(engine, settings, SlackSender(settings), clock=lambda: SENT, sleep=Sleeps())
    with Session(engine) as session:
        fresh = session.get(Alert, alert.id)
        assert fresh is not None and fresh.status == AlertStatus.SENT
        return fresh


def test_overdue_urgent_alert_is_escalated_once_into_thread_and_critical_channel(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = _settings(tmp_path, fake_slack)
    urgent = _sent_alert(engine, settings, "urgent")

    assert escalate_overdue(engine, settings, SENT + timedelta(minutes=59)) == {"escalated": 0}
    later = SENT + timedelta(minutes=75)
    assert escalate_overdue(engine, settings, later) == {"escalated": 1}
    assert escalate_overdue(engine, settings, later + timedelta(hours=3)) == {"escalated": 0}

    deliver_pending(engine, settings, SlackSender(settings), clock=lambda: later, sleep=Sleeps())
    rows = [a for a in alerts(engine) if a.kind == AlertKind.SLA_ESCALATION]
    assert len(rows) == 2
    thread = next(a for a in rows if a.parent_id == urgent.id)
    critical = next(a for a in rows if a.parent_id is None)
    assert thread.channel == urgent.channel and critical.channel == "#cs-critical"
    assert critical.payload["overdue_minutes"] == 75 and critical.payload["sla_minutes"] == 60
    posted = {m.ts: m for m in fake_slack.messages()}
    assert posted[thread.slack_ts or ""].params.get("thread_ts") == urgent.slack_ts
    assert posted[critical.slack_ts or ""].channel == "CCRIT0001"
    # the original alert is marked, so its message shows the escalation after the next sync
    with Session(engine) as session:
        original = session.get(Alert, urgent.id)
        assert original is not None and original.escalated_at is not None
        assert original.state_version > original.synced_version


def test_handled_and_within_target_alerts_are_not_escalated(
    engine: Engine, tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = _settings(tmp_path, fake_slack)
    _sent_alert(engine, settings, "urgent", handled=True)
    _sent_alert(engine, settings, "negative")  # 24 h target
    assert escalate_overdue(engine, settings, SENT + timedelta(hours=5)) == {"escalated": 0}
    assert escalate_overdue(engine, settings, SENT + timedelta(hours=25)) == {"escalated": 1}
