"""The per-item upsert as it was before set-based storage (store.py at 8c7d8da): the oracle and the baseline.

Kept verbatim, ORM object by object (about five statements per item), so that
``tests/monitor/core/test_bulk_store.py`` can check :func:`monitor.core.store.upsert_mentions` against the
rule it replaced, and ``bench/bench_ingest.py`` can measure the old path beside the new one in one run.
Not used by the product.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from monitor.core.models import Mention, MentionRevision, TargetRow, utcnow
from monitor.core.store import MentionIn, UpsertOutcome


def legacy_ensure_target(session: Session, name: str) -> TargetRow:
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


def legacy_upsert_mention(session: Session, item: MentionIn) -> tuple[Mention, UpsertOutcome]:
    """Insert a new mention or update an edited one, keeping the previous text/rating as a revision.

    Idempotent: the same item twice is stored once (unique on source + external id).
    """
    target_id = legacy_ensure_target(session, item.target).id if item.target else None
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
