"""The changes people make to an alert's handling state, from Slack or from the web page.

Mark handled, reopen, assign and correct the sentiment: each is one compare-and-set in one transaction
that also bumps ``alert.state_version``, so the outbox re-renders the Slack message from the database
(``chat.update``) whoever made the change, and a change that changes nothing (handling a handled alert)
bumps nothing, so the message is not edited twice. A change that cannot be made raises
:class:`ActionError` with a reason people can act on; the Slack worker stores it on the request and the
web page shows it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from alerts.action_ids import SENTIMENT_LABELS
from monitor.core.corrections import CorrectionError, record_correction
from monitor.core.db import write_session
from monitor.core.models import Alert

__all__ = [
    "HANDLED",
    "REPLIED",
    "ActionError",
    "assign",
    "correct_sentiment",
    "mark_handled",
    "parse_alert_id",
    "reopen",
]

logger = logging.getLogger(__name__)

HANDLED: Final = "handled"
REPLIED: Final = "replied"


class ActionError(Exception):
    """A Slack request that cannot be carried out; the message says why and is stored on the request."""


def parse_alert_id(text: Any, what: str) -> int:
    """An alert id from a button value, block id or modal metadata; :class:`ActionError` otherwise."""
    if isinstance(text, str) and text.isascii() and text.isdecimal() and len(text) <= 18:
        return int(text)
    raise ActionError(f"{what} is not an alert id: {str(text)[:80]!r}")


def _exists(engine: Engine, alert_id: int) -> Alert:
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
    if alert is None:
        raise ActionError(f"alert {alert_id} does not exist (deleted, or another Earshot's database)")
    return alert


def _change(engine: Engine, alert_id: int, *conditions: Any, **values: Any) -> bool:
    """One compare-and-set on the alert: apply ``values`` and bump state_version if ``conditions`` hold."""
    stmt = (
        update(Alert)
        .where(col(Alert.id) == alert_id, *conditions)
        .values(state_version=col(Alert.state_version) + 1, **values)
    )
    with engine.begin() as conn:
        changed = bool(conn.execute(stmt).rowcount)
    if not changed:
        _exists(engine, alert_id)
    return changed


def mark_handled(engine: Engine, alert_id: int, user: str, now: datetime) -> bool:
    """Mark the alert handled by ``user``; False (and nothing changed) when it already was."""
    return _change(
        engine,
        alert_id,
        col(Alert.handled_at).is_(None),
        handled_at=now,
        handled_by=user[:200],
        handled_action=HANDLED,
    )


def reopen(engine: Engine, alert_id: int, user: str) -> bool:
    """Make a handled alert open again (SLA clocks see it as unhandled); False when it was open."""
    logger.info("alert %s reopened by %s", alert_id, user)
    return _change(
        engine,
        alert_id,
        col(Alert.handled_at).is_not(None),
        handled_at=None,
        handled_by=None,
        handled_action=None,
    )


def assign(engine: Engine, alert_id: int, assignee: str | None, user: str, now: datetime) -> bool:
    """Assign the alert to ``assignee`` (a Slack user id; None clears it); False when nothing changes."""
    condition: ColumnElement[bool]
    if assignee is None:
        condition = col(Alert.assignee).is_not(None)
    else:
        condition = or_(col(Alert.assignee).is_(None), col(Alert.assignee) != assignee)
    return _change(
        engine,
        alert_id,
        condition,
        assignee=assignee[:200] if assignee else None,
        assigned_by=user[:200],
        assigned_at=now,
    )


def correct_sentiment(engine: Engine, alert_id: int, label: str, user: str, *, via: str = "slack") -> bool:
    """Record the agent's sentiment label for the alerted item (training data) and show it on the alert.

    ``via`` says where the correction came from (``slack``, ``web``) in the training data.
    """
    if label not in SENTIMENT_LABELS:
        raise ActionError(f"{label!r} is not a sentiment label ({', '.join(SENTIMENT_LABELS)})")
    with write_session(engine) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise ActionError(f"alert {alert_id} does not exist (deleted, or another Earshot's database)")
        if alert.mention_id is None:
            raise ActionError(f"alert {alert_id} is not about an item; there is no sentiment to correct")
        if alert.corrected_label == label:
            return False
        try:
            record_correction(session, alert.mention_id, label, corrected_by=user, via=via)
        except CorrectionError as exc:
            raise ActionError(f"alert {alert_id}: {exc}") from exc
        session.exec(
            update(Alert)
            .where(col(Alert.id) == alert_id)
            .values(
                corrected_label=label,
                corrected_by=user[:200],
                state_version=col(Alert.state_version) + 1,
            )
        )
    return True
