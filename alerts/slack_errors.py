"""What a failed Slack call means for the caller, and keeping the bot token out of every message.

The outbox needs three answers from a failed call, not a zoo of SDK and socket exceptions:

* :class:`SlackRateLimited` - Slack said "not now" (HTTP 429 / ``ratelimited``) and for how long;
* :class:`SlackTransientError` - Slack or the network is unwell (5xx, refused, reset, timeout): retry later;
* :class:`SlackPermanentError` - retrying cannot help (bad token, unknown channel, bot not invited): the
  message says what a person must change.

Errors are built from Slack's error code and the HTTP status, never from ``str()`` of SDK objects, and
pass through :func:`redact_token`, so the token cannot leak into ``alerts.last_error``, logs or
tracebacks. The sorting lives apart from the senders (:mod:`alerts.slack_sender`) because the outbox,
the message sync, the button handlers, the digest and the web pages all catch these errors without
needing a client.
"""

from __future__ import annotations

import math
import re

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "SlackError",
    "SlackPermanentError",
    "SlackRateLimited",
    "SlackTransientError",
    "classify_api_error",
    "describe_network_error",
    "permanent_hint",
    "redact_token",
]

DEFAULT_RETRY_AFTER = 30.0  # seconds, when a 429 comes without a usable Retry-After header

_TOKEN_SHAPE = re.compile(r"xox[a-z]-[A-Za-z0-9-]+")

# Slack's documented server-side transient errors ("It's possible some aspect of the operation
# succeeded" - so a retry must look the message up first, which the outbox does).
_TRANSIENT_CODES = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
_RATE_LIMIT_CODES = frozenset({"ratelimited", "rate_limited"})
# Errors that no alert can get past: the pass should stop instead of failing every alert in turn.
_GLOBAL_CODES = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "no_permission",
        "org_login_required",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
_TOKEN_HINT = (
    "Slack rejected the bot token: set EARSHOT_SLACK__BOT_TOKEN to the app's current Bot User OAuth "
    "Token (xoxb-...); alerts wait and are retried with backoff, and any that ran out of attempts are "
    "retried by `earshot alerts requeue`."
)


class SlackError(Exception):
    """A Slack call failed; the message is safe to store and log (no token)."""


class SlackRateLimited(SlackError):
    """Slack answered 429 / ``ratelimited``; wait ``retry_after`` seconds before the next call."""

    def __init__(self, retry_after: float, method: str) -> None:
        self.retry_after = retry_after
        super().__init__(f"Slack rate-limited {method}; retry after {retry_after:g}s")


class SlackTransientError(SlackError):
    """Slack or the network failed in a way that may pass (5xx, refused, reset, timeout)."""


class SlackPermanentError(SlackError):
    """Slack refused for a reason a retry cannot fix; ``code`` is Slack's error, the message the fix.

    ``global_failure`` is true when every other call would fail the same way (bad token, missing
    scope), so the outbox stops the pass instead of failing all pending alerts.
    """

    def __init__(self, code: str, message: str, *, global_failure: bool = False) -> None:
        self.code = code
        self.global_failure = global_failure
        super().__init__(f"{code}: {message}")


def redact_token(text: str, token: SecretStr | str | None = None) -> str:
    """``text`` with the given token and anything shaped like a Slack token replaced by ``xox?-***``."""
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    if secret:
        text = text.replace(secret, "xox?-***")
    return _TOKEN_SHAPE.sub("xox?-***", text)


def permanent_hint(code: str, channel: str | None, needed: str | None) -> str:
    """What a person must change after Slack's permanent error ``code`` (for ``channel``, scope ``needed``)."""
    where = channel or "the channel"
    hints = {
        "channel_not_found": f"Slack has no channel {where} visible to the bot: create it, invite the bot to "
        "it if it is private, or set EARSHOT_SLACK__DEFAULT_CHANNEL to an existing channel.",
        "not_in_channel": f"the Earshot bot is not a member of {where}: invite the bot to {where} "
        "(`/invite @<bot name>` there) and run `earshot alerts requeue`.",
        "is_archived": f"{where} is archived: unarchive it or set EARSHOT_SLACK__DEFAULT_CHANNEL to another "
        "channel.",
        "missing_scope": f"the Slack app lacks the scope {needed or '(see the app settings)'}: add it under "
        "OAuth & Permissions (chat:write to post; channels:history, groups:history and channels:read for "
        "duplicate checks), reinstall the app and run `earshot alerts requeue`.",
        "restricted_action": f"a workspace setting stops the bot from posting in {where}: ask a Slack admin "
        "or choose another channel.",
    }
    if code in hints:
        return hints[code]
    if code in _GLOBAL_CODES:
        return _TOKEN_HINT
    return (
        f"Slack rejected the request with '{code}', which retrying cannot fix; see Slack's error list for "
        "the method. If it names the message format (blocks, metadata, text) please report an Earshot bug."
    )


def _retry_after(response: SlackResponse) -> float:
    headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
    raw = headers.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        value = float(raw) if raw is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
    return value if math.isfinite(value) and value >= 0 else DEFAULT_RETRY_AFTER


def classify_api_error(err: SlackApiError, method: str, channel: str | None, token: SecretStr) -> SlackError:
    """Map Slack's answer to what the outbox should do; messages come from codes, never from the response."""
    response: SlackResponse = err.response
    status = int(response.status_code or 0)
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or f"http_{status}")
    if status == 429 or code in _RATE_LIMIT_CODES:
        return SlackRateLimited(_retry_after(response), method)
    if status >= 500 or code in _TRANSIENT_CODES:
        label = f"HTTP {status}" if status >= 500 else code
        return SlackTransientError(f"Slack {method} failed with {label}; will retry")
    needed = data.get("needed") if isinstance(data.get("needed"), str) else None
    hint = redact_token(permanent_hint(code, channel, needed), token)
    return SlackPermanentError(redact_token(code, token), hint, global_failure=code in _GLOBAL_CODES)


def describe_network_error(err: BaseException) -> str:
    """The exception's type and reason (``URLError: [Errno 111] Connection refused``), for an error message."""
    reason = getattr(err, "reason", None)
    return f"{type(err).__name__}: {reason if reason is not None else err}"
