"""What a weekly digest is: the figures of one target's week, as plain frozen dataclasses.

Kept apart from the SQL that fills them (:mod:`monitor.digest.queries`) and from what draws them
(:mod:`monitor.digest.charts`, :mod:`monitor.digest.render`), so those can depend on this module and never
on each other; :meth:`Digest.to_dict` is the JSON written beside each HTML report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime
from typing import Any

from monitor.digest.i18n import Language

__all__ = [
    "LABELS",
    "AspectStat",
    "DayStat",
    "Digest",
    "Kpis",
    "Quote",
    "RatingStat",
    "SentimentSplit",
    "SourceStat",
    "StormStat",
    "UrgentItem",
]

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class SourceStat:
    source: str
    count: int
    previous: int


@dataclass(frozen=True)
class DayStat:
    day: date  # the local date
    count: int
    by_source: dict[str, int]
    rating_avg: float | None
    rating_count: int


@dataclass(frozen=True)
class SentimentSplit:
    """Counts per label this week and last; shares are of scored mentions, change in percentage points."""

    counts: dict[str, int]
    previous_counts: dict[str, int]
    shares: dict[str, float | None]
    previous_shares: dict[str, float | None]
    change_pp: dict[str, float | None]
    unscored: int
    previous_unscored: int


@dataclass(frozen=True)
class RatingStat:
    average: float | None
    count: int
    previous_average: float | None
    previous_count: int

    @property
    def change(self) -> float | None:
        """Stars gained or lost against the previous week (None when either week had no ratings)."""
        if self.average is None or self.previous_average is None:
            return None
        return self.average - self.previous_average


@dataclass(frozen=True)
class Quote:
    mention_id: int
    source: str
    text: str  # the aspect's evidence, else an excerpt of the mention; at most items.QUOTE_CHARS
    score: float | None  # the aspect's score (P(pos) - P(neg)), else the mention's
    url: str  # the item page


@dataclass(frozen=True)
class AspectStat:
    aspect: str
    count: int  # mentions of the week reading this aspect negatively (whatever their own label)
    quotes: list[Quote]  # only from mentions whose own label is negative too: complaints, not news


@dataclass(frozen=True)
class UrgentItem:
    mention_id: int
    source: str
    author: str | None
    excerpt: str
    rating: float | None
    when: datetime
    label: str
    score: float
    urgency: str
    reasons: list[str]
    status: str  # handled | assigned | open | storm | no_alert
    assignee: str | None
    handled_by: str | None
    url: str  # the item page
    source_url: str | None


@dataclass(frozen=True)
class Kpis:
    alerts: int
    handled: int
    median_minutes: float | None
    p90_minutes: float | None
    within_sla: int
    sla_judged: int  # alerts with an SLA that were handled, or are open past their deadline
    unhandled: int  # of this week's alerts, still open now
    open_total: int  # every open top-level mention alert of the target now

    @property
    def within_sla_share(self) -> float | None:
        return None if self.sla_judged == 0 else self.within_sla / self.sla_judged


@dataclass(frozen=True)
class StormStat:
    storm_id: int
    opened_at: datetime
    closed_at: datetime | None
    count: int  # negative items in the window when it opened
    peak: int
    themes: list[dict[str, Any]]  # [{"aspect": code, "count": n}]


@dataclass(frozen=True)
class Digest:
    """One target's week; :meth:`to_dict` is its JSON form (dates as ISO strings)."""

    target: str
    target_slug: str
    week: str
    previous_week: str
    start: datetime
    end: datetime
    timezone: str
    language: Language
    generated_at: datetime
    total: int
    previous_total: int
    sources: list[SourceStat]
    days: list[DayStat]
    sentiment: SentimentSplit
    rating: RatingStat
    aspects: list[AspectStat]
    urgent: list[UrgentItem]
    kpis: Kpis
    storms: list[StormStat]
    report_url: str
    period: str = field(default="")

    @property
    def volume_change(self) -> float | None:
        """Relative change of the mention count against the previous week (None when it had none)."""
        return None if self.previous_total == 0 else (self.total - self.previous_total) / self.previous_total

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates and datetimes as ISO strings, derived figures included."""
        data = _jsonable(asdict(self))
        data["volume_change"] = self.volume_change
        data["rating"]["change"] = self.rating.change
        data["kpis"]["within_sla_share"] = self.kpis.within_sla_share
        assert isinstance(data, dict)
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    return value
