"""Databases made before Earshot versioned its schema: which revision they have, and what to tighten.

Before Alembic, every open ran ``create_all`` and then added each missing column with ``ALTER TABLE ... ADD
COLUMN`` (nullable, with a ``DEFAULT`` for scalar defaults, no index and no foreign key), and rebuilt
``alerts`` so it could hold alerts without a mention. Such a database carries no version, so
:func:`detect_revision` reads its tables and columns against what each revision added (frozen history: no
database made from now on needs it) and :mod:`monitor.core.migrations` stamps that revision and upgrades.
:func:`repair` then makes the loose shapes those ``ALTER`` statements left (nullable counters, missing
indexes and foreign keys) what the models declare, so an adopted database equals a fresh one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, DateTime, ForeignKeyConstraint, Table, inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from monitor.core import models  # noqa: F401  (registers the tables)

log = logging.getLogger(__name__)

__all__ = ["UnknownSchemaError", "detect_revision", "repair"]

# Revision -> (tables it created, {existing table: columns it added}).
_ADDED: tuple[tuple[str, frozenset[str], dict[str, frozenset[str]]], ...] = (
    (
        "0001",
        frozenset(
            {
                "targets",
                "mentions",
                "mention_revisions",
                "sentiment_scores",
                "alerts",
                "crawl_runs",
                "stage_runs",
                "watermarks",
            }
        ),
        {},
    ),
    (
        "0002",
        frozenset({"sentiment_corrections"}),
        {
            "sentiment_scores": frozenset({"urgency", "urgency_reasons", "aspects"}),
            "alerts": frozenset({"source"}),
        },
    ),
    (
        "0003",
        frozenset({"storms", "replies", "slack_requests", "checkpoints"}),
        {
            "alerts": frozenset(
                {
                    "mention_version",
                    "target",
                    "rule",
                    "severity",
                    "parent_id",
                    "broadcast",
                    "payload",
                    "suggested_reply",
                    "handled_at",
                    "handled_by",
                    "handled_action",
                    "assignee",
                    "assigned_by",
                    "assigned_at",
                    "corrected_label",
                    "corrected_by",
                    "escalated_at",
                    "state_version",
                    "synced_version",
                    "update_error",
                }
            )
        },
    ),
    ("0004", frozenset(), {"sentiment_scores": frozenset({"label_source", "text_label", "text_score"})}),
)


class UnknownSchemaError(Exception):
    """An unversioned database that is not (or only partly) the shape of any revision."""


def detect_revision(conn: Connection) -> str:
    """The newest revision whose every table and column the unversioned database has."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in tables}
    states = []
    for revision, new_tables, new_columns in _ADDED:
        wanted = sorted(new_tables) + [
            f"{t}.{c}" for t, cs in sorted(new_columns.items()) for c in sorted(cs)
        ]
        states.append((revision, wanted, [w for w in wanted if _has(w, tables, columns)]))
    complete = 0
    while complete < len(states) and len(states[complete][2]) == len(states[complete][1]):
        complete += 1
    if complete == 0:
        missing = sorted(set(states[0][1]) - set(states[0][2]))
        raise UnknownSchemaError(
            f"the database has some of Earshot's tables but not {', '.join(missing)}: "
            "it is not an Earshot database, or it is damaged"
        )
    for _revision, wanted, have in states[complete:]:
        if have:
            missing = sorted(set(wanted) - set(have))
            raise UnknownSchemaError(
                f"the database was half-upgraded by an older Earshot: it has {', '.join(have)} "
                f"but not {', '.join(missing)}; open it once with that Earshot (or restore a backup) first"
            )
    return states[complete - 1][0]


def _has(wanted: str, tables: set[str], columns: dict[str, set[str]]) -> bool:
    table, _, column = wanted.partition(".")
    return table in tables and (not column or column in columns[table])


# What each column difference Alembic reports changes: its ``existing_*`` value is step[5].
_COLUMN_CHANGES = {"modify_nullable": "nullable", "modify_default": "server_default", "modify_type": "type"}


def repair(conn: Connection) -> list[str]:
    """Tighten an adopted database to the models: NOT NULL (old rows filled), defaults, indexes, foreign keys.

    Returns what was changed, e.g. ``["index ix_alerts_target", "alerts.state_version (nullable)"]``.
    """
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
    changes: list[str] = []
    foreign_keys: dict[str, list[ForeignKeyConstraint]] = defaultdict(list)
    columns: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for diff in compare_metadata(context, SQLModel.metadata):
        for step in diff if isinstance(diff, list) else [diff]:
            kind = step[0]
            if kind == "add_index":
                step[1].create(conn)
                changes.append(f"index {step[1].name}")
            elif kind == "add_fk":
                foreign_keys[step[1].table.name].append(step[1])
            elif kind in _COLUMN_CHANGES and _repairable(step):
                # step: (kind, schema, table, column, {the other existing_* values}, existing, wanted)
                change = columns[step[2]][step[3]]
                change.update(step[4])
                change[f"existing_{_COLUMN_CHANGES[kind]}"] = step[5]
                change.setdefault("changes", set()).add(_COLUMN_CHANGES[kind])
            else:
                log.warning("adopted database differs from the models in a way left as it is: %s", step)
    operations = Operations(context)
    for table_name in sorted(set(foreign_keys) | set(columns)):
        table = SQLModel.metadata.tables[table_name]
        with operations.batch_alter_table(table_name) as batch:
            for fk in foreign_keys[table_name]:
                local = [c.name for c in fk.columns]
                name = f"{table_name}_{'_'.join(local)}_fkey"  # PostgreSQL's own name for an unnamed one
                remote = [e.column.name for e in fk.elements]
                batch.create_foreign_key(name, fk.referred_table.name, local, remote)
                changes.append(f"foreign key {name}")
            for column_name, existing in columns[table_name].items():
                column = table.columns[column_name]
                if "nullable" in existing["changes"] and not column.nullable:
                    _fill_nulls(conn, table, column)
                batch.alter_column(column_name, **_target(column, existing))
                changes.append(f"{table_name}.{column_name} ({', '.join(sorted(existing['changes']))})")
    return changes


def _repairable(step: tuple[Any, ...]) -> bool:
    if step[0] != "modify_type":
        return True
    # ``timestamp`` where the model has ``timestamptz`` (PostgreSQL, made by an older SQLModel): stored UTC.
    existing, wanted = step[5], getattr(step[6], "impl", step[6])
    return isinstance(wanted, DateTime) and bool(wanted.timezone) and not getattr(existing, "timezone", True)


def _target(column: Column[Any], existing: dict[str, Any]) -> dict[str, Any]:
    """``alter_column`` arguments that make the column what the model says, from what it is."""
    target = {k: v for k, v in existing.items() if k.startswith("existing_") and k != "existing_comment"}
    if "nullable" in existing["changes"]:
        target["nullable"] = column.nullable
    if "server_default" in existing["changes"]:
        target["server_default"] = getattr(column.server_default, "arg", None)
    if "type" in existing["changes"]:
        target["type_"] = column.type
        target["postgresql_using"] = f"\"{column.name}\" AT TIME ZONE 'UTC'"
    return target


def _fill_nulls(conn: Connection, table: Table, column: Column[Any]) -> None:
    """Old rows of a column added by ``ALTER TABLE`` got its default, but a NULL written since would block."""
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        value = getattr(default, "arg", None)
        conn.execute(table.update().where(column.is_(None)).values({column.name: value}))
