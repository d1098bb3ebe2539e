"""Source credentials: each source's renewable secrets (OAuth client, rotated refresh token), encrypted.

``source_credentials`` holds one row per source with a Fernet token (:mod:`monitor.core.credentials`);
nothing in it is readable without EARSHOT_SECRET_KEY. It starts empty: ``earshot auth <source>`` fills it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("source_credentials")
