"""The one error of the digest, at the bottom of the package so every module can raise it.

A :class:`DigestError` is a request the digest cannot honour (a malformed week, an unknown target, time zone
or language); the CLI turns it into a usage error, so its message always says what to write instead.
"""

from __future__ import annotations

__all__ = ["DigestError"]


class DigestError(Exception):
    """The digest cannot be made as asked (a malformed week, an unknown target or time zone)."""
