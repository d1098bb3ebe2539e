"""Saved reply templates: agents' own replies per target, aspect and language, edited in the web pages.

``reply_templates`` holds one row per (target, aspect, language); ``""`` in ``target`` or ``aspect`` means
"any". A suggested reply uses the most specific template that exists (see
:mod:`alerts.reply_template_store`). The table starts empty: nothing changes until an agent saves one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-11 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("aspect", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("target", "aspect", "lang", name="uq_reply_template_key"),
    )


def downgrade() -> None:
    op.drop_table("reply_templates")
