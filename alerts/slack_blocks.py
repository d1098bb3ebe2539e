"""The Block Kit blocks every alert message is built from: header, sections, links, buttons, state.

Every kind of alert message (a mention, a storm, a source going quiet, an escalation) is made of the
same blocks, so a button, a link or the handling-state line looks and behaves the same everywhere, and the
Slack handler can rely on the action ids of :mod:`alerts.action_ids`. The buttons offered follow the
alert's handling state, and the state lines (who handled, took or corrected it) are what ``chat.update``
shows after a click. Text going into a block must already be safe (:mod:`alerts.slack_format`); the
messages themselves are built in :mod:`alerts.mention_message`, :mod:`alerts.storm_message`,
:mod:`alerts.source_message` and :mod:`alerts.render`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerts import action_ids
from alerts.escaping import clean_text, plain_text
from alerts.slack_format import (
    SENTIMENT_EMOJI,
    SlackLimits,
    fit_escaped,
    is_slack_user_id,
    item_url,
    safe_url,
    truncate,
    untrusted,
    user_ref,
)
from alerts.slack_i18n import SlackText
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert

__all__ = [
    "actions_block",
    "context_block",
    "excerpt_mrkdwn",
    "handling_lines",
    "header_block",
    "link_button",
    "links_block",
    "section",
    "sentiment_name",
    "state_block",
]


def _plain_obj(text: str) -> dict[str, Any]:
    # emoji: false everywhere: plain_text often carries untrusted names, and ":shortcodes:" must stay text.
    return {"type": "plain_text", "text": text, "emoji": False}


def header_block(title: str) -> dict[str, Any]:
    """A header from (cleaned) text; plain_text is shown, never parsed, so it is not entity-escaped."""
    return {
        "type": "header",
        "text": _plain_obj(truncate(plain_text(title), SlackLimits.HEADER_TEXT) or "Alert"),
    }


def section(text: str, fields: Sequence[str] = ()) -> dict[str, Any]:
    """A mrkdwn section; ``text`` and ``fields`` must already be escaped and within limits."""
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if fields:
        block["fields"] = [{"type": "mrkdwn", "text": f} for f in fields]
    return block


def context_block(*texts: str) -> dict[str, Any]:
    """A context line of mrkdwn elements (already escaped)."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts if t]}


def link_button(label: str, url: str, action_id: str) -> dict[str, Any]:
    """A button that opens ``url``; Slack still sends a block_actions event, which the handler ignores."""
    return {
        "type": "button",
        "text": _plain_obj(truncate(label, SlackLimits.BUTTON_TEXT)),
        "url": url,
        "action_id": action_id,
    }


def links_block(
    mention_id: int | None,
    url: str | None,
    settings: EarshotSettings,
    voice: SlackText,
    block_id: str | None = None,
) -> dict[str, Any] | None:
    """ "Open on source" (when the URL is a safe http(s) one) and "Open in Earshot" buttons."""
    buttons = []
    source_url = safe_url(url)
    if source_url:
        buttons.append(link_button(voice.t("Open on source"), source_url, action_ids.OPEN_SOURCE))
    if mention_id is not None:
        buttons.append(
            link_button(voice.t("Open in Earshot"), item_url(settings, mention_id), action_ids.OPEN_ITEM)
        )
    if not buttons:
        return None
    default_id = f"{action_ids.LINKS_BLOCK_PREFIX}{mention_id if mention_id is not None else 'none'}"
    return {"type": "actions", "block_id": block_id or default_id, "elements": buttons}


def sentiment_name(label: str, voice: SlackText) -> str:
    """A sentiment label as the reader's language names it; an unknown label stays as it is."""
    names = {
        "negative": voice.t("negative"),
        "neutral": voice.t("neutral"),
        "positive": voice.t("positive"),
    }
    return names.get(label, label)


def _wrong_sentiment_select(corrected_label: str | None, voice: SlackText) -> dict[str, Any]:
    options = [
        {"text": _plain_obj(f"{SENTIMENT_EMOJI[label]} {sentiment_name(label, voice)}"), "value": label}
        for label in action_ids.SENTIMENT_LABELS
    ]
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_ids.WRONG_SENTIMENT,
        "placeholder": _plain_obj(voice.t("Wrong sentiment…")),
        "options": options,
    }
    chosen = next((o for o in options if o["value"] == corrected_label), None)
    if chosen is not None:
        select["initial_option"] = chosen
    return select


def actions_block(
    alert: Alert, voice: SlackText, *, can_reply: bool = True, state: Alert | None = None
) -> dict[str, Any] | None:
    """The buttons that handle an alert from Slack; what is offered follows the alert's handling state.

    Unhandled: Mark handled, Assign, Reply (when there is an item to reply to), Wrong sentiment.
    Handled: Reopen and Assign. ``state`` is the alert whose state and id the buttons act on (an SLA
    escalation acts on the overdue alert); ``None`` if it has no id yet (not stored, nothing to act on).
    """
    target = state or alert
    if target.id is None:
        return None
    value = str(target.id)
    assign: dict[str, Any] = {
        "type": "users_select",
        "action_id": action_ids.ASSIGN,
        "placeholder": _plain_obj(voice.t("Assign…")),
    }
    if is_slack_user_id(target.assignee):
        assign["initial_user"] = target.assignee
    elements: list[dict[str, Any]]
    if target.handled_at is not None:
        reopen = {
            "type": "button",
            "text": _plain_obj(voice.t("Reopen")),
            "action_id": action_ids.REOPEN,
            "value": value,
        }
        elements = [reopen, assign]
    else:
        elements = [
            {
                "type": "button",
                "text": _plain_obj(voice.t("Mark handled")),
                "action_id": action_ids.MARK_HANDLED,
                "value": value,
                "style": "primary",
            },
            assign,
        ]
        if can_reply:
            reply = {"type": "button", "text": _plain_obj(voice.t("Reply")), "action_id": action_ids.REPLY}
            elements.append({**reply, "value": value})
        elements.append(_wrong_sentiment_select(target.corrected_label, voice))
    return {"type": "actions", "block_id": f"{action_ids.ACTIONS_BLOCK_PREFIX}{value}", "elements": elements}


def handling_lines(alert: Alert, voice: SlackText) -> list[tuple[str, str]]:
    """(mrkdwn, plain) lines saying who handled, took, corrected or escalated the alert, from its row.

    This is what ``chat.update`` shows after a click, so the channel sees the state without opening
    Earshot.
    """
    lines: list[tuple[str, str]] = []
    someone = voice.t("someone")
    if alert.handled_at is not None:
        who_md, who_plain = user_ref(alert.handled_by, someone)
        when = voice.when(alert.handled_at)
        done = (
            "💬 Replied by %(who)s at %(when)s"
            if alert.handled_action == "replied"
            else "✅ Handled by %(who)s at %(when)s"
        )
        lines.append((voice.t(done, who=who_md, when=when), voice.t(done, who=who_plain, when=when)))
    if alert.assignee:
        to_md, to_plain = user_ref(alert.assignee, someone)
        md, plain = (
            voice.t("👤 Assigned to %(who)s", who=to_md),
            voice.t("👤 Assigned to %(who)s", who=to_plain),
        )
        if alert.assigned_by:
            by_md, by_plain = user_ref(alert.assigned_by, someone)
            md = voice.t("👤 Assigned to %(who)s by %(by)s", who=to_md, by=by_md)
            plain = voice.t("👤 Assigned to %(who)s by %(by)s", who=to_plain, by=by_plain)
        lines.append((md, plain))
    if alert.corrected_label:
        label_md, label_plain = untrusted(sentiment_name(alert.corrected_label, voice), 16, "?")
        by_md, by_plain = user_ref(alert.corrected_by, someone)
        corrected = "🏷 Sentiment corrected to %(label)s by %(who)s"
        lines.append(
            (
                voice.t(corrected, label=label_md, who=by_md),
                voice.t(corrected, label=label_plain, who=by_plain),
            )
        )
    if alert.escalated_at is not None:
        line = voice.t("⏰ Past its response target (SLA) — escalated")
        lines.append((line, line))
    return lines


def state_block(lines: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
    """The handling state as one context block (each line is short and bounded), or None without state."""
    return context_block(*(md for md, _ in lines)) if lines else None


def excerpt_mrkdwn(text: str | None, max_chars: int, voice: SlackText) -> tuple[str, str]:
    """(mrkdwn, plain) excerpt of untrusted item text, bounded to fit a section after escaping."""
    clean = clean_text(text or "")
    if not clean:
        missing = voice.t("(no text)")
        return f"_{missing}_", missing
    limit = min(max_chars, SlackLimits.SECTION_TEXT)
    # Room for a label and quotes around it; a short excerpt shares its section with a byline.
    bound = min(limit * 5, SlackLimits.SECTION_TEXT - 40)
    return fit_escaped(clean, limit, bound), truncate(clean, limit)
