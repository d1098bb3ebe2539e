"""The alert outbox: decide once, store the decision, then deliver it at most once to Slack.

Each step is safe to re-run and to run concurrently:

``enqueue_alerts`` (:mod:`alerts.enqueue`), ``check_storms`` (:mod:`alerts.storms`), ``escalate_overdue``
    (:mod:`alerts.sla`) decide what to say and store one ``Alert`` row per decision under a unique
    ``dedupe_key``; the unique key, not a prior SELECT, is what stops a second row.

``deliver_pending``
    Sends due alerts with a crash-safe protocol. Slack has no idempotency key for ``chat.postMessage``,
    so "exactly once" is built from three pieces:

    1. *claim*: set ``sending``, ``attempts + 1`` and a lease in ``next_attempt_at`` and COMMIT before
       calling Slack. The update is a compare-and-set on (status, attempts), so only one worker wins;
       the lease keeps other runs away while the call is in flight;
    2. *tag*: the message carries ``metadata`` ``{"event_type": "earshot_alert", "event_payload":
       {"alert_id": id}}``;
    3. *look before re-posting*: an alert that was tried before (a crash left it ``sending``, or a timeout
       or 5xx may have hidden a success) is first searched in ``conversations.history`` by that metadata;
       if found it is recorded as sent (``recovered``) instead of posted again.

    Rate limits reschedule by Slack's ``Retry-After`` (a short one is slept off in the same run, once);
    outages back off exponentially; a pass stops at the first rate limit or outage so one bad minute does
    not burn every alert's attempts. Permanent errors fail the alert with a message saying what to fix.
    Thread replies wait for their parent's message and post with its ``thread_ts``; posts to one channel
    are spaced by ``slack.per_channel_interval_seconds``. Every pass is recorded as a
    ``StageRun(stage="alerts")``.

``sync_updates``
    Re-renders delivered messages whose handling state changed (``state_version > synced_version``)
    with ``chat.update``; idempotent, so retrying after a crash or outage is safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from alerts.enqueue import ENQUEUE_COUNTS, dedupe_key, enqueue_alerts, mention_view, score_view
from alerts.render import render
from alerts.rules import MentionView, ScoreView
from alerts.sla import escalate_overdue
from alerts.slack_blocks import SlackMessage
from alerts.slack_sender import (
    EVENT_TYPE,
    AlertSender,
    SlackError,
    SlackPermanentError,
    SlackRateLimited,
    SlackTransientError,
    is_channel_id,
    redact_token,
)
from alerts.storms import check_storms
from monitor.core.config import EarshotSettings
from monitor.core.db import session_scope
from monitor.core.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Mention,
    SentimentScore,
    StageRun,
    TargetRow,
    utcnow,
)

__all__ = [
    "DELIVERY_COUNTS",
    "ENQUEUE_COUNTS",
    "STAGE",
    "alert_metadata",
    "dedupe_key",
    "deliver_pending",
    "enqueue_alerts",
    "mention_view",
    "requeue_failed",
    "run_alerts",
    "score_view",
    "sync_updates",
]

logger = logging.getLogger(__name__)

STAGE = "alerts"
DELIVERY_COUNTS = ("sent", "retried", "failed", "recovered", "printed", "ratelimited", "throttled")
UPDATE_COUNTS = ("updated", "update_failed")

BACKOFF_BASE_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 3600.0
DEFAULT_INLINE_RETRY_SECONDS = 2.0
# Slack's clock and ours may differ; look a little before the alert was created.
RECOVERY_LOOKBACK = timedelta(minutes=10)


def alert_metadata(alert_id: int) -> dict[str, Any]:
    """The Slack message metadata that lets a later run find this alert's message again."""
    return {"event_type": EVENT_TYPE, "event_payload": {"alert_id": alert_id}}


# --------------------------------------------------------------------------------------------- deliver


class _Next(Enum):
    """What the pass does after one alert."""

    CONTINUE = "continue"
    SKIP_CHANNEL = "skip_channel"  # this channel is broken; leave its other alerts for a later pass
    STOP = "stop"  # Slack is rate-limiting, down, or rejects our token: stop the pass


@dataclass
class _Pass:
    engine: Engine
    settings: EarshotSettings
    sender: AlertSender
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    inline_retry_max: float
    counts: dict[str, int]
    monotonic: Callable[[], float] = time.monotonic
    last_post: dict[str, float] | None = None

    @property
    def lease(self) -> timedelta:
        """How long a claimed alert is left alone: enough for a history lookup and the post itself."""
        calls = 8  # conversations.list + up to 5 history pages + chat.postMessage, with room to spare
        return timedelta(seconds=calls * self.settings.slack.timeout_seconds + 30)

    def redact(self, text: str) -> str:
        return redact_token(text, self.settings.slack.bot_token)


def _backoff(attempts: int) -> float:
    """30 s, 1 min, 2 min ... capped at an hour: an outage is ridden out without hammering Slack."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def _get_alert(engine: Engine, alert_id: int) -> Alert | None:
    with Session(engine) as session:
        return session.get(Alert, alert_id)


def _due_alert_ids(engine: Engine, now: datetime, limit: int) -> list[int]:
    """Pending alerts whose time has come, and ``sending`` ones whose lease ran out (a crashed run).

    A thread reply waits for its parent message: it is due once the parent was delivered (or failed,
    in which case it is posted on its own).
    """
    parent = aliased(Alert)
    settled = [AlertStatus.SENT, AlertStatus.PRINTED, AlertStatus.FAILED]
    stmt = (
        select(Alert.id)
        .outerjoin(parent, col(parent.id) == col(Alert.parent_id))
        .where(col(Alert.status).in_([AlertStatus.PENDING, AlertStatus.SENDING]))
        .where(or_(col(Alert.next_attempt_at).is_(None), col(Alert.next_attempt_at) <= now))
        .where(or_(col(Alert.parent_id).is_(None), col(parent.status).in_(settled)))
        .order_by(col(Alert.created_at), col(Alert.id))
        .limit(limit)
    )
    with Session(engine) as session:
        return [i for i in session.exec(stmt).all() if i is not None]


def _load_content(engine: Engine, alert: Alert) -> tuple[MentionView, ScoreView | None] | None:
    """The mention and its newest score (current version preferred) as they are now."""
    with Session(engine) as session:
        row = session.exec(
            select(Mention, TargetRow.name)
            .outerjoin(TargetRow, col(TargetRow.id) == col(Mention.target_id))
            .where(Mention.id == alert.mention_id)
        ).first()
        if row is None:
            return None
        mention, target = row
        score = session.exec(
            select(SentimentScore)
            .where(SentimentScore.mention_id == alert.mention_id)
            .order_by(
                (col(SentimentScore.mention_version) == mention.version).desc(),
                col(SentimentScore.scored_at).desc(),
                col(SentimentScore.id).desc(),
            )
        ).first()
        return mention_view(mention, target), (score_view(score) if score else None)


def _owned(alert: Alert) -> Any:
    """WHERE clause: the row is still ours (status and attempts as we left them)."""
    return and_(
        col(Alert.id) == alert.id, col(Alert.status) == alert.status, col(Alert.attempts) == alert.attempts
    )


def _update_owned(engine: Engine, alert: Alert, *conditions: Any, **values: Any) -> bool:
    """Compare-and-set: update only if the row is still as we last saw it (and ``conditions`` hold)."""
    with engine.begin() as conn:
        result = conn.execute(update(Alert).where(_owned(alert), *conditions).values(**values))
    return result.rowcount == 1


def _claim(ctx: _Pass, alert: Alert) -> Alert | None:
    """Mark ``sending``, count the attempt and take a lease, committed before any Slack call.

    The row must still be as we read it *and* still due: a ``sending`` row whose lease has not run out
    belongs to a run that is alive, and must not be taken over.
    """
    now = ctx.clock()
    due = or_(col(Alert.next_attempt_at).is_(None), col(Alert.next_attempt_at) <= now)
    claimed = _update_owned(
        ctx.engine,
        alert,
        due,
        status=AlertStatus.SENDING,
        attempts=alert.attempts + 1,
        next_attempt_at=now + ctx.lease,
    )
    if not claimed:
        logger.info("alert %s: claimed by another run; leaving it to that run", alert.id)
        return None
    return _get_alert(ctx.engine, alert.id or 0)


def _renew_claim(ctx: _Pass, alert: Alert, error: str) -> Alert | None:
    """Count another attempt on an alert we hold (after sleeping off a short rate limit)."""
    renewed = _update_owned(
        ctx.engine,
        alert,
        attempts=alert.attempts + 1,
        next_attempt_at=ctx.clock() + ctx.lease,
        last_error=ctx.redact(error),
    )
    return _get_alert(ctx.engine, alert.id or 0) if renewed else None


def _ts_time(ts: str) -> datetime | None:
    """When Slack stored a message: its ts is Unix seconds with microseconds ("1714572180.000200")."""
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _record_delivered(
    ctx: _Pass, alert: Alert, channel_id: str | None, ts: str | None, status: str, *, recovered: bool = False
) -> None:
    """Store where the message landed and close the alert; warn if another run took it over meanwhile.

    A recovered message was sent by an earlier attempt, so its ``sent_at`` comes from its Slack ts.
    """
    sent_at = (_ts_time(ts) if recovered and ts else None) or ctx.clock()
    done = _update_owned(
        ctx.engine,
        alert,
        status=status,
        slack_ts=ts,
        slack_channel_id=channel_id,
        sent_at=sent_at,
        next_attempt_at=None,
        last_error=None,
    )
    if not done:
        logger.warning(
            "alert %s: delivered, but another run took it over after the lease expired; it may appear twice",
            alert.id,
        )


def _reschedule(ctx: _Pass, alert: Alert, error: str, delay: float) -> None:
    _update_owned(
        ctx.engine,
        alert,
        status=AlertStatus.PENDING,
        next_attempt_at=ctx.clock() + timedelta(seconds=delay),
        last_error=ctx.redact(error),
    )


def _fail(ctx: _Pass, alert: Alert, error: str) -> None:
    _update_owned(
        ctx.engine, alert, status=AlertStatus.FAILED, next_attempt_at=None, last_error=ctx.redact(error)
    )
    ctx.counts["failed"] += 1
    logger.error("alert %s failed: %s", alert.id, ctx.redact(error))


def _retry_or_fail(ctx: _Pass, alert: Alert, error: SlackError, delay: float) -> bool:
    """Reschedule after ``delay`` seconds, or fail when the attempts are used up; ``True`` if rescheduled."""
    max_attempts = ctx.settings.slack.max_attempts
    if alert.attempts >= max_attempts:
        _fail(ctx, alert, f"gave up after {alert.attempts} attempts; last error: {error}")
        return False
    _reschedule(ctx, alert, str(error), delay)
    ctx.counts["retried"] += 1
    logger.warning(
        "alert %s: attempt %d/%d failed (%s); next try in %.0fs",
        alert.id,
        alert.attempts,
        max_attempts,
        ctx.redact(str(error)),
        delay,
    )
    return True


def _known_channel_id(engine: Engine, channel: str) -> str | None:
    """A channel id learnt from an earlier delivery to the same channel name (saves a conversations.list)."""
    if is_channel_id(channel):
        return channel
    stmt = (
        select(Alert.slack_channel_id)
        .where(Alert.channel == channel, col(Alert.slack_channel_id).is_not(None))
        .limit(1)
    )
    with Session(engine) as session:
        return session.exec(stmt).first()


def _look_up(ctx: _Pass, alert: Alert) -> tuple[str | None, str | None]:
    """(channel id, ts) of a message an earlier attempt already posted, or (channel id or None, None).

    Rate limits and outages propagate (the attempt is retried later); a permanent error (say the app lacks
    channels:history) is logged and the alert posted anyway: a possible duplicate beats a lost alert.
    """
    try:
        channel_id = (
            alert.slack_channel_id
            or _known_channel_id(ctx.engine, alert.channel)
            or ctx.sender.resolve_channel_id(alert.channel)
        )
        if channel_id is None:
            return None, None
        thread_ts = _thread_ts(ctx.engine, alert)
        if thread_ts is not None:
            return channel_id, ctx.sender.find_in_thread(channel_id, thread_ts, alert.id or 0)
        oldest = alert.created_at - RECOVERY_LOOKBACK
        return channel_id, ctx.sender.find_by_alert_id(channel_id, alert.id or 0, oldest)
    except SlackPermanentError as exc:
        logger.warning(
            "alert %s: cannot check whether an earlier attempt already posted it (%s); posting again, "
            "which may duplicate it",
            alert.id,
            ctx.redact(str(exc)),
        )
        return None, None


def _parent(engine: Engine, alert: Alert) -> Alert | None:
    return _get_alert(engine, alert.parent_id) if alert.parent_id is not None else None


def _thread_ts(engine: Engine, alert: Alert) -> str | None:
    """The parent's message ts when this alert is a thread reply and the parent landed in Slack."""
    parent = _parent(engine, alert)
    return parent.slack_ts if parent is not None and parent.slack_ts else None


def _throttle(ctx: _Pass, channel: str) -> None:
    """Keep at least ``per_channel_interval_seconds`` between two posts to one channel (Slack: ~1/s)."""
    interval = ctx.settings.slack.per_channel_interval_seconds
    if ctx.sender.delivered_status != AlertStatus.SENT:
        return  # the console has no rate limit
    if ctx.last_post is None:
        ctx.last_post = {}
    last = ctx.last_post.get(channel)
    if last is not None and interval > 0:
        wait = interval - (ctx.monotonic() - last)
        if wait > 0:
            ctx.counts["throttled"] += 1
            ctx.sleep(wait)
    ctx.last_post[channel] = ctx.monotonic()


def _attempt(ctx: _Pass, alert: Alert, message: SlackMessage) -> None:
    """One claimed attempt: look up first if an earlier attempt may have landed, else post; record."""
    if alert.attempts > 1:
        channel_id, ts = _look_up(ctx, alert)
        if ts is not None:
            _record_delivered(ctx, alert, channel_id, ts, AlertStatus.SENT, recovered=True)
            ctx.counts["recovered"] += 1
            logger.info(
                "alert %s: found in Slack (ts %s) from an earlier attempt; not posting again", alert.id, ts
            )
            return
    thread_ts = _thread_ts(ctx.engine, alert)
    _throttle(ctx, alert.channel)
    channel_id, ts = ctx.sender.post(
        alert.channel, message, alert_metadata(alert.id or 0), thread_ts=thread_ts, broadcast=alert.broadcast
    )
    status = ctx.sender.delivered_status
    _record_delivered(ctx, alert, channel_id, ts, status)
    ctx.counts["printed" if status == AlertStatus.PRINTED else "sent"] += 1
    logger.info("alert %s: %s to %s (ts %s)", alert.id, status, alert.channel, ts)


def _settle(ctx: _Pass, alert: Alert, message: SlackMessage) -> _Next:
    """Run the claimed attempt and settle the outcome; a short rate limit is slept off once, in place."""
    slept = False
    while True:
        try:
            _attempt(ctx, alert, message)
            return _Next.CONTINUE
        except SlackRateLimited as exc:
            ctx.counts["ratelimited"] += 1
            short = exc.retry_after <= ctx.inline_retry_max
            if slept or not short or alert.attempts >= ctx.settings.slack.max_attempts:
                _retry_or_fail(ctx, alert, exc, exc.retry_after)
                return _Next.STOP
            ctx.counts["retried"] += 1
            logger.info(
                "alert %s: rate-limited; retrying in %.1fs within this run", alert.id, exc.retry_after
            )
            ctx.sleep(exc.retry_after)
            if ctx.last_post is not None:
                ctx.last_post.pop(alert.channel, None)  # waiting out Retry-After already spaced the posts
            slept = True
            renewed = _renew_claim(ctx, alert, str(exc))
            if renewed is None:
                logger.warning("alert %s: lost its claim while waiting out a rate limit", alert.id)
                return _Next.STOP
            alert = renewed
        except SlackTransientError as exc:
            _retry_or_fail(ctx, alert, exc, _backoff(alert.attempts))
            return _Next.STOP
        except SlackPermanentError as exc:
            _fail(ctx, alert, str(exc))
            return _Next.STOP if exc.global_failure else _Next.SKIP_CHANNEL


def build_alert_message(engine: Engine, settings: EarshotSettings, alert: Alert) -> SlackMessage | None:
    """The message as of now (mention, score, handling state); ``None`` when its mention is gone."""
    mention: MentionView | None = None
    score: ScoreView | None = None
    if alert.mention_id is not None:
        content = _load_content(engine, alert)
        if content is None:
            return None
        mention, score = content
    return render(alert, mention, score, settings, _context_alert(engine, alert))


def _context_alert(engine: Engine, alert: Alert) -> Alert | None:
    """The alert a message is about besides its own row: the thread parent, or for an SLA escalation the
    overdue alert (whose state its buttons show and change)."""
    if alert.kind == AlertKind.SLA_ESCALATION:
        overdue = (alert.payload or {}).get("alert_id")
        if isinstance(overdue, int):
            return _get_alert(engine, overdue)
    return _parent(engine, alert)


def _escalations_of(engine: Engine, alert: Alert) -> list[Alert]:
    """Delivered SLA escalation messages about ``alert``: they show its state, so they follow its updates."""
    if alert.mention_id is None or alert.kind not in AlertKind.MENTION_KINDS:
        return []
    stmt = (
        select(Alert)
        .where(col(Alert.kind) == AlertKind.SLA_ESCALATION, col(Alert.mention_id) == alert.mention_id)
        .where(col(Alert.slack_ts).is_not(None), col(Alert.slack_channel_id).is_not(None))
    )
    with Session(engine) as session:
        return [a for a in session.exec(stmt).all() if (a.payload or {}).get("alert_id") == alert.id]


def _build(ctx: _Pass, alert: Alert) -> SlackMessage | None:
    return build_alert_message(ctx.engine, ctx.settings, alert)


def _deliver_one(ctx: _Pass, alert: Alert) -> _Next:
    """Build the message, claim the alert and settle one attempt."""
    message = _build(ctx, alert)
    if message is None:
        _fail(ctx, alert, f"mention {alert.mention_id} no longer exists")
        return _Next.CONTINUE
    if alert.status == AlertStatus.PENDING and alert.attempts >= ctx.settings.slack.max_attempts:
        _fail(ctx, alert, f"gave up after {alert.attempts} attempts; last error: {alert.last_error}")
        return _Next.CONTINUE
    claimed = _claim(ctx, alert)
    if claimed is None:
        return _Next.CONTINUE
    return _settle(ctx, claimed, message)


def _start_stage_run(engine: Engine, now: datetime) -> int:
    with session_scope(engine) as session:
        run = StageRun(stage=STAGE, started_at=now, counts={})
        session.add(run)
        session.flush()
        return run.id or 0


def _finish_stage_run(
    engine: Engine, run_id: int, counts: dict[str, int], now: datetime, error: str | None
) -> None:
    with session_scope(engine) as session:
        run = session.get(StageRun, run_id)
        if run is None:
            logger.error("stage run %s vanished before it could be finished; counts were %s", run_id, counts)
            return
        run.finished_at = now
        run.counts = dict(counts)
        run.error = error
        session.add(run)


def _deliver_due(ctx: _Pass, batch_size: int) -> None:
    """Deliver what is due; thread replies whose parent landed in this pass are picked up in a second round."""
    skipped_channels: set[str] = set()
    seen: set[int] = set()
    for _round in range(3):
        fresh = [i for i in _due_alert_ids(ctx.engine, ctx.clock(), batch_size) if i not in seen]
        if not fresh:
            return
        for alert_id in fresh:
            seen.add(alert_id)
            alert = _get_alert(ctx.engine, alert_id)
            if alert is None or alert.status not in (AlertStatus.PENDING, AlertStatus.SENDING):
                continue
            if alert.channel in skipped_channels:
                continue
            step = _deliver_one(ctx, alert)
            if step is _Next.STOP:
                logger.info("alerts: stopping this pass early; the remaining alerts wait for the next one")
                return
            if step is _Next.SKIP_CHANNEL:
                skipped_channels.add(alert.channel)


def deliver_pending(
    engine: Engine,
    settings: EarshotSettings,
    sender: AlertSender,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    inline_retry_max_seconds: float = DEFAULT_INLINE_RETRY_SECONDS,
    batch_size: int = 100,
    monotonic: Callable[[], float] = time.monotonic,
) -> dict[str, int]:
    """Deliver due alerts once each; see the module docstring for the protocol.

    ``clock`` (aware UTC, like ``utcnow``) and ``sleep`` are injectable for tests; a rate limit whose
    ``Retry-After`` is at most ``inline_retry_max_seconds`` is slept off and retried once in this run.
    Returns counts ``sent``, ``retried``, ``failed``, ``recovered``, ``printed``, ``ratelimited``, also
    stored in a ``StageRun``.
    """
    counts = dict.fromkeys(DELIVERY_COUNTS, 0)
    ctx = _Pass(engine, settings, sender, clock, sleep, max(0.0, inline_retry_max_seconds), counts, monotonic)
    run_id = _start_stage_run(engine, clock())
    try:
        _deliver_due(ctx, batch_size)
    except Exception as exc:
        _finish_stage_run(engine, run_id, counts, clock(), ctx.redact(f"{type(exc).__name__}: {exc}"))
        raise
    _finish_stage_run(engine, run_id, counts, clock(), None)
    if any(counts.values()):
        logger.info("alerts delivered: %s", counts)
    return counts


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
        alert = _get_alert(engine, alert_id)
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
    for escalation in _escalations_of(engine, alert):
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


def run_alerts(
    engine: Engine, settings: EarshotSettings, sender: AlertSender, **kwargs: Any
) -> dict[str, int]:
    """One scheduler tick: queue (rules, storms, SLA), deliver, then sync changed messages; merged counts."""
    now = kwargs.get("clock", utcnow)()
    counts: dict[str, int] = {}
    if settings.alerts.storm.enabled:  # first, so a burst scored since the last pass is folded into its storm
        counts.update({f"storm_{k}": v for k, v in check_storms(engine, settings, now).items()})
    counts.update(enqueue_alerts(engine, settings, now=now))
    counts.update(escalate_overdue(engine, settings, now))
    counts.update(deliver_pending(engine, settings, sender, **kwargs))
    counts.update(sync_updates(engine, settings, sender))
    return counts


def requeue_failed(
    engine: Engine, alert_ids: Iterable[int] | None = None, *, clock: Callable[[], datetime] = utcnow
) -> int:
    """Give failed alerts (all, or the given ids) a fresh set of attempts after the cause was fixed.

    Attempts restart at zero, so the first new attempt posts without a history lookup: requeue alerts
    that failed on a permanent error (bad channel, token, scope), which Slack never accepted.
    """
    stmt = update(Alert).where(col(Alert.status) == AlertStatus.FAILED)
    if alert_ids is not None:
        stmt = stmt.where(col(Alert.id).in_(list(alert_ids)))
    with engine.begin() as conn:
        result = conn.execute(stmt.values(status=AlertStatus.PENDING, attempts=0, next_attempt_at=clock()))
    return int(result.rowcount or 0)
