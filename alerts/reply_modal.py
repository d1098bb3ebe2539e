"""The "Reply" modal: the agent reads the item, edits the suggested reply and posts it from Slack.

Slack rejects a whole view (``invalid_arguments``) when one field breaks a Block Kit limit, and the click's
trigger id is gone three seconds later, so every piece here is cut to the documented limits up front: the
title, submit and close labels (24 characters), the input's ``initial_value`` (never longer than its
``max_length`` as Slack counts it: UTF-16 code units, so an emoji is two), context texts (3,000) and
``private_metadata`` (3,000). Untrusted text (the review, past
replies) is cleaned and escaped like alert messages (:mod:`alerts.escaping`) so it cannot ping or link.
"""

from __future__ import annotations

import json
from typing import Any, Final

from alerts.action_ids import REPLY_BLOCK, REPLY_INPUT, REPLY_MODAL
from alerts.escaping import clean_text, plain_text
from alerts.replies import reply_limit
from alerts.reply_library import PastReply
from alerts.slack_format import fit_escaped, truncate
from alerts.slack_i18n import ENGLISH, SlackText
from alerts.source_replies import reply_supported
from monitor.core.models import Alert

__all__ = [
    "INPUT_MAX_CHARS",
    "MAX_SIMILAR",
    "ModalLimits",
    "fit_utf16",
    "reply_input_limit",
    "reply_modal",
    "source_label",
]


class ModalLimits:
    """Documented limits of a modal view (characters unless stated)."""

    TITLE = 24
    SUBMIT = 24
    CLOSE = 24
    BLOCKS = 100
    CALLBACK_ID = 255
    PRIVATE_METADATA = 3000
    INPUT_LABEL = 2000
    INPUT_MAX_LENGTH = 3000
    CONTEXT_TEXT = 3000


INPUT_MAX_CHARS: Final = ModalLimits.INPUT_MAX_LENGTH
MAX_SIMILAR: Final = 3
EXCERPT_CHARS: Final = 300
_PAST_REPLY_CHARS: Final = 300

_SOURCE_LABELS: Final = {
    "google_business": "Google Business Profile",
    "google_places": "Google Places",
    "trustpilot": "Trustpilot",
    "allegro": "Allegro",
    "ceneo": "Ceneo",
    "reddit": "Reddit",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "hackernews": "Hacker News",
    "youtube": "YouTube",
    "rss": "RSS/Atom",
}


def source_label(source: str) -> str:
    """A source's name for people ("Google Business Profile"); unknown sources show their id."""
    return _SOURCE_LABELS.get(source, source)


def reply_input_limit(source: str) -> int:
    """The input's ``max_length``: the source's reply limit, but never above Slack's 3,000 for an input."""
    limit = reply_limit(source)
    return INPUT_MAX_CHARS if limit is None else max(1, min(INPUT_MAX_CHARS, limit))


def fit_utf16(text: str, limit: int) -> str:
    """The longest prefix of ``text`` of at most ``limit`` UTF-16 code units (Slack's count).

    A Python character outside the Basic Multilingual Plane (most emoji) is two units, a surrogate pair
    that is never split, because the cut falls between Python characters.
    """
    if len(text) * 2 <= limit:
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(plain_text(text), limit), "emoji": False}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _excerpt(text: str, chars: int, voice: SlackText) -> str:
    """Untrusted text as inert mrkdwn, cut to ``chars`` characters before escaping."""
    clean = clean_text(text)
    if not clean:
        return f"_{voice.t('(no text)')}_"
    return fit_escaped(clean, chars, ModalLimits.CONTEXT_TEXT - 100)


def _destination(source: str, voice: SlackText) -> str:
    if reply_supported(source):
        return voice.t("Posted to %(source)s", source=source_label(source))
    return voice.t("This source has no reply API: Earshot records it, post it yourself")


def _similar_blocks(similar: list[PastReply], voice: SlackText) -> list[dict[str, Any]]:
    if not similar:
        return []
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        {"type": "context", "elements": [_mrkdwn(f"*{voice.t('Similar past replies')}*")]},
    ]
    for past in similar[:MAX_SIMILAR]:
        alike = voice.t("%(share)s alike", share=voice.percent(max(0.0, min(past.similarity, 1.0))))
        blocks.append(
            {
                "type": "context",
                "elements": [_mrkdwn(f"{alike}: {_excerpt(past.text, _PAST_REPLY_CHARS, voice)}")],
            }
        )
    return blocks


def reply_modal(
    alert: Alert, mention_text: str, source: str, similar: list[PastReply], voice: SlackText = ENGLISH
) -> dict[str, Any]:
    """The modal view for ``views.open``, prefilled with the alert's suggested reply.

    ``private_metadata`` carries the alert id and the channel of its message, so the submission can be
    handled (and a failure reported in that channel) without trusting anything else in the view.
    """
    if alert.id is None:
        raise ValueError("reply_modal needs a stored alert (id is None)")
    max_length = reply_input_limit(source)
    metadata = json.dumps({"alert_id": alert.id, "channel_id": alert.slack_channel_id})
    reply_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": REPLY_INPUT,
        "multiline": True,
        "min_length": 1,
        "max_length": max_length,
        "placeholder": _plain(voice.t("Write the reply the customer will read"), 150),
    }
    suggested = (alert.suggested_reply or "").strip()
    if suggested:
        # Slack refuses an initial_value longer than max_length, counted in UTF-16 code units.
        reply_input["initial_value"] = fit_utf16(suggested, max_length)
    blocks: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                _mrkdwn(f"*{source_label(source)}* · {_excerpt(mention_text, EXCERPT_CHARS, voice)}")
            ],
        },
        {"type": "context", "elements": [_mrkdwn(_destination(source, voice))]},
        # The reply memory first: what the team sent to items like this one, above the draft to edit.
        *_similar_blocks(similar, voice),
        {
            "type": "input",
            "block_id": REPLY_BLOCK,
            "label": _plain(voice.t("Reply"), ModalLimits.INPUT_LABEL),
            "hint": _plain(
                voice.n(
                    "At most %(count)s character.",
                    "At most %(count)s characters.",
                    max_length,
                    count=voice.number(max_length),
                ),
                ModalLimits.INPUT_LABEL,
            ),
            "element": reply_input,
        },
    ]
    return {
        "type": "modal",
        "callback_id": REPLY_MODAL,
        "title": _plain(voice.t("Reply"), ModalLimits.TITLE),
        "submit": _plain(voice.t("Post reply"), ModalLimits.SUBMIT),
        "close": _plain(voice.t("Cancel"), ModalLimits.CLOSE),
        "private_metadata": metadata,
        "notify_on_close": False,
        "blocks": blocks,
    }
