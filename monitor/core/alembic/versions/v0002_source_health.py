"""Source health and agents' corrections: alerts without a mention, score urgency and aspects.

A source-health alert names a ``source`` and has no mention, so ``alerts.mention_id`` becomes nullable
(SQLite rebuilds the table in batch mode). Scores gain ``urgency`` (existing scores read as ``none``, the
scorer's own default), ``urgency_reasons`` and ``aspects``; ``sentiment_corrections`` is new (commit f52b74a).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:29:50
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sentiment_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("mention_version", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("previous_label", sa.String(length=16), nullable=True),
        sa.Column("model_name", sa.String(length=200), nullable=True),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("corrected_by", sa.String(length=200), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sentiment_corrections_mention_id", "sentiment_corrections", ["mention_id"])

    # The default fills the rows already there; the model gives new rows their value, so it goes again.
    op.add_column(
        "sentiment_scores", sa.Column("urgency", sa.String(length=16), nullable=False, server_default="none")
    )
    op.add_column("sentiment_scores", sa.Column("urgency_reasons", sa.JSON(), nullable=True))
    op.add_column("sentiment_scores", sa.Column("aspects", sa.JSON(), nullable=True))
    with op.batch_alter_table("sentiment_scores") as batch:
        batch.alter_column(
            "urgency", existing_type=sa.String(length=16), existing_nullable=False, server_default=None
        )
        batch.create_index("ix_sentiment_scores_urgency", ["urgency"])

    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("source", sa.String(length=64), nullable=True))
        batch.alter_column("mention_id", existing_type=sa.Integer(), nullable=True)
        batch.create_index("ix_alerts_source", ["source"])


def downgrade() -> None:
    # Source-health alerts cannot exist without a mention in the older shape.
    op.execute("DELETE FROM alerts WHERE mention_id IS NULL")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_source")
        batch.alter_column("mention_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("source")
    with op.batch_alter_table("sentiment_scores") as batch:
        batch.drop_index("ix_sentiment_scores_urgency")
        batch.drop_column("aspects")
        batch.drop_column("urgency_reasons")
        batch.drop_column("urgency")
    op.drop_index("ix_sentiment_corrections_mention_id", table_name="sentiment_corrections")
    op.drop_table("sentiment_corrections")
