"""``earshot auth bluesky``: log in to Bluesky once and keep the session, so runs refresh instead of log in.

Why: createSession allows 30 logins per 5 minutes and 300 a day, and the session's accessJwt lives about two
hours. This command logs in with the account's handle and an *app password* (never the main password:
Settings → Privacy and security → App passwords), then stores the session's refreshJwt encrypted
(``EARSHOT_SECRET_KEY``); every run then opens its session with refreshSession and stores the rotated
refreshJwt (:mod:`spiders.spiders.bluesky`).

The app password is read from ``EARSHOT_SOURCES__BLUESKY__APP_PASSWORD`` or asked for without echo; it is
kept only with ``--keep-app-password``, and then only encrypted in the store, so that a run whose refresh
token was revoked can log in again by itself. Texts follow ``console_language`` (Polish or English).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from monitor.auth_cli import AuthFlowError, register_provider
from monitor.auth_http import AuthHttpError, post
from monitor.core.config import EarshotSettings
from monitor.core.credentials import KEY_ENV, CredentialStore, CredentialStoreError
from monitor.core.db import DatabaseError, make_engine
from spiders.bluesky_session import (
    CREATE_SESSION,
    DID_KEY,
    IDENTIFIER_ENV,
    IDENTIFIER_KEY,
    PASSWORD_ENV,
    PASSWORD_KEY,
    REFRESH_KEY,
    SOURCE,
    Session,
    parse_session_tokens,
    parse_xrpc_error,
)
from spiders.errors import MalformedResponse

APP_PASSWORD_SHAPE = re.compile(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}")

TEXTS: dict[str, tuple[str, str]] = {
    # key: (English, Polish)
    "identifier": ("Bluesky handle or DID: ", "Handle lub DID konta Bluesky: "),
    "password": ("App password (not shown): ", "Hasło aplikacji (niewidoczne): "),
    "not_app_password": (
        "Warning: that does not look like an app password (xxxx-xxxx-xxxx-xxxx). Create one under Settings "
        "→ Privacy and security → App passwords rather than giving Earshot the account's main password.",
        "Uwaga: to nie wygląda na hasło aplikacji (xxxx-xxxx-xxxx-xxxx). Utwórz je w Ustawienia → "
        "Prywatność i bezpieczeństwo → Hasła aplikacji, zamiast podawać Earshot główne hasło konta.",
    ),
    "stored": (
        "Bluesky session of {handle} stored encrypted; runs refresh it instead of logging in.{kept}",
        "Sesja Bluesky konta {handle} zapisana w postaci zaszyfrowanej; crawle ją odświeżają zamiast się "
        "logować.{kept}",
    ),
    "kept": (
        " The app password is stored too (encrypted), for a new login when the session is revoked.",
        " Hasło aplikacji też jest zapisane (zaszyfrowane), do ponownego logowania po unieważnieniu sesji.",
    ),
}


def text(key: str, language: str, **values: object) -> str:
    english, polish = TEXTS[key]
    return (polish if language == "pl" else english).format(**values)


class BlueskyAuthError(AuthFlowError):
    """The login could not be stored; the message says what to do (and never holds a secret)."""


def create_session(base_url: str, identifier: str, password: str) -> Session:
    """``POST /xrpc/com.atproto.server.createSession``: the session, or BlueskyAuthError saying why not."""
    url = f"{base_url.rstrip('/')}{CREATE_SESSION}"
    body = json.dumps({"identifier": identifier, "password": password}).encode()
    try:
        answer = post(url, body, {"Content-Type": "application/json", "Accept": "application/json"})
    except AuthHttpError as exc:
        raise BlueskyAuthError(str(exc)) from None
    if answer.status != 200:
        code, message = parse_xrpc_error(answer.body)
        hint = (
            "check the handle and the app password"
            if answer.status in (400, 401)
            else "try again later"
            if answer.status == 429
            else ""
        )
        detail = f"HTTP {answer.status} {code}: {message.replace(password, '[redacted]')}".strip()
        raise BlueskyAuthError(f"Bluesky refused the login ({detail}){'; ' + hint if hint else ''}")
    try:
        return parse_session_tokens(answer.body)
    except MalformedResponse as exc:
        raise BlueskyAuthError(f"Bluesky's session answer is unusable: {exc}") from None


def authorize(
    settings: EarshotSettings,
    *,
    identifier: str | None = None,
    keep_app_password: bool = False,
    ask: Callable[[str], str] = input,
    ask_secret: Callable[[str], str] = getpass.getpass,
    out: Callable[[str], None] = print,
) -> Session:
    """Log in, store the session's refreshJwt (and the app password only when asked, encrypted)."""
    language = settings.console_language
    section = settings.sources.bluesky
    try:
        engine = make_engine(settings.effective_database_url)
    except DatabaseError as exc:
        raise BlueskyAuthError(str(exc)) from None
    try:
        store = CredentialStore.from_settings(settings, engine)
        if not store.has_key:
            raise BlueskyAuthError(f"set {KEY_ENV} first: the session is stored encrypted with it")
        who = (identifier or section.credential("identifier") or ask(text("identifier", language))).strip()
        if not who:
            raise BlueskyAuthError(f"no handle given (--identifier, {IDENTIFIER_ENV} or the prompt)")
        password = (section.credential("app_password") or ask_secret(text("password", language))).strip()
        if not password:
            raise BlueskyAuthError(f"no app password given ({PASSWORD_ENV} or the prompt)")
        if not APP_PASSWORD_SHAPE.fullmatch(password):
            out(text("not_app_password", language))
        session = create_session(section.base_url, who, password)
        values = {REFRESH_KEY: session.refresh_jwt, IDENTIFIER_KEY: who, DID_KEY: session.did}
        if keep_app_password:
            values[PASSWORD_KEY] = password
        try:
            store.save(SOURCE, values)
        except (CredentialStoreError, SQLAlchemyError) as exc:
            raise BlueskyAuthError(f"the session could not be stored: {exc}") from None
    finally:
        engine.dispose()
    kept = text("kept", language) if keep_app_password else ""
    out(text("stored", language, handle=session.handle or who, kept=kept))
    return session


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--identifier", help=f"handle or DID of the account (default: {IDENTIFIER_ENV}, else asked)"
    )
    parser.add_argument(
        "--keep-app-password",
        action="store_true",
        help="also store the app password (encrypted), so a run can log in again when the session is revoked",
    )


def cmd_auth_bluesky(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """``earshot auth bluesky``: 0 when the session is stored (failures: BlueskyAuthError, status 2)."""
    try:
        authorize(
            settings,
            identifier=getattr(args, "identifier", None),
            keep_app_password=bool(getattr(args, "keep_app_password", False)),
        )
    except (EOFError, KeyboardInterrupt):
        print("earshot auth bluesky: stopped; nothing was stored", file=sys.stderr)
        return 1
    return 0


register_provider(
    "bluesky",
    add_arguments,
    cmd_auth_bluesky,
    help="log in to Bluesky once with an app password and store the session (refreshed by every run)",
)
