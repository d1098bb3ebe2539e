"""``earshot auth <provider>``: walk a person through authorising a source once, and store the result.

Why: OAuth access tokens expire (Google's in about an hour), so crawls need what renews them (a client
and a refresh token). This command gets them with the provider's own consent page and stores them
encrypted (:class:`monitor.core.credentials.CredentialStore`, key in ``EARSHOT_SECRET_KEY``); from then on
each crawl renews its access token itself, and a refused renewal tells the user to run the command again.

Providers
---------
``google`` is built in: the installed-app loopback flow (RFC 8252) with PKCE (RFC 7636). A server on
``127.0.0.1:<free port>`` receives the redirect, the code is exchanged at ``token_uri``, and client id,
client secret and refresh token are stored under ``google_business``. The consent URL asks for
``business.manage`` with ``access_type=offline`` and ``prompt=consent`` (so Google returns a refresh token
even to a client it has seen before).

THE REGISTRATION HOOK (for ``earshot auth allegro``, ``earshot auth bluesky``, any later provider)::

    from monitor.auth_cli import register_provider
    register_provider(
        "allegro",
        help="authorise Allegro (device flow) and store the refresh token",
        add_arguments=auth_allegro.add_arguments,   # (argparse.ArgumentParser) -> None; may be None
        run=auth_allegro.cmd_auth_allegro,          # (argparse.Namespace, EarshotSettings) -> int
    )

Call it before :func:`register` builds the parser: monitor/cli.py does so for every provider module next
to ``register_auth(sub)`` (a provider module need not import this one). A name registered again replaces
the earlier entry, so building the parser twice (tests) is harmless. ``run`` returns the exit status;
:class:`CredentialStoreError` and :class:`AuthFlowError` raised by it are printed as one line (status 2).
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import html
import secrets
import sys
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from monitor.core.config import EarshotSettings
from monitor.core.credentials import KEY_ENV, CredentialStore, CredentialStoreError, generate_key
from monitor.core.db import make_engine
from monitor.core.source_settings import source_env_var

__all__ = [
    "GOOGLE_AUTH_URI",
    "GOOGLE_SCOPE",
    "PROVIDERS",
    "AuthFlowError",
    "AuthProvider",
    "LoopbackReceiver",
    "authorize_google",
    "register",
    "register_provider",
]

GOOGLE_SOURCE = "google_business"
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_SCOPE = "https://www.googleapis.com/auth/business.manage"
DEFAULT_WAIT_SECONDS = 300.0
HTTP_TIMEOUT = 30.0

Run = Callable[[argparse.Namespace, EarshotSettings], int]
AddArguments = Callable[[argparse.ArgumentParser], None]


class AuthFlowError(Exception):
    """The authorisation could not finish; the message says what to do and never holds a secret."""


@dataclass(frozen=True)
class AuthProvider:
    """One ``earshot auth <name>`` subcommand."""

    name: str
    help: str
    add_arguments: AddArguments | None
    run: Run


PROVIDERS: dict[str, AuthProvider] = {}


def register_provider(name: str, add_arguments: AddArguments | None, run: Run, help: str = "") -> None:
    """Add (or replace) ``earshot auth <name>``; see the module doc."""
    PROVIDERS[name] = AuthProvider(
        name, help or f"authorise {name} and store its credentials", add_arguments, run
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``earshot auth`` with one subcommand per registered provider."""
    auth = subparsers.add_parser(
        "auth", help="authorise a source once (OAuth consent) and store its renewable credentials, encrypted"
    )
    commands = auth.add_subparsers(
        dest="auth_provider", metavar="{" + ",".join(PROVIDERS) + "}", required=True
    )
    for provider in PROVIDERS.values():
        parser = commands.add_parser(provider.name, help=provider.help)
        if provider.add_arguments is not None:
            provider.add_arguments(parser)
        parser.set_defaults(func=_runner(provider))


def _runner(provider: AuthProvider) -> Run:
    def run(args: argparse.Namespace, settings: EarshotSettings) -> int:
        try:
            return provider.run(args, settings)
        except (CredentialStoreError, AuthFlowError) as exc:
            print(f"earshot auth {provider.name}: {exc}", file=sys.stderr)
            return 2

    return run


# -- Polish and English ---------------------------------------------------------------------------

TEXTS: dict[str, tuple[str, str]] = {
    "open": (
        "Open this address in a browser, sign in with the Google account that manages the business "
        "profiles and allow access:",
        "Otwórz ten adres w przeglądarce, zaloguj się kontem Google, które zarządza profilami firmy, "
        "i zezwól na dostęp:",
    ),
    "waiting": (
        "Waiting for Google to send the browser back to {redirect} (up to {minutes:g} min; Ctrl-C stops)...",
        "Czekam, aż Google odeśle przeglądarkę na {redirect} (do {minutes:g} min; Ctrl-C przerywa)...",
    ),
    "stored": (
        "Google authorised. Client id, client secret and refresh token are stored encrypted; crawls of "
        "google_business renew the access token themselves.",
        "Google autoryzowane. Identyfikator i sekret klienta oraz token odświeżania są zapisane w postaci "
        "zaszyfrowanej; crawle google_business same odnawiają token dostępu.",
    ),
    "page_ok": (
        "Earshot is authorised. You can close this tab and go back to the terminal.",
        "Earshot ma dostęp. Możesz zamknąć tę kartę i wrócić do terminala.",
    ),
    "page_error": (
        "Earshot was not authorised: {error}. Go back to the terminal.",
        "Earshot nie uzyskał dostępu: {error}. Wróć do terminala.",
    ),
}


def text(key: str, language: str, **values: object) -> str:
    english, polish = TEXTS[key]
    return (polish if language == "pl" else english).format(**values)


# -- the loopback redirect -------------------------------------------------------------------------


@dataclass
class Redirect:
    """What the browser brought back: the code, or the provider's error, and the state it carried."""

    code: str | None = None
    error: str | None = None
    state: str | None = None


class LoopbackReceiver:
    """A one-shot HTTP server on 127.0.0.1 that waits for the provider's redirect (RFC 8252, 7.3).

    Any port (0: a free one); the redirect URI is ``http://127.0.0.1:<port>/``. Requests without
    ``code`` or ``error`` (a favicon) are answered 404 and waited past.
    """

    def __init__(self, port: int = 0, language: str = "en") -> None:
        self.language = language
        self.result: Redirect | None = None
        self._done = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self, seconds: float) -> Redirect:
        """The redirect, or AuthFlowError when none came within ``seconds``."""
        if not self._done.wait(seconds) or self.result is None:
            raise AuthFlowError(
                f"no answer from the browser within {seconds:g} s; run the command again and finish the "
                "consent in time (--wait-seconds gives more)"
            )
        return self.result

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)

                def one(name: str) -> str | None:
                    values = query.get(name)
                    return values[0] if values else None

                code, error = one("code"), one("error")
                if (code is None and error is None) or receiver._done.is_set():
                    self.send_error(404)
                    return
                receiver.result = Redirect(code=code, error=error, state=one("state"))
                message = (
                    text("page_ok", receiver.language)
                    if code
                    else text("page_error", receiver.language, error=error or "?")
                )
                body = (
                    f"<!doctype html><meta charset=utf-8><title>Earshot</title><p>{html.escape(message)}</p>"
                )
                data = body.encode("utf-8")
                self.send_response(200 if code else 400)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                receiver._done.set()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the request line carries the authorisation code."""

        return Handler


# -- Google ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoogleClient:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"GoogleClient(client_id={self.client_id!r}, client_secret=***)"


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def consent_url(auth_uri: str, client_id: str, redirect_uri: str, state: str, challenge: str) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": GOOGLE_SCOPE,
        "access_type": "offline",
        "prompt": "consent",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{auth_uri}?{urlencode(params)}"


def google_client(settings: EarshotSettings, client_id: str | None, interactive: bool) -> GoogleClient:
    """The OAuth client: --client-id or the settings, the secret from the settings or a hidden prompt."""
    section = settings.sources.google_business
    cid = (client_id or section.credential("client_id")).strip()
    secret = section.credential("client_secret")
    id_env, secret_env = (
        source_env_var(GOOGLE_SOURCE, "client_id"),
        source_env_var(GOOGLE_SOURCE, "client_secret"),
    )
    if interactive and not cid:
        cid = input("OAuth client id: ").strip()
    if interactive and not secret:
        secret = getpass.getpass("OAuth client secret (not shown): ").strip()
    if not cid or not secret:
        raise AuthFlowError(
            f"no OAuth client: set {id_env} and {secret_env} (Google Cloud console → APIs & Services → "
            "Credentials → Create credentials → OAuth client ID → Desktop app)"
        )
    return GoogleClient(cid, secret)


def exchange_code(
    token_uri: str, client: GoogleClient, code: str, redirect_uri: str, verifier: str
) -> dict[str, Any]:
    """The token endpoint's answer to the authorisation code, or AuthFlowError with Google's reason."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    try:
        response = requests.post(token_uri, data=form, timeout=HTTP_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise AuthFlowError(
            f"the token endpoint {token_uri} could not be reached: {type(exc).__name__}"
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise AuthFlowError(
            f"the token endpoint {token_uri} answered HTTP {response.status_code} without JSON"
        )
    if response.status_code != 200 or "error" in data:
        error = str(data.get("error") or f"HTTP {response.status_code}")[:100]
        description = str(data.get("error_description") or "")[:200]
        hint = " (check the client secret)" if error in ("invalid_client", "unauthorized_client") else ""
        raise AuthFlowError(
            f"Google refused the code: {error}{': ' + description if description else ''}{hint}"
        )
    return data


def authorize_google(
    settings: EarshotSettings,
    *,
    auth_uri: str = GOOGLE_AUTH_URI,
    token_uri: str | None = None,
    client_id: str | None = None,
    open_browser: bool = True,
    port: int = 0,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    interactive: bool = False,
    out: Any = None,
) -> None:
    """The whole flow: consent URL, loopback redirect, code exchange, encrypted store."""
    out = out or sys.stdout
    language = getattr(settings, "console_language", "en")
    engine = make_engine(settings.effective_database_url)
    try:
        store = CredentialStore.from_settings(settings, engine)
        if not store.has_key:  # before the browser: a consent that cannot be stored is wasted
            raise CredentialStoreError(
                f"set {KEY_ENV} first (the same value for every Earshot process), e.g. {KEY_ENV}={generate_key()}"
            )
        client = google_client(settings, client_id, interactive)
        token_uri = token_uri or settings.sources.google_business.token_uri
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        with LoopbackReceiver(port, language) as receiver:
            url = consent_url(auth_uri, client.client_id, receiver.redirect_uri, state, challenge)
            print(text("open", language), file=out)
            print(f"\n    {url}\n", file=out)
            print(
                text("waiting", language, redirect=receiver.redirect_uri, minutes=wait_seconds / 60), file=out
            )
            out.flush()
            if open_browser:
                webbrowser.open(url)
            redirect = receiver.wait(wait_seconds)
            redirect_uri = receiver.redirect_uri
        if redirect.state != state:
            raise AuthFlowError("the redirect carried another state than the one sent; run the command again")
        if redirect.error or not redirect.code:
            raise AuthFlowError(f"Google did not authorise Earshot: {redirect.error or 'no code'}")
        answer = exchange_code(token_uri, client, redirect.code, redirect_uri, verifier)
        refresh_token = answer.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise AuthFlowError(
                "Google sent no refresh token; remove Earshot's access at https://myaccount.google.com/permissions "
                "and run the command again"
            )
        granted = str(answer.get("scope") or GOOGLE_SCOPE).split()
        if GOOGLE_SCOPE not in granted:
            raise AuthFlowError(
                f"the consent did not include {GOOGLE_SCOPE}; run the command again and allow managing "
                "the business profiles"
            )
        store.save(
            GOOGLE_SOURCE,
            {
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "refresh_token": refresh_token,
            },
        )
        print(text("stored", language), file=out)
    finally:
        engine.dispose()


def add_google_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client-id", help="OAuth client id (default: sources.google_business.client_id)")
    parser.add_argument("--auth-uri", default=GOOGLE_AUTH_URI, help="consent page (default: Google's)")
    parser.add_argument("--token-uri", help="token endpoint (default: sources.google_business.token_uri)")
    parser.add_argument("--no-browser", action="store_true", help="only print the consent URL")
    parser.add_argument(
        "--port", type=int, default=0, help="loopback port for the redirect (default: a free one)"
    )
    parser.add_argument(
        "--wait-seconds", type=float, default=DEFAULT_WAIT_SECONDS, help="how long to wait for the consent"
    )


def cmd_auth_google(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """``earshot auth google``: 0 when the credentials are stored."""
    authorize_google(
        settings,
        auth_uri=args.auth_uri,
        token_uri=args.token_uri,
        client_id=args.client_id,
        open_browser=not args.no_browser,
        port=args.port,
        wait_seconds=args.wait_seconds,
        interactive=sys.stdin.isatty(),
    )
    return 0


register_provider(
    "google",
    add_google_arguments,
    cmd_auth_google,
    help="authorise Google Business Profile (browser consent) and store a refresh token",
)
