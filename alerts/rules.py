"""When does a mention deserve a Slack alert?

The rules take plain frozen values instead of database rows so they can be tested, reused by other
stages (a web page explaining "why was this alerted?") and reasoned about without a session. They are the
single authority on alerting: the outbox's SQL only pre-selects candidates with the same thresholds and
then asks :func:`evaluate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from monitor.config import AlertSettings, SlackSettings

__all__ = ["AlertDecision", "AlertKind", "MentionView", "ScoreView", "evaluate", "format_rating"]

AlertKind = Literal["negative", "low_rating"]

# Where alerts go when the caller does not route them: the documented default of SlackSettings.
_DEFAULT_CHANNEL: str = SlackSettings().default_channel


@dataclass(frozen=True)
class MentionView:
    """The parts of a mention that alerting looks at (times are UTC, as the database returns them)."""

    id: int
    source: str
    target: str | None
    text: str
    author: str | None
    url: str | None
    rating: float | None
    lang: str | None
    created_at: datetime | None
    version: int


@dataclass(frozen=True)
class ScoreView:
    """The sentiment model's reading: ``score`` is signed, -1 (very negative) .. +1 (very positive)."""

    label: str
    score: float
    confidence: float


@dataclass(frozen=True)
class AlertDecision:
    """Why and where to alert; ``reason`` is shown to people as is: "rated 1★; sentiment negative (-0.91)"."""

    kind: AlertKind
    reason: str
    channel: str


def format_rating(rating: float) -> str:
    """``1.0`` -> ``"1"``, ``2.5`` -> ``"2.5"``: star ratings are shown without a pointless ``.0``."""
    return f"{rating:g}"


def _is_low_rating(rating: float | None, settings: AlertSettings) -> bool:
    return rating is not None and math.isfinite(rating) and rating <= settings.max_stars


def _is_negative(score: ScoreView | None, settings: AlertSettings) -> bool:
    return score is not None and math.isfinite(score.score) and score.score <= settings.negative_threshold


def evaluate(
    mention: MentionView,
    score: ScoreView | None,
    settings: AlertSettings,
    channel: str | None = None,
) -> AlertDecision | None:
    """Alert when the signed score is at or below ``negative_threshold`` or the rating at or below
    ``max_stars``; ``None`` means no alert. A missing rating (posts, comments) never triggers.

    A low star rating wins the ``kind`` because it is the customer's own verdict, while the reason lists
    every rule that fired. ``channel`` defaults to Slack's default channel until routing exists.
    """
    low_rating = _is_low_rating(mention.rating, settings)
    negative = _is_negative(score, settings)
    if not (low_rating or negative):
        return None
    parts: list[str] = []
    if low_rating and mention.rating is not None:
        parts.append(f"rated {format_rating(mention.rating)}★")
    if negative and score is not None:
        parts.append(f"sentiment {score.label} ({score.score:.2f})")
    kind: AlertKind = "low_rating" if low_rating else "negative"
    return AlertDecision(kind=kind, reason="; ".join(parts), channel=channel or _DEFAULT_CHANNEL)
