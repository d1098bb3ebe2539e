"""Insert a row once, however many alert passes try at the same moment.

Why: two alert loops may run at once (two ``earshot run`` processes, a manual ``earshot alerts send``),
and both may decide the same thing: the same alert, the same storm, the same escalation. No SELECT
beforehand can stop that, because both SELECTs run before either INSERT; the database's unique key
(``alerts.dedupe_key``, ``checkpoints.name``) is what lets exactly one row in. The loser's INSERT fails
with an ``IntegrityError``, and that failure means "already done", not "broken".

The INSERT runs inside a SAVEPOINT (``session.begin_nested()``), so the failure rolls back only this row:
the caller's transaction stays usable, and the caller decides what else the lost race undoes (storms and
escalations roll back their whole transaction; enqueueing just counts the row as stored before). An
``IntegrityError`` for any other reason (a foreign key to a row that vanished) is re-raised: only a row
with the same key, now visible, proves that the other pass won.

On SQLite, pysqlite opens no transaction before a SAVEPOINT, so in a session that has not written yet
the SAVEPOINT is the whole transaction; that is enough for a caller that inserts just this row. A caller
whose lost race must also undo other writes opens its transaction first
(:func:`monitor.core.db.write_session`, or an UPDATE before the insert), as the storm and SLA passes do.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

__all__ = ["insert_once"]


def insert_once(session: Session, row: SQLModel, key: str = "dedupe_key") -> bool:
    """Insert ``row`` in a SAVEPOINT; ``False`` (row discarded) when a row with its unique ``key`` exists.

    ``key`` names the unique column that identifies the decision (``dedupe_key`` for alerts). The row
    is flushed, not committed: the caller commits. Any other ``IntegrityError`` propagates.
    """
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        column = getattr(type(row), key)
        stored = session.exec(select(column).where(column == getattr(row, key)).limit(1)).first()
        if stored is None:
            raise  # not the unique key (e.g. the row it refers to vanished): a real error
        return False
    return True
