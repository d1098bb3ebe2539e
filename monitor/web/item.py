"""Everything the item page shows about one mention, read in one session.

Why a module: the page needs the mention, its target, the current score, its alerts (the one the
buttons act on and the follow-ups in its thread), earlier versions, replies sent and corrections, and
the suggested reply; gathering that here keeps the route a few lines and the template free of queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from alerts.replies import reply_limit, reply_unit, suggest_reply
from alerts.reply_modal import source_label
from alerts.reply_template_store import templates_for
from alerts.source_replies import reply_supported
from alerts.views import mention_view, score_view
from monitor.core.config import EarshotSettings, ReplySettings
from monitor.core.i18n import format_number, gettext
from monitor.core.models import (
    Alert,
    AlertKind,
    Mention,
    MentionRevision,
    ReplyRecord,
    SentimentCorrection,
    SentimentScore,
    TargetRow,
)
from monitor.core.timeutil import as_utc
from monitor.web.language import translate

__all__ = ["HistoryEntry", "ItemView", "load_item", "mention_exists", "safe_url", "storable_id"]

# The largest id a mentions.id column holds: PostgreSQL's integer is 32-bit, SQLite's 64-bit.
_MAX_ID_POSTGRES: Final = 2**31 - 1
_MAX_ID_OTHER: Final = 2**63 - 1


def storable_id(engine: Engine, mention_id: int) -> bool:
    """Whether the database could hold ``mention_id``; a URL's id outside that would fail to bind (500)."""
    top = _MAX_ID_POSTGRES if engine.dialect.name == "postgresql" else _MAX_ID_OTHER
    return 1 <= mention_id <= top


def mention_exists(engine: Engine, mention_id: int) -> bool:
    """Whether there is a mention ``mention_id`` (any int from a URL, however large or negative)."""
    if not storable_id(engine, mention_id):
        return False
    with Session(engine) as session:
        return session.get(Mention, mention_id) is not None


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an http(s) link with a host, else None (a ``javascript:`` link is never shown)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


@dataclass(frozen=True)
class HistoryEntry:
    """One event in the item's thread history, oldest first."""

    when: datetime | None
    kind: str  # "version", "alert", "reply", "correction", "handled"
    title: str
    text: str = ""


@dataclass(frozen=True)
class ItemView:
    mention: Mention
    target: str | None
    score: SentimentScore | None
    alert: Alert | None  # the newest top-level alert: what the buttons act on
    history: list[HistoryEntry]
    suggested_reply: str
    reply_limit: int | None
    reply_unit: str
    reply_posts: bool  # the source takes replies through its API
    reply_button: str
    source_url: str | None
    source_name: str = ""  # the source as people name it ("Ceneo", "Hacker News")
    # Replies the team sent to items that read alike (the alert's reply memory) as (text, caption), most
    # similar first; shown before the suggestion so an agent starts from what worked.
    similar_replies: tuple[tuple[str, str], ...] = ()
    similar_heading: str = "Similar past replies"
    from_template: bool = False  # the suggestion is the team's saved template

    @property
    def id(self) -> int:
        assert self.mention.id is not None
        return self.mention.id

    @property
    def aspects(self) -> list[dict[str, Any]]:
        raw = self.score.aspects if self.score is not None else []
        return [a for a in raw if isinstance(a, dict) and a.get("aspect")]

    @property
    def urgency_reasons(self) -> list[dict[str, Any]]:
        raw = self.score.urgency_reasons if self.score is not None else []
        return [r for r in raw if isinstance(r, dict) and r.get("code")]


def _reply_settings(settings: EarshotSettings, target: str | None) -> ReplySettings:
    return settings.reply_for(target)


def _history(
    session: Session, mention: Mention, alert_ids: list[int], alerts: list[Alert], language: str = "en"
) -> list[HistoryEntry]:
    """Earlier versions, every alert (incl. follow-ups), replies and corrections, oldest first."""

    def t(message: str, **values: object) -> str:
        return translate(language, message, values)

    entries: list[HistoryEntry] = []
    revisions = session.exec(
        select(MentionRevision)
        .where(MentionRevision.mention_id == mention.id)
        .order_by(col(MentionRevision.version))
    ).all()
    for rev in revisions:
        stars = f", {rev.rating:g}★" if rev.rating is not None else ""
        entries.append(
            HistoryEntry(
                rev.updated_at or rev.recorded_at,
                "version",
                t("Version %(version)s%(stars)s", version=rev.version, stars=stars),
                rev.text,
            )
        )
    for alert in alerts:
        kind = t(alert.kind.replace("_", " "))
        parent = t(", follow-up to alert #%(id)s", id=alert.parent_id) if alert.parent_id else ""
        title = t(
            "Alert #%(id)s: %(kind)s (%(severity)s%(parent)s) to %(channel)s",
            id=alert.id,
            kind=kind,
            severity=t(alert.severity),
            parent=parent,
            channel=alert.channel,
        )
        entries.append(HistoryEntry(alert.sent_at or alert.created_at, "alert", title, alert.reason))
        if alert.escalated_at is not None:
            title = t("Alert #%(id)s escalated (SLA passed)", id=alert.id)
            entries.append(HistoryEntry(alert.escalated_at, "alert", title))
        if alert.handled_at is not None:
            how = t(alert.handled_action or "handled")
            title = t("Alert #%(id)s %(how)s by %(who)s", id=alert.id, how=how, who=alert.handled_by)
            entries.append(HistoryEntry(alert.handled_at, "handled", title))
    replies = session.exec(
        select(ReplyRecord)
        .where(
            or_(
                col(ReplyRecord.mention_id) == mention.id,
                col(ReplyRecord.alert_id).in_(alert_ids or [-1]),
            )
        )
        .order_by(col(ReplyRecord.id))
    ).all()
    for reply in replies:
        error = f" ({reply.error})" if reply.error else ""
        title = t(
            "Reply by %(author)s via %(via)s: %(status)s%(error)s",
            author=reply.author,
            via=reply.via,
            status=t(reply.status),
            error=error,
        )
        entries.append(HistoryEntry(reply.created_at, "reply", title, reply.text))
    corrections = session.exec(
        select(SentimentCorrection)
        .where(SentimentCorrection.mention_id == mention.id)
        .order_by(col(SentimentCorrection.id))
    ).all()
    for c in corrections:
        title = t(
            "Sentiment corrected to %(label)s (was %(previous)s) by %(who)s",
            label=t(c.label),
            previous=t(c.previous_label or "unscored"),
            who=c.corrected_by,
        )
        entries.append(HistoryEntry(c.created_at, "correction", title))
    if mention.reply_text:
        entries.append(HistoryEntry(None, "reply", t("Reply shown on the source"), mention.reply_text))
    return sorted(entries, key=lambda e: as_utc(e.when).timestamp() if e.when else float("inf"))


def load_item(
    engine: Engine, settings: EarshotSettings, mention_id: int, language: str = "en"
) -> ItemView | None:
    """The item page's data, or None when there is no such mention; its words in ``language``."""
    if not storable_id(engine, mention_id):
        return None
    with Session(engine) as session:
        mention = session.get(Mention, mention_id)
        if mention is None:
            return None
        row = session.get(TargetRow, mention.target_id) if mention.target_id is not None else None
        target = row.name if row is not None else None
        score = session.exec(
            select(SentimentScore)
            .where(SentimentScore.mention_id == mention_id, SentimentScore.mention_version == mention.version)
            .order_by(col(SentimentScore.id).desc())
        ).first()
        alerts = list(
            session.exec(select(Alert).where(Alert.mention_id == mention_id).order_by(col(Alert.id))).all()
        )
        top = [a for a in alerts if a.kind in AlertKind.ITEM_KINDS]
        alert = top[-1] if top else None
        alert_ids = [a.id for a in alerts if a.id is not None]
        history = _history(session, mention, alert_ids, alerts, language)
        target = target or (alert.target if alert else None)
        templates = templates_for(session, target)
        session.expunge_all()
    from_template = False
    if alert is not None and alert.suggested_reply:
        suggestion = alert.suggested_reply
    else:
        suggested = suggest_reply(
            mention_view(mention, target),
            score_view(score) if score is not None else None,
            _reply_settings(settings, target),
            severity=alert.severity if alert is not None else _severity_without_alert(score),
            brand=target,
            templates=templates,
        )
        suggestion, from_template = suggested.text, suggested.from_template
    posts = reply_supported(mention.source)
    return ItemView(
        mention=mention,
        target=target,
        score=score,
        alert=alert,
        history=history,
        suggested_reply=suggestion,
        reply_limit=reply_limit(mention.source),
        reply_unit=reply_unit(mention.source),
        reply_posts=posts,
        reply_button=(
            translate(language, "Post reply on %(source)s", {"source": source_label(mention.source)})
            if posts
            else translate(language, "Record reply")
        ),
        source_url=safe_url(mention.url),
        source_name=source_label(mention.source),
        similar_replies=_similar(alert, language),
        similar_heading=gettext(language, "replies", "Similar past replies"),
        from_template=from_template,
    )


def _severity_without_alert(score: SentimentScore | None) -> str:
    """No alert was raised: a negative (or unscored) item still gets an apology, anything else is thanked
    (positive) or answered about its topics ("info"), never apologised to."""
    return "negative" if score is None or score.label == "negative" else "info"


def _similar(alert: Alert | None, language: str) -> tuple[tuple[str, str], ...]:
    """The alert's stored similar past replies as (text, "83% alike"), most similar first.

    The captions come from the ``replies`` catalogue: the reply memory's wording lives with the replies.
    """
    items = alert.payload.get("similar_replies") if alert is not None and alert.payload else None
    if not isinstance(items, list):
        return ()
    found: list[tuple[str, float | None]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
            continue
        share = item.get("similarity")
        usable = isinstance(share, int | float) and not isinstance(share, bool) and 0 <= share <= 1
        found.append((item["text"], float(share) if usable and share is not None else None))
    found.sort(key=lambda pair: -(pair[1] if pair[1] is not None else -1.0))

    def caption(share: float | None) -> str:
        if share is None:
            return gettext(language, "replies", "similar item")
        percent = f"{format_number(round(share * 100), language)}%"
        return gettext(language, "replies", "%(share)s alike", share=percent)

    return tuple((text, caption(share)) for text, share in found)
