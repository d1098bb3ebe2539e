"""The rules' plain views of stored rows and of JSON analyses: a mention, its score and their parts.

The rules and the message builders take frozen values (:class:`~alerts.rules.MentionView`,
:class:`~alerts.rules.ScoreView`) rather than database rows. Building them lives here, apart from any
pass that reads the database, because several places need the same view of the same row: the enqueue
pass, the outbox re-rendering a message, the web item page and ``earshot alerts preview``. Score JSON
comes from older versions and from outside, so malformed entries are skipped rather than trusted.
"""

from __future__ import annotations

from typing import Any

from alerts.rules import AspectView, MentionView, ScoreView, UrgencyReasonView
from monitor.core.models import Mention, SentimentScore

__all__ = ["mention_view", "score_view", "score_view_from_dict"]


def mention_view(mention: Mention, target: str | None) -> MentionView:
    """The rules' and message builder's view of a stored mention."""
    if mention.id is None:
        raise ValueError("mention_view needs a stored mention (id is None)")
    return MentionView(
        id=mention.id,
        source=mention.source,
        target=target,
        text=mention.text,
        author=mention.author,
        url=mention.url,
        rating=mention.rating,
        lang=mention.lang,
        created_at=mention.created_at,
        version=mention.version,
        reach=mention.reach,
        external_id=mention.external_id,
        parent_id=mention.parent_id,
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _reasons(raw: Any) -> tuple[UrgencyReasonView, ...]:
    return tuple(
        UrgencyReasonView(
            code=_str(r.get("code")), evidence=_str(r.get("evidence")), severity=_str(r.get("severity"))
        )
        for r in (raw if isinstance(raw, list) else [])
        if isinstance(r, dict) and r.get("code")
    )


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _aspects(raw: Any) -> tuple[AspectView, ...]:
    return tuple(
        AspectView(
            aspect=_str(a.get("aspect")),
            sentiment=a.get("sentiment") if isinstance(a.get("sentiment"), str) else None,
            evidence=_str(a.get("evidence")),
            score=_float_or_none(a.get("score")),
            complaint=a.get("complaint") if isinstance(a.get("complaint"), bool) else None,
        )
        for a in (raw if isinstance(raw, list) else [])
        if isinstance(a, dict) and a.get("aspect")
    )


def score_view(score: SentimentScore) -> ScoreView:
    """The rules' view of a stored score; malformed JSON entries are skipped rather than trusted."""
    return ScoreView(
        label=score.label,
        score=score.score,
        confidence=score.confidence,
        urgency=score.urgency or "none",
        urgency_reasons=_reasons(score.urgency_reasons),
        aspects=_aspects(score.aspects),
        lang=score.lang,
    )


def score_view_from_dict(data: dict[str, Any]) -> ScoreView:
    """The rules' view of an analysis in its JSON form (``earshot model predict`` / ``Analysis.to_dict``)."""
    raw_urgency = data.get("urgency")
    urgency: dict[str, Any] = raw_urgency if isinstance(raw_urgency, dict) else {}
    return ScoreView(
        label=_str(data.get("label")) or "neutral",
        score=float(data.get("score") or 0.0),
        confidence=float(data.get("confidence") or 0.0),
        urgency=_str(urgency.get("level")) or "none",
        urgency_reasons=_reasons(urgency.get("reasons")),
        aspects=_aspects(data.get("aspects")),
        lang=_str(data.get("language")) or None,
    )
