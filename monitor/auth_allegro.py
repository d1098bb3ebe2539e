"""``earshot auth allegro``: authorise Earshot on the seller's Allegro account once, with the device flow.

Why: an Allegro access token lives 12 hours, so a token pasted into the environment breaks the next day.
With the app's client id and secret set (``EARSHOT_SOURCES__ALLEGRO__CLIENT_ID`` / ``__CLIENT_SECRET``,
an app of the *device* type registered at apps.developer.allegro.pl), this command asks Allegro for a user
code, prints the page where the seller confirms it, polls the token endpoint as RFC 8628 asks (every
``interval`` seconds, 5 s more after each ``slow_down``) and stores the refresh token, the access token
and its expiry encrypted (``EARSHOT_SECRET_KEY``). From then on every crawl renews the access token itself
and stores each rotated refresh token (:mod:`spiders.spiders.allegro`).

The protocol (what to send, how to read the answers) is :mod:`spiders.allegro_oauth`, shared with the
spider. Texts follow ``console_language`` (Polish or English).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from monitor.auth_cli import AuthFlowError, register_provider
from monitor.auth_http import Answer, AuthHttpError, get, post
from monitor.core.config import EarshotSettings
from monitor.core.credentials import KEY_ENV, CredentialStore, CredentialStoreError
from monitor.core.db import DatabaseError, make_engine
from monitor.core.source_settings import source_env_var
from spiders.allegro_oauth import (
    DEVICE_PATH,
    FORM,
    SOURCE,
    TOKEN_PATH,
    DeviceCode,
    TokenGrant,
    basic_auth,
    device_form,
    device_token_form,
    endpoint,
    parse_device_code,
    parse_oauth_error,
    parse_token,
)
from spiders.errors import MalformedResponse

SLOW_DOWN_STEP = 5.0  # seconds RFC 8628 adds to the interval after each slow_down
CLIENT_ID_ENV = source_env_var(SOURCE, "client_id")
CLIENT_SECRET_ENV = source_env_var(SOURCE, "client_secret")

TEXTS: dict[str, tuple[str, str]] = {
    # key: (English, Polish)
    "open": (
        "Open this page as the seller and confirm the code {code}:\n  {url}",
        "Otwórz tę stronę jako sprzedawca i potwierdź kod {code}:\n  {url}",
    ),
    "waiting": (
        "Waiting for the confirmation (the code is valid for {minutes} min; Ctrl-C stops)...",
        "Czekam na potwierdzenie (kod jest ważny {minutes} min; Ctrl-C przerywa)...",
    ),
    "slow_down": (
        "Allegro asked to poll more slowly: every {seconds:g} s now.",
        "Allegro prosi o rzadsze pytania: teraz co {seconds:g} s.",
    ),
    "stored": (
        "Allegro authorised{who}. The refresh token is stored encrypted; crawls renew the access token "
        "themselves (it lives 12 h).",
        "Allegro autoryzowane{who}. Token odświeżania jest zapisany w postaci zaszyfrowanej; crawle same "
        "odnawiają token dostępu (ważny 12 h).",
    ),
    "who": (
        " as {login} (user id {id}: put it in allegro_user_ids)",
        " jako {login} (id użytkownika {id}: wpisz je w allegro_user_ids)",
    ),
}


def text(key: str, language: str, **values: object) -> str:
    english, polish = TEXTS[key]
    return (polish if language == "pl" else english).format(**values)


class AllegroAuthError(AuthFlowError):
    """The device flow could not finish; the message says what to do (and never holds a secret)."""


@dataclass(frozen=True)
class AppCredentials:
    client_id: str
    client_secret: str
    auth_url: str

    @property
    def authorization(self) -> dict[str, str]:
        return {"Authorization": basic_auth(self.client_id, self.client_secret), "Accept": "application/json"}


def app_credentials(settings: EarshotSettings) -> AppCredentials:
    """The app's client id and secret from the settings, or AllegroAuthError naming the variables."""
    section = settings.sources.allegro
    client_id, secret = section.credential("client_id"), section.credential("client_secret")
    if not client_id or not secret:
        raise AllegroAuthError(
            f"set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} first: the Client ID and Client Secret of an "
            "Allegro app of the device type (apps.developer.allegro.pl → Moje aplikacje → Dodaj nową aplikację)"
        )
    return AppCredentials(client_id, secret, section.auth_url)


def start_device_flow(app: AppCredentials) -> DeviceCode:
    """``POST /auth/oauth/device``: the user code and the page to confirm it on."""
    answer = _post(app, DEVICE_PATH, device_form(app.client_id))
    if answer.status != 200:
        error = parse_oauth_error(answer.body)
        raise AllegroAuthError(
            f"Allegro refused to start the device flow (HTTP {answer.status} {error.error}: {error.description}); "
            f"check {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}, and that the app is of the device type"
        )
    try:
        return parse_device_code(answer.body)
    except MalformedResponse as exc:
        raise AllegroAuthError(f"Allegro's device answer is unusable: {exc}") from None


def poll_for_token(
    app: AppCredentials,
    device: DeviceCode,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_slow_down: Callable[[float], None] | None = None,
) -> TokenGrant:
    """Poll the token endpoint until the seller confirms; AllegroAuthError on denial or expiry."""
    interval = device.interval
    deadline = clock() + device.expires_in
    while True:
        sleep(interval)
        if clock() > deadline:
            raise AllegroAuthError(
                "the code expired before it was confirmed: run `earshot auth allegro` again"
            )
        answer = _post(app, TOKEN_PATH, device_token_form(device.device_code))
        if answer.status == 200:
            try:
                return parse_token(answer.body)
            except MalformedResponse as exc:
                raise AllegroAuthError(f"Allegro's token answer is unusable: {exc}") from None
        error = parse_oauth_error(answer.body)
        if error.error == "authorization_pending":
            continue
        if error.error == "slow_down":
            interval += SLOW_DOWN_STEP
            if on_slow_down is not None:
                on_slow_down(interval)
            continue
        if error.error == "access_denied":
            raise AllegroAuthError(
                "the seller refused the authorisation on Allegro's page; nothing was stored"
            )
        if error.error in ("expired_token", "invalid_grant"):
            raise AllegroAuthError(
                f"the code is no longer valid ({error.error}: {error.description}): run `earshot auth allegro` again"
            )
        raise AllegroAuthError(
            f"Allegro's token endpoint answered HTTP {answer.status} {error.error}: {error.description}"
        )


def seller_account(settings: EarshotSettings, access_token: str) -> tuple[str, str] | None:
    """``(login, id)`` of the authorised account (``GET /me``), to show whose ratings will be read."""
    url = settings.sources.allegro.base_url.rstrip("/") + "/me"
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/vnd.allegro.public.v1+json"}
    try:
        answer = get(url, headers)
    except AuthHttpError:
        return None
    try:
        data = json.loads(answer.body) if answer.status == 200 else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str | int):
        return None
    return str(data.get("login") or "?"), str(data["id"])


def authorize(
    settings: EarshotSettings,
    *,
    out: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TokenGrant:
    """The whole flow: check what is needed first, ask, poll, store; the grant that was stored."""
    language = settings.console_language
    app = app_credentials(settings)
    try:
        engine = make_engine(settings.effective_database_url)
    except DatabaseError as exc:
        raise AllegroAuthError(str(exc)) from None
    try:
        store = CredentialStore.from_settings(settings, engine)
        if not store.has_key:  # before the seller confirms anything: the tokens could not be kept
            raise AllegroAuthError(f"set {KEY_ENV} first: the tokens are stored encrypted with it")
        device = start_device_flow(app)
        url = device.verification_uri_complete or device.verification_uri
        out(text("open", language, code=device.user_code, url=url))
        out(text("waiting", language, minutes=max(1, round(device.expires_in / 60))))
        grant = poll_for_token(
            app,
            device,
            sleep=sleep,
            clock=clock,
            on_slow_down=lambda seconds: out(text("slow_down", language, seconds=seconds)),
        )
        try:
            store.save(SOURCE, grant.stored())
        except (CredentialStoreError, SQLAlchemyError) as exc:
            raise AllegroAuthError(f"the tokens could not be stored: {exc}") from None
    except AuthHttpError as exc:
        raise AllegroAuthError(str(exc)) from None
    finally:
        engine.dispose()
    account = seller_account(settings, grant.access_token)
    who = text("who", language, login=account[0], id=account[1]) if account else ""
    out(text("stored", language, who=who))
    return grant


def _post(app: AppCredentials, path: str, body: bytes) -> Answer:
    return post(endpoint(app.auth_url, path), body, {**app.authorization, "Content-Type": FORM})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: the client id and secret come from the settings (environment), never the command line."""


def cmd_auth_allegro(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """``earshot auth allegro``: 0 when the authorisation is stored (failures: AllegroAuthError, status 2)."""
    try:
        authorize(settings)
    except KeyboardInterrupt:
        print("earshot auth allegro: stopped; nothing was stored", file=sys.stderr)
        return 1
    return 0


register_provider(
    "allegro",
    add_arguments,
    cmd_auth_allegro,
    help="authorise Allegro (device flow: a code to confirm on allegro.pl) and store the refresh token",
)
