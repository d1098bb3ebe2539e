"""The one HTTP call shape ``earshot auth`` needs: a POST to a token endpoint, its answer as status + body.

Why a module: the Allegro device flow and the Bluesky login both POST small bodies and read small JSON
answers, synchronously, from a terminal command; urllib is enough and adds no dependency. Redirects are
refused, so a secret is never re-sent to another address behind the user's back.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

TIMEOUT = 30.0
MAX_BODY = 1 << 20


class AuthHttpError(Exception):
    """The endpoint could not be reached; the message names it (never a secret)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER: Final = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT) -> Answer:
    """POST ``body``; an HTTP error status is an answer too, an unreachable host is AuthHttpError."""
    return _send(urllib.request.Request(url, data=body, method="POST", headers=headers), timeout)


def get(url: str, headers: dict[str, str], timeout: float = TIMEOUT) -> Answer:
    """GET ``url``, answered like :func:`post`."""
    return _send(urllib.request.Request(url, method="GET", headers=headers), timeout)


def _send(request: urllib.request.Request, timeout: float) -> Answer:
    request.add_header("User-Agent", "earshot/0.1 (auth)")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(response.status, response.read(MAX_BODY))
    except urllib.error.HTTPError as exc:
        try:
            return Answer(exc.code, exc.read(MAX_BODY) if exc.fp is not None else b"")
        finally:
            exc.close()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AuthHttpError(f"{request.full_url} could not be reached: {reason}") from None
