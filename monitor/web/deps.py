"""The routes' dependencies, as typed ``Annotated[..., Depends(...)]`` aliases (FastAPI's own style).

A route asks for what it uses by type: ``settings: SettingsDep``, ``engine: EngineDep``, ``user:
CurrentUser``; ``_: CsrfChecked`` makes a POST refuse a forged form before the handler runs. Everything
comes from the app's :class:`~monitor.web.context.WebContext` / :class:`~monitor.web.context.SlackContext`
on ``app.state``, and the sign-in session from the guard (:mod:`monitor.web.guard`), which has already
turned away anyone not signed in from every page but the public ones.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Form, HTTPException, Path, Request
from sqlalchemy.engine import Engine

from monitor.core.config import EarshotSettings
from monitor.web.auth import Session
from monitor.web.context import SlackContext, WebContext
from monitor.web.csrf import check_csrf
from monitor.web.item import mention_exists
from monitor.web.openapi import ITEM_ID_BOUNDS

__all__ = [
    "CsrfChecked",
    "CurrentUser",
    "EngineDep",
    "KnownItem",
    "SessionDep",
    "SettingsDep",
    "SlackDep",
    "UnknownItem",
    "WebDep",
    "request_session",
]


def get_web(request: Request) -> WebContext:
    return cast(WebContext, request.app.state.web)


def get_slack(request: Request) -> SlackContext:
    return cast(SlackContext, request.app.state.slack)


WebDep = Annotated[WebContext, Depends(get_web)]
SlackDep = Annotated[SlackContext, Depends(get_slack)]


def get_settings(web: WebDep) -> EarshotSettings:
    return web.settings


def get_engine(web: WebDep) -> Engine:
    return web.engine


SettingsDep = Annotated[EarshotSettings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def request_session(request: Request) -> Session | None:
    """The session the guard read from this request's cookie (None: no valid cookie)."""
    return cast("Session | None", getattr(request.state, "session", None))


SessionDep = Annotated[Session | None, Depends(request_session)]


def get_current_user(session: SessionDep) -> str:
    """The signed-in user's name (the guard lets no one else reach a page that asks for it)."""
    if session is None or session.user is None:
        raise HTTPException(status_code=401, detail="sign in first")
    return session.user


CurrentUser = Annotated[str, Depends(get_current_user)]


_CSRF_FIELD = Form(description="The session's CSRF token, as the page's forms carry it (403 without).")


def check_form_csrf(
    request: Request, web: WebDep, session: SessionDep, csrf_token: Annotated[str, _CSRF_FIELD] = ""
) -> None:
    """Refuse a POST whose form token is not this session's or that came from another site."""
    check_csrf(session, web.key, csrf_token, request.headers, web.public_host)


CsrfChecked = Annotated[None, Depends(check_form_csrf)]


class UnknownItem(LookupError):
    """No mention behind an item id; the app answers 404 with its error page (:mod:`monitor.web.guard`)."""

    def __init__(self, mention_id: int) -> None:
        super().__init__(f"There is no mention {mention_id}.")
        self.mention_id = mention_id


# Described with the column's bounds, not validated by them: anything outside is a 404 like any unknown id.
_ITEM_ID = Path(description="A mention's id.", json_schema_extra=ITEM_ID_BOUNDS)


def known_item(mention_id: Annotated[int, _ITEM_ID], engine: EngineDep) -> int:
    """The path's item id, refused before the handler runs when no mention stands behind it.

    One check for the page and every action, so none can reach the database with an id that is unknown,
    zero, negative or too large for its integer column.
    """
    if not mention_exists(engine, mention_id):
        raise UnknownItem(mention_id)
    return mention_id


KnownItem = Annotated[int, Depends(known_item)]
