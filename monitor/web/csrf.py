"""CSRF protection for every POST: a per-session token in the form, and the Origin / Referer host.

Why both: the token (an HMAC of the session id) is what stops a forged form, since another site cannot
read it; the Origin / Referer check is a second, cheap line that also catches a token leaked into a page
on another host. A request without Origin or Referer (some privacy settings strip them) is judged by the
token alone.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

from monitor.web.auth import Session

__all__ = ["CsrfError", "check_csrf"]


class CsrfError(Exception):
    """A POST that may not be the user's own: the message says which check failed (shown on the 403).

    ``message`` is the web catalogue's English msgid and ``values`` fill its placeholders, so the 403 page
    can translate it; ``str()`` is the filled English text, for the log.
    """

    def __init__(self, message: str, **values: str) -> None:
        self.message, self.values = message, values
        super().__init__(message % values if values else message)


def _same_host(url: str, hosts: set[str]) -> bool:
    """Whether ``url``'s host (and port) is one this app is reached at."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() in hosts


def check_csrf(
    session: Session | None,
    key: bytes,
    form_token: str | None,
    headers: Mapping[str, str],
    public_host: str | None = None,
) -> None:
    """Raise :class:`CsrfError` unless the form's token is this session's and the request came from here.

    "Here" is the request's ``Host`` or ``public_host`` (public_url's, for a reverse proxy that rewrites
    Host).
    """
    if session is None:
        raise CsrfError("no session: the page was open too long or cookies are blocked; reload it")
    if not form_token:
        raise CsrfError("the form carried no CSRF token")
    if not hmac.compare_digest(form_token.encode("utf-8", "replace"), session.csrf_token(key).encode()):
        raise CsrfError("the form's CSRF token does not belong to this session; reload the page")
    hosts = {h.lower() for h in (headers.get("host"), public_host) if h}
    origin = headers.get("origin")
    if origin is not None:
        if not _same_host(origin, hosts):
            raise CsrfError("the form was sent from another site (%(origin)s)", origin=origin[:100])
        return
    referer = headers.get("referer")
    if referer is not None and not _same_host(referer, hosts):
        raise CsrfError("the form was sent from another site (Referer)")
