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
from functools import partial
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
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
from monitor.core.i18n import LANGUAGES, Language, format_datetime, format_number
from monitor.core.models import Alert, AlertKind
from monitor.web.auth import (
    SESSION_COOKIE,
    Session,
    WebConfigError,
    load_session_key,
    read_payload,
    sign_payload,
    sign_session,
)
from monitor.web.language import make_environment, pick_language, translate
from monitor.web.throttle import LoginThrottle
from sentiment.vocabulary import aspect_label

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


def _rating(rating: float, language: Language) -> str:
    """``4`` / ``4,5`` (Polish) / ``4.5``: a star rating as its reader writes a number."""
    return format_number(rating, language, 0 if float(rating).is_integer() else 1)


def _signed(value: float, language: Language) -> str:
    """A sentiment score with its sign and two decimals: ``-0,86`` (Polish) / ``+0.42``."""
    return ("-" if value < 0 else "+") + format_number(abs(value), language, 2)


def _here(request: Request) -> str:
    """This page's path and query, where the language buttons send their reader back to.

    A page that answered a POST (an error after a form) has no address to come back to: the inbox then.
    """
    if request.method not in ("GET", "HEAD"):
        return "/inbox"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


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
        # One environment per language (monitor.web.language says why); the pages pick one per request.
        self.envs = {language: make_environment(HERE / "templates", language) for language in LANGUAGES}
        for language, env in self.envs.items():
            env.filters["localtime"] = partial(self._localtime, language=language)
            env.filters["stars"] = _stars
            env.filters["stars_number"] = partial(_rating, language=language)
            env.filters["number"] = partial(format_number, language=language)
            env.filters["signed"] = partial(_signed, language=language)
            env.filters["aspect"] = partial(aspect_label, language=language)

    # -- pages ---------------------------------------------------------------------------------------

    def _localtime(self, moment: datetime | None, language: Language = "en") -> str:
        """``7 gru 2026, 09:36 CET``: in ``web.timezone``, the zone always shown (a bare time is a guess)."""
        if moment is None:
            return "–"
        return format_datetime(moment, language, self.settings.web.timezone)

    def language(self, request: Request, session: Session | None) -> Language:
        """The reader's language: their saved choice, else Accept-Language, else ``web.language``."""
        user = session.user if session is not None else None
        return pick_language(request, self.engine, user, self.settings.web.language)

    def t(self, request: Request, session: Session | None, message: str, **values: Any) -> str:
        """``message`` in the reader's language (:meth:`language`), placeholders filled."""
        return translate(self.language(request, session), message, values)

    def render(
        self, request: Request, session: Session | None, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A template in the reader's language with the user, CSRF token and pending flash (then cleared)."""
        language = self.language(request, session)
        flash = self._pop_flash(request, language)
        template = self.envs[language].get_template(name)
        html = template.render(
            user=session.user if session else None,
            csrf_token=session.csrf_token(self.key) if session else "",
            flash=flash,
            request_path=_here(request),
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def error_page(
        self,
        request: Request,
        session: Session | None,
        status: int,
        title: str,
        message: str,
        **values: Any,
    ) -> HTMLResponse:
        """An error page; ``title`` and ``message`` are English msgids, translated with ``values`` filled."""
        language = self.language(request, session)
        return self.render(
            request,
            session,
            "error.html",
            status=status,
            title=translate(language, title),
            message=translate(language, message, values),
        )

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

    def flash(self, response: Response, message: str, kind: str = "ok", **values: str) -> None:
        """A one-time message shown by the next page (signed, so no one can plant text in it).

        ``message`` is the English msgid and ``values`` fill its ``%(name)s`` placeholders: the next page
        translates it into its reader's language.
        """
        payload: dict[str, object] = {"typ": "flash", "kind": kind, "message": message}
        if values:
            payload["values"] = values
        value = sign_payload(payload, self.key)
        response.set_cookie(
            FLASH_COOKIE, value, max_age=60, path="/", httponly=True, samesite="lax", secure=self.secure
        )

    def _pop_flash(self, request: Request, language: Language) -> dict[str, str] | None:
        data = read_payload(request.cookies.get(FLASH_COOKIE), self.key)
        message = data.get("message") if data is not None else None
        if data is None or data.get("typ") != "flash" or not isinstance(message, str):
            return None
        raw = data.get("values")
        values = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        try:
            shown = translate(language, message, values)
        except (KeyError, ValueError, TypeError):  # a flash from before placeholders: show it as it is
            shown = message
        return {"kind": "error" if data.get("kind") == "error" else "ok", "message": shown}

    def back_to_item(
        self, mention_id: int, message: str, kind: str = "ok", **values: str
    ) -> RedirectResponse:
        """303 to the item page with a one-time ``message`` (an English msgid, ``values`` filled there)."""
        response = RedirectResponse(f"/items/{mention_id}", status_code=303)
        self.flash(response, message, kind, **values)
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
