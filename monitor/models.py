"""Database tables (SQLModel). The same definitions run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC: every stored time carries its zone, so SQLite and PostgreSQL agree."""
    return datetime.now(UTC)


class TargetRow(SQLModel, table=True):
    __tablename__ = "targets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Mention(SQLModel, table=True):
    """One review or post, unique per source; edits bump ``version`` and land in ``mention_revisions``."""

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_mention_source_external"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True, max_length=64)
    external_id: str = Field(max_length=512)
    target_id: int | None = Field(default=None, foreign_key="targets.id", index=True)
    url: str | None = Field(default=None, sa_column=Column(Text))
    author: str | None = Field(default=None, max_length=512)
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    lang: str | None = Field(default=None, max_length=16)
    rating: float | None = None
    reply_text: str | None = Field(default=None, sa_column=Column(Text))
    parent_id: str | None = Field(default=None, max_length=512)
    reach: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = Field(default=None, index=True)
    first_seen_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    version: int = 1
    raw: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class MentionRevision(SQLModel, table=True):
    """The text and rating a mention had before an edit replaced them."""

    __tablename__ = "mention_revisions"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mentions.id", index=True)
    version: int
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    rating: float | None = None
    updated_at: datetime | None = None
    recorded_at: datetime = Field(default_factory=utcnow)


class SentimentScore(SQLModel, table=True):
    """The model's reading of one version of a mention."""

    __tablename__ = "sentiment_scores"
    __table_args__ = (
        UniqueConstraint("mention_id", "mention_version", "model_name", name="uq_score_mention_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mentions.id", index=True)
    mention_version: int
    label: str = Field(max_length=16)
    score: float
    confidence: float
    probabilities: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON))
    lang: str | None = Field(default=None, max_length=16)
    model_name: str = Field(max_length=200)
    model_version: str = Field(max_length=100)
    urgency: str = Field(default="none", max_length=16, index=True)
    urgency_reasons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    aspects: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    scored_at: datetime = Field(default_factory=utcnow)


class SentimentCorrection(SQLModel, table=True):
    """An agent's "wrong sentiment": the label a person says a mention version really has.

    Exported with ``earshot corrections export`` as training CSV for ``earshot model train --csv``.
    """

    __tablename__ = "sentiment_corrections"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mentions.id", index=True)
    mention_version: int
    label: str = Field(max_length=16)
    previous_label: str | None = Field(default=None, max_length=16)
    model_name: str | None = Field(default=None, max_length=200)
    model_version: str | None = Field(default=None, max_length=100)
    corrected_by: str = Field(max_length=200)
    via: str = Field(default="cli", max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class AlertStatus:
    PENDING = "pending"  # in the outbox, not yet tried (or waiting for a retry)
    SENDING = "sending"  # a send was started; a crash here is resolved by looking the message up
    SENT = "sent"
    PRINTED = "printed"  # no Slack token: written to the console
    FAILED = "failed"  # gave up after max attempts; kept for inspection


class Alert(SQLModel, table=True):
    """The outbox: an alert row exists before anything is sent and records every attempt.

    A mention alert has ``mention_id``; a source-health alert (a broken or silent source, or its
    recovery) has no mention and names the ``source`` instead.
    """

    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=255)
    mention_id: int | None = Field(default=None, foreign_key="mentions.id", index=True)
    source: str | None = Field(default=None, max_length=64, index=True)
    kind: str = Field(default="negative", max_length=32)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    channel: str = Field(max_length=128)
    status: str = Field(default=AlertStatus.PENDING, index=True, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    next_attempt_at: datetime | None = None
    slack_ts: str | None = Field(default=None, max_length=64)
    slack_channel_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class CrawlRun(SQLModel, table=True):
    """One spider run and its outcome counters, so a broken source is visible."""

    __tablename__ = "crawl_runs"

    id: int | None = Field(default=None, primary_key=True)
    spider: str = Field(index=True, max_length=64)
    target: str | None = Field(default=None, max_length=200)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    items_new: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    items_rejected: int = 0
    requests: int = 0
    errors: int = 0
    finish_reason: str | None = Field(default=None, max_length=64)
    stats: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class StageRun(SQLModel, table=True):
    """A scoring or alert-delivery pass with its counters (scored, sent, retried, failed...)."""

    __tablename__ = "stage_runs"

    id: int | None = Field(default=None, primary_key=True)
    stage: str = Field(index=True, max_length=32)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON))
    error: str | None = Field(default=None, sa_column=Column(Text))


class Watermark(SQLModel, table=True):
    """The newest update time fully fetched per source and scope (e.g. one GBP location)."""

    __tablename__ = "watermarks"
    __table_args__ = (UniqueConstraint("source", "scope", name="uq_watermark_source_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    scope: str = Field(max_length=512)
    value: datetime
    updated_at: datetime = Field(default_factory=utcnow)
