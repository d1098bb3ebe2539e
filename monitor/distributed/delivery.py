"""The alert pass of the distributed mode: decide once (any worker), deliver per channel (one worker at a time).

Deciding (storms, rules, SLA) is already safe to run concurrently: every decision is one ``Alert`` row
under a unique ``dedupe_key``. Posting is where workers must agree, for two reasons:

* Slack takes about one message per second per channel. ``alerts.delivery`` spaces the posts of one
  pass; across workers the spacing holds because a channel is delivered under a PostgreSQL advisory
  lock (one pass per channel at a time, whoever runs it), and the pass starts its spacing from the
  channel's last ``sent_at`` in the database, not from zero.
* A worker killed mid-send leaves its alert ``sending`` under a lease of a couple of minutes. The lock
  proves its holder is gone: every deliverer of the distributed mode takes it, so whoever holds it now
  can take such an alert over at once. The take-over is an ordinary new attempt, so the
  look-before-re-posting step of :mod:`alerts.delivery` finds a message the dead worker did post
  (metadata ``alert_id``) and records it instead of posting it twice.

That last point assumes nothing delivers outside the lock: in distributed mode do not run
``earshot alerts send`` or ``earshot run`` against the same database.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from alerts.alert_message import get_alert
from alerts.delivery import DEFAULT_INLINE_RETRY_SECONDS, DeliveryPass, NextStep, deliver_one
from alerts.outbox import DELIVERY_COUNTS, due_alert_ids
from alerts.slack_sender import AlertSender
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertStatus
from monitor.core.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

LOCK_CLASS = 0x4541  # "EA": first key of every Earshot advisory lock (the second names what is locked)
DELIVERY_COUNTS_DISTRIBUTED = (*DELIVERY_COUNTS, "taken_over", "busy")


def lock_key(*parts: str) -> int:
    """A stable signed 32-bit key for ``parts`` (advisory locks take two int4 keys; the first is LOCK_CLASS)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def try_lock(conn: Connection, key: int) -> bool:
    """Take the session-level advisory lock ``(LOCK_CLASS, key)`` if free; committed, so it outlives the txn."""
    got = bool(conn.execute(select(func.pg_try_advisory_lock(LOCK_CLASS, key))).scalar())
    conn.commit()
    return got


def unlock(conn: Connection, key: int) -> None:
    conn.execute(select(func.pg_advisory_unlock(LOCK_CLASS, key)))
    conn.commit()


def channels_with_due_alerts(engine: Engine, now: datetime) -> list[str]:
    """Channels that have an alert to post now (or a ``sending`` one, which may belong to a dead worker)."""
    stmt = (
        select(Alert.channel)
        .where(col(Alert.status).in_([AlertStatus.PENDING, AlertStatus.SENDING]))
        .where(
            or_(
                col(Alert.status) == AlertStatus.SENDING,
                col(Alert.next_attempt_at).is_(None),
                col(Alert.next_attempt_at) <= now,
            )
        )
        .distinct()
    )
    with Session(engine) as session:
        return sorted(session.exec(stmt).all())


def _take_over(engine: Engine, channel: str, now: datetime) -> int:
    """Make this channel's ``sending`` alerts due now: with the channel's lock held, their claimer is dead."""
    with engine.begin() as conn:
        result = conn.execute(
            update(Alert)
            .where(col(Alert.channel) == channel, col(Alert.status) == AlertStatus.SENDING)
            .values(next_attempt_at=now)
        )
    return int(result.rowcount or 0)


def _last_post_monotonic(
    engine: Engine, channel: str, now: datetime, monotonic: Callable[[], float]
) -> float | None:
    """The channel's last post as a ``monotonic()`` reading, so spacing continues across workers."""
    stmt = select(func.max(Alert.sent_at)).where(
        Alert.channel == channel, col(Alert.status) == AlertStatus.SENT
    )
    with Session(engine) as session:
        last = as_utc(session.exec(stmt).one())
    if last is None:
        return None
    return monotonic() - max(0.0, (now - last).total_seconds())


def deliver_channel(
    engine: Engine,
    settings: EarshotSettings,
    sender: AlertSender,
    channel: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    batch_size: int = 100,
) -> dict[str, int]:
    """Deliver ``channel``'s due alerts, holding its advisory lock; ``busy`` = 1 when another pass holds it.

    Counts as :func:`alerts.outbox.deliver_pending` plus ``taken_over`` (``sending`` alerts of a dead
    worker retried now) and ``busy``.
    """
    counts = dict.fromkeys(DELIVERY_COUNTS_DISTRIBUTED, 0)
    key = lock_key("deliver", settings.distributed.queue_prefix, channel)
    with engine.connect() as lock_conn:
        if not try_lock(lock_conn, key):
            counts["busy"] = 1
            log.info("alerts for %s: another worker is delivering them; leaving it to that worker", channel)
            return counts
        try:
            counts["taken_over"] = _take_over(engine, channel, clock())
            if counts["taken_over"]:
                log.warning(
                    "alerts for %s: %d left sending by a dead worker; retrying them",
                    channel,
                    counts["taken_over"],
                )
            _deliver_rounds(engine, settings, sender, channel, counts, clock, sleep, batch_size)
        finally:
            unlock(lock_conn, key)
    return counts


def _deliver_rounds(
    engine: Engine,
    settings: EarshotSettings,
    sender: AlertSender,
    channel: str,
    counts: dict[str, int],
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    batch_size: int,
) -> None:
    """Rounds as in ``alerts.outbox``: a thread reply whose parent landed this pass goes in the next round."""
    ctx = DeliveryPass(
        engine,
        settings,
        sender,
        clock,
        sleep,
        inline_retry_max=DEFAULT_INLINE_RETRY_SECONDS,
        counts=counts,
    )
    last = _last_post_monotonic(engine, channel, clock(), ctx.monotonic)
    ctx.last_post = {channel: last} if last is not None else {}
    seen: set[int] = set()
    for _round in range(3):
        fresh = [i for i in due_alert_ids(engine, clock(), batch_size, channel=channel) if i not in seen]
        if not fresh:
            return
        for alert_id in fresh:
            seen.add(alert_id)
            alert = get_alert(engine, alert_id)
            if alert is None or alert.status not in (AlertStatus.PENDING, AlertStatus.SENDING):
                continue
            step = deliver_one(ctx, alert)
            if step in (NextStep.STOP, NextStep.SKIP_CHANNEL):
                log.info(
                    "alerts for %s: stopping this pass (%s); the rest wait for the next", channel, step.value
                )
                return
