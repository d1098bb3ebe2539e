"""The alert rules: thresholds, reasons, kinds and the cases that must not alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.rules import AlertDecision, MentionView, ScoreView, evaluate
from monitor.config import AlertSettings

RULES = AlertSettings(negative_threshold=-0.5, max_stars=2)


def mention(rating: float | None = None, text: str = "Paczka nie dotarła.") -> MentionView:
    return MentionView(
        id=7,
        source="google_business",
        target="Sklep Zielony",
        text=text,
        author="Łukasz",
        url=None,
        rating=rating,
        lang="pl",
        created_at=datetime(2024, 5, 1, 14, 3, tzinfo=UTC),
        version=1,
    )


def score(value: float, label: str = "negative") -> ScoreView:
    return ScoreView(label=label, score=value, confidence=0.9)


def test_negative_sentiment_alerts_with_signed_score_in_reason() -> None:
    decision = evaluate(mention(), score(-0.91), RULES, channel="#cs")
    assert decision == AlertDecision(kind="negative", reason="sentiment negative (-0.91)", channel="#cs")


def test_low_rating_and_negative_sentiment_name_both_and_rating_wins_the_kind() -> None:
    decision = evaluate(mention(rating=1), score(-0.91), RULES, channel="#cs")
    assert decision is not None
    assert decision.kind == "low_rating"
    assert decision.reason == "rated 1★; sentiment negative (-0.91)"


def test_low_rating_alone_alerts_even_with_a_mild_score() -> None:
    decision = evaluate(mention(rating=2.0), score(0.1, "neutral"), RULES, channel="#cs")
    assert decision is not None
    assert (decision.kind, decision.reason) == ("low_rating", "rated 2★")


@pytest.mark.parametrize(("rating", "value"), [(None, -0.49), (3, -0.2), (5, 0.9), (None, 0.0)])
def test_no_alert_above_both_thresholds(rating: float | None, value: float) -> None:
    assert evaluate(mention(rating=rating), score(value), RULES) is None


def test_thresholds_are_inclusive() -> None:
    assert evaluate(mention(), score(-0.5), RULES) is not None
    assert evaluate(mention(rating=2), None, RULES) is not None


def test_missing_rating_is_ignored_and_missing_score_only_checks_rating() -> None:
    assert evaluate(mention(rating=None), None, RULES) is None
    decision = evaluate(mention(rating=0.5), None, RULES)
    assert decision is not None and decision.reason == "rated 0.5★"


def test_non_finite_score_never_alerts() -> None:
    assert evaluate(mention(), score(float("nan")), RULES) is None


def test_channel_defaults_to_slack_default_channel() -> None:
    decision = evaluate(mention(), score(-0.9), RULES)
    assert decision is not None and decision.channel == "#earshot-alerts"
