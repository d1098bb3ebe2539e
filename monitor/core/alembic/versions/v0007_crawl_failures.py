"""Crawl failures in words, and runs left open by a killed process.

``crawl_runs`` gains ``failure`` (a short code: connection_refused, dns, timeout, http_5xx, http_4xx, auth,
malformed, crashed...) and ``failure_detail`` (one sentence), so `earshot crawl` and `earshot sources` can
say why a source fails; and ``pid``/``host`` of the process recording the run, so a run whose process was
killed mid-way (no ``finished_at``) is recognised and closed as ``crashed`` when the next crawl starts.
Existing rows keep NULL: their reason is read from ``finish_reason`` as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("crawl_runs", sa.Column("failure", sa.String(length=32), nullable=True))
    op.add_column("crawl_runs", sa.Column("failure_detail", sa.String(length=500), nullable=True))
    op.add_column("crawl_runs", sa.Column("pid", sa.Integer(), nullable=True))
    op.add_column("crawl_runs", sa.Column("host", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("host")
        batch.drop_column("pid")
        batch.drop_column("failure_detail")
        batch.drop_column("failure")
