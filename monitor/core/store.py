"""Storage operations shared by the stages: the typed boundary between spiders and the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from monitor.core.models import CrawlRun, Mention, MentionRevision, TargetRow, Watermark, utcnow


@dataclass(frozen=True)
class MentionIn:
    """A validated mention as a spider delivers it (times are timezone-aware UTC)."""

    source: str
    external_id: str
    text: str
    url: str | None = None
    author: str | None = None
    target: str | None = None
    lang: str | None = None
    rating: float | None = None
    reply_text: str | None = None
    parent_id: str | None = None
    reach: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] | None = field(default=None, compare=False)


class UpsertOutcome(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def ensure_target(session: Session, name: str) -> TargetRow:
    """The target row for ``name``, created on first use."""
    row = session.exec(select(TargetRow).where(TargetRow.name == name)).first()
    if row is None:
        row = TargetRow(name=name)
        session.add(row)
        session.flush()
    return row


def _apply(row: Mention, item: MentionIn, target_id: int | None) -> None:
    row.url = item.url
    row.author = item.author
    row.text = item.text
    row.lang = item.lang
    row.rating = item.rating
    row.reply_text = item.reply_text
    row.parent_id = item.parent_id
    row.reach = item.reach
    row.created_at = item.created_at
    row.updated_at = item.updated_at
    row.raw = item.raw
    if target_id is not None:
        row.target_id = target_id


def upsert_mention(session: Session, item: MentionIn) -> tuple[Mention, UpsertOutcome]:
    """Insert a new mention or update an edited one, keeping the previous text/rating as a revision.

    Idempotent: the same item twice is stored once (unique on source + external id).
    """
    target_id = ensure_target(session, item.target).id if item.target else None
    stmt = select(Mention).where(Mention.source == item.source, Mention.external_id == item.external_id)
    row = session.exec(stmt).first()
    now = utcnow()
    if row is None:
        row = Mention(source=item.source, external_id=item.external_id, first_seen_at=now, last_seen_at=now)
        _apply(row, item, target_id)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            # Another writer stored it between our select and insert: fall through to an update.
            row = session.exec(stmt).one()
        else:
            return row, UpsertOutcome.NEW
    row.last_seen_at = now
    changed = (row.text, row.rating) != (item.text, item.rating)
    if changed:
        session.add(
            MentionRevision(
                mention_id=row.id or 0,
                version=row.version,
                text=row.text,
                rating=row.rating,
                updated_at=row.updated_at,
            )
        )
        row.version += 1
    reply_changed = row.reply_text != item.reply_text
    _apply(row, item, target_id)
    session.add(row)
    session.flush()
    return row, (UpsertOutcome.UPDATED if changed or reply_changed else UpsertOutcome.UNCHANGED)


def get_watermark(session: Session, source: str, scope: str) -> datetime | None:
    row = session.exec(select(Watermark).where(Watermark.source == source, Watermark.scope == scope)).first()
    return row.value if row else None


def set_watermark(session: Session, source: str, scope: str, value: datetime) -> None:
    """Advance (never move back) the watermark for one source scope."""
    row = session.exec(select(Watermark).where(Watermark.source == source, Watermark.scope == scope)).first()
    if row is None:
        session.add(Watermark(source=source, scope=scope, value=value))
    elif value > row.value:
        row.value = value
        row.updated_at = utcnow()
        session.add(row)
    session.flush()


def start_crawl_run(session: Session, spider: str, target: str | None = None) -> CrawlRun:
    run = CrawlRun(spider=spider, target=target)
    session.add(run)
    session.flush()
    return run
