"""Slack request signing (v0): prove that an interactivity request really comes from Slack, recently.

Slack signs every request it sends to an app with the app's signing secret::

    X-Slack-Request-Timestamp: 1531420618
    X-Slack-Signature: v0=<hex HMAC-SHA256(secret, b"v0:" + timestamp + b":" + raw body)>

Anyone who can reach the endpoint could otherwise click "Mark handled" for every alert, or replay a
captured click later. The signature covers the raw body byte for byte, so it is checked before the body
is parsed; the timestamp must lie within :data:`MAX_AGE_SECONDS` of our clock (in either direction), so a
captured request stops working after five minutes (the endpoint's replay table covers those five).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

__all__ = [
    "MAX_AGE_SECONDS",
    "VERSION",
    "BadSignatureFormat",
    "BadTimestamp",
    "MissingHeaders",
    "SignatureError",
    "SignatureMismatch",
    "StaleTimestamp",
    "sign",
    "verify_slack_signature",
]

VERSION: Final = "v0"
MAX_AGE_SECONDS: Final = 300
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureError(ValueError):
    """The request is not a valid signed Slack request; the message says why (never the secret)."""


class MissingHeaders(SignatureError):
    """X-Slack-Request-Timestamp or X-Slack-Signature is absent."""


class BadTimestamp(SignatureError):
    """The timestamp header is not a whole number of seconds."""


class StaleTimestamp(SignatureError):
    """The timestamp is more than :data:`MAX_AGE_SECONDS` away from now (old, replayed or skewed)."""


class BadSignatureFormat(SignatureError):
    """The signature header is not ``v0=`` followed by 64 lowercase hex digits."""


class SignatureMismatch(SignatureError):
    """The signature does not match the body and timestamp (tampered, or a different secret)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack would send for ``body`` at ``timestamp`` (tests and tools)."""
    basestring = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode("utf-8"), basestring, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def verify_slack_signature(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> None:
    """Return quietly when ``signature`` is Slack's for ``body`` at a ``timestamp`` near ``now``; else raise.

    The order of checks matters only for the reason reported: every failure is a :class:`SignatureError`.
    The comparison is constant-time so the signature cannot be guessed byte by byte from response times.
    """
    if not timestamp or not signature:
        missing = [
            name
            for name, value in (("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", signature))
            if not value
        ]
        raise MissingHeaders(f"missing header(s): {', '.join(missing)}")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise BadTimestamp("X-Slack-Request-Timestamp is not a whole number of seconds")
    age = now - int(timestamp)
    if abs(age) > MAX_AGE_SECONDS:
        direction = "old" if age > 0 else "in the future"
        raise StaleTimestamp(
            f"request timestamp is {abs(age):.0f} s {direction} (allowed: {MAX_AGE_SECONDS} s); "
            "a replay, or this machine's clock is wrong"
        )
    if not _SIGNATURE.fullmatch(signature):
        raise BadSignatureFormat("X-Slack-Signature is not 'v0=' followed by 64 hex digits")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        raise SignatureMismatch("signature does not match the body (tampered, or a different signing secret)")
