"""Decide, once per scored mention version, whether and how it reaches Slack.

A scored mention ends up as exactly one of:

* a new alert message (the rules fired; :func:`alerts.rules.evaluate` picked rule, severity, channel),
  held until quiet hours end unless urgent;
* a reply in an earlier alert's thread: later activity on an alerted item (the review was edited, a reply
  in the same social thread, the same author complaining again) or a match during the rule's cooldown;
* folded into the target's open storm (one storm message instead of N alerts);
* nothing (no rule fired, or the item is a source's backlog, older than ``alerts.max_age_hours`` when
  first crawled).

Every row is inserted under a unique ``dedupe_key`` in its own transaction, so re-running a pass or two
passes racing each other create each alert once. A checkpoint (the last score id looked at, minus a
small overlap for transactions that commit out of order) keeps each pass to the new scores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.alert_threads import cooldown_parent, repeat_parent, thread_parent, thread_root
from alerts.idempotent import insert_once
from alerts.quiet_hours import quiet_until
from alerts.replies import suggest_reply
from alerts.reply_library import similar_replies
from alerts.reply_template_store import templates_for
from alerts.rules import AlertDecision, MentionView, ScoreView, evaluate
from alerts.storms import latest_score_id, open_storm_alert_id
from alerts.views import mention_view, score_view
from monitor.core.config import EarshotSettings, ReplySettings
from monitor.core.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Checkpoint,
    Mention,
    MentionRevision,
    ReplyRecord,
    SentimentScore,
    TargetRow,
)
from monitor.core.timeutil import as_utc, utcnow
from sentiment.embeddings import Embedder

__all__ = ["CHECKPOINT", "ENQUEUE_COUNTS", "dedupe_key", "edit_key", "enqueue_alerts"]

logger = logging.getLogger(__name__)

CHECKPOINT = "alerts:score_id"
# Scores are re-read this far behind the checkpoint: a scoring transaction that took an id earlier but
# committed later is still seen. Dedupe keys make the re-read harmless.
LOOKBACK_IDS = 200
# E5 scores unrelated complaints 0.77-0.89 and same-topic ones 0.90-0.96 (measured on PL/EN examples).
SIMILAR_REPLY_MIN = 0.88
ENQUEUE_COUNTS = (
    "evaluated",
    "created",
    "held",
    "threaded",
    "edited",
    "folded",
    "backlog",
    "skipped_existing",
)

EmbedderFactory = Callable[[], Embedder | None]


def dedupe_key(mention_id: int) -> str:
    """One alert per mention, ever: its edits and repeats go into that alert's thread instead."""
    return f"mention:{mention_id}:alert"


def edit_key(mention_id: int, version: int) -> str:
    """One "the item was edited" thread reply per version."""
    return f"mention:{mention_id}:v{version}:edit"


# ------------------------------------------------------------------------------------------- the pass


@dataclass
class _Ctx:
    engine: Engine
    settings: EarshotSettings
    now: datetime
    embedder_factory: EmbedderFactory
    checkpoint: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENQUEUE_COUNTS, 0))
    _embedder: Embedder | None = None
    _embedder_loaded: bool = False
    _has_replies: bool | None = None

    def embedder(self) -> Embedder | None:
        """The encoder for similar past replies, loaded only when replies to compare with exist."""
        if self._has_replies is None:
            with Session(self.engine) as session:
                stmt = (
                    select(func.count())
                    .select_from(ReplyRecord)
                    .where(col(ReplyRecord.embedding).is_not(None))
                )
                self._has_replies = bool(session.exec(stmt).one())
        if not self._has_replies:
            return None
        if not self._embedder_loaded:
            self._embedder_loaded = True
            self._embedder = self.embedder_factory()
        return self._embedder


def _default_embedder() -> Embedder | None:
    from sentiment.embeddings import E5Embedder

    return E5Embedder(threads=1)


def _load_batch(
    session: Session, after_score_id: int, limit: int
) -> list[tuple[Mention, SentimentScore, str | None]]:
    stmt = (
        select(Mention, SentimentScore, TargetRow.name)
        .join(SentimentScore, col(SentimentScore.mention_id) == col(Mention.id))
        .outerjoin(TargetRow, col(TargetRow.id) == col(Mention.target_id))
        .where(col(SentimentScore.id) > after_score_id)
        .where(col(SentimentScore.id) == latest_score_id())
        .order_by(col(SentimentScore.id))
        .limit(limit)
    )
    return [(m, s, t) for m, s, t in session.exec(stmt).all()]


def _read_checkpoint(engine: Engine) -> int:
    with Session(engine) as session:
        row = session.exec(select(Checkpoint).where(Checkpoint.name == CHECKPOINT)).first()
        return row.value if row else 0


def _write_checkpoint(engine: Engine, value: int) -> None:
    """Move the checkpoint forward only (a slower concurrent pass must not move it back)."""
    with Session(engine) as session:
        row = session.exec(select(Checkpoint).where(Checkpoint.name == CHECKPOINT)).first()
        if row is None:
            # False: a concurrent pass created it first; the next pass moves it
            insert_once(session, Checkpoint(name=CHECKPOINT, value=value), key="name")
        elif value > row.value:
            row.value, row.updated_at = value, utcnow()
            session.add(row)
        session.commit()


def _insert(engine: Engine, alert: Alert) -> bool:
    """Store ``alert`` in its own transaction; ``False`` when its dedupe key exists (stored before)."""
    with Session(engine) as session:
        if not insert_once(session, alert):
            return False
        session.commit()
    return True


def _key_exists(engine: Engine, key: str) -> bool:
    with Session(engine) as session:
        return session.exec(select(Alert.id).where(Alert.dedupe_key == key)).first() is not None


def _existing_alert(session: Session, mention_id: int) -> Alert | None:
    return session.exec(select(Alert).where(Alert.dedupe_key == dedupe_key(mention_id))).first()


def _is_backlog(mention: Mention, settings: EarshotSettings) -> bool:
    """Already older than ``max_age_hours`` when first crawled: history, not news."""
    max_age = settings.alerts.max_age_hours
    if max_age is None or mention.created_at is None:
        return False
    created = as_utc(mention.created_at)
    return as_utc(mention.first_seen_at) - created > timedelta(hours=max_age)


def _reply_settings(settings: EarshotSettings, target: str | None) -> ReplySettings:
    return settings.reply_for(target)


def _reply_fields(
    ctx: _Ctx, view: MentionView, score: ScoreView | None, severity: str
) -> tuple[str, dict[str, Any]]:
    """The suggested reply and its payload facts (language, tone, limit, similar past replies)."""
    with Session(ctx.engine) as session:
        templates = templates_for(session, view.target)
    reply = suggest_reply(
        view,
        score,
        _reply_settings(ctx.settings, view.target),
        severity=severity,
        brand=view.target,
        templates=templates,
    )
    payload: dict[str, Any] = {
        "reply_lang": reply.lang,
        "reply_formal": reply.formal,
        "reply_limit": reply.max_chars,
    }
    embedder = ctx.embedder()
    if embedder is not None:
        with Session(ctx.engine) as session:
            similar = similar_replies(session, view.text, embedder, min_similarity=SIMILAR_REPLY_MIN)
        payload["similar_replies"] = [
            {"text": p.text, "similarity": round(p.similarity, 3), "mention_id": p.mention_id}
            for p in similar
        ]
    return reply.text, payload


def _new_alert(
    view: MentionView,
    *,
    key: str,
    kind: str,
    reason: str,
    channel: str,
    now: datetime,
    decision: AlertDecision | None = None,
    parent: Alert | None = None,
    status: str = AlertStatus.PENDING,
    payload: dict[str, Any] | None = None,
) -> Alert:
    return Alert(
        dedupe_key=key,
        mention_id=view.id,
        mention_version=view.version,
        source=view.source,
        target=view.target,
        kind=kind,
        rule=decision.rule if decision else (parent.rule if parent else None),
        severity=decision.severity if decision else (parent.severity if parent else "info"),
        reason=reason,
        channel=parent.channel if parent is not None else channel,
        parent_id=parent.id if parent is not None else None,
        payload=payload or {},
        status=status,
        next_attempt_at=now,
        created_at=now,
    )


def _queue_edit(ctx: _Ctx, existing: Alert, view: MentionView) -> None:
    """The alerted item was edited: say so in the alert's thread, with what it said before."""
    key = edit_key(view.id, view.version)
    if existing.status == AlertStatus.FOLDED or _key_exists(ctx.engine, key):
        return
    with Session(ctx.engine) as session:
        parent = thread_root(session, existing)
        revision = session.exec(
            select(MentionRevision)
            .where(MentionRevision.mention_id == view.id, MentionRevision.version == view.version - 1)
            .order_by(col(MentionRevision.id).desc())
        ).first()
    payload = {
        "version": view.version,
        "previous_version": view.version - 1,
        "previous_text": revision.text[:1000] if revision else None,
        "previous_rating": revision.rating if revision else None,
    }
    reason = f"the item was edited (version {view.version})"
    alert = _new_alert(
        view,
        key=key,
        kind=AlertKind.EDITED,
        reason=reason,
        channel=parent.channel,
        now=ctx.now,
        parent=parent,
        payload=payload,
    )
    alert.severity, alert.rule = parent.severity, parent.rule
    if _insert(ctx.engine, alert):
        ctx.counts["edited"] += 1


def _place(
    ctx: _Ctx, view: MentionView, score: ScoreView | None, decision: AlertDecision | None
) -> str | None:
    """Queue the right kind of alert for a mention without one; returns the count it falls under."""
    key = dedupe_key(view.id)
    with Session(ctx.engine) as session:
        thread = thread_parent(session, view)
        if thread is None and decision is None:
            return None
        urgent = decision is not None and decision.severity == "urgent"
        repeat = (
            None
            if (thread or urgent)
            else repeat_parent(session, view, ctx.now, ctx.settings.alerts.repeat_days)
        )
        storm_id = None
        if thread is None and repeat is None and not urgent and view.target:
            storm_id = open_storm_alert_id(session, view.target)
        cooldown = None
        if thread is None and repeat is None and storm_id is None and decision is not None and not urgent:
            cooldown = cooldown_parent(session, view, decision, ctx.now)
    reason = decision.reason if decision else "a new post in the thread of an alerted item"
    channel = decision.channel if decision else ""
    if storm_id is not None and decision is not None:
        alert = _new_alert(
            view,
            key=key,
            kind=decision.kind,
            reason=reason,
            channel=channel,
            now=ctx.now,
            decision=decision,
            status=AlertStatus.FOLDED,
        )
        alert.parent_id, alert.next_attempt_at = storm_id, None
        return "folded" if _insert(ctx.engine, alert) else "skipped_existing"
    parent = thread or repeat or cooldown
    kind = (
        AlertKind.THREAD_REPLY
        if thread
        else AlertKind.REPEAT
        if repeat
        else AlertKind.COOLDOWN
        if cooldown
        else (decision.kind if decision else AlertKind.THREAD_REPLY)
    )
    payload: dict[str, Any] = {}
    if repeat is not None:
        payload["previous_mention_id"] = repeat.mention_id
    if thread is not None:
        payload["in_reply_to_mention_id"] = thread.mention_id
    if cooldown is not None and decision is not None:
        payload["rule"] = decision.rule
    suggested: str | None = None
    if decision is not None:
        suggested, reply_payload = _reply_fields(ctx, view, score, decision.severity)
        payload.update(reply_payload)
    alert = _new_alert(
        view,
        key=key,
        kind=kind,
        reason=reason,
        channel=channel,
        now=ctx.now,
        decision=decision,
        parent=parent,
        payload=payload,
    )
    alert.suggested_reply = suggested
    held = None
    if parent is None and not urgent:
        held = quiet_until(ctx.now, ctx.settings.alerts.quiet_hours)
        if held is not None:
            alert.next_attempt_at = held
            alert.payload = {**alert.payload, "held_until": held.isoformat()}
    if not _insert(ctx.engine, alert):
        return "skipped_existing"
    if parent is not None:
        return "threaded"
    return "held" if held is not None else "created"


def _handle(ctx: _Ctx, mention: Mention, score_row: SentimentScore, target: str | None) -> None:
    view = mention_view(mention, target)
    with Session(ctx.engine) as session:
        existing = _existing_alert(session, view.id)
    if existing is not None:
        if existing.mention_version is not None and view.version > existing.mention_version:
            _queue_edit(ctx, existing, view)
        return
    recheck = (score_row.id or 0) <= ctx.checkpoint  # re-read only to catch late commits: not counted
    if _is_backlog(mention, ctx.settings):
        ctx.counts["backlog"] += 0 if recheck else 1
        return
    ctx.counts["evaluated"] += 0 if recheck else 1
    score = score_view(score_row)
    outcome = _place(ctx, view, score, evaluate(view, score, ctx.settings))
    if outcome is not None:
        ctx.counts[outcome] += 1


def enqueue_alerts(
    engine: Engine,
    settings: EarshotSettings,
    *,
    now: datetime | None = None,
    batch_size: int = 500,
    embedder_factory: EmbedderFactory = _default_embedder,
) -> dict[str, int]:
    """Look at every mention version scored since the last pass and queue what it calls for.

    Returns counts: ``evaluated``, ``created`` (new messages), ``held`` (new, waiting for quiet hours to
    end), ``threaded`` (replies under an earlier alert), ``edited``, ``folded`` (into a storm),
    ``backlog`` (too old when first seen), ``skipped_existing`` (a concurrent pass stored it first).
    """
    checkpoint = _read_checkpoint(engine)
    ctx = _Ctx(engine, settings, now or utcnow(), embedder_factory, checkpoint)
    after = max(0, checkpoint - LOOKBACK_IDS)
    highest = after
    while True:
        with Session(engine) as session:
            rows = _load_batch(session, after, batch_size)
        for mention, score_row, target in rows:
            _handle(ctx, mention, score_row, target)
            after = highest = max(highest, score_row.id or 0)
        if len(rows) < batch_size:
            break
    _write_checkpoint(engine, highest)
    if any(v for k, v in ctx.counts.items() if k != "evaluated"):
        logger.info("alerts queued: %s", ctx.counts)
    return ctx.counts
