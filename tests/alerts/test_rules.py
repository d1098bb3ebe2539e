"""The alert rules: which rule fires, what the team reads as the reason, severity and the channel it lands in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.rules import (
    AlertDecision,
    MentionView,
    ScoreView,
    UrgencyReasonView,
    evaluate,
    format_rating,
    is_negative,
    is_urgent,
)
from monitor.core.config import EarshotSettings


def settings(
    rules: list[dict[str, Any]] | None = None,
    critical: str | None = None,
    targets: list[dict[str, Any]] | None = None,
    **alerts: Any,
) -> EarshotSettings:
    return EarshotSettings(
        data_dir=Path("unused"),
        alerts={"negative_threshold": -0.5, "max_stars": 2, "rules": rules or [], **alerts},
        slack={"default_channel": "#earshot-alerts", "critical_channel": critical},
        targets=targets or [],
    )


def mention(
    rating: float | None = None,
    text: str = "Paczka nie dotarła.",
    *,
    lang: str | None = "pl",
    source: str = "google_business",
    target: str | None = "Sklep Zielony",
    reach: int | None = None,
) -> MentionView:
    return MentionView(
        id=7,
        source=source,
        target=target,
        text=text,
        author="Łukasz",
        url=None,
        rating=rating,
        lang=lang,
        created_at=datetime(2024, 5, 1, 14, 3, tzinfo=UTC),
        version=1,
        reach=reach,
    )


def score(
    value: float,
    label: str = "negative",
    urgency: str = "none",
    reasons: tuple[UrgencyReasonView, ...] = (),
    lang: str | None = None,
) -> ScoreView:
    return ScoreView(
        label=label, score=value, confidence=0.9, urgency=urgency, urgency_reasons=reasons, lang=lang
    )


LAWSUIT = (UrgencyReasonView(code="legal_threat", evidence="pozew", severity="critical"),)
REACH = (UrgencyReasonView(code="high_reach", evidence="mam 50 tys. obserwujących", severity="elevated"),)
DEFAULT = settings()


# --- the built-in rules ----------------------------------------------------------------------------------


def test_negative_sentiment_alerts_with_rule_name_and_signed_score() -> None:
    assert evaluate(mention(), score(-0.91), DEFAULT) == AlertDecision(
        kind="negative",
        reason='rule "negative": sentiment negative (-0.91)',
        channel="#earshot-alerts",
        rule="negative",
        severity="negative",
        cooldown_minutes=0.0,
    )


def test_low_rating_and_negative_sentiment_name_both_and_rating_wins_the_kind() -> None:
    decision = evaluate(mention(rating=1), score(-0.91), DEFAULT)
    assert decision is not None
    assert (decision.kind, decision.severity) == ("low_rating", "negative")
    assert decision.reason == 'rule "negative": rated 1★; sentiment negative (-0.91)'


def test_low_rating_alone_alerts_even_with_a_mild_score() -> None:
    decision = evaluate(mention(rating=2.0), score(0.1, "neutral"), DEFAULT)
    assert decision is not None
    assert (decision.kind, decision.reason) == ("low_rating", 'rule "negative": rated 2★')


@pytest.mark.parametrize(("rating", "value"), [(None, -0.49), (3, -0.2), (5, 0.9), (None, 0.0)])
def test_no_alert_above_both_thresholds(rating: float | None, value: float) -> None:
    assert evaluate(mention(rating=rating), score(value), DEFAULT) is None


def test_thresholds_are_inclusive_and_missing_values_never_fire() -> None:
    assert evaluate(mention(), score(-0.5), DEFAULT) is not None
    assert evaluate(mention(rating=2), None, DEFAULT) is not None
    assert evaluate(mention(rating=None), None, DEFAULT) is None
    decision = evaluate(mention(rating=0.5), None, DEFAULT)
    assert decision is not None and decision.reason == 'rule "negative": rated 0.5★'


@pytest.mark.parametrize("bad", [float("nan"), float("-inf")])
def test_non_finite_score_or_rating_never_alerts(bad: float) -> None:
    assert evaluate(mention(), score(bad), DEFAULT) is None
    assert evaluate(mention(rating=bad), score(0.3, "neutral"), DEFAULT) is None


def test_critical_urgency_goes_to_the_critical_channel_with_its_evidence() -> None:
    text = "Jeśli nie oddacie pieniędzy, składam pozew."
    decision = evaluate(
        mention(text=text), score(-0.2, urgency="critical", reasons=LAWSUIT), settings(critical="#pilne")
    )
    assert decision is not None
    assert (decision.rule, decision.kind, decision.severity, decision.channel) == (
        "urgent",
        "urgent",
        "urgent",
        "#pilne",
    )
    assert decision.reason == 'rule "urgent": urgent (legal_threat: "pozew")'


def test_urgent_without_a_critical_channel_uses_the_target_channel() -> None:
    cfg = settings(targets=[{"name": "Sklep Zielony", "channel": "#zielony"}])
    decision = evaluate(mention(), score(-0.2, urgency="critical", reasons=LAWSUIT), cfg)
    assert decision is not None and decision.channel == "#zielony"


def test_elevated_urgency_on_praise_is_info_and_stays_out_of_the_critical_channel() -> None:
    """ "I have 50k followers, love the shop" is worth a look, not a page at 3 a.m."""
    decision = evaluate(
        mention(text="Mam 50 tys. obserwujących i polecam!"),
        score(0.8, "positive", urgency="elevated", reasons=REACH),
        settings(critical="#pilne"),
    )
    assert decision is not None
    assert (decision.kind, decision.severity, decision.channel) == ("urgent", "info", "#earshot-alerts")
    assert decision.reason == 'rule "urgent": elevated urgency (high_reach: "mam 50 tys. obserwujących")'


def test_elevated_urgency_on_a_negative_item_is_urgent() -> None:
    cfg = settings(critical="#pilne")
    by_score = evaluate(mention(), score(-0.1, urgency="elevated", reasons=REACH), cfg)
    by_rating = evaluate(mention(rating=1), score(0.2, "neutral", urgency="elevated", reasons=REACH), cfg)
    assert by_score is not None and (by_score.severity, by_score.channel) == ("urgent", "#pilne")
    assert by_rating is not None and (by_rating.severity, by_rating.channel) == ("urgent", "#pilne")


def test_long_urgency_evidence_is_shortened() -> None:
    reasons = (UrgencyReasonView(code="fraud_scam", evidence="oszuści " * 30, severity="critical"),)
    decision = evaluate(mention(), score(-0.9, urgency="critical", reasons=reasons), DEFAULT)
    assert decision is not None
    assert len(decision.reason) < 140 and decision.reason.endswith('…")')


# --- configured rules ------------------------------------------------------------------------------------

RETURNS: dict[str, Any] = {"name": "returns", "keywords": ["zwrot", "reklamacja"], "channel": "#zwroty"}


@pytest.mark.parametrize(
    "text",
    [
        "Czekam na zwrot pieniędzy, a reklamację zignorowano.",
        "czekam na ZWROTU pieniedzy, reklamacji nikt nie czyta",  # no diacritics, other cases
    ],
)
def test_keyword_rule_names_the_keywords_found(text: str) -> None:
    decision = evaluate(mention(text=text), score(0.1, "neutral"), settings([RETURNS]))
    assert decision is not None
    assert decision.reason == 'rule "returns": keywords zwrot, reklamacja'
    assert (decision.rule, decision.kind, decision.severity, decision.channel) == (
        "returns",
        "keyword",
        "info",
        "#zwroty",
    )


def test_keyword_rule_on_a_negative_item_is_negative_severity() -> None:
    decision = evaluate(
        mention(text="Refund still missing"), score(-0.8), settings([{"name": "r", "keywords": ["refund"]}])
    )
    assert decision is not None
    assert (decision.kind, decision.severity, decision.reason) == (
        "keyword",
        "negative",
        'rule "r": keyword refund',
    )


def test_keyword_that_only_looks_similar_does_not_fire() -> None:
    assert evaluate(mention(text="Wszystko odwrotnie niż w opisie"), score(0.1), settings([RETURNS])) is None


def test_first_matching_rule_decides() -> None:
    negative = {"name": "negative", "max_sentiment": -0.5, "max_stars": 2}
    item, reading = mention(rating=1, text="Gdzie mój zwrot?"), score(-0.9)
    first = evaluate(item, reading, settings([RETURNS, negative]))
    second = evaluate(item, reading, settings([negative, RETURNS]))
    assert first is not None and (first.rule, first.kind) == ("returns", "keyword")
    assert second is not None and (second.rule, second.kind, second.channel) == (
        "negative",
        "low_rating",
        "#earshot-alerts",
    )


def test_a_rule_that_does_not_match_lets_the_next_one_try() -> None:
    rules: list[dict[str, Any]] = [RETURNS, {"name": "bad", "max_sentiment": -0.5}]
    decision = evaluate(mention(text="Okropna obsługa"), score(-0.7), settings(rules))
    assert decision is not None and decision.rule == "bad"


def test_match_all_needs_every_trigger() -> None:
    rule = {"name": "angry_returns", "keywords": ["zwrot"], "max_stars": 2, "match": "all"}
    cfg = settings([rule])
    assert evaluate(mention(rating=5, text="Szybki zwrot"), score(0.9, "positive"), cfg) is None
    assert evaluate(mention(rating=1, text="Paczka zgubiona"), score(-0.9), cfg) is None
    decision = evaluate(mention(rating=1, text="Zwrotu brak"), score(0.0, "neutral"), cfg)
    assert decision is not None
    assert (decision.kind, decision.reason) == ("keyword", 'rule "angry_returns": rated 1★; keyword zwrot')


def test_urgency_trigger_levels() -> None:
    critical_only = settings([{"name": "legal", "urgency": "critical"}])
    assert evaluate(mention(), score(-0.9, urgency="elevated"), critical_only) is None
    assert evaluate(mention(), score(-0.9, urgency="critical"), critical_only) is not None
    elevated = settings([{"name": "any", "urgency": "elevated"}])
    assert evaluate(mention(), score(0.9, urgency="critical"), elevated) is not None
    assert evaluate(mention(), score(-0.9, urgency="none"), elevated) is None
    assert evaluate(mention(), None, elevated) is None
    decision = evaluate(mention(), score(-0.9, urgency="critical"), critical_only)
    assert decision is not None and decision.reason == 'rule "legal": urgent'


@pytest.mark.parametrize(
    ("rule", "item", "fires"),
    [
        ({"targets": ["Sklep Zielony"]}, mention(), True),
        ({"targets": ["Inny sklep"]}, mention(), False),
        ({"targets": ["Sklep Zielony"]}, mention(target=None), False),
        ({"sources": ["ceneo", "google_business"]}, mention(), True),
        ({"sources": ["ceneo"]}, mention(), False),
        ({"languages": ["pl"]}, mention(lang="pl-PL"), True),
        ({"languages": ["PL"]}, mention(lang="pl"), True),
        ({"languages": ["en"]}, mention(lang="pl"), False),
        ({"languages": ["pl"]}, mention(lang=None), False),  # unknown language fails the filter
        ({"min_reach": 1000}, mention(reach=5000), True),
        ({"min_reach": 1000}, mention(reach=999), False),
        ({"min_reach": 1000}, mention(reach=None), False),
    ],
)
def test_filters(rule: dict[str, Any], item: MentionView, fires: bool) -> None:
    cfg = settings([{"name": "filtered", "max_sentiment": -0.5, **rule}])
    assert (evaluate(item, score(-0.9), cfg) is not None) is fires


def test_language_filter_falls_back_to_the_detected_language() -> None:
    cfg = settings([{"name": "en_only", "max_sentiment": -0.5, "languages": ["en"]}])
    assert evaluate(mention(lang=None), score(-0.9, lang="en"), cfg) is not None
    assert evaluate(mention(lang=None), score(-0.9, lang="pl"), cfg) is None


def test_channel_routing_order() -> None:
    targets = [{"name": "Sklep Zielony", "channel": "#zielony"}, {"name": "Sklep Czerwony"}]
    with_rule_channel = settings(
        [{"name": "n", "max_sentiment": -0.5, "channel": "#regula"}], targets=targets
    )
    without = settings([{"name": "n", "max_sentiment": -0.5}], targets=targets)

    def channel(cfg: EarshotSettings, target: str | None) -> str:
        decision = evaluate(mention(target=target), score(-0.9), cfg)
        assert decision is not None
        return decision.channel

    assert channel(with_rule_channel, "Sklep Zielony") == "#regula"
    assert channel(without, "Sklep Zielony") == "#zielony"
    assert channel(without, "Sklep Czerwony") == "#earshot-alerts"  # target without a channel
    assert channel(without, None) == "#earshot-alerts"


def test_forced_severity_picks_the_channel_and_cooldown_is_passed_on() -> None:
    rules = [
        {
            "name": "vip",
            "max_sentiment": -0.5,
            "channel": "#vip",
            "severity": "urgent",
            "cooldown_minutes": 30,
        }
    ]
    decision = evaluate(mention(), score(-0.6), settings(rules, critical="#pilne"))
    assert decision is not None
    assert (decision.severity, decision.channel, decision.cooldown_minutes) == ("urgent", "#pilne", 30.0)
    calm = [{"name": "calm", "urgency": "critical", "severity": "info", "channel": "#log"}]
    decision = evaluate(
        mention(), score(-0.9, urgency="critical", reasons=LAWSUIT), settings(calm, critical="#pilne")
    )
    assert decision is not None and (decision.kind, decision.severity, decision.channel) == (
        "urgent",
        "info",
        "#log",
    )


def test_is_negative_and_is_urgent() -> None:
    assert is_negative(mention(), score(-0.5), DEFAULT)
    assert is_negative(mention(rating=2), None, DEFAULT)
    assert is_negative(mention(rating=2), None, DEFAULT.alerts)
    assert not is_negative(mention(rating=3), score(-0.49), DEFAULT)
    assert not is_negative(mention(rating=float("nan")), score(float("nan")), DEFAULT)
    assert is_urgent(mention(), score(0.9, urgency="critical"), DEFAULT)
    assert is_urgent(mention(), score(0.0, urgency="elevated"), DEFAULT)
    assert not is_urgent(mention(), score(0.1, urgency="elevated"), DEFAULT)
    assert not is_urgent(mention(rating=1), score(-0.9), DEFAULT)


def test_format_rating() -> None:
    assert (format_rating(1.0), format_rating(2.5), format_rating(4)) == ("1", "2.5", "4")
