"""Alembic's environment for the Earshot schema: SQLModel's tables, batch mode on SQLite.

Why batch mode: SQLite cannot alter a column or add a constraint in place, so Alembic rebuilds the table
(create the new shape, copy the rows, drop, rename). The connection normally comes from
:mod:`monitor.core.migrations`, which has already opened the transaction and taken the upgrade lock, so
Alembic runs every revision inside that one transaction; without one (Alembic's own tooling, e.g.
``command.revision(alembic_config(url), autogenerate=True)``) it connects to ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from monitor.core import models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """``--sql`` mode: print the DDL instead of running it."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=bool(url and url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(str(config.get_main_option("sqlalchemy.url")), poolclass=pool.NullPool)
    with engine.connect() as own:
        _run(own)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
