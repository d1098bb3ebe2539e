"""The ``[alerts]`` settings: rules, quiet hours, storms and SLA escalation, the triage policy in config."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from monitor.core.settings_base import Section, known_zone

Severity = Literal["urgent", "negative", "info"]
UrgencyLevel = Literal["elevated", "critical"]


class AlertRule(Section):
    """One alert rule: its triggers (any one fires, or all with ``match = "all"``) narrowed by its filters.

    Triggers: ``max_sentiment``, ``max_stars``, ``urgency``, ``keywords``. Filters (all must hold):
    ``targets``, ``sources``, ``languages``, ``min_reach``. A rule without a trigger is a config error.
    """

    name: str = Field(min_length=1, max_length=64, description="Rule name, shown in the alert ('why').")
    max_sentiment: float | None = Field(
        None, ge=-1.0, le=1.0, description="Fires when the signed sentiment score is at or below this."
    )
    max_stars: float | None = Field(
        None, ge=0, le=5, description="Fires when the star rating is at or below this."
    )
    urgency: UrgencyLevel | None = Field(
        None, description="Fires when the sentiment package rates the item at least this urgent."
    )
    keywords: list[str] = Field(
        default_factory=list,
        description="Words or phrases; Polish inflections match ('zwrot' finds 'zwrotu', 'zwrotem'); "
        "'word*' matches any ending, '\"exact\"' only the form written.",
    )
    match: Literal["any", "all"] = Field(
        "any", description="Fire when any trigger holds, or only when all do."
    )
    targets: list[str] = Field(default_factory=list, description="Only these targets (empty = all).")
    sources: list[str] = Field(default_factory=list, description="Only these sources (empty = all).")
    languages: list[str] = Field(
        default_factory=list, description="Only these languages, e.g. ['pl'] (empty = all)."
    )
    min_reach: int | None = Field(None, ge=0, description="Only items whose author reach is at least this.")
    channel: str | None = Field(
        None, description="Channel for this rule's alerts; unset = the target's channel."
    )
    severity: Severity | None = Field(
        None,
        description="Force a severity; unset = urgent if the item is urgent, negative if negative, else info.",
    )
    cooldown_minutes: float = Field(
        0,
        ge=0,
        description="After an alert, further matches for the same target within this many minutes go into "
        "that alert's thread instead of new messages (urgent items always get their own).",
    )

    @model_validator(mode="after")
    def _has_trigger(self) -> AlertRule:
        if (
            self.max_sentiment is None
            and self.max_stars is None
            and self.urgency is None
            and not self.keywords
        ):
            raise ValueError(
                f"alert rule {self.name!r} needs a trigger: max_sentiment, max_stars, urgency or keywords"
            )
        return self


class QuietHours(Section):
    """Hours when non-urgent alerts wait; they are delivered when the quiet hours end, none is dropped."""

    start: time = Field(description="Local time quiet hours begin, e.g. 22:00.")
    end: time = Field(description="Local time quiet hours end, e.g. 07:00 (may be on the next day).")
    timezone: str = Field("Europe/Warsaw", description="IANA time zone of start and end.")
    days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4, 5, 6],
        description="Weekdays (0 = Monday) on which quiet hours start.",
    )

    _zone = field_validator("timezone")(staticmethod(known_zone))


class StormSettings(Section):
    """When negative volume for a target jumps far above its usual level, send one storm alert instead of N."""

    enabled: bool = Field(True, description="Detect storms at all.")
    window_minutes: float = Field(60, gt=0, description="Sliding window whose negative items are counted.")
    baseline_days: int = Field(
        7,
        ge=1,
        description="Baseline: the mean count in the same window of the day over this many past days.",
    )
    min_count: int = Field(
        8, ge=1, description="A storm needs at least this many negative items in the window."
    )
    factor: float = Field(
        4.0, ge=1, description="... and at least this many times the baseline (baseline floor 1)."
    )
    subside_count: int = Field(
        2, ge=0, description="The storm subsides when the window holds at most this many negative items..."
    )
    subside_minutes: float = Field(
        60, ge=0, description="... for this long; then one 'subsided' message closes it."
    )
    channel: str | None = Field(None, description="Channel for storm alerts; unset = the target's channel.")


class SlaSettings(Section):
    """Response targets per severity; an unhandled alert past its target is escalated once."""

    urgent_minutes: float | None = Field(
        60, gt=0, description="Response target for urgent alerts (unset = none)."
    )
    negative_minutes: float | None = Field(
        1440, gt=0, description="Response target for negative alerts (unset = none)."
    )
    info_minutes: float | None = Field(
        None, gt=0, description="Response target for info alerts (unset = none)."
    )

    def minutes_for(self, severity: str) -> float | None:
        """The response target of ``severity`` in minutes, or None when it has none."""
        return {
            "urgent": self.urgent_minutes,
            "negative": self.negative_minutes,
            "info": self.info_minutes,
        }.get(severity)


class AlertSettings(Section):
    negative_threshold: float = Field(
        -0.5, ge=-1.0, le=1.0, description="Built-in 'negative' rule: sentiment score at or below this."
    )
    max_stars: int = Field(
        2, ge=0, le=5, description="Built-in 'negative' rule: star rating at or below this."
    )
    excerpt_chars: int = Field(600, ge=50, le=2900, description="Longest excerpt of the text in a message.")
    rules: list[AlertRule] = Field(
        default_factory=list,
        description="Alert rules ([[alerts.rules]]); empty = the built-in 'urgent' (urgency elevated, to "
        "slack.critical_channel) and 'negative' (negative_threshold, max_stars) rules.",
    )
    quiet_hours: QuietHours | None = Field(
        None, description="Hold non-urgent alerts during these hours ([alerts.quiet_hours]); unset = never."
    )
    max_age_hours: float | None = Field(
        168,
        gt=0,
        description="Items already older than this when first crawled (a source's backlog) never alert; "
        "unset = all do.",
    )
    repeat_days: float = Field(
        30,
        gt=0,
        description="A negative item by the author of an alerted one within this many days goes into its thread.",
    )
    storm: StormSettings = Field(default_factory=StormSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)

    def effective_rules(self) -> list[AlertRule]:
        """The configured rules, or the built-in pair when none are configured."""
        if self.rules:
            return list(self.rules)
        return [
            AlertRule(name="urgent", urgency="elevated"),
            AlertRule(name="negative", max_sentiment=self.negative_threshold, max_stars=self.max_stars),
        ]
