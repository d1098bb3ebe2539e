"""Turn an alert into a Slack Block Kit message that is safe, complete and within Slack's limits.

Slack rejects a whole message (``invalid_blocks``) when one block exceeds a limit, and a rejected alert
is a lost alert, so every piece of untrusted text is cleaned, escaped (see :mod:`alerts.escaping`) and
cut to the documented limits here, measured after escaping. Every message also carries a fallback
``text``: Slack shows it in notifications and in clients that cannot render blocks.

This module holds the building blocks every alert kind shares (buttons, date tokens, user references,
the handling-state lines and the actions block) and the mention alert itself; :mod:`alerts.render` picks
the builder for an alert's kind. The only control sequences a message ever contains are the ones built
here from trusted values: ``<!date^…>`` tokens and ``<@U…>`` mentions of ids that passed
:func:`is_slack_user_id`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from alerts import action_ids
from alerts.escaping import clean_text, escape_control_chars, plain_text, slack_len
from alerts.rules import MentionView, ScoreView, format_rating
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert

__all__ = [
    "ASPECT_LABELS_EN",
    "SENTIMENT_EMOJI",
    "URGENCY_REASON_LABELS",
    "SlackLimits",
    "SlackMessage",
    "actions_block",
    "as_float",
    "as_int",
    "as_time",
    "aspect_label",
    "build_message",
    "context_block",
    "count",
    "date_token",
    "excerpt_mrkdwn",
    "fallback_text",
    "fit_escaped",
    "handling_lines",
    "header_block",
    "is_slack_user_id",
    "item_url",
    "limit_violations",
    "link_button",
    "links_block",
    "payload_of",
    "safe_url",
    "section",
    "similar_replies",
    "stars",
    "state_block",
    "truncate",
    "untrusted",
    "urgency_reason_label",
    "user_ref",
]


class SlackLimits:
    """Documented Block Kit / chat.postMessage limits (characters unless stated)."""

    BLOCKS = 50
    HEADER_TEXT = 150
    SECTION_TEXT = 3000
    SECTION_FIELDS = 10
    FIELD_TEXT = 2000
    CONTEXT_ELEMENTS = 10
    CONTEXT_TEXT = 3000
    ACTION_ELEMENTS = 25
    BUTTON_TEXT = 75
    BUTTON_URL = 3000
    BUTTON_VALUE = 2000
    ACTION_ID = 255
    BLOCK_ID = 255
    PLACEHOLDER_TEXT = 150
    SELECT_OPTIONS = 100
    OPTION_TEXT = 75
    OPTION_VALUE = 150
    # Slack truncates ``text`` beyond 40,000 characters but recommends at most 4,000 for notifications.
    FALLBACK_TEXT = 4000


ELLIPSIS = "…"
_FIELD_VALUE_CHARS = 200  # author names and targets are short; a 2,000-char "name" is abuse, not data
_FALLBACK_EXCERPT_CHARS = 300
_REASON_CHARS = 500
_USER_CHARS = 80
_REPLY_CHARS = 1500
_SIMILAR_CHARS = 200
_SIMILAR_SHOWN = 2

_KIND_TITLES = {
    "negative": "Negative mention",
    "low_rating": "Low rating",
    "urgent": "🚨 Urgent",
    "keyword": "Keyword match",
}

# Copied from sentiment.aspects.ASPECT_LABELS (English) so that rendering never imports numpy or the
# encoder; tests/alerts/test_slack_blocks.py checks the two stay equal.
ASPECT_LABELS_EN: dict[str, str] = {
    "delivery": "Delivery",
    "returns": "Returns and complaints",
    "customer_service": "Customer service",
    "product_quality": "Product quality",
    "price": "Price",
    "payment": "Payment",
    "website": "Website / app",
}
# Readable forms of sentiment.urgency.REASONS (a test checks every code has one).
URGENCY_REASON_LABELS: dict[str, str] = {
    "legal_threat": "legal threat",
    "health_safety": "health/safety",
    "fraud_scam": "fraud/scam",
    "data_leak": "data leak",
    "public_escalation": "public escalation",
    "repeated_complaint": "repeated complaint",
    "high_reach": "high reach",
}
SENTIMENT_EMOJI: dict[str, str] = {"negative": "🔴", "neutral": "⚪", "positive": "🟢"}
_URGENCY_BADGE = {"critical": "🚨 critical", "elevated": "⚠️ elevated"}

# Slack user ids (U… for workspace users, W… for Enterprise Grid). Anything else is a name, shown as text.
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
_DECIMAL = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class SlackMessage:
    """What is posted: fallback ``text`` (escaped mrkdwn), Block Kit ``blocks``, and a ``plain`` rendering
    of the same facts, unescaped, for the console and logs."""

    text: str
    blocks: list[dict[str, Any]]
    plain: str = field(default="", compare=False)


# ------------------------------------------------------------------------------------------ text pieces


def truncate(text: str, max_len: int) -> str:
    """``text`` cut to ``max_len`` (as Slack counts) with an ellipsis, at a word boundary when one is near."""
    if slack_len(text) <= max_len:
        return text
    budget = max(max_len - 1, 0)
    cut = text[:budget]
    while slack_len(cut) > budget:
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space > 0 and space >= len(cut) - 20:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def fit_escaped(clean: str, max_chars: int, max_escaped: int) -> str:
    """Cut cleaned text to ``max_chars`` and escape it, cutting further until the *escaped* text fits.

    Escaping makes text longer (``&`` becomes ``&amp;``), and it must happen after the cut so an entity is
    never split, hence the loop: each round removes at least the overflow.
    """
    limit = max_chars
    while True:
        escaped = escape_control_chars(truncate(clean, limit))
        overflow = slack_len(escaped) - max_escaped
        if overflow <= 0 or limit <= 1:
            return escaped
        limit = max(1, limit - overflow)


def untrusted(
    text: object, max_chars: int, missing: str = "", max_escaped: int | None = None
) -> tuple[str, str]:
    """(mrkdwn, plain) for a value from outside: cleaned, cut to ``max_chars`` and, for mrkdwn, escaped.

    Payload values are JSON, so anything (numbers, lists, None) may arrive where text was meant; it is
    shown as text rather than trusted to be a string. An empty result becomes ``missing``. Escaped, the
    text is at most ``max_escaped`` long (default: five times ``max_chars``, at most 2,000).
    """
    raw = "" if text is None else text if isinstance(text, str) else str(text)
    clean = clean_text(raw)
    if not clean:
        return missing, missing
    bound = max_escaped if max_escaped is not None else min(max_chars * 5, 2000)
    return fit_escaped(clean, max_chars, bound), truncate(clean, max_chars)


def stars(rating: float) -> str:
    """``★☆☆☆☆ 1/5``: the rating rounded half up to whole stars, with the exact value beside it."""
    if not math.isfinite(rating):
        return f"{format_rating(rating)}/5"
    filled = math.floor(min(max(rating, 0.0), 5.0) + 0.5)
    return "★" * filled + "☆" * (5 - filled) + f" {format_rating(rating)}/5"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def date_token(
    moment: datetime | None,
    token: str = "{date_short_pretty} {time}",
    fallback: str = "%Y-%m-%d %H:%M UTC",
    missing: str = "unknown",
) -> tuple[str, str]:
    """(mrkdwn, plain) for a time; Slack's date token shows it in each reader's own time zone."""
    if moment is None:
        return f"_{missing}_", missing
    utc = _utc(moment)
    shown = utc.strftime(fallback)
    return f"<!date^{int(utc.timestamp())}^{token}|{shown}>", shown


def is_slack_user_id(value: str | None) -> bool:
    """Whether ``value`` has the shape of a Slack user id, so ``<@value>`` can only ever mention a user."""
    return value is not None and _SLACK_USER_ID.fullmatch(value) is not None


def user_ref(value: str | None, missing: str = "someone") -> tuple[str, str]:
    """(mrkdwn, plain) for who did something: a Slack user id becomes a mention, a web user name stays text.

    The id arrives in a Slack payload, but it is checked anyway: a ``<@…>`` built from anything else could
    ping a channel.
    """
    if value is not None and is_slack_user_id(value):
        return f"<@{value}>", f"@{value}"
    return untrusted(value, _USER_CHARS, missing)


def aspect_label(code: str) -> str:
    """English label of an aspect code, or the code made readable (still untrusted: clean before use)."""
    return ASPECT_LABELS_EN.get(code, code.replace("_", " ").capitalize())


def urgency_reason_label(code: str) -> str:
    """``legal_threat`` -> ``legal threat``; unknown codes are made readable the same way."""
    return URGENCY_REASON_LABELS.get(code, code.replace("_", " "))


def safe_url(url: str | None) -> str | None:
    """An http(s) URL Slack will accept on a button, or ``None`` (javascript:, data:, garbage, too long)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if len(url) > SlackLimits.BUTTON_URL or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal in the host
        return None
    return url if parts.scheme.lower() in {"http", "https"} and parts.netloc else None


def item_url(settings: EarshotSettings, mention_id: int) -> str:
    """The mention's page in Earshot's web UI."""
    return f"{settings.public_url.rstrip('/')}/items/{mention_id}"


# ------------------------------------------------------------------------------------------ payload values


def payload_of(alert: Alert | None) -> dict[str, Any]:
    """The alert's JSON payload, or an empty one: a row written by an older version may hold anything."""
    return alert.payload if alert is not None and isinstance(alert.payload, dict) else {}


def as_int(value: object) -> int | None:
    """A payload number as an int (JSON may give 3, 3.0 or "3"); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return int(value.strip())
    return None


def as_float(value: object) -> float | None:
    """A finite payload number as a float; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def as_time(value: object) -> datetime | None:
    """A payload time (ISO 8601 text, as the alert loop writes it); None when missing or unreadable."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def count(value: float) -> str:
    """``60.0`` -> ``60``, ``1.25`` -> ``1.2``: counts and minutes without noise."""
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


# ----------------------------------------------------------------------------------------------- blocks


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
    mention_id: int | None, url: str | None, settings: EarshotSettings, block_id: str | None = None
) -> dict[str, Any] | None:
    """ "Open on source" (when the URL is a safe http(s) one) and "Open in Earshot" buttons."""
    buttons = []
    source_url = safe_url(url)
    if source_url:
        buttons.append(link_button("Open on source", source_url, action_ids.OPEN_SOURCE))
    if mention_id is not None:
        buttons.append(link_button("Open in Earshot", item_url(settings, mention_id), action_ids.OPEN_ITEM))
    if not buttons:
        return None
    default_id = f"{action_ids.LINKS_BLOCK_PREFIX}{mention_id if mention_id is not None else 'none'}"
    return {"type": "actions", "block_id": block_id or default_id, "elements": buttons}


def _wrong_sentiment_select(corrected_label: str | None) -> dict[str, Any]:
    options = [
        {"text": _plain_obj(f"{SENTIMENT_EMOJI[label]} {label}"), "value": label}
        for label in action_ids.SENTIMENT_LABELS
    ]
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_ids.WRONG_SENTIMENT,
        "placeholder": _plain_obj("Wrong sentiment…"),
        "options": options,
    }
    chosen = next((o for o in options if o["value"] == corrected_label), None)
    if chosen is not None:
        select["initial_option"] = chosen
    return select


def actions_block(
    alert: Alert, *, can_reply: bool = True, state: Alert | None = None
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
        "placeholder": _plain_obj("Assign…"),
    }
    if is_slack_user_id(target.assignee):
        assign["initial_user"] = target.assignee
    elements: list[dict[str, Any]]
    if target.handled_at is not None:
        reopen = {
            "type": "button",
            "text": _plain_obj("Reopen"),
            "action_id": action_ids.REOPEN,
            "value": value,
        }
        elements = [reopen, assign]
    else:
        elements = [
            {
                "type": "button",
                "text": _plain_obj("Mark handled"),
                "action_id": action_ids.MARK_HANDLED,
                "value": value,
                "style": "primary",
            },
            assign,
        ]
        if can_reply:
            elements.append(
                {"type": "button", "text": _plain_obj("Reply"), "action_id": action_ids.REPLY, "value": value}
            )
        elements.append(_wrong_sentiment_select(target.corrected_label))
    return {"type": "actions", "block_id": f"{action_ids.ACTIONS_BLOCK_PREFIX}{value}", "elements": elements}


def handling_lines(alert: Alert) -> list[tuple[str, str]]:
    """(mrkdwn, plain) lines saying who handled, took, corrected or escalated the alert, from its row.

    This is what ``chat.update`` shows after a click, so the channel sees the state without opening
    Earshot.
    """
    lines: list[tuple[str, str]] = []
    if alert.handled_at is not None:
        who_md, who_plain = user_ref(alert.handled_by)
        when_md, when_plain = date_token(alert.handled_at)
        verb = "💬 Replied" if alert.handled_action == "replied" else "✅ Handled"
        lines.append((f"{verb} by {who_md} at {when_md}", f"{verb} by {who_plain} at {when_plain}"))
    if alert.assignee:
        to_md, to_plain = user_ref(alert.assignee)
        md, plain = f"👤 Assigned to {to_md}", f"👤 Assigned to {to_plain}"
        if alert.assigned_by:
            by_md, by_plain = user_ref(alert.assigned_by)
            md, plain = f"{md} by {by_md}", f"{plain} by {by_plain}"
        lines.append((md, plain))
    if alert.corrected_label:
        label_md, label_plain = untrusted(alert.corrected_label, 16, "?")
        by_md, by_plain = user_ref(alert.corrected_by)
        lines.append(
            (
                f"🏷 Sentiment corrected to {label_md} by {by_md}",
                f"🏷 Sentiment corrected to {label_plain} by {by_plain}",
            )
        )
    if alert.escalated_at is not None:
        line = "⏰ Past its response target (SLA) — escalated"
        lines.append((line, line))
    return lines


def state_block(lines: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
    """The handling state as one context block (each line is short and bounded), or None without state."""
    return context_block(*(md for md, _ in lines)) if lines else None


def excerpt_mrkdwn(text: str | None, max_chars: int, missing: str = "_(no text)_") -> tuple[str, str]:
    """(mrkdwn, plain) excerpt of untrusted item text, bounded to fit a section after escaping."""
    clean = clean_text(text or "")
    if not clean:
        return missing, "(no text)"
    limit = min(max_chars, SlackLimits.SECTION_TEXT)
    # Room for a label and quotes around it; a short excerpt shares its section with a byline.
    bound = min(limit * 5, SlackLimits.SECTION_TEXT - 40)
    return fit_escaped(clean, limit, bound), truncate(clean, limit)


# -------------------------------------------------------------------------------------- mention alerts


def _title(alert: Alert, mention: MentionView) -> str:
    subject = clean_text(mention.target or "") or clean_text(mention.source) or "unknown source"
    return f"{_KIND_TITLES.get(alert.kind, 'Alert')}: {subject}"


def _sentiment(score: ScoreView | None) -> tuple[str, str]:
    if score is None:
        return "❔ not scored", "not scored"
    label_md, label_plain = untrusted(score.label, 16, "?")
    emoji = SENTIMENT_EMOJI.get(clean_text(score.label), "⚪")
    numbers = f"({score.score:.2f}, confidence {score.confidence:.0%})"
    return f"{emoji} *{label_md}* {numbers}", f"{label_plain} {numbers}"


def _urgency(score: ScoreView | None) -> tuple[str, str] | None:
    if score is None or score.urgency not in _URGENCY_BADGE:
        return None
    badge = _URGENCY_BADGE[score.urgency]
    labels = dict.fromkeys(urgency_reason_label(r.code) for r in score.urgency_reasons)
    codes = [pair for pair in (untrusted(label, 40) for label in labels) if pair[0]][:8]
    if not codes:
        return badge, badge
    return f"{badge}: {', '.join(md for md, _ in codes)}", f"{badge}: {', '.join(p for _, p in codes)}"


def _badges(alert: Alert, score: ScoreView | None) -> tuple[str, str]:
    parts = [_sentiment(score)]
    urgency = _urgency(score)
    if urgency:
        parts.append(urgency)
    severity = untrusted(alert.severity, 16)
    if severity[0]:
        parts.append((f"severity *{severity[0]}*", f"severity {severity[1]}"))
    rule = untrusted(alert.rule, 64)
    if rule[0]:
        parts.append((f"rule *{rule[0]}*", f"rule {rule[1]}"))
    return "  ·  ".join(md for md, _ in parts), " · ".join(p for _, p in parts)


def _aspects(score: ScoreView | None) -> tuple[str, str] | None:
    if score is None or not score.aspects:
        return None
    md_parts, plain_parts = [], []
    for aspect in score.aspects[:10]:
        label_md, label_plain = untrusted(aspect_label(clean_text(aspect.aspect)), 40, "?")
        emoji = SENTIMENT_EMOJI.get(aspect.sentiment or "", "")
        md_parts.append(f"{label_md} {emoji}".strip())
        plain_parts.append(f"{label_plain} ({aspect.sentiment or 'unclear'})")
    return "*Aspects:* " + " · ".join(md_parts), "Aspects: " + ", ".join(plain_parts)


def _reach(reach: int | None) -> str | None:
    return f"{reach:,}" if isinstance(reach, int) and reach >= 0 else None


def _fields(mention: MentionView, posted: str, lang: str | None) -> list[str]:
    rating = stars(mention.rating) if mention.rating is not None else "_no rating_"
    values = [
        ("Source", untrusted(mention.source, _FIELD_VALUE_CHARS, "_unknown_")[0]),
        ("Target", untrusted(mention.target, _FIELD_VALUE_CHARS, "_none_")[0]),
        ("Rating", rating),
        ("Author", untrusted(mention.author, _FIELD_VALUE_CHARS, "_unknown_")[0]),
        ("Reach", _reach(mention.reach) or "_unknown_"),
        ("Posted", posted),
        ("Language", untrusted(lang, 16, "_unknown_")[0]),
    ]
    return [f"*{name}*\n{value}" for name, value in values]


def _reply_tone(
    alert: Alert, mention: MentionView, score: ScoreView | None, settings: EarshotSettings
) -> str:
    """``pl, formal`` / ``en``: the language and (for Polish) the form of address the draft uses."""
    payload = alert.payload if isinstance(alert.payload, dict) else {}
    lang_value = payload.get("reply_lang") or (score.lang if score else None) or mention.lang or ""
    lang = clean_text(str(lang_value))[:8] or "?"
    if lang != "pl":
        return lang
    formal = payload.get("reply_formal")
    if not isinstance(formal, bool):
        target = next((t for t in settings.targets if t.name == mention.target), None)
        formal = True if target is None else target.reply.formal
    return f"{lang}, {'formal' if formal else 'informal'}"


def _similarity(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    share = value / 100 if value > 1 else value
    return f"{min(max(share, 0.0), 1.0):.0%}"


def similar_replies(payload: object) -> list[tuple[str, str]]:
    """(mrkdwn, plain) for up to two past replies to similar items, from ``payload["similar_replies"]``."""
    items = payload.get("similar_replies") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return []
    shown: list[tuple[str, str]] = []
    for item in items:
        if len(shown) >= _SIMILAR_SHOWN:
            break
        if not isinstance(item, dict):
            continue
        text_md, text_plain = untrusted(item.get("text"), _SIMILAR_CHARS)
        if not text_md:
            continue
        share = _similarity(item.get("similarity"))
        lead = f"{share} similar item" if share else "similar item"
        shown.append((f"↪ {lead}: “{text_md}”", f"{lead}: “{text_plain}”"))
    return shown


def _suggested_reply(
    alert: Alert, mention: MentionView, score: ScoreView | None, settings: EarshotSettings
) -> tuple[list[dict[str, Any]], list[str]]:
    reply = clean_text(alert.suggested_reply or "")
    if not reply:
        return [], []
    tone = _reply_tone(alert, mention, score, settings)
    body = fit_escaped(reply, _REPLY_CHARS, SlackLimits.SECTION_TEXT - 200)
    blocks = [section(f"*Suggested reply* ({escape_control_chars(tone)}) — edit it in Reply\n{body}")]
    plain = [f"Suggested reply ({tone}):", truncate(reply, _REPLY_CHARS)]
    similar = similar_replies(alert.payload)
    if similar:
        blocks.append(context_block(*(md for md, _ in similar)))
        plain += [f"  {p}" for _, p in similar]
    return blocks, plain


def _context(alert: Alert, mention: MentionView) -> dict[str, Any]:
    version = alert.mention_version or mention.version
    bits = [f"Alert #{alert.id if alert.id is not None else '?'}", f"mention #{mention.id} v{version}"]
    rule = untrusted(alert.rule, 64)[0]
    if rule:
        bits.append(f"rule {rule}")
    return context_block(" · ".join(bits))


def fallback_text(title: str, reason: str, excerpt: str | None, state: Iterable[tuple[str, str]] = ()) -> str:
    """Notification text: title, why, a short excerpt and the handling state, each bounded (≤ 3,700)."""
    text = fit_escaped(clean_text(title), SlackLimits.HEADER_TEXT, 600)
    clean_reason = clean_text(reason)
    if clean_reason:
        text += f": {fit_escaped(clean_reason, _REASON_CHARS, 1200)}"
    clean_excerpt = clean_text(excerpt or "")
    if clean_excerpt:
        text += f" — “{fit_escaped(clean_excerpt, _FALLBACK_EXCERPT_CHARS, 1200)}”"
    # The plain form of the state: a notification never pings the people who handled the alert.
    states = "; ".join(plain for _, plain in state)
    if states:
        text += f" ({fit_escaped(clean_text(states), 400, 600)})"
    return text


def build_message(
    alert: Alert, mention: MentionView, score: ScoreView | None, settings: EarshotSettings
) -> SlackMessage:
    """The Slack message for ``alert`` about ``mention``: header, badges, facts, excerpt, suggested reply,
    links, the handling buttons and the handling state, plus a fallback text and a console rendering."""
    title = truncate(plain_text(_title(alert, mention)), SlackLimits.HEADER_TEXT)
    reason = truncate(clean_text(alert.reason), _REASON_CHARS)
    posted_md, posted_plain = date_token(mention.created_at)
    lang = (score.lang if score else None) or mention.lang
    badges_md, badges_plain = _badges(alert, score)
    why = f"*Why:* {fit_escaped(reason, _REASON_CHARS, 2500)}" if reason else "*Why:* _see details_"
    excerpt_md, excerpt_plain = excerpt_mrkdwn(mention.text, settings.alerts.excerpt_chars)
    state = handling_lines(alert)
    blocks: list[dict[str, Any] | None] = [
        header_block(title),
        state_block(state),
        section(badges_md),
        section(why, _fields(mention, posted_md, lang)),
    ]
    aspects = _aspects(score)
    if aspects:
        blocks.append(context_block(aspects[0]))
    blocks.append(section(excerpt_md))
    reply_blocks, reply_plain = _suggested_reply(alert, mention, score, settings)
    blocks += reply_blocks
    blocks.append(links_block(mention.id, mention.url, settings))
    blocks.append(actions_block(alert))
    blocks.append(_context(alert, mention))

    rating = stars(mention.rating) if mention.rating is not None else "no rating"
    plain_lines = [
        f"[Earshot] {title}",
        *(p for _, p in state),
        badges_plain,
        f"Why: {reason}" if reason else "",
        f"Source: {untrusted(mention.source, _FIELD_VALUE_CHARS, 'unknown')[1]}"
        f" | Target: {untrusted(mention.target, _FIELD_VALUE_CHARS, 'none')[1]} | Rating: {rating}",
        f"Author: {untrusted(mention.author, _FIELD_VALUE_CHARS, 'unknown')[1]}"
        f" | Reach: {_reach(mention.reach) or 'unknown'} | Posted: {posted_plain}"
        f" | Language: {untrusted(lang, 16, 'unknown')[1]}",
        aspects[1] if aspects else "",
        f"“{excerpt_plain}”",
        *reply_plain,
        f"Review: {safe_url(mention.url) or '(no link)'}",
        f"Earshot: {item_url(settings, mention.id)}",
    ]
    return SlackMessage(
        text=fallback_text(title, reason, mention.text, state),
        blocks=[b for b in blocks if b is not None],
        plain="\n".join(line for line in plain_lines if line),
    )


# ----------------------------------------------------------------------------------------------- limits


def _text_too_long(where: str, obj: dict[str, Any], limit: int) -> list[str]:
    text = obj.get("text", "")
    if not isinstance(text, str):
        return [f"{where}: text is not a string"]
    if not text.strip():
        return [f"{where}: text is empty"]
    return [f"{where}: {slack_len(text)} > {limit}"] if slack_len(text) > limit else []


def _plain_too_long(where: str, obj: Any, limit: int) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") != "plain_text":
        return [f"{where}: must be a plain_text object"]
    return _text_too_long(where, obj, limit)


def _button_violations(where: str, el: dict[str, Any]) -> list[str]:
    problems = _plain_too_long(f"{where} text", el.get("text"), SlackLimits.BUTTON_TEXT)
    if slack_len(el.get("url", "")) > SlackLimits.BUTTON_URL:
        problems.append(f"{where}: url too long")
    if slack_len(el.get("value", "")) > SlackLimits.BUTTON_VALUE:
        problems.append(f"{where}: value too long")
    if el.get("style") not in (None, "primary", "danger"):
        problems.append(f"{where}: unknown style {el.get('style')!r}")
    return problems


def _select_violations(where: str, el: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if "placeholder" in el:
        problems += _plain_too_long(f"{where} placeholder", el["placeholder"], SlackLimits.PLACEHOLDER_TEXT)
    if el["type"] == "users_select" and "initial_user" in el and not is_slack_user_id(el["initial_user"]):
        problems.append(f"{where}: initial_user is not a user id")
    if el["type"] == "static_select":
        options = el.get("options", [])
        if not 1 <= len(options) <= SlackLimits.SELECT_OPTIONS:
            problems.append(f"{where}: {len(options)} options (1..{SlackLimits.SELECT_OPTIONS})")
        for option in options:
            problems += _plain_too_long(f"{where} option", option.get("text"), SlackLimits.OPTION_TEXT)
            value = option.get("value", "")
            if not value or slack_len(value) > SlackLimits.OPTION_VALUE:
                problems.append(f"{where}: option value empty or > {SlackLimits.OPTION_VALUE}")
        if "initial_option" in el and el["initial_option"] not in options:
            problems.append(f"{where}: initial_option is not one of the options")
    return problems


def _element_violations(where: str, el: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if slack_len(el.get("action_id", "")) > SlackLimits.ACTION_ID:
        problems.append(f"{where}: action_id too long")
    kind = el.get("type")
    if kind == "button":
        problems += _button_violations(where, el)
    elif kind in {"users_select", "static_select"}:
        problems += _select_violations(where, el)
    else:
        problems.append(f"{where}: unexpected element type {kind!r}")
    return problems


def _actions_violations(where: str, block: dict[str, Any]) -> list[str]:
    elements = block.get("elements", [])
    problems: list[str] = []
    if not 1 <= len(elements) <= SlackLimits.ACTION_ELEMENTS:
        problems.append(f"{where}: {len(elements)} elements (1..{SlackLimits.ACTION_ELEMENTS})")
    action_ids_seen = [el.get("action_id") for el in elements if el.get("action_id")]
    if len(action_ids_seen) != len(set(action_ids_seen)):
        problems.append(f"{where}: duplicate action_id")
    for j, el in enumerate(elements):
        problems += _element_violations(f"{where} element {j} ({el.get('type')})", el)
    return problems


def _block_violations(i: int, block: dict[str, Any]) -> list[str]:
    where = f"block {i} ({block.get('type')})"
    problems: list[str] = []
    if slack_len(block.get("block_id", "")) > SlackLimits.BLOCK_ID:
        problems.append(f"{where}: block_id too long")
    kind = block.get("type")
    if kind == "header":
        problems += _plain_too_long(where, block.get("text"), SlackLimits.HEADER_TEXT)
    elif kind == "section":
        fields = block.get("fields", [])
        if "text" in block:
            problems += _text_too_long(where, block["text"], SlackLimits.SECTION_TEXT)
        elif not fields:
            problems.append(f"{where}: needs text or fields")
        if len(fields) > SlackLimits.SECTION_FIELDS:
            problems.append(f"{where}: {len(fields)} fields > {SlackLimits.SECTION_FIELDS}")
        for f in fields:
            problems += _text_too_long(f"{where} field", f, SlackLimits.FIELD_TEXT)
        if "accessory" in block:
            problems += _element_violations(f"{where} accessory", block["accessory"])
    elif kind == "actions":
        problems += _actions_violations(where, block)
    elif kind == "context":
        elements = block.get("elements", [])
        if not 1 <= len(elements) <= SlackLimits.CONTEXT_ELEMENTS:
            problems.append(f"{where}: {len(elements)} elements (1..{SlackLimits.CONTEXT_ELEMENTS})")
        for el in elements:
            problems += _text_too_long(f"{where} element", el, SlackLimits.CONTEXT_TEXT)
    elif kind != "divider":
        problems.append(f"{where}: unexpected block type")
    return problems


def _plain_texts(node: object) -> Iterable[dict[str, Any]]:
    """Every plain_text object anywhere in the blocks."""
    if isinstance(node, dict):
        if node.get("type") == "plain_text":
            yield node
        for value in node.values():
            yield from _plain_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _plain_texts(value)


def limit_violations(message: SlackMessage) -> list[str]:
    """Every way ``message`` breaks a documented Slack limit (or our own rule that plain_text carries
    ``emoji: false``); empty means Slack will accept its shape."""
    problems: list[str] = []
    if not message.text.strip():
        problems.append("fallback text is empty")
    if slack_len(message.text) > SlackLimits.FALLBACK_TEXT:
        problems.append(f"fallback text: {slack_len(message.text)} > {SlackLimits.FALLBACK_TEXT}")
    if len(message.blocks) > SlackLimits.BLOCKS:
        problems.append(f"{len(message.blocks)} blocks > {SlackLimits.BLOCKS}")
    block_ids = [b["block_id"] for b in message.blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        problems.append("duplicate block_id")
    for i, block in enumerate(message.blocks):
        problems += _block_violations(i, block)
    for obj in _plain_texts(message.blocks):
        if obj.get("emoji") is not False:
            problems.append(f"plain_text {obj.get('text', '')[:30]!r} without emoji: false")
    return problems
