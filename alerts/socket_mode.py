"""Slack interactivity over Socket Mode: for installs that cannot expose an HTTP endpoint to Slack.

With ``EARSHOT_SLACK__APP_TOKEN`` (an ``xapp-`` app-level token with ``connections:write``) and Socket
Mode switched on in the Slack app, Slack delivers clicks and modal submissions over a websocket that
Earshot opens, instead of posting them to ``/slack/interactivity``. No signing secret is involved: the
connection itself is authenticated by the app token.

``events_api`` envelopes (``app_home_opened``) publish the caller's Home tab after the acknowledgement,
and ``slash_commands`` (``/earshot``) are answered in the acknowledgement itself, as over HTTP
(:mod:`alerts.slack_events`). Each ``interactive`` envelope goes into the same durable inbox as an HTTP request (signature column
``socket:<envelope_id>``, which also makes a redelivered envelope a no-op) and the same
:class:`~alerts.interactivity.InteractivityWorker` runs it. The envelope is acknowledged right after it
is stored (milliseconds), well inside Slack's 3 seconds: storing first means an acknowledged click is
never lost, even if Earshot dies a moment later. A reply modal whose text is invalid is answered with
``response_action: errors`` in the acknowledgement, exactly as over HTTP.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from slack_sdk import WebClient
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy.engine import Engine

from alerts.interactivity import InteractivityWorker, accept_payload, needs_trigger
from alerts.slack_events import handle_event
from alerts.slash_command import command_response
from monitor.core.config import EarshotSettings

__all__ = ["SIGNATURE_PREFIX", "SocketModeReceiver", "start_socket_mode"]

logger = logging.getLogger(__name__)

SIGNATURE_PREFIX: Final = "socket:"


class Acknowledger(Protocol):
    """The one call the receiver makes on the client (a ``SocketModeClient`` in production)."""

    def send_socket_mode_response(self, response: SocketModeResponse | dict[str, Any]) -> None: ...


class SocketModeReceiver:
    """A ``socket_mode_request_listeners`` callback: envelope → inbox → acknowledgement → worker."""

    def __init__(
        self, engine: Engine, worker: InteractivityWorker, clock: Callable[[], float] = time.time
    ) -> None:
        self._engine = engine
        self._worker = worker
        self._clock = clock

    def __call__(self, client: Acknowledger, req: SocketModeRequest) -> None:
        """Handle one envelope: a click (inbox), ``app_home_opened`` (Home tab) or ``/earshot`` (its list)."""
        if req.type == "events_api" and isinstance(req.payload, dict):
            settings = self._worker.settings
            received = handle_event(self._engine, settings, self._worker.sender, req.payload)
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            if received.after is not None:
                received.after()
            return
        if req.type == "slash_commands" and isinstance(req.payload, dict):
            fields = {k: v for k, v in req.payload.items() if isinstance(v, str)}
            answer = command_response(self._engine, self._worker.settings, fields)
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=answer))
            return
        if req.type != "interactive":
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        payload = req.payload if isinstance(req.payload, dict) else None
        if payload is None or not isinstance(payload.get("type"), str):
            logger.warning(
                "Socket Mode envelope %s carries no interactivity payload; ignored", req.envelope_id
            )
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        accepted = accept_payload(
            self._engine,
            SIGNATURE_PREFIX + req.envelope_id,
            int(self._clock()),
            payload,
            self._worker.settings,
        )
        if accepted.status == 409:
            logger.info("Socket Mode envelope %s was delivered again; already stored", req.envelope_id)
        client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=accepted.body)
        )
        if accepted.request_id is not None:
            self._worker.submit(accepted.request_id, urgent=needs_trigger(payload))


def start_socket_mode(
    settings: EarshotSettings, engine: Engine, worker: InteractivityWorker
) -> SocketModeClient:
    """Connect to Slack over Socket Mode with ``slack.app_token`` and feed the worker; returns the client.

    The caller owns the worker (``start()`` it first) and closes the client with ``client.close()``.
    """
    app_token = settings.slack.app_token
    bot_token = settings.slack.bot_token
    if app_token is None or not app_token.get_secret_value():
        raise ValueError("Socket Mode needs EARSHOT_SLACK__APP_TOKEN (an xapp- app-level token)")
    base_url = (
        settings.slack.api_url if settings.slack.api_url.endswith("/") else settings.slack.api_url + "/"
    )
    web_client = WebClient(
        token=bot_token.get_secret_value() if bot_token is not None else None,
        base_url=base_url,
        retry_handlers=[],
    )
    client = SocketModeClient(app_token=app_token.get_secret_value(), web_client=web_client)
    client.socket_mode_request_listeners.append(SocketModeReceiver(engine, worker))
    client.connect()
    logger.info("receiving Slack interactivity over Socket Mode")
    return client
