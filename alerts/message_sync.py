"""Keep delivered Slack messages showing the alert's current handling state (``chat.update``).

A click in Slack, a change on the web page or a storm closing bumps ``alert.state_version``; this pass
re-renders every delivered message whose ``synced_version`` lags and replaces it in place. ``chat.update``
replaces the whole message with the current state, so repeating it is harmless: a crash or an outage
just leaves the alert behind for the next pass. SLA escalation messages show the overdue alert's buttons
and state, so they follow its updates too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.alert_message import build_alert_message, escalations_of, get_alert
from alerts.slack_errors import (
    SlackError,
    SlackPermanentError,
    SlackRateLimited,
    SlackTransientError,
    redact_token,
)
from alerts.slack_sender import AlertSender
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertStatus

__all__ = ["UPDATE_COUNTS", "sync_updates"]

logger = logging.getLogger(__name__)

UPDATE_COUNTS = ("updated", "update_failed")


def _needs_update(engine: Engine, alert_ids: Iterable[int] | None, limit: int) -> list[int]:
    stmt = (
        select(Alert.id)
        .where(col(Alert.synced_version) < col(Alert.state_version))
        .where(col(Alert.status).in_([AlertStatus.SENT, AlertStatus.PRINTED]))
        .order_by(col(Alert.id))
        .limit(limit)
    )
    if alert_ids is not None:
        stmt = stmt.where(col(Alert.id).in_(list(alert_ids)))
    with Session(engine) as session:
        return [i for i in session.exec(stmt).all() if i is not None]


def _mark_synced(engine: Engine, alert: Alert, error: str | None) -> None:
    """Record the version now shown in Slack; a newer change made meanwhile keeps it behind (re-synced)."""
    with engine.begin() as conn:
        conn.execute(
            update(Alert)
            .where(col(Alert.id) == alert.id, col(Alert.synced_version) < alert.state_version)
            .values(synced_version=alert.state_version, update_error=error)
        )


def sync_updates(
    engine: Engine,
    settings: EarshotSettings,
    sender: AlertSender,
    alert_ids: Iterable[int] | None = None,
    *,
    limit: int = 200,
) -> dict[str, int]:
    """Re-render delivered messages whose state changed (handled, assigned, storm over) with chat.update.

    ``chat.update`` replaces the whole message with the current state, so repeating it is harmless:
    a crash or a Slack outage just leaves the alert behind for the next pass. A rate limit or outage stops
    the pass; a permanent error (the message was deleted) is recorded and not retried.
    """
    counts = dict.fromkeys(UPDATE_COUNTS, 0)
    for alert_id in _needs_update(engine, alert_ids, limit):
        alert = get_alert(engine, alert_id)
        if alert is None:
            continue
        message = build_alert_message(engine, settings, alert)
        if message is None or not alert.slack_ts or not alert.slack_channel_id:
            _mark_synced(engine, alert, None)  # printed, or nothing left to show: nothing to edit
            continue
        try:
            sender.update(alert.slack_channel_id, alert.slack_ts, message)
        except (SlackRateLimited, SlackTransientError) as exc:
            logger.warning("alert %s: message update postponed (%s)", alert.id, redact_token(str(exc)))
            break
        except SlackPermanentError as exc:
            counts["update_failed"] += 1
            logger.error("alert %s: Slack refused the message update: %s", alert.id, redact_token(str(exc)))
            _mark_synced(engine, alert, redact_token(str(exc)))
            continue
        _mark_synced(engine, alert, None)
        counts["updated"] += 1
        _update_escalations(engine, settings, sender, alert, counts)
    return counts


def _update_escalations(
    engine: Engine, settings: EarshotSettings, sender: AlertSender, alert: Alert, counts: dict[str, int]
) -> None:
    """Best effort: an escalation message that lags shows stale buttons, the alert itself is correct."""
    for escalation in escalations_of(engine, alert):
        message = build_alert_message(engine, settings, escalation)
        if message is None or not escalation.slack_ts or not escalation.slack_channel_id:
            continue
        try:
            sender.update(escalation.slack_channel_id, escalation.slack_ts, message)
        except SlackError as exc:
            counts["update_failed"] += 1
            logger.warning(
                "alert %s: escalation message not updated (%s)", escalation.id, redact_token(str(exc))
            )
            continue
        counts["updated"] += 1
