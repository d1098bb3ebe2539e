"""Slack's Events API (``app_home_opened``) and the ``/earshot`` command, over HTTP or Socket Mode.

Both are read-only for Earshot: an event asks for the caller's Home tab, a command for the caller's
list, so unlike button clicks (:mod:`alerts.interactivity`) they are not stored in the inbox first. A
replay within the signature's 5-minute window re-draws the same list, nothing more. Each HTTP request
is verified with the signing secret (:mod:`alerts.signature`) before anything is read from it, the
``url_verification`` handshake Slack sends when the Request URL is saved included.

Slack wants an answer within 3 seconds. A command's answer *is* the list (one indexed query), so it is
built before answering; a Home tab is published with ``views.publish`` after the event is acknowledged
(the returned :class:`Received` carries that job for the caller to run).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine

from alerts.app_home import publish_home
from alerts.interactivity import Answer
from alerts.signature import SignatureError, verify_request
from alerts.slack_errors import SlackError, redact_token
from alerts.slash_command import command_response
from monitor.core.config import EarshotSettings

__all__ = [
    "COMMANDS_PATH",
    "EVENTS_PATH",
    "Received",
    "command_fields",
    "handle_event",
    "receive_command",
    "receive_event",
]

logger = logging.getLogger(__name__)

EVENTS_PATH: Final = "/slack/events"
COMMANDS_PATH: Final = "/slack/commands"

Job = Callable[[], None]


@dataclass(frozen=True)
class Received:
    """What to answer Slack now, and what to do once it is answered (publish a Home tab), if anything."""

    answer: Answer
    after: Job | None = None


def _verified(
    verifier: SignatureVerifier, timestamp: str | None, signature: str | None, body: bytes, remote: str
) -> Answer | None:
    """None when the request is Slack's; else the 401 to answer."""
    try:
        verify_request(verifier, timestamp, signature, body)
    except SignatureError as exc:
        logger.warning("Slack request from %s refused: %s", remote, exc)
        return Answer(401, text="invalid Slack signature")
    return None


def _publish_job(engine: Engine, settings: EarshotSettings, sender: object, user_id: str) -> Job:
    def publish() -> None:
        try:
            publish_home(engine, settings, sender, user_id)
        except (SlackError, TypeError) as exc:
            detail = redact_token(str(exc), settings.slack.bot_token)
            logger.warning("App Home for %s not published: %s", user_id, detail)

    return publish


def handle_event(engine: Engine, settings: EarshotSettings, sender: object, body: dict[str, Any]) -> Received:
    """One Events API body (HTTP or a Socket Mode ``events_api`` envelope's payload)."""
    kind = body.get("type")
    if kind == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str) or not challenge or len(challenge) > 200:
            return Received(Answer(400, text="url_verification without a challenge"))
        return Received(Answer(200, body={"challenge": challenge}))
    event = body.get("event")
    if kind != "event_callback" or not isinstance(event, dict):
        return Received(Answer(200))
    user = event.get("user")
    if (
        event.get("type") == "app_home_opened"
        and event.get("tab", "home") == "home"
        and isinstance(user, str)
    ):
        return Received(Answer(200), _publish_job(engine, settings, sender, user))
    return Received(Answer(200))  # an event we did not subscribe to: acknowledged, nothing to do


def receive_event(
    engine: Engine,
    settings: EarshotSettings,
    verifier: SignatureVerifier,
    sender: object,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    remote: str,
) -> Received:
    """``POST /slack/events``: verify, answer the URL check, or acknowledge and schedule the Home tab."""
    refused = _verified(verifier, timestamp, signature, body, remote)
    if refused is not None:
        return Received(refused)
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        logger.warning("signed event from %s refused: body is not JSON", remote)
        return Received(Answer(400, text="malformed event"))
    if not isinstance(parsed, dict):
        return Received(Answer(400, text="malformed event"))
    return handle_event(engine, settings, sender, parsed)


def command_fields(body: bytes) -> dict[str, str]:
    """A slash command's form fields (first value of each); raises ValueError for a body that is not one."""
    fields = parse_qs(body.decode("utf-8"), strict_parsing=False, max_num_fields=40)
    return {name: values[0] for name, values in fields.items() if values}


def receive_command(
    engine: Engine,
    settings: EarshotSettings,
    verifier: SignatureVerifier,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    remote: str,
) -> Answer:
    """``POST /slack/commands``: verify, then answer ``/earshot`` with the caller's ephemeral list."""
    refused = _verified(verifier, timestamp, signature, body, remote)
    if refused is not None:
        return refused
    try:
        fields = command_fields(body)
    except (UnicodeDecodeError, ValueError):
        logger.warning("signed command from %s refused: body is not form-encoded UTF-8", remote)
        return Answer(400, text="malformed command")
    if fields.get("command") not in (None, "/earshot"):
        logger.warning("signed command from %s: unknown command %r", remote, fields.get("command", "")[:40])
    return Answer(200, body=command_response(engine, settings, fields))
