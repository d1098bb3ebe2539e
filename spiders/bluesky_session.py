"""Bluesky sessions as plain data: reading createSession / refreshSession answers and XRPC errors.

Shared by the spider (which refreshes its session mid-run and between runs) and ``earshot auth bluesky``
(which logs in once), without Scrapy, so the command line does not load it at start.

``POST /xrpc/com.atproto.server.createSession`` (``identifier`` + app password) and
``POST /xrpc/com.atproto.server.refreshSession`` (``Authorization: Bearer <refreshJwt>``, no body) both
answer ``{"accessJwt", "refreshJwt", "handle", "did", ...}``; each refresh rotates the refreshJwt. Errors
are ``{"error", "message"}`` (``ExpiredToken``, ``InvalidToken``, ``AuthenticationRequired``...).
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.core.credentials import auth_command
from monitor.core.source_settings import source_env_var
from spiders.auth_answers import answer_object, answer_text, error_answer, keys_of
from spiders.errors import MalformedResponse

SOURCE = "bluesky"
AUTH_COMMAND = auth_command(SOURCE) or "earshot auth bluesky"
IDENTIFIER_ENV = source_env_var(SOURCE, "identifier")
PASSWORD_ENV = source_env_var(SOURCE, "app_password")
CREATE_SESSION = "/xrpc/com.atproto.server.createSession"
REFRESH_SESSION = "/xrpc/com.atproto.server.refreshSession"
# What the credential store keeps for Bluesky (``earshot auth bluesky`` writes them, every session rotates).
REFRESH_KEY, IDENTIFIER_KEY, PASSWORD_KEY, DID_KEY = "refresh_jwt", "identifier", "app_password", "did"


@dataclass(frozen=True)
class Session:
    """A createSession or refreshSession answer: the tokens and whose they are."""

    access_jwt: str
    refresh_jwt: str
    did: str
    handle: str


def parse_session_tokens(body: bytes) -> Session:
    """Both JWTs (and the account) of a session answer, or MalformedResponse (never quoting a token)."""
    data = answer_object(body, SOURCE)
    tokens = {name: data.get(name) for name in ("accessJwt", "refreshJwt")}
    for name, token in tokens.items():
        if not isinstance(token, str) or not token.strip():
            raise MalformedResponse(SOURCE, f"no {name} in the session ({keys_of(data)})")
    did, handle = data.get("did"), data.get("handle")
    return Session(
        str(tokens["accessJwt"]).strip(),
        str(tokens["refreshJwt"]).strip(),
        did if isinstance(did, str) else "",
        handle if isinstance(handle, str) else "",
    )


def parse_xrpc_error(body: bytes) -> tuple[str, str]:
    """``(error, message)`` from an XRPC error body ``{"error", "message"}``, or a proxy's page."""
    data = error_answer(body)
    if data is not None and isinstance(data.get("error"), str):
        message = data.get("message")
        return data["error"][:100], str(message if isinstance(message, str) else data["error"])[:500]
    return "", answer_text(body)


def session_expired(status: int, code: str) -> bool:
    """Whether an XRPC error means the accessJwt expired (or was revoked): refresh, then retry once."""
    return status == 401 or code == "ExpiredToken"
