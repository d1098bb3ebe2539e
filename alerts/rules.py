"""When does a mention deserve a Slack alert, which rule says so, how severe is it and where does it go?

The rules take plain frozen values instead of database rows so they can be tested, reused by other
stages (a web page explaining "why was this alerted?") and reasoned about without a session. They are the
single authority on alerting: the outbox's SQL only pre-selects candidates and then asks :func:`evaluate`.

Semantics (see ``AlertRule`` in ``monitor.core.config``): rules are tried in configuration order and the first
that matches decides the alert's rule name, kind, severity, channel and cooldown; its reason lists every
trigger of that rule that fired, e.g. ``rule "negative": rated 1★; sentiment negative (-0.91)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final, Literal

from monitor.core.alert_settings import AlertRule, AlertSettings
from monitor.core.config import EarshotSettings
from sentiment.apology import is_complaint
from sentiment.keywords import KeywordMatcher, compile_keywords

__all__ = [
    "AlertDecision",
    "AlertKind",
    "AspectView",
    "MentionView",
    "ScoreView",
    "UrgencyReasonView",
    "evaluate",
    "format_rating",
    "is_negative",
    "is_urgent",
    "keyword_matcher",
    "route_channel",
]

AlertKind = Literal["negative", "low_rating", "urgent", "keyword"]

_URGENCY_RANK: Final[dict[str, int]] = {"none": 0, "elevated": 1, "critical": 2}
_MAX_EVIDENCE: Final = 80


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
    reach: int | None = None
    external_id: str | None = None
    parent_id: str | None = None  # the social thread this post replies to, where the source says


@dataclass(frozen=True)
class AspectView:
    """One aspect the sentiment package found (``delivery``, ``returns``...) and its sentiment label."""

    aspect: str
    sentiment: str | None
    evidence: str = ""
    score: float | None = None
    complaint: bool | None = None

    @property
    def is_complaint(self) -> bool:
        """A confident complaint about this aspect: the only kind a suggested reply apologises for."""
        return is_complaint(self.sentiment, self.score, self.complaint)


@dataclass(frozen=True)
class UrgencyReasonView:
    """Why the item is urgent: ``code`` (legal_threat, health_safety...), the words that said so, severity."""

    code: str
    evidence: str
    severity: str


@dataclass(frozen=True)
class ScoreView:
    """The sentiment model's reading: ``score`` is signed, -1 (very negative) .. +1 (very positive).

    ``urgency`` is ``none``, ``elevated`` or ``critical`` (see ``sentiment.urgency``); ``lang`` is the
    detected language.
    """

    label: str
    score: float
    confidence: float
    urgency: str = "none"
    urgency_reasons: tuple[UrgencyReasonView, ...] = ()
    aspects: tuple[AspectView, ...] = ()
    lang: str | None = None


@dataclass(frozen=True)
class AlertDecision:
    """Why and where to alert; ``reason`` is shown to people as is: "rated 1★; sentiment negative (-0.91)".

    ``rule`` names the rule that fired (the first one in config order); ``severity`` is urgent, negative
    or info and picks the SLA; ``cooldown_minutes`` is the rule's cooldown.
    """

    kind: AlertKind
    reason: str
    channel: str
    rule: str = "negative"
    severity: str = "negative"
    cooldown_minutes: float = 0.0


def format_rating(rating: float) -> str:
    """``1.0`` -> ``"1"``, ``2.5`` -> ``"2.5"``: star ratings are shown without a pointless ``.0``."""
    return f"{rating:g}"


@lru_cache(maxsize=512)
def keyword_matcher(keywords: tuple[str, ...]) -> KeywordMatcher:
    """The compiled matcher of a rule's keywords, compiled once per distinct keyword list."""
    return compile_keywords(keywords)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _alert_settings(settings: EarshotSettings | AlertSettings) -> AlertSettings:
    return settings.alerts if isinstance(settings, EarshotSettings) else settings


def is_negative(
    mention: MentionView, score: ScoreView | None, settings: EarshotSettings | AlertSettings
) -> bool:
    """The built-in negative test (score at or below ``negative_threshold`` or rating at or below
    ``max_stars``), shared by storm detection and the outbox so "negative" means one thing everywhere."""
    alerts = _alert_settings(settings)
    low_rating = _finite(mention.rating) and mention.rating is not None and mention.rating <= alerts.max_stars
    negative = score is not None and _finite(score.score) and score.score <= alerts.negative_threshold
    return low_rating or negative


def _urgency_rank(score: ScoreView | None) -> int:
    return _URGENCY_RANK.get(score.urgency, 0) if score is not None else 0


def is_urgent(
    mention: MentionView, score: ScoreView | None, settings: EarshotSettings | AlertSettings
) -> bool:
    """Urgent on its own: critical urgency, or elevated urgency on a negative item (score <= 0 or a low
    rating), because "I have 50k followers, love it" is elevated but needs nobody at 3 a.m."""
    rank = _urgency_rank(score)
    if rank >= _URGENCY_RANK["critical"]:
        return True
    if rank < _URGENCY_RANK["elevated"] or score is None:
        return False
    max_stars = _alert_settings(settings).max_stars
    low_rating = _finite(mention.rating) and mention.rating is not None and mention.rating <= max_stars
    return (_finite(score.score) and score.score <= 0) or low_rating


def _lang(mention: MentionView, score: ScoreView | None) -> str | None:
    """The primary language subtag ("pl" for "pl-PL"), from the source or else the detector."""
    lang = mention.lang or (score.lang if score is not None else None)
    if not lang:
        return None
    return lang.replace("_", "-").split("-")[0].lower()


def _passes_filters(rule: AlertRule, mention: MentionView, score: ScoreView | None) -> bool:
    """Every filter the rule sets must hold; an unknown language or reach fails its filter."""
    if rule.targets and mention.target not in rule.targets:
        return False
    if rule.sources and mention.source not in rule.sources:
        return False
    if rule.languages:
        lang = _lang(mention, score)
        if lang is None or lang not in {x.replace("_", "-").split("-")[0].lower() for x in rule.languages}:
            return False
    return rule.min_reach is None or (mention.reach is not None and mention.reach >= rule.min_reach)


@dataclass(frozen=True)
class _Fired:
    """Which triggers of one rule are set and which fired, with the words that explain them."""

    stars: bool | None = None
    sentiment: bool | None = None
    urgency: bool | None = None
    keywords: tuple[str, ...] | None = None

    def matched(self, match: str) -> bool:
        states = [
            s
            for s in (
                self.stars,
                self.sentiment,
                self.urgency,
                bool(self.keywords) if self.keywords is not None else None,
            )
            if s is not None
        ]
        return any(states) if match == "any" else bool(states) and all(states)


def _triggers(rule: AlertRule, mention: MentionView, score: ScoreView | None) -> _Fired:
    rating = mention.rating
    value = score.score if score is not None else None
    return _Fired(
        stars=None
        if rule.max_stars is None
        else (rating is not None and _finite(rating) and rating <= rule.max_stars),
        sentiment=None
        if rule.max_sentiment is None
        else (value is not None and _finite(value) and value <= rule.max_sentiment),
        urgency=None if rule.urgency is None else _urgency_rank(score) >= _URGENCY_RANK[rule.urgency],
        keywords=None
        if not rule.keywords
        else tuple(keyword_matcher(tuple(rule.keywords)).find(mention.text)),
    )


def _urgency_text(score: ScoreView) -> str:
    """``urgent (legal_threat: "pozew")`` for critical, ``elevated urgency (...)`` for elevated."""
    head = "urgent" if score.urgency == "critical" else "elevated urgency"
    reasons = []
    for r in score.urgency_reasons:
        evidence = r.evidence if len(r.evidence) <= _MAX_EVIDENCE else r.evidence[: _MAX_EVIDENCE - 1] + "…"
        reasons.append(f'{r.code}: "{evidence}"' if evidence else r.code)
    return f"{head} ({', '.join(reasons)})" if reasons else head


def _reason(rule: AlertRule, fired: _Fired, mention: MentionView, score: ScoreView | None) -> str:
    """Human-readable: ``rule "negative": rated 1★; sentiment negative (-0.91)``."""
    parts: list[str] = []
    if fired.stars and mention.rating is not None:
        parts.append(f"rated {format_rating(mention.rating)}★")
    if fired.sentiment and score is not None:
        parts.append(f"sentiment {score.label} ({score.score:.2f})")
    if fired.urgency and score is not None:
        parts.append(_urgency_text(score))
    if fired.keywords:
        parts.append(("keyword " if len(fired.keywords) == 1 else "keywords ") + ", ".join(fired.keywords))
    return f'rule "{rule.name}": ' + "; ".join(parts)


def _severity(
    rule: AlertRule, fired: _Fired, mention: MentionView, score: ScoreView | None, settings: EarshotSettings
) -> str:
    if rule.severity is not None:
        return rule.severity
    if is_urgent(mention, score, settings):
        return "urgent"
    below = score is not None and _finite(score.score) and score.score <= settings.alerts.negative_threshold
    return "negative" if fired.sentiment or fired.stars or below else "info"


def route_channel(
    severity: str, rule_channel: str | None, target: str | None, settings: EarshotSettings
) -> str:
    """Urgent alerts go to ``slack.critical_channel`` when set; otherwise the rule's channel, the target's
    channel, then ``slack.default_channel``."""
    if severity == "urgent" and settings.slack.critical_channel:
        return settings.slack.critical_channel
    if rule_channel:
        return rule_channel
    for configured in settings.targets:
        if configured.name == target and configured.channel:
            return configured.channel
    return settings.slack.default_channel


def evaluate(
    mention: MentionView, score: ScoreView | None, settings: EarshotSettings
) -> AlertDecision | None:
    """The first rule (``settings.alerts.effective_rules()``) whose filters hold and whose triggers match
    decides the alert; ``None`` means no rule matched. A missing rating never fires a stars trigger, a
    missing or non-finite score never fires a sentiment one.
    """
    for rule in settings.alerts.effective_rules():
        if not _passes_filters(rule, mention, score):
            continue
        fired = _triggers(rule, mention, score)
        if not fired.matched(rule.match):
            continue
        kind: AlertKind
        # A keyword rule's alert is a keyword match even when the sentiment filter also fired: the
        # phrase is why the team asked to see it.
        if fired.urgency or is_urgent(mention, score, settings):
            kind = "urgent"
        elif fired.keywords:
            kind = "keyword"
        elif fired.stars:
            kind = "low_rating"
        else:
            kind = "negative"
        severity = _severity(rule, fired, mention, score, settings)
        return AlertDecision(
            kind=kind,
            reason=_reason(rule, fired, mention, score),
            channel=route_channel(severity, rule.channel, mention.target, settings),
            rule=rule.name,
            severity=severity,
            cooldown_minutes=rule.cooldown_minutes,
        )
    return None
