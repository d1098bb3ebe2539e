"""Storm detection: one alert when a target's negative volume jumps far above its usual level.

Twenty one-star reviews in an hour after a failed delivery wave should reach the team as one message
("14 negative mentions in the last 60 min, usual 1.3: delivery, payment") with later items folded into
it, not as twenty pings. :func:`check_storms` runs with the alert loop:

* **count**: negative items of the target (newest score of the current version at or below
  ``alerts.negative_threshold``, or a rating at or below ``alerts.max_stars``) whose *item time*
  ``COALESCE(created_at, first_seen_at)`` lies in ``(now - window, now]``. The item time, not
  ``first_seen_at``: the first crawl of a shop imports years of reviews in a minute and must not look
  like a storm;
* **baseline**: the mean count in the same window shifted back by 1 .. ``baseline_days`` days (yesterday
  13:00-14:00, the day before, ...), so a shop that always gets complaints at lunchtime is not stormy;
* **open** when no storm of the target is open, ``count >= min_count`` and
  ``count >= factor * max(baseline, 1)``; **subside** after ``subside_minutes`` in which the window held
  at most ``subside_count`` items, with one "storm over" reply in the storm's thread. Its total counts
  the negative items from the start of the window that opened the storm (payload ``since``) to the close,
  so it is never smaller than the count the opening message announced.

Counting is one SQL query with ``GROUP BY`` target and a ``SUM(CASE ...)`` per shifted window; only the
few rows of a storm's own window are loaded, to pick its themes and examples.

Race safety: two alert loops may run at once (two ``earshot run`` processes, a manual
``earshot alerts send``). A storm is opened in one transaction that inserts the ``Storm`` and its
``Alert`` under ``dedupe_key = "storm:{target}:open:{n}"``, ``n`` being the number of storms the target
ever had: two runs that both saw no open storm both compute the same ``n``, and the unique ``dedupe_key``
lets exactly one commit (the loser's storm row is rolled back with its alert). On SQLite the write
transaction also starts with ``BEGIN IMMEDIATE`` and re-checks for an open storm, so the second run waits
and then sees the first one's storm. Closing is a compare-and-set on ``closed_at IS NULL`` plus the unique
``storm:{id}:subsided`` key, so a storm is closed, and announced as over, once.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, literal, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from alerts.idempotent import insert_once
from alerts.rules import route_channel
from monitor.core.alert_settings import StormSettings
from monitor.core.config import EarshotSettings
from monitor.core.db import write_session
from monitor.core.models import Alert, AlertKind, AlertStatus, Mention, SentimentScore, Storm, TargetRow
from monitor.core.timeutil import as_utc

__all__ = [
    "STORM_COUNTS",
    "check_storms",
    "open_dedupe_key",
    "open_storm_alert_id",
    "storm_themes",
    "subsided_dedupe_key",
]

logger = logging.getLogger(__name__)

STORM_COUNTS = ("checked", "opened", "subsided", "open")
EXAMPLES = 3
THEMES = 3
EXAMPLE_CHARS = 300
MAX_THEME_ROWS = 5000  # a storm's window is small; this only bounds a pathological one


def open_dedupe_key(target: str, number: int) -> str:
    """The alert key of the target's ``number``-th storm (0-based): the unique key makes opening race-safe."""
    return f"storm:{target}:open:{number}"


def subsided_dedupe_key(storm_id: int) -> str:
    """One "storm over" message per storm."""
    return f"storm:{storm_id}:subsided"


# --------------------------------------------------------------------------------------------- SQL pieces


def _item_time() -> Any:
    """When the item was written (the source's time), or when we first saw it if the source has none."""
    return func.coalesce(Mention.created_at, Mention.first_seen_at)


def latest_score_id() -> Any:
    """Correlated subquery: the newest score of the mention's *current* version (older text is moot)."""
    s2 = aliased(SentimentScore)
    return (
        select(col(s2.id))
        .where(col(s2.mention_id) == col(Mention.id), col(s2.mention_version) == col(Mention.version))
        .order_by(col(s2.scored_at).desc(), col(s2.id).desc())
        .limit(1)
        .correlate(Mention)
        .scalar_subquery()
    )


def _negative_items(settings: EarshotSettings) -> Select[Any]:
    """SELECT FROM mentions JOIN targets LEFT JOIN newest-score WHERE negative: the base of every query."""
    newest = latest_score_id()
    alerts = settings.alerts
    negative = or_(
        col(SentimentScore.score) <= alerts.negative_threshold,
        and_(col(Mention.rating).is_not(None), col(Mention.rating) <= alerts.max_stars),
    )
    return (
        sa_select()
        .select_from(Mention)
        .join(TargetRow, col(TargetRow.id) == col(Mention.target_id))
        .outerjoin(SentimentScore, col(SentimentScore.id) == newest)
        .where(negative)
    )


def _window_counts(
    session: Session, settings: EarshotSettings, now: datetime
) -> dict[str, tuple[int, float]]:
    """{target: (count in the current window, mean count in the shifted windows)} for targets with items.

    One query: rows in (now - baseline_days - window, now] grouped by target, one ``SUM(CASE)`` per window.
    """
    storm = settings.alerts.storm
    window = timedelta(minutes=storm.window_minutes)
    when = _item_time()
    sums = []
    for k in range(storm.baseline_days + 1):
        end = now - timedelta(days=k)
        sums.append(func.sum(case((and_(when > end - window, when <= end), 1), else_=0)))
    oldest = now - timedelta(days=storm.baseline_days) - window
    stmt = (
        _negative_items(settings)
        .add_columns(col(TargetRow.name), *sums)
        .where(when > oldest, when <= now)
        .group_by(col(TargetRow.name))
    )
    result: dict[str, tuple[int, float]] = {}
    for name, current, *past in session.connection().execute(stmt).all():
        result[name] = (int(current or 0), sum(int(p or 0) for p in past) / storm.baseline_days)
    return result


def _count_between(
    session: Session, settings: EarshotSettings, target: str, start: datetime, end: datetime
) -> int:
    when = _item_time()
    stmt = (
        _negative_items(settings)
        .add_columns(func.count())
        .where(col(TargetRow.name) == target, when > start, when <= end)
    )
    return int(session.connection().execute(stmt).scalar_one())


# --------------------------------------------------------------------------------------------- payload


@dataclass(frozen=True)
class _Window:
    """Who is storming: top negative aspects, items per source, the most negative examples."""

    themes: list[dict[str, Any]]
    sources: dict[str, int]
    examples: list[dict[str, Any]]


def _describe_window(
    session: Session, settings: EarshotSettings, target: str, start: datetime, end: datetime
) -> _Window:
    when = _item_time()
    in_window = (col(TargetRow.name) == target, when > start, when <= end)
    sources = {
        str(source): int(n)
        for source, n in session.connection()
        .execute(
            _negative_items(settings)
            .add_columns(col(Mention.source), func.count())
            .where(*in_window)
            .group_by(col(Mention.source))
            .order_by(func.count().desc(), col(Mention.source))
        )
        .all()
    }
    example_rows = session.connection().execute(
        _negative_items(settings)
        .add_columns(
            col(Mention.id), col(Mention.source), col(Mention.author), col(Mention.text), col(Mention.url),
            col(Mention.rating),
        )
        .where(*in_window)
        .order_by(
            func.coalesce(col(SentimentScore.score), literal(0.0)),
            func.coalesce(col(Mention.rating), literal(99.0)),
            when.desc(),
            col(Mention.id).desc(),
        )
        .limit(EXAMPLES)
    ).all()  # fmt: skip
    examples = [
        {
            "mention_id": mention_id,
            "source": source,
            "author": author,
            "text": (text or "")[:EXAMPLE_CHARS],
            "url": url,
            "rating": rating,
        }
        for mention_id, source, author, text, url, rating in example_rows
    ]
    themes: Counter[str] = Counter()
    aspect_rows = (
        session.connection()
        .execute(
            _negative_items(settings)
            .add_columns(col(SentimentScore.aspects))
            .where(*in_window, col(SentimentScore.id).is_not(None))
            .limit(MAX_THEME_ROWS)
        )
        .all()
    )
    for (aspects,) in aspect_rows:
        names = {
            str(a["aspect"])
            for a in aspects or []
            if isinstance(a, dict) and a.get("aspect") and a.get("sentiment") == "negative"
        }
        themes.update(names)  # an item counts once per aspect, however many sentences say it
    top = sorted(themes.items(), key=lambda kv: (-kv[1], kv[0]))[:THEMES]
    return _Window(
        themes=[{"aspect": a, "count": n} for a, n in top],
        sources=sources,
        examples=examples,
    )


def storm_themes(
    session: Session, settings: EarshotSettings, target: str, opened_at: datetime
) -> list[dict[str, Any]]:
    """The top themes of the window that opened a storm at ``opened_at``, by the rule its alert used.

    For readers of a storm whose alert payload carries no themes (the weekly digest); the alert's own
    ``themes`` are what it announced, so prefer those where they exist.
    """
    window = timedelta(minutes=settings.alerts.storm.window_minutes)
    return _describe_window(session, settings, target, opened_at - window, opened_at).themes


# --------------------------------------------------------------------------------------------- text


def _minutes(value: float) -> str:
    return f"{value:g} min"


def _clock(moment: datetime, settings: EarshotSettings, with_date: bool) -> str:
    """A time people read: in the quiet hours' zone when one is configured, else UTC, zone named."""
    quiet = settings.alerts.quiet_hours
    local = moment.astimezone(ZoneInfo(quiet.timezone)) if quiet is not None else moment.astimezone(UTC)
    return local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def _zone_name(moment: datetime, settings: EarshotSettings) -> str:
    quiet = settings.alerts.quiet_hours
    if quiet is None:
        return "UTC"
    return moment.astimezone(ZoneInfo(quiet.timezone)).tzname() or quiet.timezone


def _span(start: datetime, end: datetime, settings: EarshotSettings) -> str:
    """``from 13:05 to 15:40 CEST``; dates shown when the span crosses midnight."""
    with_date = _clock(start, settings, True)[:10] != _clock(end, settings, True)[:10]
    return (
        f"from {_clock(start, settings, with_date)} to {_clock(end, settings, with_date)} "
        f"{_zone_name(end, settings)}"
    )


def _plural(n: int) -> str:
    return "mention" if n == 1 else "mentions"


# --------------------------------------------------------------------------------------------- actions


def _channel(settings: EarshotSettings, target: str) -> str:
    """The storm's channel, else the target's, else the default (a storm is negative, not 'urgent')."""
    return settings.alerts.storm.channel or route_channel("negative", None, target, settings)


def _open(
    engine: Engine, settings: EarshotSettings, target: str, count: int, baseline: float, now: datetime
) -> bool:
    """Open a storm and its alert in one transaction; False when another run holds the storm already."""
    storm_cfg = settings.alerts.storm
    window = timedelta(minutes=storm_cfg.window_minutes)
    with write_session(engine) as session:
        if _open_storm(session, target) is not None:
            return False  # a concurrent run opened it after our count
        key = open_dedupe_key(target, _storms_ever(session, target))
        described = _describe_window(session, settings, target, now - window, now)
        storm = Storm(target=target, opened_at=now, window_count=count, baseline=baseline, peak_count=count)
        session.add(storm)
        session.flush()
        assert storm.id is not None
        payload = {
            "storm_id": storm.id,
            "target": target,
            "window_minutes": storm_cfg.window_minutes,
            "count": count,
            "baseline": round(baseline, 2),
            "opened_at": now.isoformat(),
            "themes": described.themes,
            "sources": described.sources,
            "examples": described.examples,
        }
        alert = Alert(
            dedupe_key=key,
            kind=AlertKind.STORM,
            target=target,
            rule="storm",
            severity="negative",
            reason=f"{count} negative {_plural(count)} in the last {_minutes(storm_cfg.window_minutes)} "
            f"(usual: {baseline:.1f})",
            channel=_channel(settings, target),
            payload=payload,
            status=AlertStatus.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        if not insert_once(session, alert):  # the unique dedupe_key decides a race here
            session.rollback()  # our storm row goes with the alert that lost
            logger.info("storm for %s was opened by a concurrent run; keeping that one", target)
            return False
        storm.alert_id = alert.id
        storm.payload = {"alert_dedupe_key": key}
        session.add(storm)
    logger.info("storm opened for %s: %d negative items (baseline %.2f)", target, count, baseline)
    return True


def _storms_ever(session: Session, target: str) -> int:
    """How many storms the target has had: the next one's number in its race-deciding dedupe key."""
    return int(session.exec(select(func.count()).select_from(Storm).where(col(Storm.target) == target)).one())


def _open_storm(session: Session, target: str) -> Storm | None:
    return session.exec(
        select(Storm)
        .where(col(Storm.target) == target, col(Storm.closed_at).is_(None))
        .order_by(col(Storm.opened_at).desc(), col(Storm.id).desc())
        .limit(1)
    ).first()


def _close(engine: Engine, settings: EarshotSettings, storm_id: int, now: datetime) -> bool:
    """Close the storm, post "storm over" in its thread, mark its alert for re-rendering; once only."""
    key = subsided_dedupe_key(storm_id)
    window = timedelta(minutes=settings.alerts.storm.window_minutes)
    with write_session(engine) as session:
        closed = session.connection().execute(
            update(Storm)
            .where(col(Storm.id) == storm_id, col(Storm.closed_at).is_(None))
            .values(closed_at=now)
        )
        if closed.rowcount != 1:
            return False  # a concurrent run closed it
        storm = session.get(Storm, storm_id)
        assert storm is not None
        opened_at = as_utc(storm.opened_at)
        start = opened_at - window  # the window that opened the storm belongs to it
        total = _count_between(session, settings, storm.target, start, now)
        parent = (
            session.exec(select(Alert).where(col(Alert.id) == storm.alert_id).with_for_update()).first()
            if storm.alert_id is not None
            else None
        )
        subsided = Alert(
            dedupe_key=key,
            kind=AlertKind.STORM_SUBSIDED,
            target=storm.target,
            rule="storm",
            severity="info",
            reason=f"storm over: {total} negative {_plural(total)} {_span(start, now, settings)}",
            channel=parent.channel if parent is not None else _channel(settings, storm.target),
            parent_id=storm.alert_id,
            broadcast=True,
            payload={
                "storm_id": storm_id,
                "opened_at": opened_at.isoformat(),
                "since": start.isoformat(),  # total counts from the window that opened it
                "closed_at": now.isoformat(),
                "total": total,
                "peak_count": storm.peak_count,
            },
            status=AlertStatus.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        if not insert_once(session, subsided):
            session.rollback()  # announced as over by a concurrent run: undo our close too
            return False
        if parent is not None:
            parent.payload = {
                **(parent.payload or {}),
                "since": start.isoformat(),
                "closed_at": now.isoformat(),
                "total": total,
                "peak_count": storm.peak_count,
            }
            parent.state_version = (parent.state_version or 0) + 1
            session.add(parent)
    logger.info("storm %s subsided", storm_id)
    return True


def _track(engine: Engine, settings: EarshotSettings, storm: Storm, count: int, now: datetime) -> bool:
    """Update an open storm with the current count; True when it subsided (and was closed) now."""
    cfg: StormSettings = settings.alerts.storm
    assert storm.id is not None
    calm = count <= cfg.subside_count
    # Calm since the first calm check; any busy check restarts the wait.
    quiet_since = (as_utc(storm.quiet_since) if storm.quiet_since is not None else now) if calm else None
    with write_session(engine) as session:
        session.connection().execute(
            update(Storm)
            .where(col(Storm.id) == storm.id, col(Storm.closed_at).is_(None))
            .values(
                peak_count=case((col(Storm.peak_count) < count, count), else_=col(Storm.peak_count)),
                quiet_since=quiet_since,
            )
        )
    if quiet_since is not None and quiet_since <= now - timedelta(minutes=cfg.subside_minutes):
        return _close(engine, settings, storm.id, now)
    return False


def check_storms(engine: Engine, settings: EarshotSettings, now: datetime) -> dict[str, int]:
    """Open, follow and close storms for every target; returns counts ``checked``, ``opened``, ``subsided``
    (this run) and ``open`` (storms open afterwards).

    Targets are the configured ones plus any with negative items or an open storm in the database. With
    ``alerts.storm.enabled = false`` no storm opens, but open ones still subside (folding must end).
    """
    if now.tzinfo is None:
        raise ValueError("check_storms needs an aware datetime (UTC)")
    counts = dict.fromkeys(STORM_COUNTS, 0)
    cfg = settings.alerts.storm
    with Session(engine) as session:
        windows = _window_counts(session, settings, now)
        open_storms = {
            s.target: s
            for s in session.exec(
                select(Storm).where(col(Storm.closed_at).is_(None)).order_by(col(Storm.opened_at))
            ).all()
        }
    targets = sorted({t.name for t in settings.targets} | set(windows) | set(open_storms))
    for target in targets:
        counts["checked"] += 1
        count, baseline = windows.get(target, (0, 0.0))
        storm = open_storms.get(target)
        if storm is not None:
            if _track(engine, settings, storm, count, now):
                counts["subsided"] += 1
        elif (
            cfg.enabled
            and count >= cfg.min_count
            and count >= cfg.factor * max(baseline, 1.0)
            and _open(engine, settings, target, count, baseline, now)
        ):
            counts["opened"] += 1
    with Session(engine) as session:
        counts["open"] = int(
            session.exec(select(func.count()).select_from(Storm).where(col(Storm.closed_at).is_(None))).one()
        )
    return counts


def open_storm_alert_id(session: Session, target: str) -> int | None:
    """The alert of ``target``'s open storm: the outbox folds the target's non-urgent alerts into it."""
    storm = _open_storm(session, target)
    return storm.alert_id if storm is not None else None
