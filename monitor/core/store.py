"""Storage operations shared by the stages: the typed boundary between spiders and the database.

Mentions are stored set-based (:func:`upsert_mentions`): a batch costs a handful of statements whatever
its size, instead of a select, an insert or update and a flush per item. :func:`upsert_mention` is the same
rule for a batch of one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Text, any_, bindparam, cast, insert, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, select

from monitor.core.models import CrawlRun, Mention, MentionRevision, TargetRow, Watermark, utcnow

_MENTIONS = Mention.__table__  # type: ignore[attr-defined]
_REVISIONS = MentionRevision.__table__  # type: ignore[attr-defined]
_TARGETS = TargetRow.__table__  # type: ignore[attr-defined]
T = TypeVar("T")
_KEYS_PER_QUERY = 500  # bound parameters per IN list: far below SQLite's limit of 32,766
# The columns an item sets on its mention, in MentionIn's names.
_ITEM_COLUMNS = (
    "url",
    "author",
    "text",
    "lang",
    "rating",
    "reply_text",
    "parent_id",
    "reach",
    "created_at",
    "updated_at",
    "raw",
)


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


@dataclass(frozen=True)
class Upserted:
    """What became of one item of a batch: its mention's id and whether it was new, edited or the same."""

    mention_id: int
    outcome: UpsertOutcome


def _insert_ignoring_conflicts(connection: Connection, table: Any, unique: list[str]) -> Insert:
    """``INSERT ... ON CONFLICT (unique) DO NOTHING`` in the connection's dialect."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=unique)
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=unique)
    raise NotImplementedError(
        f"Earshot stores mentions in SQLite or PostgreSQL, not {dialect}; change EARSHOT_DATABASE_URL"
    )


def _chunks(values: Sequence[T], size: int = _KEYS_PER_QUERY) -> Iterable[Sequence[T]]:
    return (values[start : start + size] for start in range(0, len(values), size))


def ensure_targets(session: Session, names: Iterable[str]) -> dict[str, int]:
    """The target row id for each name, creating missing rows (a concurrent creator's row is reused)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    connection = session.connection()

    def lookup(chunk: Sequence[str]) -> dict[str, int]:
        rows = connection.execute(sa_select(_TARGETS.c.name, _TARGETS.c.id).where(_TARGETS.c.name.in_(chunk)))
        return {name: target_id for name, target_id in rows}

    ids: dict[str, int] = {}
    for chunk in _chunks(wanted):
        ids.update(lookup(chunk))
    missing = [name for name in wanted if name not in ids]
    if missing:
        now = utcnow()
        connection.execute(
            _insert_ignoring_conflicts(connection, _TARGETS, ["name"]),
            [{"name": name, "created_at": now} for name in missing],
        )
        for chunk in _chunks(missing):
            ids.update(lookup(chunk))
    return ids


def ensure_target(session: Session, name: str) -> TargetRow:
    """The target row for ``name``, created on first use."""
    session.flush()
    row = session.get(TargetRow, ensure_targets(session, [name])[name])
    assert row is not None, "a target row just ensured is always there"
    return row


@dataclass
class _Current:
    """A mention as the batch last left it: what the next item of the same review is compared with."""

    mention_id: int
    text: str
    rating: float | None
    reply_text: str | None
    version: int
    updated_at: datetime | None
    target_id: int | None


def _load_current(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], _Current]:
    """The stored state of the mentions with these (source, external id) keys: one query per source.

    On PostgreSQL the ids go as one array (``= ANY``): an IN list of a hundred placeholders made the same
    lookup about twenty times slower there. SQLite takes an IN list, 500 ids at a time.
    """
    connection = session.connection()
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    c = _MENTIONS.c
    columns = [
        c.id,
        c.source,
        c.external_id,
        c.text,
        c.rating,
        c.reply_text,
        c.version,
        c.updated_at,
        c.target_id,
    ]
    queries = []
    for source, ids in by_source.items():
        if connection.dialect.name == "postgresql":
            wanted = c.external_id == any_(
                cast(bindparam("external_ids", ids, type_=ARRAY(Text)), ARRAY(Text))
            )
            queries.append(sa_select(*columns).where(c.source == source, wanted))
        else:
            queries.extend(
                sa_select(*columns).where(c.source == source, c.external_id.in_(chunk))
                for chunk in _chunks(ids)
            )
    found: dict[tuple[str, str], _Current] = {}
    for query in queries:
        for row in connection.execute(query):
            found[(row.source, row.external_id)] = _Current(
                row.id, row.text, row.rating, row.reply_text, row.version, row.updated_at, row.target_id
            )
    return found


def _target_id(item: MentionIn, target_ids: dict[str, int]) -> int | None:
    return target_ids[item.target] if item.target else None


def _new_row(item: MentionIn, target_id: int | None, now: datetime) -> dict[str, Any]:
    row = {name: getattr(item, name) for name in _ITEM_COLUMNS}
    row.update(
        source=item.source,
        external_id=item.external_id,
        target_id=target_id,
        first_seen_at=now,
        last_seen_at=now,
        version=1,
    )
    return row


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert first sightings; rows another writer stored meanwhile are skipped (and not returned)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return _insert_new_postgresql(connection, rows)
    c = _MENTIONS.c
    stmt = _insert_ignoring_conflicts(connection, _MENTIONS, ["source", "external_id"]).returning(
        c.id, c.source, c.external_id
    )
    inserted: dict[tuple[str, str], int] = {}
    for chunk in _chunks(rows):
        for mention_id, source, external_id in connection.execute(stmt, list(chunk)):
            inserted[(source, external_id)] = mention_id
    return inserted


# One array per column, unnested server-side: the statement's text is the same for every batch, so the
# driver parses it once and the server prepares it once. A multi-row VALUES list of ~17 placeholders per
# row cost psycopg about 0.1 ms per row just to parse, more than the database spent on the rows.
_PG_ARRAYS = {
    "source": "text[]",
    "external_id": "text[]",
    "target_id": "int[]",
    "url": "text[]",
    "author": "text[]",
    "text": "text[]",
    "lang": "text[]",
    "rating": "float8[]",
    "reply_text": "text[]",
    "parent_id": "text[]",
    "reach": "int8[]",
    "created_at": "timestamptz[]",
    "updated_at": "timestamptz[]",
    "first_seen_at": "timestamptz[]",
    "last_seen_at": "timestamptz[]",
    "version": "int[]",
    "raw": "text[]",
}
_PG_INSERT = text(
    f"INSERT INTO mentions ({', '.join(_PG_ARRAYS)}) "
    f"SELECT {', '.join('CAST(raw AS json)' if name == 'raw' else name for name in _PG_ARRAYS)} "
    f"FROM unnest({', '.join(f'CAST(:{name} AS {kind})' for name, kind in _PG_ARRAYS.items())}) "
    f"AS n({', '.join(_PG_ARRAYS)}) "
    "ON CONFLICT (source, external_id) DO NOTHING RETURNING id, source, external_id"
)


def _insert_new_postgresql(connection: Connection, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """:func:`_insert_new` as one ``INSERT ... SELECT FROM unnest(arrays)``, values bound as the columns bind them."""
    moment = _MENTIONS.c.first_seen_at.type  # UTCDateTime: refuses naive times, stores UTC
    arrays: dict[str, list[Any]] = {}
    for name in _PG_ARRAYS:
        values = [row[name] for row in rows]
        if name.endswith("_at"):
            values = [moment.process_bind_param(value, connection.dialect) for value in values]
        elif name == "raw":
            values = [json.dumps(value) for value in values]  # as the JSON column binds (None is JSON null)
        arrays[name] = values
    return {
        (source, external_id): mention_id
        for mention_id, source, external_id in connection.execute(_PG_INSERT, arrays)
    }


def upsert_mentions(session: Session, items: Sequence[MentionIn]) -> list[Upserted]:
    """Store a batch as if each item were upserted in order: new mentions inserted, edits kept as revisions.

    The rule, per item: a review not stored yet (unique on source + external id) is NEW; one whose text or
    rating changed is UPDATED and its previous text, rating and update time become a ``mention_revisions``
    row (its ``version`` bumped); one whose owner's reply changed is UPDATED without a revision; anything
    else is UNCHANGED. Every stored field takes the item's value (the target only when the item names one)
    and ``last_seen_at`` moves to now. The same review twice in a batch behaves as two upserts in a row.

    Set-based, so a batch costs about five statements whatever its size: the targets, one select of the
    stored mentions, one ``INSERT ... ON CONFLICT DO NOTHING`` of the new ones, one executemany of
    revisions and one of updates. A review another writer inserted between the select and the insert is
    treated as already stored, as a per-item upsert would. Idempotent: the same batch again is all
    UNCHANGED.
    """
    if not items:
        return []
    session.flush()  # pending ORM rows (a caller's own) must be visible to the Core statements below
    target_ids = ensure_targets(session, (item.target for item in items if item.target))
    keys = list(dict.fromkeys((item.source, item.external_id) for item in items))
    current = _load_current(session, keys)
    nows = [utcnow() for _ in items]  # one per item, as when each was upserted on its own

    first_sighting: dict[tuple[str, str], int] = {}  # key -> index of the item that inserts it
    for index, item in enumerate(items):
        key = (item.source, item.external_id)
        if key not in current and key not in first_sighting:
            first_sighting[key] = index
    if first_sighting:
        rows = [
            _new_row(items[i], _target_id(items[i], target_ids), nows[i]) for i in first_sighting.values()
        ]
        inserted = _insert_new(session, rows)
        for key, index in first_sighting.items():
            if key in inserted:
                item = items[index]
                current[key] = _Current(
                    inserted[key],
                    item.text,
                    item.rating,
                    item.reply_text,
                    1,
                    item.updated_at,
                    _target_id(item, target_ids),
                )
        raced = [key for key in first_sighting if key not in inserted]
        if raced:
            current.update(_load_current(session, raced))
        first_sighting = {key: index for key, index in first_sighting.items() if key in inserted}

    results: list[Upserted] = []
    revisions: list[dict[str, Any]] = []
    # One UPDATE per item, in order, even for a review seen twice: the database checks every state a
    # per-item upsert would have written (a state it refuses fails the batch, which is then redone item
    # by item), not only the last one.
    updates: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        key = (item.source, item.external_id)
        row = current[key]
        if first_sighting.get(key) == index:
            results.append(Upserted(row.mention_id, UpsertOutcome.NEW))
            continue
        now = nows[index]
        changed = (row.text, row.rating) != (item.text, item.rating)
        if changed:
            revisions.append(
                {
                    "mention_id": row.mention_id,
                    "version": row.version,
                    "text": row.text,
                    "rating": row.rating,
                    "updated_at": row.updated_at,
                    "recorded_at": now,
                }
            )
            row.version += 1
        reply_changed = row.reply_text != item.reply_text
        row.text, row.rating, row.reply_text, row.updated_at = (
            item.text,
            item.rating,
            item.reply_text,
            item.updated_at,
        )
        if item.target:
            row.target_id = _target_id(item, target_ids)
        written = {f"b_{name}": getattr(item, name) for name in _ITEM_COLUMNS}
        written.update(
            b_id=row.mention_id, b_last_seen_at=now, b_version=row.version, b_target_id=row.target_id
        )
        updates.append(written)
        outcome = UpsertOutcome.UPDATED if changed or reply_changed else UpsertOutcome.UNCHANGED
        results.append(Upserted(row.mention_id, outcome))

    connection = session.connection()
    if revisions:
        connection.execute(insert(_REVISIONS), revisions)
    if updates:
        stmt = (
            update(_MENTIONS)
            .where(_MENTIONS.c.id == bindparam("b_id"))
            .values({name[2:]: bindparam(name) for name in updates[0] if name != "b_id"})
        )
        connection.execute(stmt, updates)
    return results


def upsert_mention(session: Session, item: MentionIn) -> tuple[Mention, UpsertOutcome]:
    """:func:`upsert_mentions` for one item; returns the stored row (read back) with the outcome."""
    (result,) = upsert_mentions(session, [item])
    row = session.get(Mention, result.mention_id, populate_existing=True)
    assert row is not None, "a mention just upserted is always there"
    return row, result.outcome


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
