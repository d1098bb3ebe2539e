"""Inbox for daily work: tags on items, and the indexes of the reach, severity and SLA orders.

``mention_tags`` holds one row per (mention, tag), tag names normalised by the web pages (trimmed, lower
case, at most 40 characters); its ``tag`` index serves the inbox's tag filter. The inbox's new orders get
their indexes from :mod:`monitor.core.inbox_schema` (:data:`~monitor.core.inbox_schema.SORT_INDEXES`):
``install`` is idempotent, so it creates just those on a database that has the rest from 0008. The table
starts empty; nothing else changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.core import inbox_schema

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mention_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mention_id", "tag", name="uq_mention_tag"),
    )
    op.create_index("ix_mention_tags_tag", "mention_tags", ["tag"], unique=False)
    inbox_schema.install(op.get_bind())


def downgrade() -> None:
    inbox_schema.drop_sort_indexes(op.get_bind())
    op.drop_index("ix_mention_tags_tag", table_name="mention_tags")
    op.drop_table("mention_tags")
