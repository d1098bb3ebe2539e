"""Allegro's OAuth 2.0 endpoints as plain data: what to send and how to read the answer.

Shared by the spider (which renews the token mid-run) and ``earshot auth allegro`` (the device flow), so
both read Allegro's answers alike. No HTTP here: each caller sends with its own client (Scrapy, urllib).

Allegro's authorisation lives on the web host (``auth_url``, https://allegro.pl; the sandbox's is
https://allegro.pl.allegrosandbox.pl), not the API host. Every call authenticates the app with HTTP Basic
``client_id:client_secret``:

- ``POST {auth_url}/auth/oauth/device`` (form ``client_id``) starts the device flow: ``device_code``,
  ``user_code``, ``verification_uri`` (+ ``_complete``), ``interval`` and ``expires_in`` (Allegro sends the
  numbers as strings);
- ``POST {auth_url}/auth/oauth/token`` with ``grant_type=urn:ietf:params:oauth:grant-type:device_code`` and
  the ``device_code`` is polled until the user approves (``authorization_pending``, ``slow_down``,
  ``access_denied``, ``expired_token`` / ``invalid_grant`` otherwise);
- the same endpoint with ``grant_type=refresh_token`` renews the 12-hour access token. Allegro answers a
  new refresh token too, and the old one stops working: it must be stored before anything else.

The grant parameters go in the form body, not the query string, so no token ever appears in a URL that a
log line or a proxy records.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from monitor.core.credentials import auth_command
from monitor.core.timeutil import utcnow
from spiders.auth_answers import answer_object, answer_text, error_answer, keys_of
from spiders.errors import MalformedResponse

SOURCE = "allegro"
AUTH_COMMAND = auth_command(SOURCE) or "earshot auth allegro"
DEVICE_PATH = "/auth/oauth/device"
TOKEN_PATH = "/auth/oauth/token"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
FORM = "application/x-www-form-urlencoded"
# What the credential store keeps for Allegro (``earshot auth allegro`` writes them, the spider rotates them).
ACCESS_KEY, REFRESH_KEY, EXPIRES_KEY = "access_token", "refresh_token", "expires_at"


def basic_auth(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` header value that authenticates the app."""
    pair = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def endpoint(auth_url: str, path: str) -> str:
    return auth_url.rstrip("/") + path


def device_form(client_id: str) -> bytes:
    return urlencode({"client_id": client_id}).encode()


def device_token_form(device_code: str) -> bytes:
    return urlencode({"grant_type": DEVICE_GRANT, "device_code": device_code}).encode()


def refresh_form(refresh_token: str) -> bytes:
    return urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token}).encode()


def _seconds(value: Any) -> float | None:
    """A count of seconds sent as a number or, as Allegro does, as a string; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class TokenGrant:
    """A token endpoint's answer: the access token, the (rotated) refresh token, when the first expires."""

    access_token: str
    refresh_token: str
    expires_at: datetime | None

    def stored(self) -> dict[str, str]:
        """The values the credential store keeps (the expiry as ISO 8601, UTC)."""
        values = {ACCESS_KEY: self.access_token, REFRESH_KEY: self.refresh_token}
        if self.expires_at is not None:
            values[EXPIRES_KEY] = self.expires_at.isoformat()
        return values


def parse_token(body: bytes, now: datetime | None = None, *, keep_refresh: str | None = None) -> TokenGrant:
    """A token answer with ``access_token`` and ``refresh_token``, or MalformedResponse (never quoting one).

    A renewal that sends no new refresh token (no rotation) keeps ``keep_refresh``, the one it used.
    """
    data = answer_object(body, SOURCE)
    access, refresh = data.get("access_token"), data.get("refresh_token") or keep_refresh
    if not isinstance(access, str) or not access.strip():
        raise MalformedResponse(SOURCE, f"no access_token in the token answer ({keys_of(data)})")
    if not isinstance(refresh, str) or not refresh.strip():
        raise MalformedResponse(SOURCE, f"no refresh_token in the token answer ({keys_of(data)})")
    seconds = _seconds(data.get("expires_in"))
    expires = (now or utcnow()) + timedelta(seconds=seconds) if seconds is not None else None
    return TokenGrant(access.strip(), refresh.strip(), expires)


def stored_expiry(values: dict[str, str]) -> datetime | None:
    """The stored access token's expiry, or None when unknown (then a 401 tells)."""
    text = values.get(EXPIRES_KEY)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True)
class DeviceCode:
    """The start of a device flow: what the user opens and types, and how the app polls."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    interval: float
    expires_in: float


def parse_device_code(body: bytes) -> DeviceCode:
    """The device endpoint's answer, or MalformedResponse."""
    data = answer_object(body, SOURCE)
    fields = {name: data.get(name) for name in ("device_code", "user_code", "verification_uri")}
    missing = [name for name, value in fields.items() if not isinstance(value, str) or not value.strip()]
    if missing:
        raise MalformedResponse(SOURCE, f"no {', '.join(missing)} in the device answer ({keys_of(data)})")
    complete = data.get("verification_uri_complete")
    return DeviceCode(
        device_code=str(fields["device_code"]).strip(),
        user_code=str(fields["user_code"]).strip(),
        verification_uri=str(fields["verification_uri"]).strip(),
        verification_uri_complete=complete.strip()
        if isinstance(complete, str) and complete.strip()
        else None,
        interval=max(1.0, _seconds(data.get("interval")) or 5.0),
        expires_in=_seconds(data.get("expires_in")) or 3600.0,
    )


@dataclass(frozen=True)
class OAuthError:
    """``{"error", "error_description"}`` of the OAuth layer (``invalid_grant``, ``slow_down``...)."""

    error: str
    description: str


def parse_oauth_error(body: bytes) -> OAuthError:
    """The OAuth error of a refused token or device call; a non-JSON body (a proxy) gives its text."""
    data = error_answer(body)
    if data is None:
        return OAuthError("", answer_text(body))
    error = data.get("error")
    code = error[:100] if isinstance(error, str) else ""
    description = data.get("error_description") or data.get("message") or code or "(no message)"
    return OAuthError(code, str(description)[:500])
