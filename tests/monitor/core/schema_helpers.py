"""Helpers for the schema tests: databases at a given revision or from a released fixture, and comparisons."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

from monitor.core.db import open_engine
from monitor.core.inbox_schema import is_inbox_object
from monitor.core.migrations import alembic_config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "schema"


def build_at(url: str, revision: str, *, versioned: bool = True) -> None:
    """The database as Alembic makes it at ``revision``; unversioned = as a release of that time left it."""
    engine = open_engine(url)
    with engine.connect() as conn:
        command.upgrade(alembic_config(connection=conn), revision)
        if not versioned:
            conn.execute(text("DROP TABLE alembic_version"))
        conn.commit()
    engine.dispose()


def load_fixture(url: str, name: str) -> None:
    """Load ``tests/fixtures/schema/{name}-{sqlite|postgresql}.sql`` (a dump made by released code)."""
    backend = make_url(url).get_backend_name()
    sql = (FIXTURES / f"{name}-{backend}.sql").read_text()
    if backend == "sqlite":
        with sqlite3.connect(str(make_url(url).database)) as conn:
            conn.executescript(sql)
        return
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


def all_rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as the database itself describes its tables (no model involved)."""
    metadata = MetaData()
    metadata.reflect(engine, only=lambda name, _meta: not is_inbox_object(name))  # the search index: no id
    out = {}
    with engine.connect() as conn:
        for name, table in sorted(metadata.tables.items()):
            if name != "alembic_version":
                out[name] = [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]
    return out


def schema_diffs(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate sees between the models and the database (types and defaults too)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                # the inbox's expression indexes and search index live outside the models (inbox_schema)
                "include_name": lambda name, _type, _parent: not is_inbox_object(name),
            },
        )
        return list(compare_metadata(context, SQLModel.metadata))
