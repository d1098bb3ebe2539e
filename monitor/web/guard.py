"""Who gets in and what every answer carries: the sign-in guard, security headers, the CSRF refusal page.

Why a middleware and not a dependency per route: the guard must also cover paths no route matches (an
unknown page still sends a signed-out visitor to the sign-in page, not a 404 that says what exists), and
the headers go on every response, error pages included. Public: the sign-in page, the health check,
static files and, when the app serves it, Slack's interactivity endpoint (Slack signs its requests; it
cannot sign in).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from monitor.web.auth import SESSION_COOKIE, credential_is_current, read_session, session_is_live
from monitor.web.context import WebContext
from monitor.web.csrf import CsrfError
from monitor.web.deps import UnknownItem, get_web, request_session

__all__ = ["PAGE_CSP", "REPORT_CSP", "csrf_rejected", "require_session"]

log = logging.getLogger(__name__)

PAGE_CSP: Final = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# A saved digest report: its own inline styles and data: images, nothing else, no scripts at all.
REPORT_CSP: Final = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
)


def _is_public(web: WebContext, path: str) -> bool:
    return path in web.public_paths or path.startswith("/static/")


async def require_session(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Nothing but the public paths without a live session; the session read here is what SessionDep gives."""
    web = get_web(request)
    session = read_session(request.cookies.get(SESSION_COOKIE), web.key, web.clock())
    # Signed and unexpired, but logged out, or signed in with a password or token changed since? Then it
    # is no session at all (a copied cookie included).
    if (
        session is not None
        and session.user is not None
        and (
            not credential_is_current(web.settings, web.key, session)
            or not await run_in_threadpool(session_is_live, web.engine, session)
        )
    ):
        session = None
    request.state.session = session
    path = request.url.path
    public = _is_public(web, path)
    if not public and (session is None or session.user is None):
        if path.startswith("/export"):
            return JSONResponse({"error": "sign in first"}, status_code=401)
        if request.method in ("GET", "HEAD"):
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return web.error_page(
            request, session, 401, "Sign in first", "Your session has ended; sign in again."
        )
    response = await call_next(request)
    if not path.startswith("/digests/"):
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if not public:
        response.headers["Cache-Control"] = "no-store"
    return response


async def csrf_rejected(request: Request, exc: Exception) -> Response:
    """A POST that failed the CSRF check: 403 with the reason, logged."""
    log.warning("CSRF check failed for %s %s: %s", request.method, request.url.path, exc)
    web, session = get_web(request), request_session(request)
    # The reader's saved language is a database read: off the event loop, as the session check above.
    message, values = (exc.message, exc.values) if isinstance(exc, CsrfError) else (str(exc), {})
    reason = await run_in_threadpool(web.t, request, session, message, **values)
    return await run_in_threadpool(
        web.error_page,
        request,
        session,
        403,
        "Request refused",
        "This form cannot be accepted: %(reason)s. Go back and reload.",
        reason=reason,
    )


async def unknown_item(request: Request, exc: Exception) -> Response:
    """An item id with no mention behind it, on the page or any action: 404 with the reason."""
    mention_id = exc.mention_id if isinstance(exc, UnknownItem) else "?"
    return await run_in_threadpool(
        get_web(request).error_page,
        request,
        request_session(request),
        404,
        "No such item",
        "There is no mention %(id)s.",
        id=str(mention_id),
    )
