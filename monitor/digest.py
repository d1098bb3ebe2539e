"""The weekly digest for managers: one target's week in numbers, charts, an HTML report and a Slack post.

Every number comes from SQL aggregations over the week's rows (``GROUP BY``/``COUNT``/``SUM``/``AVG``,
JSON table functions for aspects, a window function for example quotes), so a million stored mentions
never travel into Python; only the handful of result rows, the week's alerts (for percentiles) and the
top urgent items do.

* **Week** = an ISO week in ``digest.timezone``: ``[Monday 00:00, next Monday 00:00)`` local, kept as
  UTC instants. A mention belongs to it when ``COALESCE(created_at, first_seen_at)`` (the source's time,
  else when we first saw it) falls inside. Local days are computed here as UTC boundaries (a DST week has
  a 23- or 25-hour day) and counted in SQL with one ``CASE`` bucket per day, so SQLite and PostgreSQL agree.
* **Sentiment** of a mention = its newest score of its current version (an edited review is read as it
  is now); mentions without one are counted apart as unscored; shares are of the scored ones.
* **KPIs** come from the top-level mention alerts created in the week (kinds ``AlertKind.MENTION_KINDS``,
  no parent): minutes from ``sent_at`` (else ``created_at``) to ``handled_at``; the SLA share counts an
  alert within SLA when handled inside its severity's target, missed when handled later or still open past
  it; an open alert whose deadline has not come yet is not judged.

``run_digest`` builds, renders and writes ``data_dir/reports/<target-slug>/<week>.html`` (+ ``.json``) per
target and posts the summary with the charts to Slack (files upload v2), or prints it without a token.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import DateTime, Integer, and_, bindparam, case, func, or_, select, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from alerts.escaping import clean_text, escape_mrkdwn
from alerts.slack_sender import ConsoleSender, SlackError
from alerts.storms import latest_score_id
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, Mention, SentimentScore, Storm, TargetRow
from monitor.digest_i18n import (
    Language,
    aspect_label,
    day_label,
    fmt_minutes,
    fmt_number,
    fmt_pp,
    fmt_rating,
    fmt_share,
    period_label,
    t,
)

__all__ = [
    "AspectStat",
    "DayStat",
    "Digest",
    "DigestError",
    "DigestResult",
    "FileUploader",
    "Kpis",
    "Quote",
    "RatingStat",
    "ReportInfo",
    "SentimentSplit",
    "SourceStat",
    "StormStat",
    "UrgentItem",
    "Week",
    "build_digest",
    "find_report",
    "item_url",
    "last_full_week",
    "list_reports",
    "parse_week",
    "previous_week",
    "render_html",
    "report_path",
    "report_url",
    "run_digest",
    "summary_text",
    "target_slug",
    "week_days",
]

logger = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
QUOTE_CHARS = 200
QUOTES_PER_ASPECT = 2
_EXCERPT_SQL_CHARS = 400  # cut in SQL so a 40 kB review is not fetched to show 200 characters
_WEEK = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$")
_WEEK_ISO = re.compile(r"^\d{4}-W\d{2}$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_URGENCY_RANK = {"critical": 0, "elevated": 1}
TEMPLATES = Path(__file__).parent / "templates"


class DigestError(Exception):
    """The digest cannot be made as asked (a malformed week, an unknown target or time zone)."""


# --------------------------------------------------------------------------------------------- weeks


@dataclass(frozen=True)
class Week:
    """An ISO week in the digest's time zone."""

    iso: str  # "2026-W47"
    start: datetime  # aware UTC instant of Monday 00:00 local
    end: datetime  # aware UTC instant of the next Monday 00:00 local


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DigestError(f"unknown time zone {tz!r}; use an IANA name such as Europe/Warsaw") from exc


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day begins (zoneinfo resolves a skipped midnight to the later offset)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _week_of_monday(monday: date, zone: ZoneInfo) -> Week:
    year, number, _ = monday.isocalendar()
    return Week(
        f"{year:04d}-W{number:02d}",
        _local_midnight(monday, zone),
        _local_midnight(monday + timedelta(days=7), zone),
    )


def parse_week(text: str, tz: str) -> Week:
    """``"2026-W47"`` (also ``2026W47``, ``2026-w7``) as a :class:`Week` in ``tz``; DigestError says what's wrong."""
    zone = _zone(tz)
    match = _WEEK.match(text or "")
    if match is None:
        raise DigestError(f"week {text!r} is not an ISO week; write it like 2026-W47")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        weeks = date(year, 12, 28).isocalendar()[1] if 1 <= year <= 9999 else 0
        raise DigestError(f"week {text!r} does not exist: {year} has weeks 1 to {weeks}") from None
    return _week_of_monday(monday, zone)


def last_full_week(now: datetime, tz: str) -> Week:
    """The ISO week before the one containing ``now`` (local): what Monday morning's digest reports."""
    zone = _zone(tz)
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    today = moment.astimezone(zone).date()
    this_monday = today - timedelta(days=today.weekday())
    return _week_of_monday(this_monday - timedelta(days=7), zone)


def previous_week(week: Week, tz: str) -> Week:
    """The ISO week before ``week`` (by local dates, so a DST change in between does not shift it)."""
    zone = _zone(tz)
    return _week_of_monday(week.start.astimezone(zone).date() - timedelta(days=7), zone)


def week_days(week: Week, tz: str) -> list[tuple[date, datetime, datetime]]:
    """The week's 7 local days as (local date, UTC start, UTC end); DST days are 23 or 25 hours long."""
    zone = _zone(tz)
    monday = week.start.astimezone(zone).date()
    days = [monday + timedelta(days=k) for k in range(8)]
    return [(days[k], _local_midnight(days[k], zone), _local_midnight(days[k + 1], zone)) for k in range(7)]


# --------------------------------------------------------------------------------------------- the numbers


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
    text: str  # the aspect's evidence, else an excerpt of the mention; at most QUOTE_CHARS
    score: float | None  # the aspect's score (P(pos) - P(neg)), else the mention's
    url: str  # the item page


@dataclass(frozen=True)
class AspectStat:
    aspect: str
    count: int  # mentions of the week reading this aspect negatively
    quotes: list[Quote]


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


def target_slug(name: str) -> str:
    """A URL- and file-safe form of a target name: ``Sklep Łódź & Co`` -> ``sklep-lodz-co``."""
    folded = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L"))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")[:80].strip("-")
    if not slug:
        # A name with no Latin letters at all still needs a stable, distinct path.
        slug = "target-" + name.encode("utf-8").hex()[:16]
    return slug


def item_url(settings: EarshotSettings, mention_id: int) -> str:
    """The item page: the link the Slack alert carries and the digest points to."""
    return f"{settings.public_url.rstrip('/')}/items/{mention_id}"


def report_url(settings: EarshotSettings, target: str, week_iso: str) -> str:
    """Where the web app serves the report of ``target`` for ``week_iso``."""
    return f"{settings.public_url.rstrip('/')}/digests/{target_slug(target)}/{week_iso}"


def _utc(moment: datetime | None) -> datetime | None:
    """Times come back naive from SQLite and PostgreSQL ``timestamp`` columns: they are UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _item_time() -> Any:
    """When the item was written (the source's time), else when we first saw it: what puts it in a week."""
    return func.coalesce(col(Mention.created_at), col(Mention.first_seen_at))


def _target_id(conn: Connection, target: str) -> int | None:
    return conn.execute(select(col(TargetRow.id)).where(col(TargetRow.name) == target)).scalar_one_or_none()


@dataclass
class _Bucket:
    """Sums for one (day, source, label) group of the main aggregation."""

    count: int = 0
    rating_sum: float = 0.0
    rating_count: int = 0


def _aggregate(
    conn: Connection, target_id: int, bounds: list[datetime]
) -> list[tuple[int, str, str | None, int, float, int]]:
    """ONE scan of the two weeks: (day bucket 0..13, source, label, count, rating sum, rated count).

    Buckets 0-6 are the previous week's local days, 7-13 this week's. The bucket is a CASE over UTC day
    boundaries, computed in a subquery and grouped outside it (PostgreSQL cannot match a GROUP BY
    expression holding bind parameters to the same expression in SELECT).
    """
    when = _item_time()
    bucket = case(*[(when < bounds[k + 1], k) for k in range(14)], else_=-1)
    newest = latest_score_id()
    inner = (
        select(
            bucket.label("bucket"),
            col(Mention.source).label("source"),
            col(SentimentScore.label).label("label"),
            col(Mention.rating).label("rating"),
        )
        .select_from(Mention)
        .outerjoin(SentimentScore, col(SentimentScore.id) == newest)
        .where(col(Mention.target_id) == target_id, when >= bounds[0], when < bounds[14])
        .subquery()
    )
    stmt = select(
        inner.c.bucket,
        inner.c.source,
        inner.c.label,
        func.count(),
        func.coalesce(func.sum(inner.c.rating), 0.0),
        func.count(inner.c.rating),
    ).group_by(inner.c.bucket, inner.c.source, inner.c.label)
    return [
        (int(b), str(s), lbl, int(n), float(rs or 0.0), int(rc or 0))
        for b, s, lbl, n, rs, rc in conn.execute(stmt).all()
    ]


def _volume_sentiment_rating(
    rows: Sequence[tuple[int, str, str | None, int, float, int]], days: list[date]
) -> tuple[list[SourceStat], list[DayStat], SentimentSplit, RatingStat]:
    """Fold the aggregation's few rows into per-source, per-day, sentiment and rating figures."""
    this_src: dict[str, int] = {}
    prev_src: dict[str, int] = {}
    day_src: list[dict[str, int]] = [{} for _ in range(7)]
    day_rating = [_Bucket() for _ in range(7)]
    labels: list[dict[str, int]] = [dict.fromkeys(LABELS, 0), dict.fromkeys(LABELS, 0)]
    unscored = [0, 0]
    rating = [_Bucket(), _Bucket()]
    for bucket, source, label, n, rating_sum, rating_count in rows:
        if bucket < 0:
            continue
        current = 1 if bucket >= 7 else 0
        (this_src if current else prev_src)[source] = (this_src if current else prev_src).get(source, 0) + n
        if current:
            day_src[bucket - 7][source] = day_src[bucket - 7].get(source, 0) + n
            day_rating[bucket - 7].rating_sum += rating_sum
            day_rating[bucket - 7].rating_count += rating_count
        if label in LABELS:
            labels[current][label] += n
        else:
            unscored[current] += n
        rating[current].rating_sum += rating_sum
        rating[current].rating_count += rating_count
    names = sorted(set(this_src) | set(prev_src), key=lambda s: (-this_src.get(s, 0), -prev_src.get(s, 0), s))
    sources = [SourceStat(s, this_src.get(s, 0), prev_src.get(s, 0)) for s in names]
    day_stats = [
        DayStat(
            days[k],
            sum(day_src[k].values()),
            dict(sorted(day_src[k].items())),
            _avg(day_rating[k]),
            day_rating[k].rating_count,
        )
        for k in range(7)
    ]
    shares = [_shares(labels[1]), _shares(labels[0])]
    change = {
        lbl: None
        if shares[0][lbl] is None or shares[1][lbl] is None
        else round((shares[0][lbl] or 0.0) * 100 - (shares[1][lbl] or 0.0) * 100, 6)
        for lbl in LABELS
    }
    split = SentimentSplit(labels[1], labels[0], shares[0], shares[1], change, unscored[1], unscored[0])
    rating_stat = RatingStat(_avg(rating[1]), rating[1].rating_count, _avg(rating[0]), rating[0].rating_count)
    return sources, day_stats, split, rating_stat


def _avg(bucket: _Bucket) -> float | None:
    return None if bucket.rating_count == 0 else bucket.rating_sum / bucket.rating_count


def _shares(counts: dict[str, int]) -> dict[str, float | None]:
    scored = sum(counts.values())
    return {lbl: (None if scored == 0 else counts[lbl] / scored) for lbl in LABELS}


# ----------------------------------------------------------------------------------- aspects (JSON in SQL)

_NEWEST_SCORE_SQL = (
    "s.id = (SELECT s2.id FROM sentiment_scores s2 WHERE s2.mention_id = m.id "
    "AND s2.mention_version = m.version ORDER BY s2.scored_at DESC, s2.id DESC LIMIT 1)"
)


def _aspect_sql(dialect: str) -> tuple[str, Callable[[str], str]]:
    """(JOIN producing one row ``a`` per aspect entry, field(name) -> SQL text of that entry's field).

    Why two spellings: the aspects are a JSON array column and each database has its own table function
    for it (SQLite ``json_each``, PostgreSQL ``json_array_elements``); anything but an array reads as none.
    """
    if dialect == "postgresql":
        join = (
            "JOIN LATERAL json_array_elements(CASE WHEN json_typeof(s.aspects) = 'array' "
            "THEN s.aspects ELSE '[]'::json END) AS a(value) ON true"
        )
        return join, lambda name: f"(a.value ->> '{name}')"
    if dialect == "sqlite":
        join = "JOIN json_each(CASE WHEN json_type(s.aspects) = 'array' THEN s.aspects ELSE '[]' END) AS a"
        return join, lambda name: f"json_extract(a.value, '$.{name}')"
    raise DigestError(f"the digest supports SQLite and PostgreSQL, not {dialect}")


def _week_params(target_id: int, week: Week) -> dict[str, Any]:
    return {"tid": target_id, "start": week.start, "end": week.end}


def _typed(stmt: Any) -> Any:
    """Bind the week's instants as DateTime so SQLite compares them in its stored text form."""
    return stmt.bindparams(
        bindparam("start", type_=DateTime()),
        bindparam("end", type_=DateTime()),
        bindparam("tid", type_=Integer()),
    )


def _top_aspects(conn: Connection, settings: EarshotSettings, target_id: int, week: Week) -> list[AspectStat]:
    """The week's most frequent negative aspects (one count per mention), each with its two worst quotes."""
    join, field_sql = _aspect_sql(conn.dialect.name)
    aspect, sentiment = field_sql("aspect"), field_sql("sentiment")
    score = (
        f"CAST({field_sql('score')} AS {'DOUBLE PRECISION' if conn.dialect.name == 'postgresql' else 'REAL'})"
    )
    base = (
        f"FROM mentions m JOIN sentiment_scores s ON {_NEWEST_SCORE_SQL} {join} "
        "WHERE m.target_id = :tid AND COALESCE(m.created_at, m.first_seen_at) >= :start "
        f"AND COALESCE(m.created_at, m.first_seen_at) < :end AND {sentiment} = 'negative'"
    )
    counts = conn.execute(
        _typed(
            text(
                f"SELECT {aspect} AS aspect, COUNT(DISTINCT m.id) AS n {base} "
                f"GROUP BY {aspect} ORDER BY n DESC, aspect LIMIT :k"
            )
        ),
        {**_week_params(target_id, week), "k": settings.digest.top_aspects},
    ).all()
    top = [(str(a), int(n)) for a, n in counts if a]
    if not top:
        return []
    quote_sql = text(
        f"SELECT aspect, mention_id, source, evidence, excerpt, a_score FROM ("
        f"SELECT {aspect} AS aspect, m.id AS mention_id, m.source AS source, "
        f"{field_sql('evidence')} AS evidence, "
        f"SUBSTR(m.text, 1, {_EXCERPT_SQL_CHARS}) AS excerpt, COALESCE({score}, s.score) AS a_score, "
        f"ROW_NUMBER() OVER (PARTITION BY {aspect} ORDER BY COALESCE({score}, s.score), s.score, m.id DESC) "
        f"AS rn {base} AND {aspect} IN :aspects) q WHERE rn <= :per ORDER BY aspect, rn"
    ).bindparams(bindparam("aspects", expanding=True))
    rows = conn.execute(
        _typed(quote_sql),
        {**_week_params(target_id, week), "aspects": [a for a, _ in top], "per": QUOTES_PER_ASPECT},
    ).all()
    quotes: dict[str, list[Quote]] = {a: [] for a, _ in top}
    for name, mention_id, source, evidence, excerpt, a_score in rows:
        words = clean_text(str(evidence or "")).strip() or clean_text(str(excerpt or "")).strip()
        quotes[str(name)].append(
            Quote(
                int(mention_id),
                str(source),
                _clip(words, QUOTE_CHARS),
                None if a_score is None else float(a_score),
                item_url(settings, int(mention_id)),
            )
        )
    return [AspectStat(a, n, quotes[a]) for a, n in top]


def _clip(words: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis when it had to be cut."""
    flat = " ".join(words.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:-") + "…"


# --------------------------------------------------------------------------------------------- urgent items


def _urgent_items(
    conn: Connection, settings: EarshotSettings, target_id: int, week: Week
) -> list[UrgentItem]:
    """Critical first, then elevated, then the most negative; each with the status of its alert."""
    when = _item_time()
    urgency = col(SentimentScore.urgency)
    rank = case((urgency == "critical", 0), (urgency == "elevated", 1), else_=2)
    stmt = (
        select(
            col(Mention.id),
            col(Mention.source),
            col(Mention.author),
            func.substr(col(Mention.text), 1, _EXCERPT_SQL_CHARS),
            col(Mention.rating),
            when,
            col(Mention.url),
            col(SentimentScore.label),
            col(SentimentScore.score),
            urgency,
            col(SentimentScore.urgency_reasons),
        )
        .select_from(Mention)
        .join(SentimentScore, col(SentimentScore.id) == latest_score_id())
        .where(
            col(Mention.target_id) == target_id,
            when >= week.start,
            when < week.end,
            or_(urgency.in_(list(_URGENCY_RANK)), col(SentimentScore.label) == "negative"),
        )
        .order_by(rank, col(SentimentScore.score), when.desc(), col(Mention.id).desc())
        .limit(settings.digest.top_urgent)
    )
    rows = conn.execute(stmt).all()
    statuses = _alert_statuses(conn, [int(r[0]) for r in rows])
    items = []
    for mid, source, author, excerpt, rating, moment, url, label, score, level, reasons in rows:
        status, assignee, handled_by = statuses.get(int(mid), ("no_alert", None, None))
        items.append(
            UrgentItem(
                mention_id=int(mid),
                source=str(source),
                author=author,
                excerpt=_clip(clean_text(str(excerpt or "")), QUOTE_CHARS),
                rating=None if rating is None else float(rating),
                when=_utc(moment) or week.start,
                label=str(label),
                score=float(score),
                urgency=str(level),
                reasons=[str(r.get("code", r)) if isinstance(r, dict) else str(r) for r in reasons or []],
                status=status,
                assignee=assignee,
                handled_by=handled_by,
                url=item_url(settings, int(mid)),
                source_url=url,
            )
        )
    return items


def _alert_statuses(
    conn: Connection, mention_ids: list[int]
) -> dict[int, tuple[str, str | None, str | None]]:
    """{mention id: (status, assignee, handled_by)} from its newest mention alert (top-level preferred)."""
    if not mention_ids:
        return {}
    rows = conn.execute(
        select(
            col(Alert.mention_id),
            col(Alert.parent_id),
            col(Alert.status),
            col(Alert.handled_at),
            col(Alert.assignee),
            col(Alert.handled_by),
        )
        .where(col(Alert.mention_id).in_(mention_ids), col(Alert.kind).in_(AlertKind.MENTION_KINDS))
        .order_by(col(Alert.created_at), col(Alert.id))
    ).all()
    found: dict[int, tuple[bool, tuple[str, str | None, str | None]]] = {}
    for raw_mid, parent, status, handled_at, assignee, handled_by in rows:
        mid, top_level = int(raw_mid or 0), parent is None
        if mid in found and found[mid][0] and not top_level:
            continue  # a folded copy never outranks the item's own alert
        if handled_at is not None:
            state = ("handled", assignee, handled_by)
        elif status == "folded":
            state = ("storm", assignee, None)
        elif assignee:
            state = ("assigned", assignee, None)
        else:
            state = ("open", None, None)
        found[mid] = (top_level, state)
    return {mid: state for mid, (_, state) in found.items()}


# --------------------------------------------------------------------------------------------- KPIs, storms


def _percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default): p90 of [10, 20] is 19."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _kpis(conn: Connection, settings: EarshotSettings, target: str, week: Week, now: datetime) -> Kpis:
    """Response figures of the week's top-level mention alerts (few rows: percentiles in Python)."""
    mention_alert = and_(
        col(Alert.target) == target,
        col(Alert.kind).in_(AlertKind.MENTION_KINDS),
        col(Alert.parent_id).is_(None),
        col(Alert.mention_id).is_not(None),
    )
    rows = conn.execute(
        select(col(Alert.severity), col(Alert.created_at), col(Alert.sent_at), col(Alert.handled_at)).where(
            mention_alert, col(Alert.created_at) >= week.start, col(Alert.created_at) < week.end
        )
    ).all()
    minutes: list[float] = []
    within = judged = unhandled = 0
    for severity, created, sent, handled in rows:
        began = _utc(sent) or _utc(created)
        assert began is not None
        sla = settings.alerts.sla.minutes_for(str(severity))
        done = _utc(handled)
        if done is None:
            unhandled += 1
            if sla is not None and now > began + timedelta(minutes=sla):
                judged += 1  # open past its deadline: a miss; open before it: not judged yet
            continue
        taken = max((done - began).total_seconds() / 60.0, 0.0)
        minutes.append(taken)
        if sla is not None:
            judged += 1
            within += taken <= sla
    open_total = conn.execute(
        select(func.count()).select_from(Alert).where(mention_alert, col(Alert.handled_at).is_(None))
    ).scalar_one()
    return Kpis(
        alerts=len(rows),
        handled=len(minutes),
        median_minutes=statistics.median(minutes) if minutes else None,
        p90_minutes=_percentile(minutes, 0.9),
        within_sla=within,
        sla_judged=judged,
        unhandled=unhandled,
        open_total=int(open_total),
    )


def _storms(conn: Connection, target: str, week: Week) -> list[StormStat]:
    rows = conn.execute(
        select(
            col(Storm.id),
            col(Storm.opened_at),
            col(Storm.closed_at),
            col(Storm.window_count),
            col(Storm.peak_count),
            col(Storm.payload),
        )
        .where(
            col(Storm.target) == target, col(Storm.opened_at) >= week.start, col(Storm.opened_at) < week.end
        )
        .order_by(col(Storm.opened_at))
    ).all()
    stats = []
    for sid, opened, closed, count, peak, payload in rows:
        themes = (payload or {}).get("themes") or []
        stats.append(
            StormStat(
                storm_id=int(sid),
                opened_at=_utc(opened) or week.start,
                closed_at=_utc(closed),
                count=int(count),
                peak=max(int(peak), int(count)),
                themes=[
                    {"aspect": str(th.get("aspect")), "count": int(th.get("count") or 0)}
                    for th in themes
                    if isinstance(th, dict) and th.get("aspect")
                ],
            )
        )
    return stats


def build_digest(
    engine: Engine, settings: EarshotSettings, target: str, week: Week, *, now: datetime | None = None
) -> Digest:
    """All the numbers of ``target``'s ``week`` (a target with no stored mentions gives an empty digest).

    ``now`` (default: the current time) decides which open alerts are already past their SLA.
    """
    tz = settings.digest.timezone
    moment = _utc(now) or datetime.now(UTC)
    before = previous_week(week, tz)
    this_days = week_days(week, tz)
    bounds = [start for _, start, _ in week_days(before, tz)] + [start for _, start, _ in this_days]
    bounds.append(week.end)
    with engine.connect() as conn:
        target_id = _target_id(conn, target)
        rows = [] if target_id is None else _aggregate(conn, target_id, bounds)
        aspects = [] if target_id is None else _top_aspects(conn, settings, target_id, week)
        urgent = [] if target_id is None else _urgent_items(conn, settings, target_id, week)
        kpis = _kpis(conn, settings, target, week, moment)
        storms = _storms(conn, target, week)
    local_days = [d for d, _, _ in this_days]
    sources, days, split, rating = _volume_sentiment_rating(rows, local_days)
    lang: Language = settings.digest.language
    return Digest(
        target=target,
        target_slug=target_slug(target),
        week=week.iso,
        previous_week=before.iso,
        start=week.start,
        end=week.end,
        timezone=tz,
        language=lang,
        generated_at=moment,
        total=sum(s.count for s in sources),
        previous_total=sum(s.previous for s in sources),
        sources=sources,
        days=days,
        sentiment=split,
        rating=rating,
        aspects=aspects,
        urgent=urgent,
        kpis=kpis,
        storms=storms,
        report_url=report_url(settings, target, week.iso),
        period=period_label(local_days[0], local_days[-1], lang),
    )


# --------------------------------------------------------------------------------------------- output


def render_charts(digest: Digest, language: str) -> dict[str, bytes]:
    """Chart name -> PNG bytes (matplotlib, Agg): volume by day and source, sentiment, rating, aspects."""
    from monitor.digest_charts import render_charts as _render  # matplotlib loads only when charts are made

    return _render(digest, _language(language))


def _language(language: str) -> Language:
    if language == "pl":
        return "pl"
    if language == "en":
        return "en"
    raise DigestError(f"digest language must be 'pl' or 'en', not {language!r}")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every string from a review, an author or a target is escaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_html(digest: Digest, charts: dict[str, bytes], settings: EarshotSettings) -> str:
    """The self-contained report: inline CSS, charts as ``data:image/png;base64`` URIs, no scripts or links
    to load, so the file can be mailed or opened offline and shows the same thing everywhere."""
    lang = _language(digest.language)
    images = {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii") for name, png in charts.items()
    }
    template = _environment().get_template("digest.html")
    return template.render(
        d=digest,
        lang=lang,
        images=images,
        tz=ZoneInfo(digest.timezone),
        t=lambda key: t(key, lang),
        aspect_label=lambda code: aspect_label(code, lang),
        day_label=lambda day: day_label(day, lang),
        num=lambda value, digits=0: fmt_number(value, lang, digits),
        share=lambda value: fmt_share(value, lang),
        pp=lambda value: fmt_pp(value, lang),
        stars=lambda value: fmt_rating(value, lang),
        minutes=lambda value: fmt_minutes(value, lang),
        change=lambda now, before: _relative_change(now, before, lang),
        labels=LABELS,
        public_url=settings.public_url.rstrip("/"),
    )


def _relative_change(now: int, before: int, lang: Language) -> str:
    """``+12,5%`` against the previous week, ``nowe``/``new`` when it had none, ``–`` when both had none."""
    if before == 0:
        return "–" if now == 0 else t("new", lang)
    value = (now - before) / before * 100
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{fmt_number(abs(value), lang, 1)}%"


def summary_text(digest: Digest, *, mrkdwn: bool = True) -> str:
    """The Slack summary (mrkdwn, untrusted text escaped) or, with ``mrkdwn=False``, the console text."""
    lang = _language(digest.language)

    def esc(value: str) -> str:
        return escape_mrkdwn(value) if mrkdwn else clean_text(value)

    bold = "*" if mrkdwn else ""
    s = digest.sentiment
    lines = [
        f"{bold}{t('title', lang)}: {esc(digest.target)} — {digest.week} ({digest.period}){bold}",
        f"• {t('mentions', lang)}: {fmt_number(digest.total, lang)} "
        f"({_relative_change(digest.total, digest.previous_total, lang)} {t('vs_previous', lang)})"
        + (
            ": "
            + ", ".join(f"{esc(x.source)} {fmt_number(x.count, lang)}" for x in digest.sources[:5] if x.count)
            if digest.total
            else ""
        ),
        f"• {t('sentiment', lang)}: "
        + ", ".join(
            f"{t(lbl, lang).lower()} {fmt_share(s.shares[lbl], lang)} ({fmt_pp(s.change_pp[lbl], lang)})"
            for lbl in LABELS
        )
        + (f"; {t('unscored', lang).lower()}: {s.unscored}" if s.unscored else ""),
        f"• {t('rating', lang)}: {fmt_rating(digest.rating.average, lang)} "
        f"({t('previously', lang)} {fmt_rating(digest.rating.previous_average, lang)})",
    ]
    if digest.aspects:
        top = digest.aspects[0]
        quote = f" — „{esc(top.quotes[0].text)}”" if top.quotes else ""
        lines.append(
            f"• {t('top_aspects', lang)}: "
            + ", ".join(f"{esc(aspect_label(a.aspect, lang))} ({a.count})" for a in digest.aspects)
            + quote
        )
    k = digest.kpis
    lines.append(
        f"• {t('kpis', lang)}: {t('alerts', lang).lower()} {k.alerts}, "
        f"{t('median_short', lang)} {fmt_minutes(k.median_minutes, lang)}, "
        f"{t('p90_short', lang)} {fmt_minutes(k.p90_minutes, lang)}, "
        f"{t('sla_short', lang)} {fmt_share(k.within_sla_share, lang)}, "
        f"{t('unhandled_short', lang)} {k.unhandled}"
    )
    if digest.storms:
        totals: dict[str, int] = {}
        for st in digest.storms:
            for th in st.themes:
                totals[th["aspect"]] = totals.get(th["aspect"], 0) + int(th["count"])
        themes = sorted(totals, key=lambda a: (-totals[a], a))
        described = ", ".join(esc(aspect_label(a, lang)) for a in themes)
        lines.append(
            f"• {t('storms', lang)}: {len(digest.storms)}" + (f" ({described})" if described else "")
        )
    else:
        lines.append(f"• {t('storms', lang)}: {t('none', lang)}")
    if mrkdwn:
        lines.append(f"<{digest.report_url}|{t('full_report', lang)}>")
    else:
        lines.append(f"{t('full_report', lang)}: {digest.report_url}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- files


@dataclass(frozen=True)
class ReportInfo:
    target: str
    week_iso: str
    path: Path
    created: datetime  # when the file was written (aware UTC)
    target_slug: str = ""


def report_path(settings: EarshotSettings, target: str, week_iso: str) -> Path:
    """``data_dir/reports/<target-slug>/<week>.html`` (the JSON of the numbers lies beside it)."""
    if not _WEEK_ISO.fullmatch(week_iso):
        raise DigestError(f"week {week_iso!r} is not an ISO week such as 2026-W47")
    return Path(settings.data_dir) / "reports" / target_slug(target) / f"{week_iso}.html"


def find_report(settings: EarshotSettings, slug: str, week_iso: str) -> Path | None:
    """The saved report for a URL's ``<slug>/<week>``, or None; anything else than a slug and an ISO week
    is refused, so a crafted URL can never name a file outside the reports folder."""
    if not _SLUG.fullmatch(slug) or not _WEEK_ISO.fullmatch(week_iso):
        return None
    path = Path(settings.data_dir) / "reports" / slug / f"{week_iso}.html"
    return path if path.is_file() else None


def list_reports(settings: EarshotSettings) -> list[ReportInfo]:
    """Every saved report, newest week first (then by target name)."""
    root = Path(settings.data_dir) / "reports"
    if not root.is_dir():
        return []
    names = {target_slug(tg.name): tg.name for tg in settings.targets}
    found = []
    for path in root.glob("*/*.html"):
        slug, week_iso = path.parent.name, path.stem
        if not _SLUG.fullmatch(slug) or not _WEEK_ISO.fullmatch(week_iso):
            continue
        target = names.get(slug) or _target_from_json(path.with_suffix(".json")) or slug
        created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        found.append(ReportInfo(target, week_iso, path, created, slug))
    found.sort(key=lambda r: (r.target.lower(), r.target))
    found.sort(key=lambda r: r.week_iso, reverse=True)
    return found


def _target_from_json(path: Path) -> str | None:
    """The target name written beside a report (for targets no longer in the config)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.debug("no readable digest JSON at %s: %s", path, exc)
        return None
    name = data.get("target") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _write_atomically(path: Path, content: str) -> None:
    """Write via a temporary file and rename, so the web app never serves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------- run


@runtime_checkable
class FileUploader(Protocol):
    """A sender that can share files with a comment (``SlackSender``); others get the summary printed."""

    def upload_files(
        self, channel: str, files: list[tuple[str, bytes]], initial_comment: str, title: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class DigestResult:
    target: str
    week: str
    path: Path  # the HTML report
    json_path: Path
    digest: Digest
    posted: bool = False  # shared in Slack
    printed: bool = False  # no Slack token: the summary went to the console
    error: str | None = None  # why posting failed (the report is written anyway)


def _targets(engine: Engine, settings: EarshotSettings, wanted: Iterable[str] | None) -> list[str]:
    """The configured targets (else those in the database); names asked for must be one of them."""
    with engine.connect() as conn:
        stored = [
            str(n) for n in conn.execute(select(col(TargetRow.name)).order_by(col(TargetRow.name))).scalars()
        ]
    known = [tg.name for tg in settings.targets] or stored
    if wanted is None:
        return known
    chosen = list(dict.fromkeys(wanted))
    unknown = [n for n in chosen if n not in known and n not in stored]
    if unknown:
        raise DigestError(
            f"unknown target(s) {', '.join(map(repr, unknown))}; known: {', '.join(map(repr, known)) or 'none'}"
        )
    return chosen


def run_digest(
    engine: Engine,
    settings: EarshotSettings,
    *,
    week: Week | None = None,
    targets: list[str] | None = None,
    sender: object | None = None,
    now: datetime | None = None,
    out: Callable[[str], None] | None = None,
) -> list[DigestResult]:
    """Build, render and write each target's digest of ``week`` (default: the last full week) and post it.

    With a sender that uploads files (``SlackSender``) the charts go to ``digest.channel`` (else
    ``slack.default_channel``) with the summary; with a ``ConsoleSender`` the summary and the report path
    are printed (``out``, default stdout); with none, only the files are written. A Slack failure is
    logged and returned in ``DigestResult.error``; the other targets still run.
    """
    moment = _utc(now) or datetime.now(UTC)
    chosen_week = week or last_full_week(moment, settings.digest.timezone)
    lang = settings.digest.language
    channel = settings.digest.channel or settings.slack.default_channel
    results = []
    for target in _targets(engine, settings, targets):
        digest = build_digest(engine, settings, target, chosen_week, now=moment)
        charts = render_charts(digest, lang)
        path = report_path(settings, target, chosen_week.iso)
        json_path = path.with_suffix(".json")
        _write_atomically(json_path, json.dumps(digest.to_dict(), ensure_ascii=False, indent=1))
        _write_atomically(path, render_html(digest, charts, settings))
        posted = printed = False
        error = None
        if isinstance(sender, FileUploader):
            files = [(f"{digest.target_slug}-{digest.week}-{name}.png", png) for name, png in charts.items()]
            try:
                sender.upload_files(
                    channel, files, summary_text(digest), title=f"{t('title', lang)} {digest.week}"
                )
                posted = True
            except SlackError as exc:
                error = str(exc)
                logger.warning("digest for %s %s not posted to Slack: %s", target, digest.week, error)
        elif isinstance(sender, ConsoleSender):
            write = out or _print
            write(f"{summary_text(digest, mrkdwn=False)}\n{t('report_saved', lang)}: {path}\n")
            printed = True
        results.append(DigestResult(target, chosen_week.iso, path, json_path, digest, posted, printed, error))
    return results


def _print(message: str) -> None:
    print(message, file=sys.stdout, flush=True)
