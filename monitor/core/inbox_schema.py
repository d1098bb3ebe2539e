"""The inbox's own database objects: its sort indexes and the search index over folded words.

Why a module of its own, outside the models: these are objects the ORM neither reads nor writes and that
``create_all`` cannot describe (indexes on an expression, an FTS5 virtual table, triggers, a PL/pgSQL
function). Revision 0008 and a fresh database (:func:`monitor.core.migrations.ensure_schema`) both call
:func:`install`, so both get exactly the same objects. Every name starts with ``mention_search`` or
``ix_inbox_`` (:func:`is_inbox_object`), which schema comparisons leave out.

**Sort indexes.** The inbox is newest first by ``coalesce(created_at, first_seen_at)``; without an index on
that expression every page sorted all mentions (0.8 s at a million). The same expression leads indexes for
the source and target filters, and ``sentiment_scores (mention_id, mention_version, id)`` answers "the
newest score of this version" from the index alone. Revision 0010 adds those of the other orders (reach,
severity, SLA due: :data:`SORT_INDEXES`, see ``monitor.web.inbox_sort``).

**Search index.** What a search matches is decided by the alert keyword matcher
(:mod:`sentiment.keywords`), in Python, over folded text; the index only narrows the candidates. It holds,
per mention, the words (runs of letters and digits) of the folded text and author, written by the top
floor (``monitor.web.search``), since the ground floor may not import the folding rule. The database
keeps it honest without knowing that rule:

- ``mention_search_queue``: triggers add a mention's id when it is inserted, or when its text or author
  changes (its index entry is then deleted at once); a deleted mention's entry goes with it.
- So every mention is either indexed with its current words or waiting in the queue, and a search's
  candidates are "index matches, plus everything queued": never a match missed, however far behind the
  indexer is.

SQLite: an FTS5 table (``tokenize='ascii'``: the words arrive folded and separated by spaces, so FTS5 splits
them exactly as Python did; ``detail=none``: prefix queries need no positions). PostgreSQL: a ``tsvector``
built with ``array_to_tsvector`` (no text-search parser in between) under a GIN index; prefix queries
``'kurier':*``. No extension is needed on either.

A later revision that rebuilds ``mentions`` in SQLite batch mode drops its triggers: call :func:`install`
again after it (it is idempotent).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = [
    "QUEUE_TABLE",
    "SEARCH_TABLE",
    "SORT_INDEXES",
    "SearchIndexUnavailable",
    "drop_sort_indexes",
    "enqueue_all",
    "install",
    "is_inbox_object",
    "uninstall",
]

SEARCH_TABLE: Final = "mention_search"
QUEUE_TABLE: Final = "mention_search_queue"
_WHEN: Final = "coalesce(created_at, first_seen_at)"

# (name, table, columns): plain CREATE INDEX on both dialects.
_INDEXES: Final = (
    ("ix_inbox_when", "mentions", f"{_WHEN} DESC, id DESC"),
    ("ix_inbox_source_when", "mentions", f"source, {_WHEN} DESC, id DESC"),
    ("ix_inbox_target_when", "mentions", f"target_id, {_WHEN} DESC, id DESC"),
    ("ix_inbox_score_current", "sentiment_scores", "mention_id, mention_version, id"),
    ("ix_inbox_score_label", "sentiment_scores", "label, mention_id"),
    ("ix_inbox_score_urgency", "sentiment_scores", "urgency, mention_id"),
    # Revision 0010: the inbox's other orders (monitor.web.inbox_sort). Reach, either way, from the index;
    # the severity and SLA orders start from the few alerts of one severity / the open ones.
    ("ix_inbox_reach", "mentions", "reach, id"),
    ("ix_inbox_alert_severity", "alerts", "severity, mention_id, id"),
    ("ix_inbox_alert_open", "alerts", "handled_at, severity, mention_id, id"),
)
SORT_INDEXES: Final = ("ix_inbox_reach", "ix_inbox_alert_severity", "ix_inbox_alert_open")
"""The indexes revision 0010 adds (its downgrade drops them; the rest belong to 0008)."""

_SQLITE_SEARCH: Final = (
    f"CREATE TABLE IF NOT EXISTS {QUEUE_TABLE} (seq INTEGER PRIMARY KEY, mention_id INTEGER NOT NULL)",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SEARCH_TABLE} USING fts5(words, tokenize='ascii', detail='none')",
    f"""CREATE TRIGGER IF NOT EXISTS mention_search_insert AFTER INSERT ON mentions BEGIN
        INSERT INTO {QUEUE_TABLE} (mention_id) VALUES (new.id); END""",
    f"""CREATE TRIGGER IF NOT EXISTS mention_search_update AFTER UPDATE OF text, author ON mentions
        WHEN old.text IS NOT new.text OR old.author IS NOT new.author BEGIN
        DELETE FROM {SEARCH_TABLE} WHERE rowid = old.id;
        INSERT INTO {QUEUE_TABLE} (mention_id) VALUES (new.id); END""",
    f"""CREATE TRIGGER IF NOT EXISTS mention_search_delete AFTER DELETE ON mentions BEGIN
        DELETE FROM {SEARCH_TABLE} WHERE rowid = old.id; END""",
)

_PG_SEARCH: Final = (
    f"CREATE TABLE IF NOT EXISTS {QUEUE_TABLE} (seq BIGSERIAL PRIMARY KEY, mention_id INTEGER NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {SEARCH_TABLE} (mention_id INTEGER PRIMARY KEY, words tsvector NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS ix_inbox_search_words ON {SEARCH_TABLE} USING gin (words)",
    # Inserts and deletes per statement (a crawl's batch is one statement: one queue insert for all of it);
    # an update per row, as only a changed text or author needs re-indexing.
    f"""CREATE OR REPLACE FUNCTION mention_search_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO {QUEUE_TABLE} (mention_id) SELECT id FROM new_rows ORDER BY id; RETURN NULL; END $$""",
    f"""CREATE OR REPLACE FUNCTION mention_search_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM {SEARCH_TABLE} WHERE mention_id IN (SELECT id FROM old_rows); RETURN NULL; END $$""",
    f"""CREATE OR REPLACE FUNCTION mention_search_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM {SEARCH_TABLE} WHERE mention_id = OLD.id;
            INSERT INTO {QUEUE_TABLE} (mention_id) VALUES (NEW.id);
            RETURN NULL;
        END $$""",
    "DROP TRIGGER IF EXISTS mention_search_insert ON mentions",
    """CREATE TRIGGER mention_search_insert AFTER INSERT ON mentions REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION mention_search_inserted()""",
    "DROP TRIGGER IF EXISTS mention_search_delete ON mentions",
    """CREATE TRIGGER mention_search_delete AFTER DELETE ON mentions REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION mention_search_deleted()""",
    "DROP TRIGGER IF EXISTS mention_search_update ON mentions",
    """CREATE TRIGGER mention_search_update AFTER UPDATE OF text, author ON mentions FOR EACH ROW
        WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.author IS DISTINCT FROM NEW.author)
        EXECUTE FUNCTION mention_search_updated()""",
)


class SearchIndexUnavailable(RuntimeError):
    """The database cannot hold the search index (a SQLite built without FTS5, another database)."""


def is_inbox_object(name: str | None) -> bool:
    """True for a table, index, trigger or function this module owns (schema comparisons skip them)."""
    return bool(name) and str(name).startswith(("mention_search", "ix_inbox_"))


def _require_fts5(conn: Connection) -> None:
    enabled = conn.execute(text("SELECT sqlite_compileoption_used('ENABLE_FTS5')")).scalar()
    if not enabled:
        version = conn.execute(text("SELECT sqlite_version()")).scalar()
        raise SearchIndexUnavailable(
            f"this SQLite ({version}) was built without FTS5, which the inbox search index needs. "
            "Use a Python whose sqlite3 module has FTS5 (the python.org and Debian builds do), "
            "or PostgreSQL (EARSHOT_DATABASE_URL)."
        )


def _moments_have_one_type(conn: Connection) -> bool:
    """False for a PostgreSQL database of an older SQLModel, whose ``created_at`` is a naive ``timestamp``.

    Such a database is adopted (revisions run, then :func:`monitor.core.legacy_schema.repair` makes the
    column ``timestamptz``); until then ``coalesce`` mixes the two types through the session's time zone,
    which PostgreSQL refuses in an index. :func:`monitor.core.migrations.ensure_schema` installs again
    after the repair, and the sort indexes are made then.
    """
    if conn.dialect.name != "postgresql":
        return True
    types = conn.execute(
        text(
            "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'mentions' AND column_name IN ('created_at', 'first_seen_at')"
        )
    ).all()
    return len(types) == 1


def install(conn: Connection) -> None:
    """Create the inbox's indexes, the search index, its queue and the triggers (idempotent)."""
    dialect = conn.dialect.name
    search: tuple[str, ...]
    if dialect == "sqlite":
        _require_fts5(conn)
        search = _SQLITE_SEARCH
    elif dialect == "postgresql":
        search = _PG_SEARCH
    else:
        raise SearchIndexUnavailable(f"Earshot runs on SQLite or PostgreSQL, not {dialect}")
    sortable = _moments_have_one_type(conn)
    for name, table, columns in _INDEXES:
        if sortable or _WHEN not in columns:
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})"))
    for statement in search:
        conn.execute(text(statement))


def enqueue_all(conn: Connection) -> int:
    """Queue every stored mention for indexing (an upgraded database's backfill); returns how many."""
    result = conn.execute(text(f"INSERT INTO {QUEUE_TABLE} (mention_id) SELECT id FROM mentions ORDER BY id"))
    return int(result.rowcount or 0)


def drop_sort_indexes(conn: Connection) -> None:
    """Drop the indexes of revision 0010 (its downgrade; the bench measures the orders without them)."""
    for name in SORT_INDEXES:
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))


def uninstall(conn: Connection) -> None:
    """Drop everything :func:`install` created (revision 0008's downgrade)."""
    if conn.dialect.name == "postgresql":
        for trigger in ("insert", "update", "delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS mention_search_{trigger} ON mentions"))
        for function in ("inserted", "updated", "deleted"):
            conn.execute(text(f"DROP FUNCTION IF EXISTS mention_search_{function}()"))
    else:
        for trigger in ("insert", "update", "delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS mention_search_{trigger}"))
    conn.execute(text(f"DROP TABLE IF EXISTS {SEARCH_TABLE}"))
    conn.execute(text(f"DROP TABLE IF EXISTS {QUEUE_TABLE}"))
    for name, _table, _columns in _INDEXES:
        conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
