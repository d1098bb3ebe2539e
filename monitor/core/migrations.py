"""Schema versions with Alembic: a fresh database is created at the newest revision, an older one upgraded.

Why Alembic: the schema used to be patched on every open of every process (add the missing columns, rebuild
SQLite tables, retry when another process raced), and nothing recorded which shape a database had. Now the
database carries its revision (``alembic_version``) and :func:`ensure_schema`, called by
:func:`monitor.core.db.make_engine`, costs one version query when the database is current. Otherwise it
takes a lock, looks again (another process may have finished meanwhile), and in one transaction either
creates the tables and stamps the head (an empty database: one ``create_all``, no replay of history),
upgrades a versioned database, or recognises and upgrades one made before versioning
(:mod:`monitor.core.legacy_schema`).

The lock: PostgreSQL ``pg_advisory_xact_lock`` keyed on the schema; SQLite ``BEGIN IMMEDIATE`` (the write
lock, waited for with the connection's busy timeout), with foreign keys off for the batch-mode table
rebuilds and ``foreign_key_check`` before commit. DDL is transactional on both, so a failed upgrade
leaves the database as it was.

The revisions live in ``monitor/core/alembic/versions``, inside the package. A new one is written with
Alembic's API, e.g. ``command.revision(alembic_config(url), message="...", autogenerate=True)``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from monitor.core import inbox_schema, models  # noqa: F401  (models registers the tables)
from monitor.core.legacy_schema import UnknownSchemaError, detect_revision, repair

log = logging.getLogger(__name__)
# Alembic logs "Context impl SQLiteImpl" at INFO on every version check, i.e. on every database open; what
# Earshot did (created, stamped, upgraded from/to) is logged here instead, once.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

SCRIPT_LOCATION = Path(__file__).with_name("alembic")
# pg_advisory_xact_lock(key, hashtext(schema)): one upgrade at a time per schema, any number of schemas.
_PG_LOCK_KEY = 0x45415253  # "EARS"


class SchemaError(Exception):
    """The database's schema cannot be brought to this Earshot's revision; the message says why."""


@dataclass(frozen=True)
class SchemaChange:
    """What :func:`ensure_schema` did: ``before`` is None for an empty or pre-versioning database."""

    action: Literal["current", "created", "upgraded", "adopted"]  # adopted: made before versioning
    before: str | None
    after: str
    applied: tuple[str, ...] = ()  # revisions run, oldest first

    def describe(self) -> str:
        if self.action == "current":
            return f"schema is current (revision {self.after})"
        if self.action == "created":
            return f"schema created at revision {self.after}"
        steps = ", ".join(self.applied) or "none"
        if self.action == "adopted":
            return (
                f"unversioned schema recognised as revision {self.before}, "
                f"upgraded to {self.after} (ran {steps})"
            )
        return f"schema upgraded from revision {self.before} to {self.after} (ran {steps})"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Alembic's configuration for the packaged scripts, with no ini file: by URL or on an open connection."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this Earshot knows."""
    head = _scripts().get_current_head()
    assert head is not None, "no revisions in monitor/core/alembic/versions"
    return head


def revisions() -> list[str]:
    """Every revision this Earshot knows, oldest first."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


def current_revision(connection: Connection) -> str | None:
    """The revision the database is stamped with; None for an empty or pre-versioning database."""
    return MigrationContext.configure(connection).get_current_revision()


def ensure_schema(engine: Engine) -> SchemaChange:
    """Bring the database to the head revision; one query when it is there already.

    Raises :class:`SchemaError` for a database this Earshot cannot upgrade (a newer revision, an
    unrecognised or half-upgraded older shape), and SQLAlchemy's errors when the database is unreachable.
    """
    head = head_revision()
    with engine.connect() as conn:
        if current_revision(conn) == head:
            return SchemaChange("current", head, head)
    with _upgrade_lock(engine) as conn:
        before = current_revision(conn)
        if before == head:  # another process did it while we waited for the lock
            return SchemaChange("current", head, head)
        if before is None:
            present = set(inspect(conn).get_table_names()) & set(SQLModel.metadata.tables)
            if not present:
                SQLModel.metadata.create_all(conn, checkfirst=False)  # none of them is there
                inbox_schema.install(conn)  # what create_all cannot describe (revision 0008)
                MigrationContext.configure(conn).stamp(_scripts(), head)
                return SchemaChange("created", None, head)
            return _adopt(conn, head)
        applied = _upgrade(conn, before, head)
        log.info("database upgraded from revision %s to %s", before, head)
        return SchemaChange("upgraded", before, head, applied)


def _adopt(conn: Connection, head: str) -> SchemaChange:
    """A database from before versioning: stamp the revision it has, upgrade, tighten what old upgrades left."""
    try:
        found = detect_revision(conn)
    except UnknownSchemaError as exc:
        raise SchemaError(str(exc)) from None
    MigrationContext.configure(conn).stamp(_scripts(), found)
    applied = _upgrade(conn, found, head)
    repaired = repair(conn)
    inbox_schema.install(conn)  # the sort indexes a column repaired just now allows (inbox_schema)
    log.info(
        "unversioned database recognised as revision %s, upgraded to %s%s",
        found,
        head,
        f"; repaired: {', '.join(repaired)}" if repaired else "",
    )
    return SchemaChange("adopted", found, head, applied)


def _upgrade(conn: Connection, before: str, head: str) -> tuple[str, ...]:
    scripts = _scripts()
    try:
        pending = [s.revision for s in scripts.iterate_revisions(head, before)]
    except (RevisionError, CommandError) as exc:
        raise SchemaError(
            f"the database is at revision {before!r}, which this Earshot does not know "
            f"(newest known: {head}); is it from a newer Earshot?"
        ) from exc
    command.upgrade(alembic_config(connection=conn), "head")
    return tuple(reversed(pending))


@contextmanager
def _upgrade_lock(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that no other process's upgrade can enter; committed on success."""
    backend = engine.url.get_backend_name()
    with engine.connect() as conn:
        if backend == "sqlite":
            with _sqlite_write_lock(conn):
                yield conn
            return
        if backend == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:key, hashtext(coalesce(current_schema(), '')))"),
                {"key": _PG_LOCK_KEY},
            )
        yield conn
        conn.commit()


@contextmanager
def _sqlite_write_lock(conn: Connection) -> Iterator[None]:
    # Foreign keys must be off while batch mode drops and renames a table others refer to, and the pragma
    # only takes effect outside a transaction; integrity is checked before the commit instead.
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield
        problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise SchemaError(f"the upgrade would break foreign keys: {problems[:3]}")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()
