"""What the Google API spiders (Business Profile, Places, YouTube Data) read alike: error bodies and pages.

Google APIs answer errors with ``{"error": {"code", "message", "status", "details"}}`` (OAuth endpoints
with ``{"error": "...", "error_description"}``), and list pages with an optional ``nextPageToken``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spiders.errors import MalformedResponse
from spiders.responses import error_object, error_text, json_object


@dataclass(frozen=True)
class GoogleApiError:
    """The ``{"error": {"code", "message", "status"}}`` body Google APIs send with an HTTP error."""

    code: int
    status: str
    message: str
    reason: str = ""  # ErrorInfo.reason from "details", e.g. API_KEY_INVALID, when Google gives one


def _error_info_reason(details: Any) -> str:
    """The ``reason`` of the first google.rpc.ErrorInfo in an error's details (API_KEY_INVALID...)."""
    if not isinstance(details, list):
        return ""
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            return str(detail.get("reason") or "")[:100]
    return ""


def parse_google_error(body: bytes, http_status: int) -> GoogleApiError:
    """The error Google sent, tolerating non-JSON bodies (proxies) and OAuth-style error bodies."""
    data = error_object(body)
    error = data.get("error") if data is not None else None
    if isinstance(error, dict):
        code = error.get("code")
        return GoogleApiError(
            code if isinstance(code, int) and not isinstance(code, bool) else http_status,
            str(error.get("status") or ""),
            str(error.get("message") or "(no message)")[:500],
            _error_info_reason(error.get("details")),
        )
    if isinstance(error, str) and data is not None:  # OAuth: {"error": "invalid_token", ...}
        description = data.get("error_description")
        return GoogleApiError(http_status, error[:100], str(description or error)[:500])
    return GoogleApiError(http_status, "", error_text(body))


def list_page(body: bytes, source: str) -> tuple[dict[str, Any], str | None]:
    """A list response as a JSON object and its next page token (None on the last page), or MalformedResponse."""
    data = json_object(body, source)
    token = data.get("nextPageToken") or None
    if token is not None and not isinstance(token, str):
        raise MalformedResponse(source, "nextPageToken is not a string")
    return data, token
