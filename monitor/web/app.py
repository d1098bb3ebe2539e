"""Earshot's one web app: the pages for agents and managers and Slack's interactivity endpoint.

Plain server-rendered HTML (Jinja2, autoescape on) with a little JavaScript for conveniences. Every page
except ``/login``, ``/healthz`` and ``/static/*`` needs a signed-in session (:mod:`monitor.web.guard`);
every POST carries the session's CSRF token. The routes live in :mod:`monitor.web.routes`, one router per
resource; this module only assembles them and runs the result with uvicorn.

One factory, two flavours: ``earshot web`` serves the pages and, given a worker, ``POST
/slack/interactivity`` from the same process; ``earshot slack serve`` (and ``earshot run``'s Slack
endpoint) builds the same app with ``pages=False``: the Slack router and its health check, no sign-in.

Routes and element ids are a contract the browser tests rely on; see the package docstring.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from slack_sdk.signature import Clock as SlackClock
from sqlalchemy.engine import Engine

from alerts.interactivity import INTERACTIVITY_PATH, InteractivityWorker
from alerts.signature import make_verifier
from alerts.slack_events import COMMANDS_PATH, EVENTS_PATH
from alerts.slack_sender import make_sender
from monitor.core.config import EarshotSettings
from monitor.web.auth import WebConfigError
from monitor.web.context import HERE, Clock, SenderFactory, SlackContext, WebContext
from monitor.web.csrf import CsrfError
from monitor.web.deps import UnknownItem
from monitor.web.guard import csrf_rejected, require_session, unknown_item
from monitor.web.openapi import OPENAPI_URL, install_openapi
from monitor.web.routes import (
    bulk,
    digests,
    exports,
    health,
    inbox,
    items,
    language,
    login,
    reply_templates,
    slack,
    status,
)
from monitor.web.routes import tags as item_tags

__all__ = [
    "ServerStartError",
    "WebConfigError",
    "bound_port",
    "create_app",
    "serve_web",
    "shutdown_web",
    "start_server",
]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: EarshotSettings,
    engine: Engine,
    *,
    clock: Clock | None = None,
    sender_factory: SenderFactory | None = None,
    slack_worker: InteractivityWorker | None = None,
    slack_clock: SlackClock | None = None,
    pages: bool = True,
) -> FastAPI:
    """The web app over ``engine``; :class:`WebConfigError` when the pages are on and nobody could sign in.

    ``slack_worker`` adds ``POST /slack/interactivity`` (its requests are queued there); ``pages=False``
    leaves only that endpoint and a ``/healthz`` that reports the worker. ``clock`` (aware UTC),
    ``sender_factory`` (the Slack sender for message updates) and ``slack_clock`` (the signature
    verifier's, epoch seconds) are for tests.
    """
    if not pages and slack_worker is None:
        raise ValueError("an app without pages needs a slack_worker")
    app = FastAPI(
        title="Earshot" if pages else "Earshot Slack interactivity",
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL if pages else None,  # behind the sign-in guard: monitor.web.openapi
    )
    install_openapi(app)
    if slack_worker is not None:
        verifier = make_verifier(settings, slack_clock)
        app.state.slack = SlackContext(settings, engine, slack_worker, verifier)
        app.include_router(slack.router)
    if not pages:
        app.include_router(health.slack_router)
        return app
    public = (INTERACTIVITY_PATH, EVENTS_PATH, COMMANDS_PATH) if slack_worker is not None else ()
    app.state.web = WebContext(
        settings, engine, clock or _utcnow, sender_factory or make_sender, public_paths=public
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.middleware("http")(require_session)
    app.add_exception_handler(CsrfError, csrf_rejected)
    app.add_exception_handler(UnknownItem, unknown_item)
    for router in (health.router, inbox.router, login.router, exports.router, items.router, digests.router):
        app.include_router(router)
    app.include_router(language.router)
    app.include_router(bulk.router)
    app.include_router(item_tags.router)
    app.include_router(reply_templates.router)
    app.include_router(status.router)
    return app


# ------------------------------------------------------------------------------------------ serving


class ServerStartError(RuntimeError):
    """uvicorn did not start listening: its thread ended (``exited``, e.g. port taken) or it took too long."""

    def __init__(self, exited: bool) -> None:
        super().__init__("the server thread ended" if exited else "the server did not start in time")
        self.exited = exited


def start_server(
    server: uvicorn.Server, target: Callable[[], None], *, name: str, timeout: float
) -> threading.Thread:
    """Run ``target`` (which runs ``server``) in a daemon thread; return once the server listens.

    Raises :class:`ServerStartError` (after telling the server to exit) when it does not.
    """
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        exited = not thread.is_alive()
        if exited or time.monotonic() > deadline:
            server.should_exit = True
            raise ServerStartError(exited)
        time.sleep(0.01)
    return thread


def bound_port(server: uvicorn.Server) -> int:
    """The port the started server listens on (useful with port 0)."""
    for srv in server.servers:
        for sock in srv.sockets:
            return int(sock.getsockname()[1])
    raise WebConfigError("the web server is not listening")


def serve_web(
    settings: EarshotSettings, engine: Engine, *, app: FastAPI | None = None, timeout: float = 15.0
) -> tuple[uvicorn.Server, threading.Thread]:
    """Start the web pages on ``web.host``:``web.port`` in a thread; returns once it is listening."""
    config = uvicorn.Config(
        app or create_app(settings, engine),
        host=settings.web.host,
        port=settings.web.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    try:
        thread = start_server(server, server.run, name="earshot-web", timeout=timeout)
    except ServerStartError as exc:
        if exc.exited:
            raise WebConfigError(
                f"the web pages could not start on {settings.web.host}:{settings.web.port} "
                "(port in use? see the log above)"
            ) from None
        raise WebConfigError(f"the web pages did not start within {timeout:g} s") from None
    log.info("web pages on http://%s:%s/", settings.web.host, bound_port(server))
    return server, thread


def shutdown_web(server: uvicorn.Server, thread: threading.Thread, timeout: float = 10.0) -> None:
    """Stop a server started by :func:`serve_web` (or :func:`start_server`) and wait for its thread."""
    server.should_exit = True
    thread.join(timeout)
