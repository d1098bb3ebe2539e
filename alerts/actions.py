"""What each Slack button and the reply modal do to an alert, one small function per action.

The interactivity endpoint stores a verified request and acknowledges it; the worker then calls
:func:`handle` with the stored :class:`~monitor.core.models.SlackRequest`. Every change to an alert happens in
one transaction that also bumps ``alert.state_version``; afterwards ``on_changed(alert_id)`` lets the
outbox re-render the Slack message (``chat.update``) from the database, so the message always shows what
the database says, whoever changed it. A click that changes nothing (handling a handled alert) bumps
nothing and calls nothing: the message is not edited twice.

Who clicked is recorded as the Slack user id from the payload (``user.id``), which Slack vouches for
through the request signature. A request that cannot be carried out raises :class:`ActionError` with a
reason people can act on; the worker stores it on the request (status ``failed``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from alerts.action_ids import (
    ACTIONS_BLOCK_PREFIX,
    ASSIGN,
    MARK_HANDLED,
    REOPEN,
    REPLY,
    REPLY_BLOCK,
    REPLY_INPUT,
    REPLY_MODAL,
    SENTIMENT_LABELS,
    WRONG_SENTIMENT,
)
from alerts.enqueue import mention_view
from alerts.replies import reply_length, reply_limit, reply_unit
from alerts.reply_library import record_reply, similar_replies
from alerts.reply_modal import reply_modal, source_label
from alerts.slack_sender import SlackError, SlackPermanentError, redact_token
from alerts.source_replies import ReplyOutcome, post_source_reply
from monitor.core.config import EarshotSettings
from monitor.core.corrections import CorrectionError, record_correction
from monitor.core.db import write_session
from monitor.core.models import Alert, Mention, SlackRequest, TargetRow, utcnow
from sentiment.embeddings import Embedder

__all__ = [
    "HANDLED",
    "REPLIED",
    "ActionError",
    "ModalSender",
    "OnChanged",
    "assign",
    "correct_sentiment",
    "handle",
    "mark_handled",
    "open_reply_modal",
    "reopen",
    "reply_error",
    "reply_text",
    "reply_to_item",
    "submit_reply",
]

logger = logging.getLogger(__name__)

HANDLED: Final = "handled"
REPLIED: Final = "replied"

OnChanged = Callable[[int], None]


class ActionError(Exception):
    """A Slack request that cannot be carried out; the message says why and is stored on the request."""


class ModalSender(Protocol):
    """The Slack calls actions need beyond the outbox's: opening the reply modal."""

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """``views.open`` with a trigger id from a click (valid for 3 s)."""
        ...


# ------------------------------------------------------------------------------------------- payload


def _user_id(payload: dict[str, Any]) -> str:
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not user_id:
        raise ActionError("the request names no Slack user (payload user.id)")
    return user_id


def _parse_id(text: Any, what: str) -> int:
    if isinstance(text, str) and text.isascii() and text.isdecimal() and len(text) <= 18:
        return int(text)
    raise ActionError(f"{what} is not an alert id: {str(text)[:80]!r}")


def _alert_id(action: dict[str, Any]) -> int:
    """A button carries the alert id as its ``value``; selects sit in the block ``earshot_actions_<id>``."""
    if action.get("type") == "button" and action.get("value") is not None:
        return _parse_id(action.get("value"), "the button value")
    block_id = action.get("block_id")
    if isinstance(block_id, str) and block_id.startswith(ACTIONS_BLOCK_PREFIX):
        return _parse_id(block_id.removeprefix(ACTIONS_BLOCK_PREFIX), "the block id")
    raise ActionError(f"cannot tell which alert action {action.get('action_id')!r} is for")


def _channel_id(payload: dict[str, Any]) -> str | None:
    for key in ("channel", "container"):
        part = payload.get(key)
        if isinstance(part, dict):
            found = part.get("id") if key == "channel" else part.get("channel_id")
            if isinstance(found, str) and found:
                return found
    return None


def reply_text(view: dict[str, Any]) -> str | None:
    """The text typed into the reply modal (``state.values[REPLY_BLOCK][REPLY_INPUT].value``)."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    block = values.get(REPLY_BLOCK) if isinstance(values, dict) else None
    element = block.get(REPLY_INPUT) if isinstance(block, dict) else None
    value = element.get("value") if isinstance(element, dict) else None
    return value if isinstance(value, str) else None


def reply_error(text: str | None, source: str) -> str | None:
    """Why ``text`` cannot be posted to ``source`` (shown under the input), or None when it can."""
    if text is None or not text.strip():
        return "Write a reply first: it is empty."
    limit = reply_limit(source)
    length = reply_length(source, text.strip())
    if limit is not None and length > limit:
        unit = reply_unit(source)
        return (
            f"{source_label(source)} accepts at most {limit} {unit}; this reply has {length}. "
            "Shorten it and post again."
        )
    return None


def modal_metadata(view: dict[str, Any]) -> tuple[int, str | None]:
    """(alert id, channel id) from the modal's ``private_metadata``, which :func:`reply_modal` wrote."""
    raw = view.get("private_metadata")
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise ActionError("the reply modal carries no alert (private_metadata is not Earshot's JSON)")
    channel = data.get("channel_id")
    return _parse_id(str(data.get("alert_id")), "private_metadata.alert_id"), (
        channel if isinstance(channel, str) and channel else None
    )


# ------------------------------------------------------------------------------------------- effects


def _exists(engine: Engine, alert_id: int) -> Alert:
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
    if alert is None:
        raise ActionError(f"alert {alert_id} does not exist (deleted, or another Earshot's database)")
    return alert


def _change(engine: Engine, alert_id: int, *conditions: Any, **values: Any) -> bool:
    """One compare-and-set on the alert: apply ``values`` and bump state_version if ``conditions`` hold."""
    stmt = (
        update(Alert)
        .where(col(Alert.id) == alert_id, *conditions)
        .values(state_version=col(Alert.state_version) + 1, **values)
    )
    with engine.begin() as conn:
        changed = bool(conn.execute(stmt).rowcount)
    if not changed:
        _exists(engine, alert_id)
    return changed


def mark_handled(engine: Engine, alert_id: int, user: str, now: datetime) -> bool:
    """Mark the alert handled by ``user``; False (and nothing changed) when it already was."""
    return _change(
        engine,
        alert_id,
        col(Alert.handled_at).is_(None),
        handled_at=now,
        handled_by=user[:200],
        handled_action=HANDLED,
    )


def reopen(engine: Engine, alert_id: int, user: str) -> bool:
    """Make a handled alert open again (SLA clocks see it as unhandled); False when it was open."""
    logger.info("alert %s reopened by %s", alert_id, user)
    return _change(
        engine,
        alert_id,
        col(Alert.handled_at).is_not(None),
        handled_at=None,
        handled_by=None,
        handled_action=None,
    )


def assign(engine: Engine, alert_id: int, assignee: str | None, user: str, now: datetime) -> bool:
    """Assign the alert to ``assignee`` (a Slack user id; None clears it); False when nothing changes."""
    condition: ColumnElement[bool]
    if assignee is None:
        condition = col(Alert.assignee).is_not(None)
    else:
        condition = or_(col(Alert.assignee).is_(None), col(Alert.assignee) != assignee)
    return _change(
        engine,
        alert_id,
        condition,
        assignee=assignee[:200] if assignee else None,
        assigned_by=user[:200],
        assigned_at=now,
    )


def correct_sentiment(engine: Engine, alert_id: int, label: str, user: str, *, via: str = "slack") -> bool:
    """Record the agent's sentiment label for the alerted item (training data) and show it on the alert.

    ``via`` says where the correction came from (``slack``, ``web``) in the training data.
    """
    if label not in SENTIMENT_LABELS:
        raise ActionError(f"{label!r} is not a sentiment label ({', '.join(SENTIMENT_LABELS)})")
    with write_session(engine) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise ActionError(f"alert {alert_id} does not exist (deleted, or another Earshot's database)")
        if alert.mention_id is None:
            raise ActionError(f"alert {alert_id} is not about an item; there is no sentiment to correct")
        if alert.corrected_label == label:
            return False
        try:
            record_correction(session, alert.mention_id, label, corrected_by=user, via=via)
        except CorrectionError as exc:
            raise ActionError(f"alert {alert_id}: {exc}") from exc
        session.exec(
            update(Alert)
            .where(col(Alert.id) == alert_id)
            .values(
                corrected_label=label,
                corrected_by=user[:200],
                state_version=col(Alert.state_version) + 1,
            )
        )
    return True


def _load_item(session: Session, alert_id: int) -> tuple[Alert, Mention, str | None]:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise ActionError(f"alert {alert_id} does not exist (deleted, or another Earshot's database)")
    mention = session.get(Mention, alert.mention_id) if alert.mention_id is not None else None
    if mention is None:
        raise ActionError(f"alert {alert_id} is not about a stored item; there is nothing to reply to")
    target = session.get(TargetRow, mention.target_id) if mention.target_id is not None else None
    return alert, mention, target.name if target is not None else alert.target


def tell_user(
    settings: EarshotSettings, sender: object, channel_id: str | None, user: str, text: str
) -> None:
    """Show ``text`` to ``user`` alone in ``channel_id`` (``chat.postEphemeral``); failures are logged.

    Uses the sender's ``post_ephemeral``; a sender without one (the console) just logs the note.
    """
    if channel_id is None:
        logger.warning("cannot tell %s (no channel known): %s", user, text)
        return
    post = getattr(sender, "post_ephemeral", None)
    if not callable(post):
        logger.warning("note for %s (no Slack to show it in): %s", user, text)
        return
    try:
        post(channel_id, user, text)
    except SlackError as exc:
        detail = redact_token(str(exc), settings.slack.bot_token)
        logger.warning("could not tell %s in %s (%s): %s", user, channel_id, detail, text)


def open_reply_modal(
    engine: Engine,
    settings: EarshotSettings,
    sender: ModalSender,
    alert_id: int,
    trigger_id: str,
    user: str,
    channel_id: str | None,
    embedder: Embedder | None = None,
) -> None:
    """Open the reply modal for the alert's item, prefilled with its suggested reply; no state changes."""
    with Session(engine) as session:
        alert, mention, _target = _load_item(session, alert_id)
        similar = similar_replies(session, mention.text, embedder) if embedder is not None else []
    if channel_id and not alert.slack_channel_id:
        alert.slack_channel_id = channel_id  # only for the modal's metadata; not saved
    view = reply_modal(alert, mention.text, mention.source, similar)
    try:
        sender.open_view(trigger_id, view)
    except SlackError as exc:
        if isinstance(exc, SlackPermanentError) and exc.code == "expired_trigger_id":
            tell_user(
                settings,
                sender,
                channel_id or alert.slack_channel_id,
                user,
                "Earshot was too slow to open the reply window (Slack allows 3 seconds). Click Reply again.",
            )
        raise ActionError(f"could not open the reply modal for alert {alert_id}: {exc}") from exc


def reply_to_item(
    engine: Engine,
    settings: EarshotSettings,
    *,
    alert_id: int | None,
    mention_id: int,
    text: str,
    user: str,
    via: str,
    now: datetime,
    embedder: Embedder | None = None,
) -> ReplyOutcome:
    """Post ``text`` on the item's source, record it, and mark the alert (if any) handled ("replied").

    Shared by the Slack reply modal and the web item page, so both post, record and hand over the same
    way. The reply is recorded whatever the source answers (``failed`` with the reason when it refused);
    the alert changes only when the reply was posted or recorded. Raises :class:`ActionError` when the
    text cannot be sent at all (empty, over the source's limit) or the item/alert does not exist.
    """
    with Session(engine) as session:
        mention = session.get(Mention, mention_id)
        if mention is None:
            raise ActionError(f"mention {mention_id} does not exist; there is nothing to reply to")
        row = session.get(TargetRow, mention.target_id) if mention.target_id is not None else None
        target = row.name if row is not None else None
        if alert_id is not None:
            alert = session.get(Alert, alert_id)
            if alert is None or alert.mention_id != mention_id:
                raise ActionError(f"alert {alert_id} is not an alert about mention {mention_id}")
            target = target or alert.target
    problem = reply_error(text, mention.source)
    if problem is not None:
        raise ActionError(f"mention {mention_id}: reply not posted: {problem}")
    outcome = post_source_reply(settings, mention_view(mention, target), mention.raw, text)
    with write_session(engine) as session:
        record_reply(
            session,
            mention_id=mention_id,
            alert_id=alert_id,
            text=text,
            author=user,
            via=via,
            status=outcome.status,
            error=outcome.detail if outcome.status == "failed" else None,
            lang=mention.lang,
            item_text=mention.text,
            embedder=embedder,
        )
        if outcome.status != "failed" and alert_id is not None:
            session.exec(
                update(Alert)
                .where(col(Alert.id) == alert_id)
                .values(
                    handled_at=now,
                    handled_by=user[:200],
                    handled_action=REPLIED,
                    state_version=col(Alert.state_version) + 1,
                )
            )
    return outcome


def submit_reply(
    engine: Engine,
    settings: EarshotSettings,
    sender: object,
    view: dict[str, Any],
    user: str,
    now: datetime,
    embedder: Embedder | None = None,
) -> int | None:
    """Post the modal's reply on the item's source, record it, and mark the alert handled ("replied").

    Returns the alert id when the alert changed. When the source refuses, the reply is still recorded
    (``failed``), the alert stays open, the agent is told why in the channel, and :class:`ActionError`
    is raised so the request is stored as failed.
    """
    alert_id, channel_id = modal_metadata(view)
    text = reply_text(view)
    with Session(engine) as session:
        alert, mention, _target = _load_item(session, alert_id)
    problem = reply_error(text, mention.source)
    if problem is not None or text is None:
        raise ActionError(f"alert {alert_id}: reply not posted: {problem}")
    assert mention.id is not None
    outcome = reply_to_item(
        engine,
        settings,
        alert_id=alert_id,
        mention_id=mention.id,
        text=text,
        user=user,
        via="slack",
        now=now,
        embedder=embedder,
    )
    if outcome.status == "failed":
        tell_user(
            settings,
            sender,
            channel_id or alert.slack_channel_id,
            user,
            f"Your reply was not posted to {source_label(mention.source)}: {outcome.detail}. "
            "The alert stays open; your text is saved in Earshot.",
        )
        raise ActionError(
            f"alert {alert_id}: {source_label(mention.source)} refused the reply: {outcome.detail}"
        )
    return alert_id


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
