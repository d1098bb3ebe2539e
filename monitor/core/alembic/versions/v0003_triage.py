"""Triage: alerts gain threads, rules, payload and handling state; storms, replies, Slack inbox, checkpoints.

Existing alerts get the counters and flags a new alert starts with (severity ``negative``, not broadcast,
state and synced version 0); the defaults that fill them go again afterwards, as the models set them.
``parent_id`` (a thread reply's parent alert) is a foreign key to ``alerts`` itself, so SQLite rebuilds the
table (commit 34ae5d6).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 12:33:08
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Columns that are NOT NULL in the model, with the value the existing rows take.
_FILLED: dict[str, tuple[sa.types.TypeEngine[Any], str | sa.TextClause | sa.ColumnElement[Any]]] = {
    "severity": (sa.String(length=16), "negative"),
    "broadcast": (sa.Boolean(), sa.false()),
    "state_version": (sa.Integer(), sa.text("0")),
    "synced_version": (sa.Integer(), sa.text("0")),
}


def _nullable_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("mention_version", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("suggested_reply", sa.Text(), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.String(length=200), nullable=True),
        sa.Column("handled_action", sa.String(length=32), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("assigned_by", sa.String(length=200), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("corrected_label", sa.String(length=16), nullable=True),
        sa.Column("corrected_by", sa.String(length=200), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("update_error", sa.Text(), nullable=True),
    ]


_INDEXED = ("target", "parent_id", "handled_at")


def upgrade() -> None:
    for name, (type_, fill) in _FILLED.items():
        op.add_column("alerts", sa.Column(name, type_, nullable=False, server_default=fill))
    for column in _nullable_columns():
        op.add_column("alerts", column)
    with op.batch_alter_table("alerts") as batch:
        # Named as PostgreSQL names the unnamed key of a fresh database (batch mode needs a name).
        parent = sa.ForeignKey("alerts.id", name="alerts_parent_id_fkey")
        batch.add_column(sa.Column("parent_id", sa.Integer(), parent, nullable=True))
        for name, (type_, _fill) in _FILLED.items():
            batch.alter_column(name, existing_type=type_, existing_nullable=False, server_default=None)
        for name in _INDEXED:
            batch.create_index(f"ix_alerts_{name}", [name])

    op.create_table(
        "storms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quiet_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_count", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("peak_count", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_storms_closed_at", "storms", ["closed_at"])
    op.create_index("ix_storms_target", "storms", ["target"])
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("embedding", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_replies_alert_id", "replies", ["alert_id"])
    op.create_index("ix_replies_mention_id", "replies", ["mention_id"])
    op.create_table(
        "slack_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("request_ts", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("signature"),
    )
    op.create_index("ix_slack_requests_status", "slack_requests", ["status"])
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    op.drop_index("ix_slack_requests_status", table_name="slack_requests")
    op.drop_table("slack_requests")
    op.drop_index("ix_replies_mention_id", table_name="replies")
    op.drop_index("ix_replies_alert_id", table_name="replies")
    op.drop_table("replies")
    op.drop_index("ix_storms_target", table_name="storms")
    op.drop_index("ix_storms_closed_at", table_name="storms")
    op.drop_table("storms")
    with op.batch_alter_table("alerts") as batch:
        for name in _INDEXED:
            batch.drop_index(f"ix_alerts_{name}")
        for name in [*(c.name for c in _nullable_columns()), *_FILLED, "parent_id"]:
            batch.drop_column(name)
