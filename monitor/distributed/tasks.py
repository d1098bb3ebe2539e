"""The distributed mode's tasks: each one stage step, each safe to run twice and to run beside itself.

Why each is safe (the broker may deliver a message twice: after a worker died, or lost its connection):

``earshot.crawl`` (one source)
    Runs :func:`monitor.pipeline.run_crawls` for that source, the crawl in its own child process as in
    ``earshot run``. Items are upserted under their unique (source, external id), so a second crawl
    stores nothing new; the open run row of a killed crawl is closed as ``crashed`` by the next crawl.
``earshot.score``
    :func:`monitor.pipeline.score_pending`: batches claimed ``FOR UPDATE SKIP LOCKED`` (a killed worker's
    claim ends with its connection), scores inserted ``ON CONFLICT DO NOTHING`` on (mention, version,
    model). Several score tasks at once share the work: a crawl that stored items enqueues
    ``distributed.score_fanout`` of them.
``earshot.alerts``
    Decides (storms, rules, SLA: unique ``dedupe_key`` per decision), syncs changed messages, then
    enqueues one ``earshot.deliver`` per channel with something due.
``earshot.deliver`` (one channel)
    :func:`monitor.distributed.delivery.deliver_channel`: under the channel's advisory lock, with the
    outbox's claim / tag / look-before-re-posting protocol.
``earshot.digest``
    Under an advisory lock per week, and skipped when that week's digest was already made (a
    ``digest:<week>`` stage run). A worker killed between posting and recording it may post it twice:
    Slack's file upload has nothing to look up by.

A task that fails is recorded as a failed stage run and acknowledged: the scheduler's next tick runs the
stage again, so a poison message cannot loop.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
from collections.abc import Callable
from datetime import datetime, timedelta
from multiprocessing.process import AuthenticationString  # type: ignore[attr-defined]
from typing import Any

from celery import signals
from sqlmodel import Session, select

from monitor.core.models import StageRun
from monitor.core.timeutil import utcnow
from monitor.distributed.celery_app import STATE, app
from monitor.pipeline import StageReport, record_stage, run_crawls, score_pending

log = logging.getLogger(__name__)


@signals.worker_process_init.connect
def _process_init(**_kwargs: Any) -> None:
    """A fresh pool process: own engine (after the fork), and the model loaded once, here, not per task.

    Pool processes are daemonic, and multiprocessing refuses a daemon children; but a crawl must run in
    a child of its own (Scrapy's reactor cannot restart), which ``run_crawl`` always joins or kills
    itself. So the flag is cleared: the child never outlives the task that waits for it.
    """
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    config["daemon"] = False
    # billiard's key type refuses the stdlib's spawn pickling; the same key as the stdlib's type.
    config["authkey"] = AuthenticationString(bytes(config["authkey"]))
    STATE.engine = None
    if STATE.load_scorer_on_start:
        STATE.require_scorer()
        log.info("worker process ready: scorer loaded")


def _recorded(stage: str, fn: Callable[[], dict[str, int]]) -> dict[str, int]:
    """Run ``fn``; on an error record a failed stage run (visible in history and status), then re-raise."""
    started = utcnow()
    try:
        return fn()
    except Exception as exc:
        log.exception("task %s failed: %s", stage, exc)
        record_stage(
            STATE.require_engine(), StageReport(stage, {}, error=f"{type(exc).__name__}: {exc}"), started
        )
        raise


def _clock(offset_seconds: float) -> Callable[[], datetime]:
    """The wall clock, or one shifted ahead (the demo shows what happens hours later)."""
    if not offset_seconds:
        return utcnow
    return lambda: utcnow() + timedelta(seconds=offset_seconds)


@app.task(name="earshot.crawl")
def crawl_source(source: str) -> dict[str, int]:
    """Crawl one source (its own child process) and chain the score stage if it stored anything."""

    def run() -> dict[str, int]:
        settings = STATE.require_settings()
        result = run_crawls(settings, [source])
        counts: dict[str, int] = {}
        for report in result.reports:
            for key, value in report.counts.items():
                counts[key] = counts.get(key, 0) + value
        stored = sum(s.items_new + s.items_updated for s in result.summaries.values())
        if settings.schedule.event_driven and stored:
            fanout = min(settings.distributed.score_fanout, math.ceil(stored / settings.sentiment.batch_size))
            for _ in range(max(1, fanout)):
                score_mentions.delay()
            counts["score_tasks"] = max(1, fanout)
        health = result.health.counts
        if settings.schedule.event_driven and (health.get("opened") or health.get("recovered")):
            alerts_pass.delay()
        if result.failed:
            errors = "; ".join(r.error for r in result.reports if r.error)
            log.warning("crawl of %s failed: %s", source, errors)
        return counts

    return _recorded(f"crawl:{source}", run)


@app.task(name="earshot.score")
def score_mentions() -> dict[str, int]:
    """Score what is unscored (claims shared with other score tasks); chain the alert pass if anything was."""

    def run() -> dict[str, int]:
        settings = STATE.require_settings()
        report = score_pending(
            STATE.require_engine(), STATE.require_scorer(), batch_size=settings.sentiment.batch_size
        )
        if report.counts.get("scored") and settings.schedule.event_driven:
            alerts_pass.delay()
        return report.counts

    return _recorded("score", run)


@app.task(name="earshot.alerts")
def alerts_pass(clock_offset_seconds: float = 0.0) -> dict[str, Any]:
    """Decide what to say (idempotent), sync changed messages, then one delivery task per due channel."""
    from alerts.enqueue import enqueue_alerts
    from alerts.message_sync import sync_updates
    from alerts.sla import escalate_overdue
    from alerts.slack_sender import make_sender
    from alerts.storms import check_storms
    from monitor.distributed.delivery import channels_with_due_alerts

    channels: list[str] = []

    def run() -> dict[str, int]:
        settings = STATE.require_settings()
        engine = STATE.require_engine()
        started = utcnow()
        now = _clock(clock_offset_seconds)()
        counts: dict[str, int] = {}
        if settings.alerts.storm.enabled:
            counts.update({f"storm_{k}": v for k, v in check_storms(engine, settings, now).items()})
        counts.update(enqueue_alerts(engine, settings, now=now))
        counts.update(escalate_overdue(engine, settings, now))
        counts.update(sync_updates(engine, settings, make_sender(settings)))
        channels.extend(channels_with_due_alerts(engine, now))
        for channel in channels:
            deliver_alerts.delay(channel, clock_offset_seconds)
        counts["channels"] = len(channels)
        record_stage(engine, StageReport("alerts_queue", counts), started)
        return counts

    counts: dict[str, Any] = dict(_recorded("alerts_queue", run))
    counts["channel_names"] = channels
    return counts


@app.task(name="earshot.deliver")
def deliver_alerts(channel: str, clock_offset_seconds: float = 0.0) -> dict[str, int]:
    """Post one channel's due alerts (one worker per channel at a time, ~1 message/s)."""
    from alerts.slack_sender import make_sender
    from monitor.distributed.delivery import deliver_channel

    def run() -> dict[str, int]:
        settings = STATE.require_settings()
        engine = STATE.require_engine()
        started = utcnow()
        counts = deliver_channel(
            engine, settings, make_sender(settings), channel, clock=_clock(clock_offset_seconds)
        )
        if not counts["busy"]:
            record_stage(engine, StageReport("alerts", counts), started)
        return counts

    return _recorded("alerts", run)


@app.task(name="earshot.digest")
def make_digest(week: str | None = None) -> dict[str, int]:
    """The weekly digest once per week: an advisory lock per week, skipped if that week's was made."""
    from alerts.slack_sender import make_sender
    from monitor.digest.run import run_digest
    from monitor.digest.weeks import last_full_week, parse_week
    from monitor.distributed.delivery import lock_key, try_lock, unlock

    def run() -> dict[str, int]:
        settings = STATE.require_settings()
        engine = STATE.require_engine()
        tz = settings.digest.timezone
        chosen = parse_week(week, tz) if week else last_full_week(utcnow(), tz)
        stage = f"digest:{chosen.iso}"
        key = lock_key("digest", settings.distributed.queue_prefix, chosen.iso)
        with engine.connect() as conn:
            if not try_lock(conn, key):
                return {"busy": 1}
            try:
                with Session(engine) as s:
                    done = s.exec(
                        select(StageRun).where(StageRun.stage == stage, StageRun.error == None)  # noqa: E711
                    ).first()
                if done is not None:
                    return {"already_made": 1}
                started = utcnow()
                results = run_digest(engine, settings, week=chosen, sender=make_sender(settings))
                counts = {
                    "targets": len(results),
                    "posted": sum(r.posted for r in results),
                    "errors": sum(bool(r.error) for r in results),
                }
                record_stage(engine, StageReport(stage, counts), started)
                return counts
            finally:
                unlock(conn, key)

    return _recorded("digest", run)


def enqueue(stage: str, arg: str | None = None) -> None:
    """Send one stage's task (what the scheduler's jobs do): ``crawl`` needs the source name."""
    if stage == "crawl":
        if arg is None:
            raise ValueError("a crawl task needs a source name")
        crawl_source.delay(arg)
    elif stage == "score":
        score_mentions.delay()
    elif stage == "alerts":
        alerts_pass.delay()
    elif stage == "digest":
        make_digest.delay(arg)
    else:
        raise ValueError(f"unknown stage {stage!r}; stages: crawl, score, alerts, digest")
