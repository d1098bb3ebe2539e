"""Deliver one due alert to Slack at most once: claim it, look before re-posting, post, settle the outcome.

Slack has no idempotency key for ``chat.postMessage``, so "exactly once" is built from three pieces:

1. *claim*: set ``sending``, ``attempts + 1`` and a lease in ``next_attempt_at`` and COMMIT before
   calling Slack. The update is a compare-and-set on (status, attempts), so only one worker wins;
   the lease keeps other runs away while the call is in flight;
2. *tag*: the message carries ``metadata`` ``{"event_type": "earshot_alert", "event_payload":
   {"alert_id": id}}``;
3. *look before re-posting*: an alert that was tried before (a crash left it ``sending``, or a timeout
   or 5xx may have hidden a success) is first searched in ``conversations.history`` by that metadata;
   if found it is recorded as sent (``recovered``) instead of posted again.

Rate limits reschedule by Slack's ``Retry-After`` (a short one is slept off in the same run, once) and
do not count as attempts (Slack did not take the message);
outages back off exponentially with jitter (:func:`monitor.core.backoff.backoff_delay`), so alerts that
failed together do not all retry in the same second. Permanent errors fail the alert with a message
saying what to fix; a refused token or app (``invalid_auth``, ``token_expired``, ``missing_scope``) is
not the alert's fault, so the alert backs off like an outage and is posted once the token is fixed.
Thread replies post with their parent's ``thread_ts``; posts to one channel are spaced by
``slack.per_channel_interval_seconds``. What the pass does next (go on, skip the channel, stop) is
returned as a :class:`NextStep`; the pass itself is :func:`alerts.outbox.deliver_pending`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.alert_message import build_alert_message, get_alert, parent_of
from alerts.slack_errors import (
    SlackError,
    SlackPermanentError,
    SlackRateLimited,
    SlackTransientError,
    redact_token,
)
from alerts.slack_format import SlackMessage
from alerts.slack_sender import EVENT_TYPE, AlertSender, is_channel_id
from monitor.core.backoff import DEFAULT_JITTER, backoff_delay
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertStatus

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_MAX_SECONDS",
    "DEFAULT_INLINE_RETRY_SECONDS",
    "DeliveryPass",
    "NextStep",
    "alert_metadata",
    "deliver_one",
]

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 30.0
BACKOFF_MAX_SECONDS = 3600.0
DEFAULT_INLINE_RETRY_SECONDS = 2.0
# Slack's clock and ours may differ; look a little before the alert was created.
RECOVERY_LOOKBACK = timedelta(minutes=10)
# Refusals of a lookup that still let the post through (the app may lack channels:history but have
# chat:write); every other token-wide refusal (token_expired, invalid_auth...) stops the attempt.
LOOKUP_SCOPE_CODES = frozenset({"missing_scope", "no_permission"})


def alert_metadata(alert_id: int) -> dict[str, Any]:
    """The Slack message metadata that lets a later run find this alert's message again."""
    return {"event_type": EVENT_TYPE, "event_payload": {"alert_id": alert_id}}


class NextStep(Enum):
    """What the pass does after one alert."""

    CONTINUE = "continue"
    SKIP_CHANNEL = "skip_channel"  # this channel is broken; leave its other alerts for a later pass
    STOP = "stop"  # Slack is rate-limiting, down, or rejects our token: stop the pass


@dataclass
class DeliveryPass:
    """One delivery pass: where to send, the injectable clocks, and the counts it adds to."""

    engine: Engine
    settings: EarshotSettings
    sender: AlertSender
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    inline_retry_max: float
    counts: dict[str, int]
    monotonic: Callable[[], float] = time.monotonic
    backoff_jitter: float = DEFAULT_JITTER
    last_post: dict[str, float] | None = None

    @property
    def lease(self) -> timedelta:
        """How long a claimed alert is left alone: enough for a history lookup and the post itself."""
        calls = 8  # conversations.list + up to 5 history pages + chat.postMessage, with room to spare
        return timedelta(seconds=calls * self.settings.slack.timeout_seconds + 30)

    def redact(self, text: str) -> str:
        return redact_token(text, self.settings.slack.bot_token)


def _backoff(ctx: DeliveryPass, attempts: int) -> float:
    """30 s, 1 min, 2 min ... capped at an hour, plus jitter: an outage is ridden out without hammering Slack."""
    return backoff_delay(attempts, BACKOFF_BASE_SECONDS, BACKOFF_MAX_SECONDS, jitter=ctx.backoff_jitter)


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


def _claim(ctx: DeliveryPass, alert: Alert) -> Alert | None:
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
    return get_alert(ctx.engine, alert.id or 0)


def _renew_claim(ctx: DeliveryPass, alert: Alert, error: str) -> Alert | None:
    """Take a fresh lease on an alert we hold (after sleeping off a short rate limit; not a new attempt)."""
    renewed = _update_owned(
        ctx.engine, alert, next_attempt_at=ctx.clock() + ctx.lease, last_error=ctx.redact(error)
    )
    return get_alert(ctx.engine, alert.id or 0) if renewed else None


def _wait_out_rate_limit(ctx: DeliveryPass, alert: Alert, error: SlackRateLimited) -> None:
    """Reschedule after Slack's ``Retry-After`` and give the claimed attempt back.

    A 429 means Slack did not take the message, so it says nothing about the alert: counted as attempts,
    a few rate-limited passes failed the alert for good (lost) and stretched the next outage backoff
    (2^attempts) to many minutes. The attempt that was only rate-limited is not counted.
    """
    _update_owned(
        ctx.engine,
        alert,
        status=AlertStatus.PENDING,
        attempts=max(0, alert.attempts - 1),
        next_attempt_at=ctx.clock() + timedelta(seconds=error.retry_after),
        last_error=ctx.redact(str(error)),
    )
    ctx.counts["retried"] += 1
    logger.warning("alert %s: %s; not counted as an attempt", alert.id, ctx.redact(str(error)))


def _ts_time(ts: str) -> datetime | None:
    """When Slack stored a message: its ts is Unix seconds with microseconds ("1714572180.000200")."""
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _record_delivered(
    ctx: DeliveryPass,
    alert: Alert,
    channel_id: str | None,
    ts: str | None,
    status: str,
    *,
    recovered: bool = False,
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


def _reschedule(ctx: DeliveryPass, alert: Alert, error: str, delay: float) -> None:
    _update_owned(
        ctx.engine,
        alert,
        status=AlertStatus.PENDING,
        next_attempt_at=ctx.clock() + timedelta(seconds=delay),
        last_error=ctx.redact(error),
    )


def _fail(ctx: DeliveryPass, alert: Alert, error: str) -> None:
    _update_owned(
        ctx.engine, alert, status=AlertStatus.FAILED, next_attempt_at=None, last_error=ctx.redact(error)
    )
    ctx.counts["failed"] += 1
    logger.error("alert %s failed: %s", alert.id, ctx.redact(error))


def _retry_or_fail(ctx: DeliveryPass, alert: Alert, error: SlackError, delay: float) -> bool:
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


def _look_up(ctx: DeliveryPass, alert: Alert) -> tuple[str | None, str | None]:
    """(channel id, ts) of a message an earlier attempt already posted, or (channel id or None, None).

    Rate limits, outages and a refused token propagate (the attempt is retried later); another permanent
    error (say the app lacks channels:history) is logged and the alert posted anyway: a possible duplicate
    beats a lost alert.
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
        if exc.global_failure and exc.code not in LOOKUP_SCOPE_CODES:
            # The token itself is refused: the post would be refused too, or, if the token comes back
            # between the two calls, duplicate a message that did land. Wait and look again instead.
            raise
        logger.warning(
            "alert %s: cannot check whether an earlier attempt already posted it (%s); posting again, "
            "which may duplicate it",
            alert.id,
            ctx.redact(str(exc)),
        )
        return None, None


def _thread_ts(engine: Engine, alert: Alert) -> str | None:
    """The parent's message ts when this alert is a thread reply and the parent landed in Slack."""
    parent = parent_of(engine, alert)
    return parent.slack_ts if parent is not None and parent.slack_ts else None


def _throttle(ctx: DeliveryPass, channel: str) -> None:
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


def _attempt(ctx: DeliveryPass, alert: Alert, message: SlackMessage) -> None:
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


def _settle(ctx: DeliveryPass, alert: Alert, message: SlackMessage) -> NextStep:
    """Run the claimed attempt and settle the outcome; a short rate limit is slept off once, in place."""
    slept = False
    while True:
        try:
            _attempt(ctx, alert, message)
            return NextStep.CONTINUE
        except SlackRateLimited as exc:
            ctx.counts["ratelimited"] += 1
            if slept or exc.retry_after > ctx.inline_retry_max:
                _wait_out_rate_limit(ctx, alert, exc)
                return NextStep.STOP
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
                return NextStep.STOP
            alert = renewed
        except SlackTransientError as exc:
            _retry_or_fail(ctx, alert, exc, _backoff(ctx, alert.attempts))
            return NextStep.STOP
        except SlackPermanentError as exc:
            if exc.global_failure:
                # The token or the app is refused (token_expired, invalid_auth, missing_scope): nothing is wrong
                # with this alert, so it waits with the outage backoff instead of failing; once a person fixes
                # the token it is posted. Failing it here lost every alert due during a token swap.
                logger.error("alert %s: Slack refused the app: %s", alert.id, ctx.redact(str(exc)))
                _retry_or_fail(ctx, alert, exc, _backoff(ctx, alert.attempts))
                return NextStep.STOP
            _fail(ctx, alert, str(exc))
            return NextStep.SKIP_CHANNEL


def deliver_one(ctx: DeliveryPass, alert: Alert) -> NextStep:
    """Build the message, claim the alert and settle one attempt."""
    message = build_alert_message(ctx.engine, ctx.settings, alert)
    if message is None:
        _fail(ctx, alert, f"mention {alert.mention_id} no longer exists")
        return NextStep.CONTINUE
    if alert.status == AlertStatus.PENDING and alert.attempts >= ctx.settings.slack.max_attempts:
        _fail(ctx, alert, f"gave up after {alert.attempts} attempts; last error: {alert.last_error}")
        return NextStep.CONTINUE
    claimed = _claim(ctx, alert)
    if claimed is None:
        return NextStep.CONTINUE
    return _settle(ctx, claimed, message)
