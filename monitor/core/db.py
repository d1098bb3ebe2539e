"""Engine and sessions: SQLite (WAL) by default, PostgreSQL by URL, one schema for both."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, literal, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError
from sqlmodel import Session, SQLModel, create_engine

from monitor.core import models  # noqa: F401  (registers the tables)
from monitor.core.migrations import allow_alerts_without_mention

log = logging.getLogger(__name__)


class DatabaseError(Exception):
    """The database cannot be opened or reached; the message says which URL and what to check."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the scorer read while a crawl writes; busy_timeout rides out short write locks.
    # busy_timeout goes first so that every later statement waits for a lock instead of failing,
    # and WAL is only switched on once (the switch itself needs the database to itself).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def redact_url(url: str) -> str:
    """The URL with any password hidden, for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


_RACE_MARKERS = ("already exists", "duplicate", "database is locked")


def _prepare_schema(engine: Engine, attempts: int = 20) -> None:
    """Create missing tables and apply upgrades; other processes doing the same at once is not an error.

    Why retry: the scheduler starts several crawl processes together on a fresh database, and each one's
    check-then-create can lose a race on any table ("already exists") or meet another's schema lock.
    """
    for attempt in range(attempts):
        try:
            SQLModel.metadata.create_all(engine)
            _add_missing_columns(engine)
            allow_alerts_without_mention(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as exc:
            if not any(m in str(exc.orig).lower() for m in _RACE_MARKERS) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _default_clause(column: Any, engine: Engine) -> str:
    """`` DEFAULT <literal>`` for a column with a plain scalar default (counters, flags), so old rows get it."""
    default = column.default
    value = (
        getattr(default, "arg", None)
        if default is not None and getattr(default, "is_scalar", False)
        else None
    )
    if value is None or not isinstance(value, (bool, int, float, str)):
        return ""
    literal_sql = literal(value, type_=column.type).compile(
        dialect=engine.dialect, compile_kwargs={"literal_binds": True}
    )
    return f" DEFAULT {literal_sql}"


def _add_missing_columns(engine: Engine) -> list[str]:
    """Add columns that newer Earshot versions define to tables an older version created.

    Why: ``create_all`` creates missing tables but never alters existing ones, so a user's database from
    the previous release would fail on the first query of a new column. Added columns are nullable; code
    reading them treats NULL as the default. Returns ``table.column`` names added.
    """
    added = []
    inspector = inspect(engine)
    existing_tables = set(inspector.get_table_names())
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            ddl = column.type.compile(dialect=engine.dialect) + _default_clause(column, engine)
            try:
                with engine.begin() as conn:
                    conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {ddl}'))
            except (OperationalError, ProgrammingError) as exc:  # another process added it first
                if "duplicate" not in str(exc.orig).lower() and "already exists" not in str(exc.orig):
                    raise
                continue
            added.append(f"{table.name}.{column.name}")
    if added:
        log.info("database upgraded: added column(s) %s", ", ".join(added))
    return added


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create the engine for ``url`` and the schema if missing."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"EARSHOT_DATABASE_URL is not a valid SQLAlchemy URL: {exc}") from None
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        _prepare_schema(engine)
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot open database {redact_url(url)}: {exc.orig}. "
            "Check EARSHOT_DATABASE_URL and that the server is running."
        ) from None
    return engine


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """:func:`session_scope` for multi-row writes: on SQLite the transaction really spans every statement.

    Why: pysqlite (legacy transaction control) opens no transaction before a SAVEPOINT, so SQLite took
    ``upsert_mention``'s savepoint for the whole transaction and committed each new row at its RELEASE; a
    refused batch could not be rolled back. ``BEGIN IMMEDIATE`` opens the transaction first and takes the
    write lock at once, so a busy database is waited for (busy_timeout) instead of failing when a read turns
    into a write. Other sessions keep pysqlite's behaviour, which lets readers run beside a crawl.
    """
    with session_scope(engine) as session:
        dbapi_connection = session.connection().connection.dbapi_connection
        if isinstance(dbapi_connection, sqlite3.Connection) and not dbapi_connection.in_transaction:
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
