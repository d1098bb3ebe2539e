"""Stalled stages become alerts, the way broken sources do (see :mod:`monitor.source_health`).

The active scheduler calls :func:`check_stalls` every ``distributed.stall_check_seconds``. A stage whose
oldest waiting item is older than its limit (:func:`monitor.distributed.status.backlog`) gets one
``stage_stalled`` alert in the outbox, keyed by the stall's *anchor* (the oldest waiting item's time when
the stall was first seen), so evaluating an ongoing stall again never alerts twice: while an unrecovered
stall alert of the stage exists, nothing new is opened. When the stage no longer stalls, a
``stage_recovered`` alert (key: the stall's key + ``:recovered``) closes it. Two schedulers evaluating at
once (the moment of a leader change) compute the same key; the unique dedupe key lets one insert win.

A stall of the alert stage itself cannot be posted until delivery works again; it is still in the
outbox, the web status page and ``earshot status`` at once, and is posted first when delivery resumes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from alerts.stage_message import KIND_STAGE_RECOVERED, KIND_STAGE_STALLED, recovered_reason, stalled_reason
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert
from monitor.core.timeutil import utcnow
from monitor.distributed.status import backlog
from monitor.source_health import insert_alert, new_problem_alert, recovered_key

log = logging.getLogger(__name__)

COUNTS = ("evaluated", "stalled", "opened", "still_open", "recovered")


def stalled_key(stage: str, oldest: datetime) -> str:
    return f"stage:{stage}:stalled:since:{int(oldest.timestamp())}"


def open_stall_alerts(session: Session, stage: str) -> list[Alert]:
    """The stage's stall alerts without their recovery alert."""
    recovery = aliased(Alert)
    stmt = (
        select(Alert)
        .where(Alert.kind == KIND_STAGE_STALLED, col(Alert.dedupe_key).startswith(f"stage:{stage}:stalled:"))
        .where(
            ~select(recovery.id)
            .where(col(recovery.dedupe_key) == col(Alert.dedupe_key) + ":recovered")
            .exists()
        )
        .order_by(col(Alert.id))
    )
    return list(session.exec(stmt).all())


def stall_limits(settings: EarshotSettings) -> dict[str, float]:
    cfg = settings.distributed
    return {"score": cfg.score_stall_minutes, "alerts": cfg.alerts_stall_minutes}


def check_stalls(engine: Engine, settings: EarshotSettings, now: datetime | None = None) -> dict[str, int]:
    """Open an alert for each newly stalled stage and a recovery for each stall that ended; counts."""
    now = now or utcnow()
    counts = dict.fromkeys(COUNTS, 0)
    channel = (
        settings.distributed.stall_channel or settings.source_health.channel or settings.slack.default_channel
    )
    limits = stall_limits(settings)
    for row in backlog(engine, settings, now):
        counts["evaluated"] += 1
        with Session(engine) as session:
            already_open = open_stall_alerts(session, row.stage)
        limit = limits[row.stage]
        if row.stalled and row.oldest is not None:
            counts["stalled"] += 1
            if already_open:
                counts["still_open"] += 1
                continue
            waited = (now - row.oldest).total_seconds() / 60
            key = stalled_key(row.stage, row.oldest)
            reason = stalled_reason(row.waiting, waited, limit)
            if insert_alert(engine, new_problem_alert(None, KIND_STAGE_STALLED, key, reason, channel, now)):
                counts["opened"] += 1
                log.warning("stage %s stalled: %s", row.stage, reason)
            else:
                counts["still_open"] += 1
            continue
        for alert in already_open:
            key = recovered_key(alert.dedupe_key)
            if insert_alert(
                engine,
                new_problem_alert(
                    None, KIND_STAGE_RECOVERED, key, recovered_reason(limit, alert.id), channel, now
                ),
            ):
                counts["recovered"] += 1
                log.info("stage %s works again (stall alert #%s)", row.stage, alert.id)
    return counts
