"""What the routes share, built once per app: settings, database, clock, session key, templates, Slack sync.

Why one object: the routes are module-level functions (one router per resource) and get everything they
need through :mod:`monitor.web.deps`; the app factory builds a :class:`WebContext` (the pages) and a
:class:`SlackContext` (the interactivity endpoint) and keeps them on ``app.state``, so two apps in one
process (tests, ``earshot run``) never share state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from alerts.interactivity import InteractivityWorker
from alerts.message_sync import sync_updates
from alerts.slack_errors import SlackError
from alerts.slack_sender import AlertSender
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind
from monitor.core.timeutil import as_utc
from monitor.web.auth import (
    SESSION_COOKIE,
    Session,
    WebConfigError,
    load_session_key,
    read_payload,
    sign_payload,
    sign_session,
)
from monitor.web.throttle import LoginThrottle

__all__ = ["FLASH_COOKIE", "HERE", "Clock", "SenderFactory", "SlackContext", "WebContext"]

log = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
FLASH_COOKIE: Final = "earshot_flash"

Clock = Callable[[], datetime]
SenderFactory = Callable[[EarshotSettings], AlertSender]


@dataclass(frozen=True)
class SlackContext:
    """The interactivity endpoint's parts; ``verifier`` is None while no signing secret is set."""

    settings: EarshotSettings
    engine: Engine
    worker: InteractivityWorker
    verifier: SignatureVerifier | None


def _stars(rating: float | None) -> str:
    if rating is None:
        return ""
    full = max(0, min(5, round(rating)))
    return "★" * full + "☆" * (5 - full)


class WebContext:
    """The pages' settings, session key, templates and Slack sync; one per app."""

    def __init__(
        self,
        settings: EarshotSettings,
        engine: Engine,
        clock: Clock,
        sender_factory: SenderFactory,
        *,
        public_paths: Iterable[str] = (),
    ) -> None:
        """``public_paths``: served without signing in, besides ``/login``, ``/healthz`` and static files."""
        web = settings.web
        has_token = web.shared_token is not None and bool(web.shared_token.get_secret_value())
        if not web.users and not has_token:
            raise WebConfigError(
                "the web pages need someone who can sign in: set EARSHOT_WEB__SHARED_TOKEN, or add "
                "[[web.users]] entries (username + password_hash from `earshot web hash-password`)"
            )
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.sender_factory = sender_factory
        self._sender: AlertSender | None = None
        self._sender_lock = threading.Lock()
        self.key = load_session_key(settings)
        self.throttle = LoginThrottle(engine, clock)
        self.has_token = has_token
        self.has_users = bool(web.users)
        self.public_paths = frozenset(("/login", "/healthz", *public_paths))
        public = urlsplit(settings.public_url)
        self.secure = public.scheme == "https"
        self.public_host = public.netloc or None
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["localtime"] = self._localtime
        self.env.filters["stars"] = _stars

    # -- pages ---------------------------------------------------------------------------------------

    def _localtime(self, moment: datetime | None) -> str:
        if moment is None:
            return "–"
        local = as_utc(moment).astimezone(ZoneInfo(self.settings.digest.timezone))
        return local.strftime("%Y-%m-%d %H:%M")

    def render(
        self, request: Request, session: Session | None, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A template with the user, the session's CSRF token and a pending flash message (then cleared)."""
        flash = self._pop_flash(request)
        html = self.env.get_template(name).render(
            user=session.user if session else None,
            csrf_token=session.csrf_token(self.key) if session else "",
            flash=flash,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def error_page(
        self, request: Request, session: Session | None, status: int, title: str, message: str
    ) -> HTMLResponse:
        return self.render(request, session, "error.html", status=status, title=title, message=message)

    def set_session(self, response: Response, session: Session) -> None:
        max_age = max(1, int((session.expires - self.clock()).total_seconds()))
        response.set_cookie(
            SESSION_COOKIE,
            sign_session(session, self.key),
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )

    def flash(self, response: Response, message: str, kind: str = "ok") -> None:
        """A one-time message shown by the next page (signed, so no one can plant text in it)."""
        value = sign_payload({"typ": "flash", "kind": kind, "message": message}, self.key)
        response.set_cookie(
            FLASH_COOKIE, value, max_age=60, path="/", httponly=True, samesite="lax", secure=self.secure
        )

    def _pop_flash(self, request: Request) -> dict[str, str] | None:
        data = read_payload(request.cookies.get(FLASH_COOKIE), self.key)
        message = data.get("message") if data is not None else None
        if data is None or data.get("typ") != "flash" or not isinstance(message, str):
            return None
        return {"kind": "error" if data.get("kind") == "error" else "ok", "message": message}

    def back_to_item(self, mention_id: int, message: str, kind: str = "ok") -> RedirectResponse:
        response = RedirectResponse(f"/items/{mention_id}", status_code=303)
        self.flash(response, message, kind)
        return response

    # -- alerts --------------------------------------------------------------------------------------

    def main_alert(self, mention_id: int) -> Alert | None:
        """The alert the item page's buttons act on: the newest item alert of the mention."""
        with DbSession(self.engine) as db:
            return db.exec(
                select(Alert)
                .where(Alert.mention_id == mention_id, col(Alert.kind).in_(AlertKind.ITEM_KINDS))
                .order_by(col(Alert.id).desc())
            ).first()

    def sync_slack(self, alert_id: int) -> None:
        """Re-render the alert's Slack message; a Slack or database problem is logged, never raised."""
        try:
            with self._sender_lock:
                if self._sender is None:
                    self._sender = self.sender_factory(self.settings)
                sender = self._sender
            sync_updates(self.engine, self.settings, sender, alert_ids=[alert_id])
        except (SlackError, SQLAlchemyError, OSError) as exc:
            log.warning("could not update the Slack message of alert %s: %s", alert_id, type(exc).__name__)
