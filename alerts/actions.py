"""Carry out one stored Slack request: which button or modal it is, for which alert, and who clicked.

The interactivity endpoint stores a verified request and acknowledges it; the worker then calls
:func:`handle` with the stored :class:`~monitor.core.models.SlackRequest`. This module reads the payload
and dispatches; what each action does lives with its kind: the handling-state changes in
:mod:`alerts.alert_state` (shared with the web page), the reply modal and the post on the item's source
in :mod:`alerts.reply_actions`. Every change bumps ``alert.state_version``; afterwards
``on_changed(alert_id)`` lets the outbox re-render the Slack message (``chat.update``) from the database.
A click that changes nothing (handling a handled alert) calls nothing: the message is not edited twice.

Who clicked is recorded as the Slack user id from the payload (``user.id``), which Slack vouches for
through the request signature. A request that cannot be carried out raises
:class:`~alerts.alert_state.ActionError` with a reason people can act on; the worker stores it on the
request (status ``failed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from alerts.action_ids import (
    ACTIONS_BLOCK_PREFIX,
    ASSIGN,
    MARK_HANDLED,
    REOPEN,
    REPLY,
    REPLY_MODAL,
    WRONG_SENTIMENT,
)
from alerts.alert_state import (
    ActionError,
    assign,
    correct_sentiment,
    mark_handled,
    parse_alert_id,
    reopen,
)
from alerts.app_home import publish_home
from alerts.reply_actions import ModalSender, open_reply_modal, submit_reply
from alerts.slack_errors import SlackError, redact_token
from monitor.core.config import EarshotSettings
from monitor.core.models import SlackRequest
from monitor.core.timeutil import utcnow
from sentiment.embeddings import Embedder

__all__ = ["OnChanged", "handle"]

OnChanged = Callable[[int], None]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- payload


def _user_id(payload: dict[str, Any]) -> str:
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not user_id:
        raise ActionError("the request names no Slack user (payload user.id)")
    return user_id


def _alert_id(action: dict[str, Any]) -> int:
    """A button carries the alert id as its ``value``; selects sit in the block ``earshot_actions_<id>``."""
    if action.get("type") == "button" and action.get("value") is not None:
        return parse_alert_id(action.get("value"), "the button value")
    block_id = action.get("block_id")
    if isinstance(block_id, str) and block_id.startswith(ACTIONS_BLOCK_PREFIX):
        return parse_alert_id(block_id.removeprefix(ACTIONS_BLOCK_PREFIX), "the block id")
    raise ActionError(f"cannot tell which alert action {action.get('action_id')!r} is for")


def _channel_id(payload: dict[str, Any]) -> str | None:
    for key in ("channel", "container"):
        part = payload.get(key)
        if isinstance(part, dict):
            found = part.get("id") if key == "channel" else part.get("channel_id")
            if isinstance(found, str) and found:
                return found
    return None


# ------------------------------------------------------------------------------------------ dispatch


def _block_action(
    engine: Engine,
    settings: EarshotSettings,
    sender: ModalSender,
    payload: dict[str, Any],
    action: dict[str, Any],
    now: datetime,
    embedder: Embedder | None,
) -> int | None:
    """Carry out one clicked element; the alert id when its state changed."""
    action_id = action.get("action_id")
    user = _user_id(payload)
    alert_id = _alert_id(action)
    changed: bool
    if action_id == MARK_HANDLED:
        changed = mark_handled(engine, alert_id, user, now)
    elif action_id == REOPEN:
        changed = reopen(engine, alert_id, user)
    elif action_id == ASSIGN:
        selected = action.get("selected_user")
        changed = assign(
            engine, alert_id, selected if isinstance(selected, str) and selected else None, user, now
        )
    elif action_id == WRONG_SENTIMENT:
        option = action.get("selected_option")
        label = option.get("value") if isinstance(option, dict) else None
        changed = correct_sentiment(engine, alert_id, str(label), user)
    elif action_id == REPLY:
        trigger_id = payload.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            raise ActionError("a Reply click without a trigger_id cannot open a modal")
        open_reply_modal(engine, settings, sender, alert_id, trigger_id, user, _channel_id(payload), embedder)
        changed = False
    else:
        raise ActionError(f"unknown action id {str(action_id)[:80]!r}")
    return alert_id if changed else None


def _refresh_home(
    engine: Engine, settings: EarshotSettings, sender: ModalSender, payload: dict[str, Any]
) -> None:
    """A click in the App Home tab re-draws it, so a handled or taken alert moves at once (best effort)."""
    view = payload.get("view")
    if not isinstance(view, dict) or view.get("type") != "home":
        return
    try:
        publish_home(engine, settings, sender, _user_id(payload))
    except (SlackError, TypeError) as exc:
        logger.warning(
            "App Home not refreshed after a click: %s", redact_token(str(exc), settings.slack.bot_token)
        )


def handle(
    engine: Engine,
    settings: EarshotSettings,
    sender: ModalSender,
    request: SlackRequest,
    on_changed: OnChanged,
    *,
    embedder: Embedder | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Carry out one stored interactivity request; raises :class:`ActionError` when it cannot."""
    payload = request.payload
    kind = request.kind
    now = clock()
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            raise ActionError("block_actions request without actions")
        for action in actions:
            if not isinstance(action, dict):
                raise ActionError("block_actions request with a malformed action")
            changed = _block_action(engine, settings, sender, payload, action, now, embedder)
            if changed is not None:
                on_changed(changed)
        _refresh_home(engine, settings, sender, payload)
    elif kind == "view_submission":
        view = payload.get("view")
        if not isinstance(view, dict) or view.get("callback_id") != REPLY_MODAL:
            callback = view.get("callback_id") if isinstance(view, dict) else None
            raise ActionError(f"unknown modal {str(callback)[:80]!r}")
        alert_id = submit_reply(engine, settings, sender, view, _user_id(payload), now, embedder)
        if alert_id is not None:
            on_changed(alert_id)
    elif kind == "view_closed":
        return  # the agent cancelled the modal: nothing to do
    else:
        raise ActionError(f"unsupported interaction type {kind!r}")
