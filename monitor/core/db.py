"""Engine and sessions: SQLite (WAL) by default, PostgreSQL by URL, one schema for both."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, create_engine

from monitor.core.errors import DatabaseError as DatabaseError  # re-exported: callers catch it from here

if TYPE_CHECKING:  # Alembic (0.2 s to import) is loaded only when a schema is checked
    from monitor.core.migrations import SchemaChange


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
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return "<unparseable database URL>"


def open_engine(url: str, echo: bool = False) -> Engine:
    """The engine for ``url``, schema untouched (``earshot db upgrade`` reports what it then does)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise DatabaseError(f"EARSHOT_DATABASE_URL is not a valid SQLAlchemy URL: {exc}") from None
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the folder {folder} for database {redact_url(url)}: {exc.strerror}. "
                    "Check EARSHOT_DATA_DIR (a folder, not a file) or EARSHOT_DATABASE_URL."
                ) from None
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except ArgumentError as exc:  # NoSuchModuleError: no such dialect or driver
        raise DatabaseError(
            f"cannot open database {redact_url(url)}: {exc}. Check the dialect+driver in EARSHOT_DATABASE_URL."
        ) from None
    except ImportError as exc:
        raise DatabaseError(
            f"cannot open database {redact_url(url)}: its driver is not installed ({exc}). "
            "Install it, or change the driver in EARSHOT_DATABASE_URL."
        ) from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def upgrade_schema(engine: Engine) -> SchemaChange:
    """Bring the database to the newest schema revision (see :mod:`monitor.core.migrations`)."""
    # Alembic announces each plugin at INFO while it loads; now that it loads after logging is set up, hush it.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from monitor.core.migrations import SchemaError, ensure_schema

    url = engine.url.render_as_string(hide_password=True)
    try:
        return ensure_schema(engine)
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot open database {url}: {exc.orig}. "
            "Check EARSHOT_DATABASE_URL and that the server is running."
        ) from None
    except SchemaError as exc:
        raise DatabaseError(f"cannot upgrade database {url}: {exc}") from None


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create the engine for ``url``; create the schema if missing, upgrade it if older."""
    engine = open_engine(url, echo)
    upgrade_schema(engine)
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
