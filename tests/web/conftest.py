"""Fixtures for the web tests: the real app served by uvicorn on 127.0.0.1, and a small HTTP client.

Why real HTTP and not an in-process client: cookies (flags, expiry), redirects and the CSRF Origin check
are what a browser sees, so the tests talk to a listening server with ``http.client`` and keep their own
cookie jar. ``site`` runs on the ``engine`` fixture (SQLite and PostgreSQL) seeded with
:func:`tests.web.seed.seed_demo`.
"""

from __future__ import annotations

import http.client
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy.engine import Engine

from monitor.core.config import CONFIG_ENV, EarshotSettings
from monitor.web.app import bound_port, create_app, serve_web, shutdown_web
from monitor.web.auth import hash_password
from tests.web.seed import SeedInfo, seed_demo

USER = "agnieszka"
PASSWORD = "Zażółć-gęślą-jaźń 42"
OTHER_USER = "bartek"
OTHER_PASSWORD = "correct horse battery staple"
SHARED_TOKEN = "shared-token-DO-NOT-LEAK-9f3a"
_HASHES: dict[str, str] = {}


def password_hash(password: str) -> str:
    """scrypt is slow on purpose; hash each test password once per session."""
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


@pytest.fixture(autouse=True)
def _no_earshot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the developer's environment."""
    for name in list(os.environ):
        section = name.removeprefix("EARSHOT_").split("__")[0].lower()
        if name == CONFIG_ENV or (name.startswith("EARSHOT_") and section in EarshotSettings.model_fields):
            monkeypatch.delenv(name)


def make_web_settings(tmp_path: Path, **overrides: Any) -> EarshotSettings:
    """Two users with hashed passwords, port 0, a fixed session secret; anything overridable."""
    web: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "users": [
            {"username": USER, "password_hash": password_hash(PASSWORD)},
            {"username": OTHER_USER, "password_hash": password_hash(OTHER_PASSWORD)},
        ],
        "session_secret": "test-session-secret",
        "page_size": 5,
    }
    web.update(overrides.pop("web", {}))
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "public_url": "http://127.0.0.1:8000",
        "slack": {"bot_token": None},
        "targets": [{"name": "Sklep Kowalski"}, {"name": "Księgarnia Żuraw"}],
        "web": web,
    }
    values.update(overrides)
    return EarshotSettings(**values)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def set_cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []


_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Client:
    """A browser-like HTTP client: a cookie jar, no redirect following, the Origin a browser sends."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        finally:
            conn.close()
        for header in reply.set_cookies():
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                expired = morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"])
                if expired or morsel.value in ("", '""'):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return reply

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(
        self,
        path: str,
        form: dict[str, str],
        *,
        origin: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """POST a form; ``origin=""`` sends this site's Origin, None sends none."""
        all_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if origin is not None:
            all_headers["Origin"] = origin or self.origin
        all_headers.update(headers or {})
        return self.request("POST", path, urlencode(form).encode("utf-8"), all_headers)

    def csrf_from(self, path: str) -> str:
        """The CSRF token a page's forms carry."""
        reply = self.get(path)
        assert reply.status == 200, (path, reply.status)
        match = _CSRF.search(reply.text)
        assert match, f"no csrf_token on {path}"
        return match.group(1)

    def login(self, username: str = USER, password: str = PASSWORD, next_url: str | None = None) -> Reply:
        token = self.csrf_from("/login")
        form = {"csrf_token": token, "username": username, "password": password}
        if next_url is not None:
            form["next"] = next_url
        return self.post("/login", form)

    def act(self, item_id: int, action: str, **form: str) -> Reply:
        """Submit one of the item page's forms as a browser would (token read from the page)."""
        token = self.csrf_from(f"/items/{item_id}")
        return self.post(f"/items/{item_id}/{action}", {"csrf_token": token, **form})


class Clock:
    """A settable clock for the app (aware UTC)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Site:
    """A running web app over a seeded database."""

    settings: EarshotSettings
    engine: Engine
    seed: SeedInfo
    port: int
    clock: Clock

    def client(self) -> Client:
        return Client(self.port)

    def logged_in(self, username: str = USER, password: str = PASSWORD) -> Client:
        client = self.client()
        reply = client.login(username, password)
        assert reply.status == 303, reply.text
        return client


SiteFactory = Callable[..., Site]


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator[SiteFactory]:
    """Start the app over a given engine (seeded here) with settings overrides; stopped after the test."""
    running: list[tuple[Any, Any]] = []

    def start(engine: Engine, seed: bool = True, **overrides: Any) -> Site:
        sender_factory = overrides.pop("sender_factory", None)
        settings = make_web_settings(tmp_path, **overrides)
        info = seed_demo(engine) if seed else SeedInfo({}, {}, {}, 0)
        clock = Clock()
        app = create_app(settings, engine, clock=clock, sender_factory=sender_factory)
        server, thread = serve_web(settings, engine, app=app)
        running.append((server, thread))
        return Site(settings, engine, info, bound_port(server), clock)

    yield start
    for server, thread in running:
        shutdown_web(server, thread)


@pytest.fixture
def site(make_site: SiteFactory, engine: Engine) -> Site:
    """The seeded app on SQLite and on PostgreSQL."""
    return make_site(engine)


@pytest.fixture
def sqlite_site(make_site: SiteFactory, sqlite_engine: Engine) -> Site:
    """The seeded app on SQLite only (for tests about HTTP, not the database)."""
    return make_site(sqlite_engine)
