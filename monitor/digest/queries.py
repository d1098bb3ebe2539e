"""The figures of a digest: volume, sentiment and ratings per day and source, response KPIs and storms.

Every count is one SQL aggregation (``GROUP BY``/``COUNT``/``SUM``), so a million stored mentions never
travel into Python; only the handful of result rows and the week's alerts (for percentiles) do. The text
a digest quotes comes from :mod:`monitor.digest.items`; :func:`build_digest` puts both into a
:class:`~monitor.digest.report.Digest`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from alerts.storms import latest_score_id, storm_themes
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, Mention, SentimentScore, Storm, TargetRow
from monitor.core.timeutil import as_utc, utcnow
from monitor.digest.i18n import Language, period_label
from monitor.digest.items import item_time, top_aspects, urgent_items
from monitor.digest.links import report_url, target_slug
from monitor.digest.report import (
    LABELS,
    DayStat,
    Digest,
    Kpis,
    RatingStat,
    SentimentSplit,
    SourceStat,
    StormStat,
)
from monitor.digest.weeks import Week, previous_week, week_days, week_of

__all__ = ["build_digest", "latest_activity_week"]


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
    when = item_time()
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
        began = as_utc(sent) or as_utc(created)
        assert began is not None
        sla = settings.alerts.sla.minutes_for(str(severity))
        done = as_utc(handled)
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


def _themes(raw: object) -> list[dict[str, Any]] | None:
    """``[{"aspect", "count"}]`` out of a payload's ``themes``; None when it holds no list (an empty list
    is an answer: the storm's items named no aspect)."""
    if not isinstance(raw, list):
        return None
    return [
        {"aspect": str(th["aspect"]), "count": int(th.get("count") or 0)}
        for th in raw
        if isinstance(th, dict) and th.get("aspect")
    ]


def _storms(conn: Connection, settings: EarshotSettings, target: str, week: Week) -> list[StormStat]:
    """The storms opened in the week, with the themes their alert announced ("Delivery (10)").

    The themes live in the storm *alert*'s payload (the storm row keeps only its alert's key); a storm whose
    alert carries none has them recomputed over its opening window by the storm detector's own rule
    (:func:`alerts.storms.storm_themes`), so the digest never shows other numbers than the alert did.
    """
    rows = conn.execute(
        select(
            col(Storm.id),
            col(Storm.opened_at),
            col(Storm.closed_at),
            col(Storm.window_count),
            col(Storm.peak_count),
            col(Storm.payload),
            col(Alert.payload),
        )
        .select_from(Storm)
        .outerjoin(Alert, col(Alert.id) == col(Storm.alert_id))
        .where(
            col(Storm.target) == target, col(Storm.opened_at) >= week.start, col(Storm.opened_at) < week.end
        )
        .order_by(col(Storm.opened_at))
    ).all()
    stats = []
    for sid, raw_opened, closed, count, peak, storm_payload, alert_payload in rows:
        opened = as_utc(raw_opened) or week.start
        themes = _themes((alert_payload or {}).get("themes"))
        if themes is None:
            themes = _themes((storm_payload or {}).get("themes"))
        if themes is None:
            with Session(bind=conn) as session:  # joins the digest's own read, never commits
                themes = _themes(storm_themes(session, settings, target, opened)) or []
        stats.append(
            StormStat(
                storm_id=int(sid),
                opened_at=opened,
                closed_at=as_utc(closed),
                count=int(count),
                peak=max(int(peak), int(count)),
                themes=themes,
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
    moment = as_utc(now) or utcnow()
    before = previous_week(week, tz)
    this_days = week_days(week, tz)
    bounds = [start for _, start, _ in week_days(before, tz)] + [start for _, start, _ in this_days]
    bounds.append(week.end)
    with engine.connect() as conn:
        target_id = _target_id(conn, target)
        rows = [] if target_id is None else _aggregate(conn, target_id, bounds)
        aspects = [] if target_id is None else top_aspects(conn, settings, target_id, week)
        urgent = [] if target_id is None else urgent_items(conn, settings, target_id, week)
        kpis = _kpis(conn, settings, target, week, moment)
        storms = _storms(conn, settings, target, week)
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


def latest_activity_week(engine: Engine, tz: str) -> Week | None:
    """The ISO week of the newest storm, else of the newest top-level mention alert (None without either).

    Why: the default digest is the last *full* week, which is empty for a database filled just now (the
    demo's); this is the week whose digest shows those alerts and, first of all, that storm (the demo's
    later acts may stamp an alert hours after it, past a Sunday midnight).
    """
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(col(Storm.opened_at)))).scalar_one_or_none()
        if newest is None:
            newest = conn.execute(
                select(func.max(col(Alert.created_at))).where(
                    col(Alert.kind).in_(AlertKind.MENTION_KINDS), col(Alert.parent_id).is_(None)
                )
            ).scalar_one_or_none()
    moment = as_utc(newest)
    return None if moment is None else week_of(moment, tz)
