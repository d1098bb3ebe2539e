"""Errors the command line reports as one line, kept apart so catching them imports nothing heavy.

Why a module of its own: ``earshot`` catches :class:`DatabaseError` around every command, and importing it
from :mod:`monitor.core.db` would load SQLAlchemy and SQLModel (0.2 s) for commands that never open a
database (``earshot model predict``).
"""

from __future__ import annotations

__all__ = ["DatabaseError"]


class DatabaseError(Exception):
    """The database cannot be opened or reached; the message says which URL and what to check."""
