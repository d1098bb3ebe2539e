"""Web preferences: what each web user chose for themselves, today the language of the pages.

``web_preferences`` holds one row per user who chose (the PL / EN buttons in the header), keyed by the
signed-in name; a user without a row gets the browser's Accept-Language, else ``web.language``. It starts
empty, so nothing changes for anyone until they choose.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )


def downgrade() -> None:
    op.drop_table("web_preferences")
