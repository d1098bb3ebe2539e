"""Signing in and out: ``GET/POST /login`` and ``POST /logout``.

The sign-in page is public, so it is also where a visitor first gets a session (anonymous, for the form's
CSRF token); signing in replaces it with a new one, so a session id planted before sign-in is worthless.
Wrong guesses are throttled per account and per client address (:mod:`monitor.web.throttle`): during a
lockout every attempt, the right one too, gets 429 with ``Retry-After``. Logout deletes the session
server-side, so a copy of the cookie stops working too.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.web.auth import (
    SESSION_COOKIE,
    authenticate,
    credential_fingerprint,
    forget_session,
    new_session,
    remember_session,
)
from monitor.web.deps import CsrfChecked, SessionDep, SettingsDep, WebDep
from monitor.web.openapi import PUBLIC, html
from monitor.web.throttle import Refusal, account_key, address_key

__all__ = ["router", "safe_next"]

log = logging.getLogger(__name__)

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """A post-login destination on this site only (``/inbox?...``), never ``//evil`` or ``https://...``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/inbox"
    if any(ord(ch) < 32 for ch in target):
        return "/inbox"
    return target


safe_next = _safe_next  # the language buttons send their reader back the same careful way


def _login_page(
    request: Request,
    web: WebDep,
    session: SessionDep,
    next_url: str,
    status: int = 200,
    error: str | None = None,
    **values: str,
) -> Response:
    """The sign-in form; ``error`` is an English msgid shown in the reader's language, ``values`` filled."""
    fresh = session is None
    if session is None:
        session = new_session(None, web.clock(), web.settings.web.session_hours)
    if error is not None:
        error = web.t(request, session, error, **values)
    response = web.render(
        request,
        session,
        "login.html",
        status=status,
        next_url=_safe_next(next_url),
        error=error,
        has_token=web.has_token,
        has_users=web.has_users,
    )
    if fresh:
        web.set_session(response, session)
    return response


_NEXT = "Where to go after signing in: a path on this site (anything else goes to /inbox)."


@router.get("/login", response_class=HTMLResponse, tags=["sign-in"], openapi_extra={"security": PUBLIC})
def login_form(
    request: Request,
    web: WebDep,
    session: SessionDep,
    next: Annotated[str, Query(description=_NEXT)] = "/inbox",
) -> Response:
    return _login_page(request, web, session, next)


@router.post(
    "/login",
    response_class=HTMLResponse,
    tags=["sign-in"],
    openapi_extra={"security": PUBLIC},
    responses={
        303: {"description": "Signed in: a new session cookie, on to ``next``."},
        401: html("Wrong user name, password or token: the sign-in page again."),
        403: html("Refused: the form's CSRF token is not this session's, or it came from another site."),
        429: html("Too many failed sign-ins: the sign-in page with Retry-After."),
    },
)
def login(
    request: Request,
    _: CsrfChecked,
    web: WebDep,
    settings: SettingsDep,
    session: SessionDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form(description=_NEXT)] = "/inbox",
) -> Response:
    account = account_key(username.strip(), token.strip())
    address = address_key(request.client.host if request.client else None)
    refusal = web.throttle.begin((account, address))
    if refusal is not None:
        log.warning("web sign-in refused (locked out) for %r from %s", account[:64], address)
        return _locked_out(request, web, session, next, refusal)
    user = authenticate(settings, username.strip(), password, token.strip())
    if user is None:
        log.info("failed web sign-in for %r", username[:64])
        return _login_page(request, web, session, next, 401, "Wrong user name, password or token.")
    web.throttle.succeeded(account, address)
    log.info("web sign-in: %s", user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    credential = credential_fingerprint(settings, web.key, user, via_token=bool(token.strip()))
    signed_in = new_session(user, web.clock(), settings.web.session_hours, credential)
    remember_session(web.engine, signed_in, web.clock())
    web.set_session(response, signed_in)
    return response


def _locked_out(
    request: Request, web: WebDep, session: SessionDep, next_url: str, refusal: Refusal
) -> Response:
    """429 with ``Retry-After`` and the sign-in page saying when to try again."""
    wait = (
        f"{math.ceil(refusal.retry_after / 60)} min"
        if refusal.retry_after >= 60
        else f"{refusal.retry_after} s"
    )
    message = "Too many failed sign-ins. Try again in %(wait)s."
    response = _login_page(request, web, session, next_url, 429, message, wait=wait)
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


@router.post(
    "/logout",
    response_class=RedirectResponse,
    status_code=303,
    tags=["sign-in"],
    responses={403: html("Refused: the form's CSRF token is not this session's.")},
)
def logout(_: CsrfChecked, web: WebDep, session: SessionDep) -> Response:
    if session is not None:
        forget_session(web.engine, session.sid)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=web.secure, httponly=True, samesite="lax")
    return response
