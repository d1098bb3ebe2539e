"""Schema changes ``create_all`` cannot make: an existing ``alerts`` table learns to hold alerts without a mention.

Databases created before source-health alerts have ``alerts.mention_id NOT NULL``; ``create_all`` never
alters an existing table, and ``monitor.core.db`` only adds missing columns. PostgreSQL drops the constraint
in place; SQLite cannot, so the table is rebuilt in one transaction (the documented 12-step procedure):
create the new shape, copy the rows, drop the old table, rename, recreate the indexes.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateIndex, CreateTable

from monitor.core.models import Alert, Mention

logger = logging.getLogger(__name__)

TABLE = "alerts"
COLUMN = "mention_id"


def mention_id_required(engine: Engine) -> bool:
    """Whether the database still refuses an alert without a mention."""
    columns = {c["name"]: c for c in inspect(engine).get_columns(TABLE)}
    return not columns[COLUMN]["nullable"]


def allow_alerts_without_mention(engine: Engine) -> bool:
    """Make ``alerts.mention_id`` nullable where it is not yet; True when the table was changed.

    Called by :func:`monitor.core.db.make_engine` on every open (one catalogue query when nothing is to do), and
    safe against a second process doing the same at the same moment (the change re-checks inside its own
    transaction).
    """
    changed = False
    if mention_id_required(engine):
        backend = engine.url.get_backend_name()
        if backend == "sqlite":
            changed = _rebuild_sqlite(engine)
        elif backend == "postgresql":
            with engine.begin() as conn:
                conn.execute(text(f'ALTER TABLE "{TABLE}" ALTER COLUMN "{COLUMN}" DROP NOT NULL'))
            changed = True
        else:
            raise NotImplementedError(f"cannot relax alerts.mention_id on a {backend} database")
        if changed:
            logger.info("database upgraded: alerts.mention_id is now nullable (source-health alerts)")
    return changed


def _sqlite_ddl(engine: Engine) -> tuple[str, list[str]]:
    """CREATE TABLE for the new shape (named ``alerts_new``) and CREATE INDEX statements for ``alerts``."""
    metadata = MetaData()
    Mention.__table__.to_metadata(metadata)  # type: ignore[attr-defined]  # the foreign key's target
    new_table = Alert.__table__.to_metadata(metadata, name=f"{TABLE}_new")  # type: ignore[attr-defined]
    create = str(CreateTable(new_table).compile(dialect=engine.dialect))
    indexes = [str(CreateIndex(ix).compile(dialect=engine.dialect)) for ix in Alert.__table__.indexes]  # type: ignore[attr-defined]
    return create, indexes


def _rebuild_sqlite(engine: Engine) -> bool:
    create, indexes = _sqlite_ddl(engine)
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        assert isinstance(conn, sqlite3.Connection)
        previous = conn.isolation_level
        conn.isolation_level = None  # we issue BEGIN/COMMIT ourselves: DDL must be inside the transaction
        try:
            conn.execute("PRAGMA foreign_keys=OFF")  # only takes effect outside a transaction
            conn.execute("BEGIN IMMEDIATE")
            try:
                info = conn.execute(f'PRAGMA table_info("{TABLE}")').fetchall()
                if not any(row[1] == COLUMN and row[3] for row in info):  # another process did it already
                    conn.execute("ROLLBACK")
                    return False
                old_columns = [row[1] for row in info]
                keep = [c.name for c in Alert.__table__.columns if c.name in old_columns]  # type: ignore[attr-defined]
                names = ", ".join(f'"{c}"' for c in keep)
                conn.execute(create)
                conn.execute(f'INSERT INTO "{TABLE}_new" ({names}) SELECT {names} FROM "{TABLE}"')
                conn.execute(f'DROP TABLE "{TABLE}"')
                conn.execute(f'ALTER TABLE "{TABLE}_new" RENAME TO "{TABLE}"')
                for statement in indexes:
                    conn.execute(statement)
                problems = conn.execute(f'PRAGMA foreign_key_check("{TABLE}")').fetchall()
                if problems:
                    raise sqlite3.IntegrityError(f"alerts rebuild would break foreign keys: {problems[:3]}")
                conn.execute("COMMIT")
            except sqlite3.Error:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.isolation_level = previous
    finally:
        raw.close()
    return True
