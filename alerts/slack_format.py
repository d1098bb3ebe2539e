"""Text and values made safe for a Slack message: cut, escaped, labelled, within Slack's limits.

Slack rejects a whole message (``invalid_blocks``) when one block exceeds a limit, and a rejected alert
is a lost alert, so every piece of untrusted text is cleaned, escaped (see :mod:`alerts.escaping`) and
cut to the documented limits (:class:`SlackLimits`), measured after escaping. Payload values are JSON
written by older versions or taken from outside, so they are read defensively (:func:`as_int`,
:func:`as_time`...). Every message also carries a fallback ``text`` (:func:`fallback_text`): Slack shows
it in notifications and in clients that cannot render blocks.

The only control sequences a message ever contains are the ones built here from trusted values:
``<!date^…>`` tokens and ``<@U…>`` mentions of ids that passed :func:`is_slack_user_id`. Aspect names come
from :mod:`sentiment.vocabulary` (standard library only, so rendering never imports the model stack).
The blocks built from these pieces are in :mod:`alerts.slack_blocks`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from alerts.escaping import clean_text, escape_control_chars, slack_len
from alerts.rules import format_rating
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert
from monitor.core.timeutil import as_utc
from sentiment.vocabulary import ASPECT_LABELS
from sentiment.vocabulary import aspect_label as vocabulary_label

__all__ = [
    "ELLIPSIS",
    "REASON_CHARS",
    "SENTIMENT_EMOJI",
    "URGENCY_REASON_LABELS",
    "SlackLimits",
    "SlackMessage",
    "as_float",
    "as_int",
    "as_time",
    "aspect_label",
    "count",
    "date_token",
    "fallback_text",
    "fit_escaped",
    "is_slack_user_id",
    "item_url",
    "payload_of",
    "safe_url",
    "stars",
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
REASON_CHARS = 500  # an alert's "why", in the message and in its notification
_FALLBACK_EXCERPT_CHARS = 300
_USER_CHARS = 80

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


def date_token(
    moment: datetime | None,
    token: str = "{date_short_pretty} {time}",
    fallback: str = "%Y-%m-%d %H:%M UTC",
    missing: str = "unknown",
) -> tuple[str, str]:
    """(mrkdwn, plain) for a time; Slack's date token shows it in each reader's own time zone."""
    if moment is None:
        return f"_{missing}_", missing
    utc = as_utc(moment)
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


def aspect_label(code: str, language: Literal["pl", "en"] = "en") -> str:
    """Name of an aspect code in ``language`` (:mod:`sentiment.vocabulary`), or the code made readable
    (still untrusted: clean before use)."""
    if code in ASPECT_LABELS:
        return vocabulary_label(code, language)
    return code.replace("_", " ").capitalize()


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


# ------------------------------------------------------------------------------------- notification text


def fallback_text(title: str, reason: str, excerpt: str | None, state: Iterable[tuple[str, str]] = ()) -> str:
    """Notification text: title, why, a short excerpt and the handling state, each bounded (≤ 3,700)."""
    text = fit_escaped(clean_text(title), SlackLimits.HEADER_TEXT, 600)
    clean_reason = clean_text(reason)
    if clean_reason:
        text += f": {fit_escaped(clean_reason, REASON_CHARS, 1200)}"
    clean_excerpt = clean_text(excerpt or "")
    if clean_excerpt:
        text += f" — “{fit_escaped(clean_excerpt, _FALLBACK_EXCERPT_CHARS, 1200)}”"
    # The plain form of the state: a notification never pings the people who handled the alert.
    states = "; ".join(plain for _, plain in state)
    if states:
        text += f" ({fit_escaped(clean_text(states), 400, 600)})"
    return text
