"""Turn an alert into a Slack Block Kit message that is safe, complete and within Slack's limits.

Slack rejects a whole message (``invalid_blocks``) when one block exceeds a limit, and a rejected alert
is a lost alert, so every piece of untrusted text is cleaned, escaped (see :mod:`alerts.escaping`) and
cut to the documented limits here, measured after escaping. Every message also carries a fallback
``text``: Slack shows it in notifications and in clients that cannot render blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from alerts.escaping import clean_text, escape_control_chars, plain_text, slack_len
from alerts.rules import MentionView, ScoreView, format_rating
from monitor.config import EarshotSettings
from monitor.models import Alert

__all__ = [
    "SlackLimits",
    "SlackMessage",
    "build_message",
    "fit_escaped",
    "limit_violations",
    "stars",
    "truncate",
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
    ACTION_ID = 255
    BLOCK_ID = 255
    # Slack truncates ``text`` beyond 40,000 characters but recommends at most 4,000 for notifications.
    FALLBACK_TEXT = 4000


ELLIPSIS = "…"
_FIELD_VALUE_CHARS = 200  # author names and targets are short; a 2,000-char "name" is abuse, not data
_FALLBACK_EXCERPT_CHARS = 300
_REASON_CHARS = 500

_KIND_TITLES = {"negative": "Negative mention", "low_rating": "Low rating"}


@dataclass(frozen=True)
class SlackMessage:
    """What is posted: fallback ``text`` (escaped mrkdwn), Block Kit ``blocks``, and a ``plain`` rendering
    of the same facts, unescaped, for the console and logs."""

    text: str
    blocks: list[dict[str, Any]]
    plain: str = field(default="", compare=False)


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


def stars(rating: float) -> str:
    """``★☆☆☆☆ 1/5``: the rating rounded half up to whole stars, with the exact value beside it."""
    filled = math.floor(min(max(rating, 0.0), 5.0) + 0.5)
    return "★" * filled + "☆" * (5 - filled) + f" {format_rating(rating)}/5"


def _mrkdwn_value(text: str | None, missing: str) -> str:
    clean = clean_text(text or "")
    return fit_escaped(clean, _FIELD_VALUE_CHARS, _FIELD_VALUE_CHARS * 5) if clean else f"_{missing}_"


def _title(alert: Alert, mention: MentionView) -> str:
    subject = clean_text(mention.target or "") or clean_text(mention.source) or "unknown source"
    return f"{_KIND_TITLES.get(alert.kind, 'Alert')}: {subject}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _posted(created_at: datetime | None) -> tuple[str, str]:
    """(mrkdwn, plain) for the posting time; Slack's date token shows it in each reader's time zone."""
    if created_at is None:
        return "_unknown_", "unknown"
    moment = _utc(created_at)
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>", fallback


def _sentiment(score: ScoreView | None) -> str:
    if score is None:
        return "not scored"
    return f"{clean_text(score.label)} ({score.score:.2f}, confidence {score.confidence:.0%})"


def _safe_url(url: str | None) -> str | None:
    """An http(s) URL Slack will accept on a button, or ``None`` (javascript:, data:, garbage, too long)."""
    if not url:
        return None
    url = url.strip()
    if len(url) > SlackLimits.BUTTON_URL or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    parts = urlsplit(url)
    return url if parts.scheme.lower() in {"http", "https"} and parts.netloc else None


def item_url(settings: EarshotSettings, mention_id: int) -> str:
    """The mention's page in Earshot's web UI."""
    return f"{settings.public_url.rstrip('/')}/items/{mention_id}"


def _button(label: str, url: str, action_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(label, SlackLimits.BUTTON_TEXT), "emoji": False},
        "url": url,
        "action_id": action_id,
    }


def _fields(mention: MentionView, score: ScoreView | None, posted: str) -> list[dict[str, Any]]:
    rating = stars(mention.rating) if mention.rating is not None else "_no rating_"
    values = [
        ("Source", _mrkdwn_value(mention.source, "unknown")),
        ("Target", _mrkdwn_value(mention.target, "none")),
        ("Rating", rating),
        ("Sentiment", fit_escaped(_sentiment(score), _FIELD_VALUE_CHARS, _FIELD_VALUE_CHARS * 5)),
        ("Author", _mrkdwn_value(mention.author, "unknown")),
        ("Posted", posted),
    ]
    return [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in values]


def _excerpt(mention: MentionView, settings: EarshotSettings) -> str:
    clean = clean_text(mention.text)
    if not clean:
        return "_(no text)_"
    return fit_escaped(clean, settings.alerts.excerpt_chars, SlackLimits.SECTION_TEXT)


def _actions(mention: MentionView, settings: EarshotSettings) -> dict[str, Any]:
    buttons = []
    review_url = _safe_url(mention.url)
    if review_url:
        buttons.append(_button("Open review", review_url, "earshot_open_review"))
    buttons.append(_button("Open in Earshot", item_url(settings, mention.id), "earshot_open_item"))
    return {"type": "actions", "block_id": f"earshot_links_{mention.id}", "elements": buttons}


def _context(alert: Alert, mention: MentionView) -> dict[str, Any]:
    bits = [f"Alert #{alert.id}", f"mention #{mention.id} v{mention.version}"]
    if mention.lang:
        bits.append(f"lang {fit_escaped(clean_text(mention.lang), 16, 80)}")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(bits)}]}


def _plain(
    title: str,
    reason: str,
    mention: MentionView,
    score: ScoreView | None,
    posted: str,
    settings: EarshotSettings,
) -> str:
    rating = stars(mention.rating) if mention.rating is not None else "no rating"
    lines = [
        f"[Earshot] {title}",
        f"Why: {reason}" if reason else "",
        f"Source: {clean_text(mention.source)} | Target: {clean_text(mention.target or '') or 'none'}"
        f" | Rating: {rating} | Sentiment: {_sentiment(score)}",
        f"Author: {clean_text(mention.author or '') or 'unknown'} | Posted: {posted}",
        f"“{truncate(clean_text(mention.text), settings.alerts.excerpt_chars)}”",
        f"Review: {_safe_url(mention.url) or '(no link)'}",
        f"Earshot: {item_url(settings, mention.id)}",
    ]
    return "\n".join(line for line in lines if line)


def build_message(
    alert: Alert, mention: MentionView, score: ScoreView | None, settings: EarshotSettings
) -> SlackMessage:
    """The Slack message for ``alert`` about ``mention``: header, why, facts, excerpt, links, fallback."""
    title = truncate(plain_text(_title(alert, mention)), SlackLimits.HEADER_TEXT)
    reason = truncate(clean_text(alert.reason), _REASON_CHARS)
    posted_mrkdwn, posted_plain = _posted(mention.created_at)
    why = f"*Why:* {fit_escaped(reason, _REASON_CHARS, 2500)}" if reason else "*Why:* _see details_"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": why},
            "fields": _fields(mention, score, posted_mrkdwn),
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _excerpt(mention, settings)}},
        _actions(mention, settings),
        _context(alert, mention),
    ]
    # Each part is bounded after escaping, so the whole stays under the fallback limit (600+1200+1500).
    excerpt = fit_escaped(clean_text(mention.text), _FALLBACK_EXCERPT_CHARS, 1500)
    text = fit_escaped(title, SlackLimits.HEADER_TEXT, 600)
    if reason:
        text += f": {fit_escaped(reason, _REASON_CHARS, 1200)}"
    if excerpt:
        text += f" — “{excerpt}”"
    plain = _plain(title, reason, mention, score, posted_plain, settings)
    return SlackMessage(text=text, blocks=blocks, plain=plain)


def _text_too_long(where: str, obj: dict[str, Any], limit: int) -> list[str]:
    text = obj.get("text", "")
    return [f"{where}: {slack_len(text)} > {limit}"] if slack_len(text) > limit else []


def _block_violations(i: int, block: dict[str, Any]) -> list[str]:
    where = f"block {i} ({block.get('type')})"
    problems: list[str] = []
    if slack_len(block.get("block_id", "")) > SlackLimits.BLOCK_ID:
        problems.append(f"{where}: block_id too long")
    kind = block.get("type")
    if kind == "header":
        if block["text"].get("type") != "plain_text":
            problems.append(f"{where}: header text must be plain_text")
        problems += _text_too_long(where, block["text"], SlackLimits.HEADER_TEXT)
    elif kind == "section":
        if "text" in block:
            problems += _text_too_long(where, block["text"], SlackLimits.SECTION_TEXT)
        fields = block.get("fields", [])
        if len(fields) > SlackLimits.SECTION_FIELDS:
            problems.append(f"{where}: {len(fields)} fields > {SlackLimits.SECTION_FIELDS}")
        for f in fields:
            problems += _text_too_long(f"{where} field", f, SlackLimits.FIELD_TEXT)
    elif kind == "actions":
        if len(block["elements"]) > SlackLimits.ACTION_ELEMENTS:
            problems.append(f"{where}: too many elements")
        for el in block["elements"]:
            problems += _text_too_long(f"{where} button", el["text"], SlackLimits.BUTTON_TEXT)
            if slack_len(el.get("url", "")) > SlackLimits.BUTTON_URL:
                problems.append(f"{where}: button url too long")
            if slack_len(el.get("action_id", "")) > SlackLimits.ACTION_ID:
                problems.append(f"{where}: action_id too long")
    elif kind == "context":
        if len(block["elements"]) > SlackLimits.CONTEXT_ELEMENTS:
            problems.append(f"{where}: too many elements")
        for el in block["elements"]:
            problems += _text_too_long(f"{where} element", el, SlackLimits.CONTEXT_TEXT)
    return problems


def limit_violations(message: SlackMessage) -> list[str]:
    """Every way ``message`` breaks a documented Slack limit; empty means Slack will accept its shape."""
    problems: list[str] = []
    if not message.text.strip():
        problems.append("fallback text is empty")
    if slack_len(message.text) > SlackLimits.FALLBACK_TEXT:
        problems.append(f"fallback text: {slack_len(message.text)} > {SlackLimits.FALLBACK_TEXT}")
    if len(message.blocks) > SlackLimits.BLOCKS:
        problems.append(f"{len(message.blocks)} blocks > {SlackLimits.BLOCKS}")
    for i, block in enumerate(message.blocks):
        problems += _block_violations(i, block)
    return problems
