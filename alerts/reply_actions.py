"""Replying to the alerted item: the Slack reply modal, the post on the item's source, the record.

An agent can reply from Slack (the Reply button opens a modal prefilled with the suggested reply) or
from the web item page; both end in :func:`reply_to_item`, so both check the source's length limit,
post, record the reply (``failed`` with the source's reason when it refused) and mark the alert
``replied`` the same way. The modal's text and alert travel in its ``view`` payload, read here; a
refusal the agent must see is shown to them alone in the channel (``chat.postEphemeral``).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from alerts.action_ids import REPLY_BLOCK, REPLY_INPUT
from alerts.alert_state import REPLIED, ActionError, parse_alert_id
from alerts.replies import reply_length, reply_limit, reply_unit
from alerts.reply_library import record_reply, similar_replies
from alerts.reply_modal import reply_modal, source_label
from alerts.slack_errors import SlackError, SlackPermanentError, redact_token
from alerts.slack_i18n import ENGLISH, SlackText, slack_text
from alerts.source_replies import ReplyOutcome, post_source_reply
from alerts.views import mention_view
from monitor.core.config import EarshotSettings
from monitor.core.db import write_session
from monitor.core.models import Alert, Mention, TargetRow
from sentiment.embeddings import Embedder

__all__ = [
    "ModalSender",
    "modal_metadata",
    "open_reply_modal",
    "reply_error",
    "reply_text",
    "reply_to_item",
    "submit_reply",
    "tell_user",
]

logger = logging.getLogger(__name__)


class ModalSender(Protocol):
    """The Slack calls actions need beyond the outbox's: opening the reply modal."""

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """``views.open`` with a trigger id from a click (valid for 3 s)."""
        ...


def reply_text(view: dict[str, Any]) -> str | None:
    """The text typed into the reply modal (``state.values[REPLY_BLOCK][REPLY_INPUT].value``)."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    block = values.get(REPLY_BLOCK) if isinstance(values, dict) else None
    element = block.get(REPLY_INPUT) if isinstance(block, dict) else None
    value = element.get("value") if isinstance(element, dict) else None
    return value if isinstance(value, str) else None


def reply_error(text: str | None, source: str, voice: SlackText = ENGLISH) -> str | None:
    """Why ``text`` cannot be posted to ``source`` (shown under the input), or None when it can."""
    if text is None or not text.strip():
        return voice.t("Write a reply first: it is empty.")
    limit = reply_limit(source)
    length = reply_length(source, text.strip())
    if limit is not None and length > limit:
        values = {"source": source_label(source), "limit": limit, "length": length}
        if reply_unit(source) == "bytes":
            message = "%(source)s accepts at most %(limit)s bytes; this reply has %(length)s. Shorten it and post again."
        else:
            message = (
                "%(source)s accepts at most %(limit)s characters; this reply has %(length)s. "
                "Shorten it and post again."
            )
        return voice.t(message, **values)
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
    return parse_alert_id(str(data.get("alert_id")), "private_metadata.alert_id"), (
        channel if isinstance(channel, str) and channel else None
    )


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
        alert, mention, target = _load_item(session, alert_id)
        similar = similar_replies(session, mention.text, embedder) if embedder is not None else []
    if channel_id and not alert.slack_channel_id:
        alert.slack_channel_id = channel_id  # only for the modal's metadata; not saved
    voice = slack_text(settings, target)
    view = reply_modal(alert, mention.text, mention.source, similar, voice)
    try:
        sender.open_view(trigger_id, view)
    except SlackError as exc:
        if isinstance(exc, SlackPermanentError) and exc.code == "expired_trigger_id":
            tell_user(
                settings,
                sender,
                channel_id or alert.slack_channel_id,
                user,
                voice.t(
                    "Earshot was too slow to open the reply window (Slack allows 3 seconds). Click Reply again."
                ),
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
    outcome = post_source_reply(settings, mention_view(mention, target), mention.raw, text, engine=engine)
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
        alert, mention, target = _load_item(session, alert_id)
    voice = slack_text(settings, target)
    problem = reply_error(text, mention.source, voice)
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
            voice.t(
                "Your reply was not posted to %(source)s: %(detail)s. "
                "The alert stays open; your text is saved in Earshot.",
                source=source_label(mention.source),
                detail=outcome.detail,
            ),
        )
        raise ActionError(
            f"alert {alert_id}: {source_label(mention.source)} refused the reply: {outcome.detail}"
        )
    return alert_id
