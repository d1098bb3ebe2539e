"""Inbox at a million mentions: sort indexes and a search index over folded words.

Creates what :mod:`monitor.core.inbox_schema` describes: indexes on the inbox's sort expression
(``coalesce(created_at, first_seen_at)``, alone and after ``source`` / ``target_id``) and on the scores it
joins; the search index (SQLite FTS5, PostgreSQL ``tsvector`` + GIN), its queue and the triggers that keep
both in step with ``mentions``. Every stored mention is queued: the words are written by ``earshot db
upgrade`` (or a little at each search), and until then a queued mention is a candidate of every search, so
nothing is missed meanwhile. A SQLite without FTS5 stops the upgrade with a message saying what to use.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

from alembic import op

from monitor.core import inbox_schema

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    inbox_schema.install(conn)
    inbox_schema.enqueue_all(conn)


def downgrade() -> None:
    inbox_schema.uninstall(op.get_bind())
