"""Star-rating fusion: a score says where its label came from and keeps what the text alone said.

``label_source`` is ``text`` for every score made before the fusion (and keeps that server default, as
the model declares it); ``text_label`` and ``text_score`` stay empty for them (commits 5209411, eabd17b).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 13:40:24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sentiment_scores",
        sa.Column("label_source", sa.String(length=16), nullable=False, server_default="text"),
    )
    op.add_column("sentiment_scores", sa.Column("text_label", sa.String(length=16), nullable=True))
    op.add_column("sentiment_scores", sa.Column("text_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sentiment_scores") as batch:
        batch.drop_column("text_score")
        batch.drop_column("text_label")
        batch.drop_column("label_source")
