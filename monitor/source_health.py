"""Is each source still working? Failed runs in a row, or silence much longer than its usual gap.

A scraper rarely breaks loudly: an API starts refusing the token, a site changes its markup and the
spider finds nothing. So after every crawl each crawled source is judged on two signs:

* **failing**: its last ``source_health.failed_runs`` finished crawls all failed (finish reason other
  than ``finished``, or errors: ``auth_failed``, ``crashed``, ``timeout``, HTTP errors...);
* **quiet**: its newest item is older than ``max(min_quiet_hours, quiet_factor × median gap between its
  items over history_days)``, judged only with at least ``min_history`` items in that window (a source
  with a handful of reviews a month is not "quiet" after a day). Not judged while it is failing, which
  already says why nothing arrives.

Each problem becomes one alert in the outbox, keyed by the problem's *anchor* (the first failed run of
the streak; the newest item when the silence began), so re-evaluating an ongoing problem never alerts
twice. When the anchor moves (a run succeeds; a new item arrives) the source has recovered and a
"recovered" alert closes the problem, so a fixed source is announced as loudly as a broken one.

Which sources exist and how they are configured is :mod:`spiders.catalogue`; ``source_statuses`` joins
each catalogued source with its health for ``earshot sources``.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from alerts.source_message import KIND_FAILING, KIND_QUIET, KIND_RECOVERED
from monitor.core.config import EarshotSettings, SourceHealthSettings
from monitor.core.credentials import auth_command
from monitor.core.db import session_scope
from monitor.core.models import Alert, AlertStatus, CrawlRun, Mention, StageRun
from monitor.core.timeutil import as_utc, utcnow
from spiders.failures import failure_words, reason_code

log = logging.getLogger(__name__)

STAGE = "source_health"
COUNTS = ("evaluated", "ok", "failing", "quiet", "no_runs", "opened", "still_open", "recovered")
_FIRST_ERROR_CHARS = 300


def format_hours(delta: timedelta) -> str:
    """``52 h``, ``3.5 h``, ``0.2 h``: silence is judged in hours, so it is shown in hours."""
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h"


# -- judging one source --------------------------------------------------------------------------------


def run_failed(run: CrawlRun) -> bool:
    """A finished crawl that did not end normally, logged errors on the way, or has a failure recorded."""
    return run.finish_reason != "finished" or run.errors > 0 or run.failure is not None


@dataclass(frozen=True)
class RunView:
    """A finished crawl as health reports show it."""

    id: int
    finish_reason: str
    items_new: int
    items_updated: int
    items_rejected: int
    requests: int
    errors: int
    finished_at: datetime
    first_error: str | None
    failure: str | None = None  # spiders.failures code; for runs recorded before it, from finish_reason
    failure_detail: str | None = None
    log_file: str | None = None

    @property
    def failed(self) -> bool:
        return self.finish_reason != "finished" or self.errors > 0 or self.failure is not None

    def failure_text(self, language: str = "en") -> str | None:
        """Why the run failed, in words (``connection refused``); None for a run that did not fail."""
        if not self.failed:
            return None
        return failure_words(self.failure or "error", "pl" if language == "pl" else "en")

    @classmethod
    def of(cls, run: CrawlRun) -> RunView:
        stats = run.stats or {}
        messages = stats.get("earshot/error_messages") or []
        first = str(messages[0])[:_FIRST_ERROR_CHARS] if messages else None
        failure = run.failure
        if failure is None and run_failed(run):
            failure = reason_code(run.finish_reason) or "error"
        return cls(
            id=run.id or 0,
            finish_reason=run.finish_reason or "unknown",
            items_new=run.items_new,
            items_updated=run.items_updated,
            items_rejected=run.items_rejected,
            requests=run.requests,
            errors=run.errors,
            finished_at=as_utc(run.finished_at or run.started_at),
            first_error=first,
            failure=failure,
            failure_detail=run.failure_detail or first,
            log_file=stats.get("earshot/log_file"),
        )


@dataclass(frozen=True)
class Silence:
    """How long since the source's newest item, against how long it usually goes without one."""

    newest_item_id: int | None
    newest_item_at: datetime | None
    items_in_window: int
    median_gap: timedelta | None
    limit: timedelta | None  # None: too little history to judge
    quiet_for: timedelta | None

    @property
    def quiet(self) -> bool:
        return self.limit is not None and self.quiet_for is not None and self.quiet_for > self.limit


@dataclass(frozen=True)
class SourceHealth:
    source: str
    last_run: RunView | None
    failed_in_row: int
    streak_start_run_id: int | None  # first failed run of the current streak
    silence: Silence
    failed_runs_threshold: int

    @property
    def failing(self) -> bool:
        """Enough failed runs in a row to alert."""
        return self.failed_in_row >= self.failed_runs_threshold

    @property
    def quiet(self) -> bool:
        """Silent for too long, while runs do not fail (that would already explain the silence)."""
        return self.silence.quiet and self.failed_in_row == 0

    @property
    def status(self) -> str:
        """``no_runs``, ``failing`` (last run failed), ``quiet`` or ``ok``."""
        if self.last_run is None:
            return "no_runs"
        if self.failed_in_row:
            return "failing"
        return "quiet" if self.quiet else "ok"

    def describe(self, language: str = "en") -> str:
        """``ok``, ``failing 3 runs``, ``quiet for 52 h`` or ``no runs yet`` (Polish with ``pl``)."""
        status = self.status
        pl = language == "pl"
        if status == "no_runs":
            return "jeszcze bez przebiegów" if pl else "no runs yet"
        if status == "failing":
            n = self.failed_in_row
            return f"nieudane przebiegi z rzędu: {n}" if pl else f"failing {n} run{'s' if n != 1 else ''}"
        if status == "quiet" and self.silence.quiet_for is not None:
            return f"{'cisza od' if pl else 'quiet for'} {format_hours(self.silence.quiet_for)}"
        return "ok"

    def reason(self, language: str = "en") -> str | None:
        """While failing, why the last run failed in words (``connection refused``); else None."""
        if self.status != "failing" or self.last_run is None:
            return None
        return self.last_run.failure_text(language)


def _failure_streak(session: Session, source: str) -> tuple[int, int | None, CrawlRun | None]:
    """(failed finished runs since the last good one, id of the first of them, the newest finished run)."""
    finished = (CrawlRun.spider == source, col(CrawlRun.finished_at).is_not(None))
    last_good = session.exec(
        select(func.max(CrawlRun.id)).where(
            *finished,
            CrawlRun.finish_reason == "finished",
            CrawlRun.errors == 0,
            col(CrawlRun.failure).is_(None),
        )
    ).one()
    after = (col(CrawlRun.id) > last_good,) if last_good is not None else ()
    count, first = session.exec(
        select(func.count(col(CrawlRun.id)), func.min(CrawlRun.id)).where(*finished, *after)
    ).one()
    newest = session.exec(
        select(CrawlRun).where(*finished).order_by(col(CrawlRun.id).desc()).limit(1)
    ).first()
    return int(count or 0), first, newest


def median_gap(times: Sequence[datetime]) -> timedelta | None:
    """The median time between consecutive items (``times`` sorted), or None with fewer than two."""
    if len(times) < 2:
        return None
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
    return timedelta(seconds=statistics.median(gaps))


def quiet_limit(gap: timedelta | None, items: int, cfg: SourceHealthSettings) -> timedelta | None:
    """How long the source may go without a new item: ``max(min_quiet_hours, quiet_factor × gap)``."""
    if gap is None or items < cfg.min_history:
        return None
    return max(timedelta(hours=cfg.min_quiet_hours), gap * cfg.quiet_factor)


def _silence(session: Session, source: str, cfg: SourceHealthSettings, now: datetime) -> Silence:
    when = func.coalesce(Mention.created_at, Mention.first_seen_at)
    newest = session.exec(
        select(Mention.id, when)
        .where(Mention.source == source)
        .order_by(when.desc(), col(Mention.id).desc())
        .limit(1)
    ).first()
    since = now - timedelta(days=cfg.history_days)
    times = [
        as_utc(t)
        for t in session.exec(
            select(when).where(Mention.source == source, when >= since, when <= now).order_by(when)
        ).all()
    ]
    gap = median_gap(times)
    newest_id, newest_at = (newest[0], as_utc(newest[1])) if newest is not None else (None, None)
    return Silence(
        newest_item_id=newest_id,
        newest_item_at=newest_at,
        items_in_window=len(times),
        median_gap=gap,
        limit=quiet_limit(gap, len(times), cfg),
        quiet_for=(now - newest_at) if newest_at is not None else None,
    )


def assess(
    session: Session, source: str, cfg: SourceHealthSettings, now: datetime | None = None
) -> SourceHealth:
    """The health of ``source`` from its crawl runs and stored items; reads only."""
    now = now or utcnow()
    count, first, newest = _failure_streak(session, source)
    return SourceHealth(
        source=source,
        last_run=RunView.of(newest) if newest is not None else None,
        failed_in_row=count,
        streak_start_run_id=first if count else None,
        silence=_silence(session, source, cfg, now),
        failed_runs_threshold=cfg.failed_runs,
    )


# -- alerts ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # KIND_FAILING or KIND_QUIET
    dedupe_key: str
    reason: str


def failing_key(source: str, first_failed_run_id: int) -> str:
    return f"source:{source}:failing:run:{first_failed_run_id}"


def quiet_key(source: str, newest_item_id: int) -> str:
    return f"source:{source}:quiet:after:{newest_item_id}"


def recovered_key(problem_key: str) -> str:
    return f"{problem_key}:recovered"


def _failing_reason(health: SourceHealth) -> str:
    run = health.last_run
    assert run is not None
    cause = f": {run.failure_text()}" if run.failure else ""
    last = f"last run #{run.id}: {run.finish_reason}, {run.errors} error(s), {run.requests} request(s)"
    first_error = f"; first error: {run.first_error}" if run.first_error else ""
    command = auth_command(health.source) if run.finish_reason == "auth_failed" else None
    hint = f"; run `{command}` to authorise again" if command else ""
    return f"{health.failed_in_row} crawls in a row failed{cause} ({last}{first_error}){hint}"


def _quiet_reason(silence: Silence, cfg: SourceHealthSettings) -> str:
    assert silence.quiet_for is not None and silence.limit is not None and silence.median_gap is not None
    return (
        f"no new item for {format_hours(silence.quiet_for)}; usually one every "
        f"{format_hours(silence.median_gap)} (median of {silence.items_in_window} items over "
        f"{cfg.history_days:g} days), so the limit is {format_hours(silence.limit)}"
    )


def problems(health: SourceHealth, cfg: SourceHealthSettings) -> list[Problem]:
    """The alerts the source's state calls for, each under its anchor's dedupe key."""
    found = []
    if health.failing and health.streak_start_run_id is not None:
        key = failing_key(health.source, health.streak_start_run_id)
        found.append(Problem(KIND_FAILING, key, _failing_reason(health)))
    if health.quiet and health.silence.newest_item_id is not None:
        key = quiet_key(health.source, health.silence.newest_item_id)
        found.append(Problem(KIND_QUIET, key, _quiet_reason(health.silence, cfg)))
    return found


def _recovery_reason(alert: Alert, health: SourceHealth) -> str:
    if alert.kind == KIND_FAILING:
        run = health.last_run
        detail = (
            f"run #{run.id} finished normally: {run.items_new} new, {run.items_updated} updated"
            if run is not None
            else "no failed run any more"
        )
        first = alert.dedupe_key.rsplit(":", 1)[-1]
        return f"crawls work again ({detail}) after the failures that began with run #{first}"
    newest = health.silence.newest_item_at
    when = newest.strftime("%Y-%m-%d %H:%M UTC") if newest is not None else "now"
    return f"new items arrive again (newest from {when}) after the silence reported in alert #{alert.id}"


def open_problem_alerts(session: Session, source: str) -> list[Alert]:
    """Problem alerts of ``source`` without their recovery alert."""
    recovery = aliased(Alert)
    stmt = (
        select(Alert)
        .where(Alert.source == source, col(Alert.kind).in_([KIND_FAILING, KIND_QUIET]))
        .where(
            ~select(recovery.id)
            .where(col(recovery.dedupe_key) == col(Alert.dedupe_key) + ":recovered")
            .exists()
        )
        .order_by(col(Alert.id))
    )
    return list(session.exec(stmt).all())


def insert_alert(engine: Engine, alert: Alert) -> bool:
    """Store ``alert`` in its own transaction; False when its dedupe key exists (another run was first)."""
    key = alert.dedupe_key
    with Session(engine) as session:
        session.add(alert)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            exists = session.exec(select(Alert.id).where(Alert.dedupe_key == key)).first() is not None
            if not exists:
                raise
            return False
    return True


def new_problem_alert(
    source: str | None, kind: str, key: str, reason: str, channel: str, now: datetime
) -> Alert:
    """An outbox alert about a source (or, with ``source`` None, a stage) rather than a mention."""
    return Alert(
        dedupe_key=key,
        mention_id=None,
        source=source,
        kind=kind,
        reason=reason,
        channel=channel,
        status=AlertStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )


def check_source(
    engine: Engine, settings: EarshotSettings, source: str, counts: dict[str, int], now: datetime
) -> SourceHealth:
    """Judge one source, queue alerts for new problems and recoveries, and count what happened."""
    cfg = settings.source_health
    channel = cfg.channel or settings.slack.default_channel
    with Session(engine) as session:
        health = assess(session, source, cfg, now)
        already_open = open_problem_alerts(session, source)
    found = problems(health, cfg)
    wanted = {p.dedupe_key for p in found}
    counts["evaluated"] += 1
    counts[health.status] += 1
    for alert in already_open:
        if alert.dedupe_key in wanted:
            counts["still_open"] += 1
            continue
        recovery = new_problem_alert(
            source,
            KIND_RECOVERED,
            recovered_key(alert.dedupe_key),
            _recovery_reason(alert, health),
            channel,
            now,
        )
        if insert_alert(engine, recovery):
            counts["recovered"] += 1
            log.info("source %s recovered from %s (alert #%s)", source, alert.kind, alert.id)
    open_keys = {a.dedupe_key for a in already_open}
    for problem in found:
        if problem.dedupe_key in open_keys:
            continue
        if insert_alert(
            engine, new_problem_alert(source, problem.kind, problem.dedupe_key, problem.reason, channel, now)
        ):
            counts["opened"] += 1
            log.warning("source %s: %s: %s", source, problem.kind, problem.reason)
        else:
            counts["still_open"] += 1
    return health


def check_sources(
    engine: Engine, settings: EarshotSettings, sources: Sequence[str], *, now: datetime | None = None
) -> dict[str, int]:
    """Judge ``sources`` and queue their source-health alerts; the counts are stored as a stage run.

    Delivery is the alert stage's job (``earshot alerts send``, or the scheduler's alerts job).
    """
    now = now or utcnow()
    started = utcnow()
    counts = dict.fromkeys(COUNTS, 0)
    error: str | None = None
    try:
        for source in sources:
            check_source(engine, settings, source, counts, now)
    except Exception as exc:  # recorded below so a failing check shows in stage_runs, then re-raised
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        with session_scope(engine) as session:
            session.add(
                StageRun(stage=STAGE, started_at=started, finished_at=utcnow(), counts=counts, error=error)
            )
    if counts["opened"] or counts["recovered"]:
        log.info("source health: %s", counts)
    return counts
