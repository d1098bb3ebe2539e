"""Tags: a team's own labels on items (``zwrot``, ``vip``, ``kurier dpd``), set per item or in bulk.

Why normalised on the way in: a tag is only useful as a filter if ``VIP``, `` vip `` and ``vip`` are the same
tag, so every name is trimmed, lower-cased, its inner whitespace collapsed to one space and Unicode-
composed (NFC, so ``ą`` typed as ``a`` + ogonek is the ``ą`` of the filter) before it is stored or looked
up. What a tag may hold is deliberately narrow (letters of any script, Polish included, digits, spaces,
``-`` and ``_``, at most :data:`MAX_TAG` characters): a name that is refused says why, rather than
being silently changed into another tag. Templates escape tags like any text.

Adding a tag twice or removing one that is not there changes nothing (``ON CONFLICT DO NOTHING`` on the
``(mention_id, tag)`` key), so a repeated bulk request is harmless and its count says what changed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import Session, col

from monitor.core.models import Mention, MentionTag

__all__ = [
    "MAX_TAG",
    "MAX_TAGS_LISTED",
    "TagError",
    "add_tag",
    "existing_mentions",
    "item_tags",
    "known_tags",
    "normalise_tag",
    "remove_tag",
    "tag_condition",
    "tags_of",
]

MAX_TAG: Final = 40
"""The longest tag name in characters (the column's length)."""
MAX_TAGS_LISTED: Final = 200
"""Tags the inbox's filter menu offers at most (alphabetically); any tag can still be typed in the URL."""
_PUNCTUATION: Final = frozenset(" -_")


class TagError(ValueError):
    """A tag name that cannot be stored; the message says what a tag may hold."""


def normalise_tag(raw: str) -> str:
    """The stored form of a tag name; :class:`TagError` when it is empty, too long or holds other signs."""
    text = unicodedata.normalize("NFC", " ".join(unicodedata.normalize("NFC", raw).lower().split()))
    if not text:
        raise TagError("a tag needs at least one letter or digit")
    if len(text) > MAX_TAG:
        raise TagError(f"a tag is at most {MAX_TAG} characters long (this one has {len(text)})")
    for ch in text:
        if not (ch.isalnum() or ch in _PUNCTUATION):
            raise TagError(f"a tag holds only letters, digits, spaces, '-' and '_' (not {ch!r})")
    if not any(ch.isalnum() for ch in text):
        raise TagError("a tag needs at least one letter or digit")
    return text


def tag_condition(tag: str) -> ColumnElement[bool]:
    """Mentions carrying ``tag`` (already normalised): an ``IN`` over the tags table, served by its tag index."""
    return col(Mention.id).in_(select(col(MentionTag.mention_id)).where(col(MentionTag.tag) == tag))


def existing_mentions(session: Session, mention_ids: Iterable[int]) -> list[int]:
    """The ids among ``mention_ids`` that have a mention behind them, ascending."""
    wanted = sorted(set(mention_ids))
    if not wanted:
        return []
    found = session.execute(
        select(col(Mention.id)).where(col(Mention.id).in_(wanted)).order_by(col(Mention.id))
    )
    return list(found.scalars())


def add_tag(engine: Engine, mention_ids: Iterable[int], tag: str, user: str, now: datetime) -> int:
    """Tag every existing mention of ``mention_ids`` with ``tag`` (normalised); returns how many were new."""
    name = normalise_tag(tag)
    with Session(engine) as session:
        ids = existing_mentions(session, mention_ids)
        if not ids:
            return 0
        rows = [{"mention_id": i, "tag": name, "created_by": user[:200], "created_at": now} for i in ids]
        dialect = session.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(MentionTag).values(rows).on_conflict_do_nothing(index_elements=["mention_id", "tag"])
        # RETURNING names the rows really inserted (psycopg reports no rowcount for a multi-row insert)
        added = len(session.execute(stmt.returning(col(MentionTag.id))).all())
        session.commit()
    return added


def remove_tag(engine: Engine, mention_ids: Iterable[int], tag: str) -> int:
    """Take ``tag`` off the given mentions; returns how many carried it."""
    name = normalise_tag(tag)
    ids = sorted(set(mention_ids))
    if not ids:
        return 0
    with Session(engine) as session:
        stmt = delete(MentionTag).where(col(MentionTag.tag) == name, col(MentionTag.mention_id).in_(ids))
        removed = int(cast(CursorResult[Any], session.execute(stmt)).rowcount or 0)
        session.commit()
    return removed


def tags_of(session: Session, mention_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Each given mention's tags, alphabetically (mentions without tags are left out)."""
    ids = sorted(set(mention_ids))
    out: dict[int, list[str]] = {}
    if ids:
        stmt = (
            select(col(MentionTag.mention_id), col(MentionTag.tag))
            .where(col(MentionTag.mention_id).in_(ids))
            .order_by(col(MentionTag.mention_id), col(MentionTag.tag))
        )
        for mention_id, tag in session.execute(stmt):
            out.setdefault(mention_id, []).append(tag)
    return {k: tuple(v) for k, v in out.items()}


def known_tags(session: Session) -> list[str]:
    """The tags in use, alphabetically, at most :data:`MAX_TAGS_LISTED` (the inbox's filter menu)."""
    stmt = select(col(MentionTag.tag)).group_by(col(MentionTag.tag)).order_by(col(MentionTag.tag))
    return list(session.execute(stmt.limit(MAX_TAGS_LISTED)).scalars())


def item_tags(engine: Engine, mention_id: int) -> tuple[str, ...]:
    """One item's tags, alphabetically (the item page)."""
    with Session(engine) as session:
        return tags_of(session, [mention_id]).get(mention_id, ())
