"""Sign-in throttling: a few wrong guesses per account and per client address, then a growing lockout.

Why: without it, a password or the shared token can be guessed as fast as the server answers. Each
account (``user:<name>``, or ``token`` for the shared token) may fail :data:`ACCOUNT_LIMIT` times and each
client address :data:`ADDRESS_LIMIT` times (higher: an office behind one address is many people) within
:data:`WINDOW`; then attempts for it are refused, even with the right password, for
:data:`FIRST_LOCK_S` seconds, doubling with each further failure up to :data:`MAX_LOCK_S`. A success
clears the account's count. The counts live in the ``login_throttle`` table, so a restart forgets nothing.

Every attempt is counted as a failure *before* its password is checked (and taken back on success), all
under one lock: parallel guesses cannot slip past the limit while the slow scrypt check runs.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from monitor.core.backoff import backoff_delay
from monitor.core.models import LoginThrottle as ThrottleRow
from monitor.core.timeutil import as_utc

__all__ = [
    "ACCOUNT_LIMIT",
    "ADDRESS_LIMIT",
    "FIRST_LOCK_S",
    "MAX_LOCK_S",
    "WINDOW",
    "LoginThrottle",
    "Refusal",
    "account_key",
    "address_key",
]

ACCOUNT_LIMIT: Final = 5
ADDRESS_LIMIT: Final = 20
WINDOW: Final = timedelta(hours=1)  # a count is forgotten after this long without a failure
FIRST_LOCK_S: Final = 60.0
MAX_LOCK_S: Final = 15 * 60.0


def account_key(username: str, token: str) -> str:
    """The account an attempt is against: the shared token is one account, whatever name comes with it."""
    # NUL becomes U+FFFD: PostgreSQL cannot store it in the key column (a 500), and no user is named so.
    return "token" if token else f"user:{username[:200]}".replace("\x00", "\ufffd")


def address_key(host: str | None) -> str:
    return f"addr:{(host or 'unknown')[:200]}"


def _row(db: DbSession, key: str) -> ThrottleRow | None:
    return db.exec(select(ThrottleRow).where(ThrottleRow.key == key)).first()


@dataclass(frozen=True)
class Refusal:
    """An attempt refused during a lockout: retry after ``retry_after`` seconds (at ``until``)."""

    until: datetime
    retry_after: int


class LoginThrottle:
    """The throttle of one web app, over its database and clock."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock
        self._lock = threading.Lock()

    @staticmethod
    def _limit(key: str) -> int:
        return ADDRESS_LIMIT if key.startswith("addr:") else ACCOUNT_LIMIT

    def begin(self, keys: Sequence[str]) -> Refusal | None:
        """A :class:`Refusal` while any of ``keys`` is locked out; else count the attempt as failed (until
        :meth:`succeeded` says otherwise) and lock each key that reaches its limit."""
        now = self.clock()
        with self._lock, DbSession(self.engine) as db:
            db.execute(
                delete(ThrottleRow).where(
                    col(ThrottleRow.last_failure) < now - WINDOW,
                    or_(col(ThrottleRow.locked_until).is_(None), col(ThrottleRow.locked_until) < now),
                )
            )
            rows = {key: _row(db, key) for key in keys}
            until = max(
                (
                    as_utc(r.locked_until)
                    for r in rows.values()
                    if r is not None and r.locked_until is not None
                ),
                default=None,
            )
            if until is not None and until > now:
                db.commit()
                return Refusal(until, max(1, math.ceil((until - now).total_seconds())))
            for key, row in rows.items():
                if row is None or as_utc(row.last_failure) < now - WINDOW:
                    row = row or ThrottleRow(key=key)
                    row.failures = 0
                row.failures += 1
                row.last_failure = now
                over = row.failures - self._limit(key) + 1
                if over >= 1:
                    row.locked_until = now + timedelta(
                        seconds=backoff_delay(over, FIRST_LOCK_S, MAX_LOCK_S, jitter=0)
                    )
                db.add(row)
            db.commit()
        return None

    def succeeded(self, account: str, address: str) -> None:
        """The attempt :meth:`begin` counted was right: clear the account, take the address's count back."""
        with self._lock, DbSession(self.engine) as db:
            row = _row(db, account)
            if row is not None:
                db.delete(row)
            row = _row(db, address)
            if row is not None:
                row.failures = max(0, row.failures - 1)
                if row.failures < ADDRESS_LIMIT:
                    row.locked_until = None
                db.add(row)
            db.commit()
