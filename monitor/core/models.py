"""Database tables (SQLModel). The same definitions run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from monitor.core.timeutil import utcnow
from monitor.core.types import UTCDateTime


class TargetRow(SQLModel, table=True):
    __tablename__ = "targets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
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
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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
    # Where ``label`` came from: "text", "fused" (text and stars together) or "rating" (stars, no text);
    # ``text_label``/``text_score`` keep what the words alone said when the stars took part.
    label_source: str = Field(default="text", max_length=16, sa_column_kwargs={"server_default": "text"})
    text_label: str | None = Field(default=None, max_length=16)
    text_score: float | None = None
    lang: str | None = Field(default=None, max_length=16)
    model_name: str = Field(max_length=200)
    model_version: str = Field(max_length=100)
    urgency: str = Field(default="none", max_length=16, index=True)
    urgency_reasons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    aspects: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    scored_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AlertStatus:
    PENDING = "pending"  # in the outbox, not yet tried (or waiting for a retry, quiet hours, its parent)
    SENDING = "sending"  # a send was started; a crash here is resolved by looking the message up
    SENT = "sent"
    PRINTED = "printed"  # no Slack token: written to the console
    FAILED = "failed"  # gave up after max attempts; kept for inspection
    FOLDED = "folded"  # counted in an open storm's alert instead of posted on its own


class AlertKind:
    """What an alert is about; mention kinds come from rules, the rest from the alert loop itself."""

    NEGATIVE = "negative"
    LOW_RATING = "low_rating"
    URGENT = "urgent"
    KEYWORD = "keyword"
    MENTION_KINDS = (NEGATIVE, LOW_RATING, URGENT, KEYWORD)
    # Thread replies under an earlier alert (``parent_id``): later activity on the same item.
    EDITED = "edited"  # the alerted review was edited
    THREAD_REPLY = "thread_reply"  # a reply in the same social thread
    REPEAT = "repeat_complaint"  # the same author complains again
    COOLDOWN = "cooldown"  # the rule matched again during its cooldown
    FOLLOW_UP_KINDS = (EDITED, THREAD_REPLY, REPEAT, COOLDOWN)
    # The kinds whose row is a mention's own alert (``mention:{id}:alert``, one per mention); an item's
    # handling state lives there, not on its edits or SLA escalations, which also carry its mention_id.
    ITEM_KINDS = (*MENTION_KINDS, THREAD_REPLY, REPEAT, COOLDOWN)
    STORM = "storm"
    STORM_SUBSIDED = "storm_subsided"
    SLA_ESCALATION = "sla_escalation"


class Alert(SQLModel, table=True):
    """The outbox: an alert row exists before anything is sent and records every attempt.

    A mention alert has ``mention_id``; a source-health alert (a broken or silent source, or its
    recovery) has no mention and names the ``source`` instead.
    """

    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=255)
    mention_id: int | None = Field(default=None, foreign_key="mentions.id", index=True)
    mention_version: int | None = None  # the version the alert was raised for (later edits thread under it)
    source: str | None = Field(default=None, max_length=64, index=True)
    target: str | None = Field(default=None, max_length=200, index=True)
    kind: str = Field(default="negative", max_length=32)
    rule: str | None = Field(default=None, max_length=64)
    severity: str = Field(default="negative", max_length=16)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    channel: str = Field(max_length=128)
    # A thread reply posts under its parent's message (thread_ts = the parent's slack_ts).
    parent_id: int | None = Field(default=None, foreign_key="alerts.id", index=True)
    broadcast: bool = False  # thread reply also shown in the channel (reply_broadcast)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    suggested_reply: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default=AlertStatus.PENDING, index=True, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    slack_ts: str | None = Field(default=None, max_length=64)
    slack_channel_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Handling, from Slack buttons or the web page; each change bumps state_version and the message is
    # re-rendered with chat.update until synced_version catches up.
    handled_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    handled_by: str | None = Field(default=None, max_length=200)
    handled_action: str | None = Field(default=None, max_length=32)  # "handled" | "replied"
    assignee: str | None = Field(default=None, max_length=200)
    assigned_by: str | None = Field(default=None, max_length=200)
    assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    corrected_label: str | None = Field(default=None, max_length=16)
    corrected_by: str | None = Field(default=None, max_length=200)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    state_version: int = 0
    synced_version: int = 0
    update_error: str | None = Field(default=None, sa_column=Column(Text))


class Storm(SQLModel, table=True):
    """A burst of negative items for one target: opened with one alert, closed with one 'subsided' reply."""

    __tablename__ = "storms"

    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(max_length=200, index=True)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    # When the window last fell to subside_count or below.
    quiet_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    window_count: int = 0  # negative items in the window when it opened
    baseline: float = 0.0
    peak_count: int = 0
    alert_id: int | None = Field(default=None, foreign_key="alerts.id")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ReplyRecord(SQLModel, table=True):
    """A reply an agent sent (or tried to send) to an item: the library suggestions learn from.

    ``status``: ``posted`` (the source accepted it), ``recorded`` (the source has no reply API: the agent
    posts it by hand), ``failed`` (the source refused; ``error`` says why).
    """

    __tablename__ = "replies"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mentions.id", index=True)
    alert_id: int | None = Field(default=None, foreign_key="alerts.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    lang: str | None = Field(default=None, max_length=16)
    author: str = Field(max_length=200)
    via: str = Field(default="slack", max_length=32)
    status: str = Field(default="recorded", max_length=16)
    error: str | None = Field(default=None, sa_column=Column(Text))
    # The item's text embedding (E5), kept so finding similar past replies needs no re-encoding.
    embedding: list[float] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SlackRequest(SQLModel, table=True):
    """A verified interactivity request: the replay guard (unique signature) and a durable inbox.

    The endpoint stores the request and acknowledges at once; a worker does the work and marks it done,
    so a crash between the two loses no click.
    """

    __tablename__ = "slack_requests"

    id: int | None = Field(default=None, primary_key=True)
    signature: str = Field(unique=True, max_length=128)
    request_ts: int
    kind: str = Field(max_length=64)  # block_actions, view_submission, ...
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(default="pending", max_length=16, index=True)  # pending | done | failed
    error: str | None = Field(default=None, sa_column=Column(Text))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CrawlRun(SQLModel, table=True):
    """One spider run and its outcome counters, so a broken source is visible."""

    __tablename__ = "crawl_runs"

    id: int | None = Field(default=None, primary_key=True)
    spider: str = Field(index=True, max_length=64)
    target: str | None = Field(default=None, max_length=200)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    items_new: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    items_rejected: int = 0
    requests: int = 0
    errors: int = 0
    finish_reason: str | None = Field(default=None, max_length=64)
    stats: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # Why a failed run failed (spiders.failures: connection_refused, dns, timeout, http_5xx, auth, ...), one
    # sentence of detail, and the process recording it (so a run killed mid-way is closed as crashed later).
    failure: str | None = Field(default=None, max_length=32)
    failure_detail: str | None = Field(default=None, max_length=500)
    pid: int | None = None
    host: str | None = Field(default=None, max_length=255)


class StageRun(SQLModel, table=True):
    """A scoring or alert-delivery pass with its counters (scored, sent, retried, failed...)."""

    __tablename__ = "stage_runs"

    id: int | None = Field(default=None, primary_key=True)
    stage: str = Field(index=True, max_length=32)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON))
    error: str | None = Field(default=None, sa_column=Column(Text))


class Watermark(SQLModel, table=True):
    """The newest update time fully fetched per source and scope (e.g. one GBP location)."""

    __tablename__ = "watermarks"
    __table_args__ = (UniqueConstraint("source", "scope", name="uq_watermark_source_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    scope: str = Field(max_length=512)
    value: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Checkpoint(SQLModel, table=True):
    """A named integer position a stage has fully processed (e.g. the last sentiment score the alert
    rules looked at), so each pass reads only what is new."""

    __tablename__ = "checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=128)
    value: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in web session; the cookie carries its ``sid``, and deleting the row (logout) ends it at
    once, even for a copy of the cookie taken before."""

    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    sid: str = Field(unique=True, max_length=64)
    username: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class WebPreference(SQLModel, table=True):
    """What a web user chose for themselves (today: the pages' language), kept past every session.

    Keyed by the signed-in name (``[[web.users]]`` username, or the name given with the shared token),
    so the choice follows the person to another browser and survives logout.
    """

    __tablename__ = "web_preferences"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=200)
    language: str = Field(max_length=8)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins of one account (``user:<name>``, ``token``) or client address (``addr:<ip>``),
    and until when further attempts from it are refused."""

    __tablename__ = "login_throttle"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=255)
    failures: int = 0
    last_failure: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SourceCredential(SQLModel, table=True):
    """A source's renewable credentials (OAuth client, refresh token, ...), one Fernet token per source.

    Only ciphertext is stored: :class:`monitor.core.credentials.CredentialStore` encrypts with the key in
    EARSHOT_SECRET_KEY, so a copy of the database alone reveals no secret."""

    __tablename__ = "source_credentials"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(unique=True, max_length=64)
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReplyTemplate(SQLModel, table=True):
    """A reply agents saved for one target, aspect and language, used as the suggested reply when it fits.

    ``target`` and ``aspect`` are ``""`` for "any": a template for (target, ``""``) answers every aspect of
    that target, one for (``""``, aspect) that aspect for every target. Placeholders (``{author}``,
    ``{contact}``, ...) are filled by :mod:`alerts.reply_template_store` when the reply is suggested.
    """

    __tablename__ = "reply_templates"
    __table_args__ = (UniqueConstraint("target", "aspect", "lang", name="uq_reply_template_key"),)

    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(default="", max_length=200)
    aspect: str = Field(default="", max_length=64)
    lang: str = Field(max_length=16)
    text: str = Field(sa_column=Column(Text, nullable=False))
    updated_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MentionTag(SQLModel, table=True):
    """A team's own label on an item (``zwrot``, ``vip``, ``kurier-dpd``): set in the inbox, filtered by.

    One row per (mention, tag); names are normalised by :func:`monitor.web.tags.normalise_tag` before
    they are stored (trimmed, lower case, at most 40 characters), so ``VIP`` and ``vip`` are one tag.
    """

    __tablename__ = "mention_tags"
    __table_args__ = (UniqueConstraint("mention_id", "tag", name="uq_mention_tag"),)

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mentions.id")
    tag: str = Field(index=True, max_length=40)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
