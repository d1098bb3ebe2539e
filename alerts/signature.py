"""Slack request signing (v0): slack_sdk decides whether a request is Slack's; this module says why not.

Slack signs every request it sends to an app with the app's signing secret::

    X-Slack-Request-Timestamp: 1531420618
    X-Slack-Signature: v0=<hex HMAC-SHA256(secret, b"v0:" + timestamp + b":" + raw body)>

The HMAC, the constant-time compare and the five-minute window are :class:`slack_sdk.signature.
SignatureVerifier`'s, not a copy of ours. What is left here is what the SDK does not do: refuse malformed
headers before it sees them (it would accept ``+1700000000`` or crash on ``17e8``) and name the reason
for the log (missing header, stale or future timestamp, mismatch), so an operator can tell a replay from a
wrong secret from a skewed clock. The answer Slack gets is the same 401 whatever the reason.
"""

from __future__ import annotations

import re
from typing import Final

from slack_sdk.signature import Clock, SignatureVerifier

from monitor.core.config import EarshotSettings

__all__ = [
    "MAX_AGE_SECONDS",
    "BadSignatureFormat",
    "BadTimestamp",
    "MissingHeaders",
    "SignatureError",
    "SignatureMismatch",
    "StaleTimestamp",
    "make_verifier",
    "verify_request",
]

# SignatureVerifier.is_valid refuses a timestamp more than 5 minutes from its clock; used here only to
# name that reason in the log, never to decide.
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


def make_verifier(settings: EarshotSettings, clock: Clock | None = None) -> SignatureVerifier | None:
    """The verifier for ``slack.signing_secret``; None when no secret is set (or it is blank)."""
    secret = settings.slack.signing_secret
    value = secret.get_secret_value() if secret is not None else ""
    if not value.strip():
        return None
    return SignatureVerifier(value, clock=clock or Clock())


def verify_request(
    verifier: SignatureVerifier, timestamp: str | None, signature: str | None, body: bytes
) -> None:
    """Return quietly when the request is Slack's, signed at a ``timestamp`` near the verifier's clock.

    Otherwise raise the :class:`SignatureError` that names the reason. A body that is not UTF-8 cannot
    have been signed by Slack (and the SDK cannot check it), so it is a mismatch.
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
    if not _SIGNATURE.fullmatch(signature):
        raise BadSignatureFormat("X-Slack-Signature is not 'v0=' followed by 64 hex digits")
    try:
        valid = verifier.is_valid(body, timestamp, signature)
    except UnicodeDecodeError:
        raise SignatureMismatch("signature cannot match: the body is not UTF-8") from None
    if valid:
        return
    age = verifier.clock.now() - int(timestamp)
    if abs(age) > MAX_AGE_SECONDS:
        direction = "old" if age > 0 else "in the future"
        raise StaleTimestamp(
            f"request timestamp is {abs(age):.0f} s {direction} (allowed: {MAX_AGE_SECONDS} s); "
            "a replay, or this machine's clock is wrong"
        )
    raise SignatureMismatch("signature does not match the body (tampered, or a different signing secret)")
