"""The service's stages (crawl → score → alert), each one a small function over the database.

Every stage counts its outcomes and records them as a run row, so a broken source, a model
failure or a Slack outage shows up in the numbers instead of passing silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from monitor.core.config import EarshotSettings
from monitor.core.db import DatabaseError, make_engine, session_scope, write_session
from monitor.core.models import Mention, SentimentScore, StageRun, utcnow
from monitor.model_cli import load_model
from monitor.source_health import check_sources
from spiders.abandoned import AbandonedRun, close_abandoned_runs
from spiders.catalogue import SourceInfo, source_catalogue

if TYPE_CHECKING:  # sentiment imports torch (seconds); `earshot crawl` and `sources` must not pay for it
    from sentiment.analysis import Analysis, MentionText
    from spiders.runner import CrawlSummary

log = logging.getLogger(__name__)


class TextScorer(Protocol):
    """What the scoring stage needs: mentions in, one analysis (sentiment, urgency, aspects) out, same order."""

    def analyze(self, items: Sequence[MentionText]) -> list[Analysis]: ...


@dataclass
class StageReport:
    """Counters of one stage pass, printed by the CLI and stored in ``stage_runs``."""

    stage: str
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def record_stage(engine: Engine, report: StageReport, started_at: datetime) -> None:
    """Store a stage pass; called for failures too, so an outage is visible in the history."""
    with session_scope(engine) as s:
        s.add(
            StageRun(
                stage=report.stage,
                started_at=started_at,
                finished_at=utcnow(),
                counts=report.counts,
                error=report.error,
            )
        )


def _unscored_ids(session: Session, limit: int, *, claim: bool = False) -> list[int]:
    """Mentions whose current version has no score yet, oldest first.

    ``claim`` (PostgreSQL) locks the mention rows returned ``FOR UPDATE SKIP LOCKED`` until the transaction
    ends: a concurrent scorer passes over them and takes the next unscored ones instead.
    """
    stmt = (
        select(Mention.id)
        .outerjoin(
            SentimentScore,
            and_(
                col(SentimentScore.mention_id) == col(Mention.id),
                col(SentimentScore.mention_version) == col(Mention.version),
            ),
        )
        .where(col(SentimentScore.id).is_(None))
        .order_by(col(Mention.id))
        .limit(limit)
    )
    if claim:
        stmt = stmt.with_for_update(of=Mention, skip_locked=True)
    return [i for i in session.exec(stmt).all() if i is not None]


REPEAT_WINDOW = timedelta(days=30)


def _prior_complaints(session: Session, mention: Mention) -> int:
    """Earlier negative mentions by the same author on the same source in the last 30 days.

    Why: "third time I am writing" is urgent even when the third message is calm; the author's history
    says so even when the text does not.
    """
    if not mention.author:
        return 0
    since = (mention.created_at or utcnow()) - REPEAT_WINDOW
    stmt = (
        select(func.count(func.distinct(Mention.id)))
        .join(SentimentScore, col(SentimentScore.mention_id) == col(Mention.id))
        .where(
            Mention.source == mention.source,
            Mention.author == mention.author,
            col(Mention.id) != mention.id,
            col(Mention.first_seen_at) < mention.first_seen_at,
            col(Mention.first_seen_at) >= since,
            SentimentScore.label == "negative",
        )
    )
    return int(session.exec(stmt).one())


def _mention_text(session: Session, mention: Mention) -> MentionText:
    from sentiment.analysis import MentionText

    return MentionText(
        mention.text,
        rating=mention.rating,
        reach=mention.reach,
        prior_complaints=_prior_complaints(session, mention),
    )


def _load_mentions(session: Session, ids: Sequence[int]) -> list[Mention]:
    return list(session.exec(select(Mention).where(col(Mention.id).in_(ids)).order_by(col(Mention.id))))


def _already_scored(session: Session, mentions: Sequence[Mention]) -> set[tuple[int, int]]:
    """The (mention, version) pairs among ``mentions`` that have a score now, by any model.

    A statement of its own: under READ COMMITTED it sees what other scorers committed after the batch was
    picked.
    """
    stmt = select(SentimentScore.mention_id, SentimentScore.mention_version).where(
        col(SentimentScore.mention_id).in_([m.id for m in mentions])
    )
    wanted = {(m.id, m.version) for m in mentions}
    return {(mid, ver) for mid, ver in session.exec(stmt).all() if (mid, ver) in wanted}


def _insert_score(session: Session, score: SentimentScore) -> bool:
    """Insert ``score`` unless its (mention, version, model) already has one; False when it had."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(SentimentScore)
        .values(**score.model_dump(exclude={"id"}))
        .on_conflict_do_nothing(index_elements=["mention_id", "mention_version", "model_name"])
        .returning(col(SentimentScore.id))
    )
    return session.connection().execute(stmt).first() is not None


@dataclass
class _BatchOutcome:
    stored: list[Analysis] = field(default_factory=list)
    already_scored: int = 0  # picked, but another scorer stored their score first


def _store_scores(
    session: Session, mentions: Sequence[Mention], results: Sequence[Analysis]
) -> _BatchOutcome:
    """Store each mention version's score unless another scorer stored one first (never an error)."""
    outcome = _BatchOutcome()
    taken = _already_scored(session, mentions)
    for mention, analysis in zip(mentions, results, strict=True):
        res = analysis.sentiment
        score = SentimentScore(
            mention_id=mention.id or 0,
            mention_version=mention.version,
            label=res.label,
            score=res.score,
            confidence=res.confidence,
            probabilities=dict(res.probabilities),
            label_source=analysis.label_source,
            text_label=analysis.text_only.label,
            text_score=analysis.text_only.score,
            lang=res.lang,
            model_name=res.model_name,
            model_version=res.model_version,
            urgency=analysis.urgency.level,
            urgency_reasons=[asdict(r) for r in analysis.urgency.reasons],
            aspects=[a.to_dict() for a in analysis.aspects],
        )
        if (mention.id, mention.version) in taken or not _insert_score(session, score):
            outcome.already_scored += 1
            continue
        outcome.stored.append(analysis)
        if mention.lang is None and res.lang != "other":
            # A statement, not the ORM: on SQLite ``mention`` was read in an earlier, closed session.
            session.connection().execute(
                update(Mention)
                .where(col(Mention.id) == mention.id, col(Mention.lang).is_(None))
                .values(lang=res.lang)
            )
    return outcome


def _score_batch(engine: Engine, scorer: TextScorer, batch_size: int) -> _BatchOutcome | None:
    """Claim, score and store one batch; None when no unclaimed mention version is left unscored."""
    if engine.dialect.name == "postgresql":
        with session_scope(engine) as s:
            ids = _unscored_ids(s, batch_size, claim=True)
            if not ids:
                return None
            loaded = _load_mentions(s, ids)
            taken = _already_scored(s, loaded)  # stored by a scorer that committed while we picked
            mentions = [m for m in loaded if (m.id, m.version) not in taken]
            results = scorer.analyze([_mention_text(s, m) for m in mentions]) if mentions else []
            outcome = _store_scores(s, mentions, results)
            outcome.already_scored += len(loaded) - len(mentions)
            return outcome
    with session_scope(engine) as s:
        ids = _unscored_ids(s, batch_size)
        if not ids:
            return None
        mentions = _load_mentions(s, ids)
        texts = [_mention_text(s, m) for m in mentions]
    results = scorer.analyze(texts)
    with write_session(engine) as s:
        return _store_scores(s, mentions, results)


def score_pending(engine: Engine, scorer: TextScorer, batch_size: int = 64) -> StageReport:
    """Score every mention version that has no score, committing batch by batch.

    A crash loses at most the batch in flight; the next pass picks up exactly what is left.

    Several scorers may run at once (two ``earshot score``, or ``score`` beside ``run``); they share the
    work and each mention version gets exactly one score. Why this design, and not a claims table:

    * Every score is inserted with ``ON CONFLICT DO NOTHING`` on its unique key, after re-reading which
      versions got a score meanwhile, so losing a race costs only the duplicate rows, never an
      ``IntegrityError`` that throws away the rest of the pass. Those are counted as ``already_scored``.
    * PostgreSQL: the batch is picked ``FOR UPDATE SKIP LOCKED`` in the transaction that writes its scores,
      so a second scorer takes the next rows instead of repeating the work, and a killed scorer's rows are
      free the moment its connection drops (no lease to expire, no schema change). The cost: a crawl
      updating one of those mentions waits for the batch to commit (seconds), and a mention a crawl holds
      locked is left for the next pass.
    * SQLite has no row locks: the batch is read and scored outside any transaction and stored in a short
      ``BEGIN IMMEDIATE`` one, which never holds the database's single write lock during scoring (a crawl
      or a click in Slack would wait for the model). Concurrent scorers there may score the same batch
      twice, and the second simply stores nothing.
    """
    report = StageReport(
        "score",
        {
            "scored": 0,
            "already_scored": 0,
            "batches": 0,
            "negative": 0,
            "neutral": 0,
            "positive": 0,
            "elevated": 0,
            "critical": 0,
        },
    )
    started = utcnow()
    while (outcome := _score_batch(engine, scorer, batch_size)) is not None:
        report.counts["scored"] += len(outcome.stored)
        report.counts["already_scored"] += outcome.already_scored
        report.counts["batches"] += 1
        for r in outcome.stored:
            report.counts[r.sentiment.label] = report.counts.get(r.sentiment.label, 0) + 1
            if r.urgency.level != "none":
                report.counts[r.urgency.level] += 1
    record_stage(engine, report, started)
    log.info("scoring finished: %s", report.counts)
    return report


def load_scorer(settings: EarshotSettings) -> TextScorer:
    """The configured model (built from the bundled weights on first use) with urgency and aspects."""
    from sentiment.analysis import Analyzer

    return Analyzer.with_defaults(load_model(settings.sentiment), settings.sentiment.high_reach_threshold)


def run_alerts(
    engine: Engine, settings: EarshotSettings, clock: Callable[[], datetime] | None = None
) -> StageReport:
    """Storms, rules and SLA into outbox rows, then deliver what is due (Slack or console).

    ``clock`` replaces the wall clock (the demo uses it to show what happens hours later).
    """
    from alerts.outbox import run_alerts as enqueue_and_deliver
    from alerts.slack_sender import make_sender

    extra = {"clock": clock} if clock is not None else {}
    return StageReport("alerts", enqueue_and_deliver(engine, settings, make_sender(settings), **extra))


class UnknownSourceError(ValueError):
    """A crawl was asked for a source no spider implements; the message lists the valid names."""


@dataclass
class CrawlPass:
    """One crawl pass: a report per crawled source, the sources skipped (with why), source-health counts.

    ``summaries`` holds each crawled source's run as recorded (failure, log file), for the console lines;
    ``abandoned`` the runs of killed processes this pass found open and closed as crashed.
    """

    reports: list[StageReport] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    health: StageReport = field(default_factory=lambda: StageReport("source_health"))
    summaries: dict[str, CrawlSummary] = field(default_factory=dict)
    abandoned: list[AbandonedRun] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.error for r in self.reports)


def plan_crawls(
    settings: EarshotSettings,
    spiders: Sequence[str] | None = None,
    scrapy_overrides: Mapping[str, Any] | None = None,
) -> tuple[list[SourceInfo], dict[str, str]]:
    """The sources to crawl, and those skipped with the reason.

    Named sources always run, configured or not, so that a misconfiguration is reported by the crawl
    itself; without names every source runs that has credentials and a target using it.
    """
    catalogue = {info.name: info for info in source_catalogue(settings, scrapy_overrides)}
    if spiders:
        unknown = [name for name in spiders if name not in catalogue]
        if unknown:
            raise UnknownSourceError(
                f"unknown source(s) {', '.join(unknown)}; valid: {', '.join(catalogue) or 'none'}"
            )
        return [catalogue[name] for name in dict.fromkeys(spiders)], {}
    skipped = {name: info.skip_reason for name, info in catalogue.items() if info.skip_reason is not None}
    return [info for info in catalogue.values() if info.runnable], skipped


def _crawl_one(
    settings: EarshotSettings, name: str, overrides: Mapping[str, Any] | None, timeout: float | None
) -> tuple[StageReport, CrawlSummary | None]:
    """One source in its own child process; a failure to even start it is reported, not raised."""
    from spiders.runner import CrawlError, run_crawl

    try:
        summary = run_crawl(settings, name, isolate=True, scrapy_overrides=overrides, timeout=timeout)
    except (CrawlError, DatabaseError, SQLAlchemyError, OSError) as exc:
        log.error("crawl %s could not run: %s: %s", name, type(exc).__name__, exc)
        return StageReport(f"crawl:{name}", {}, error=f"{type(exc).__name__}: {exc}"), None
    counts = {
        k: v for k, v in asdict(summary).items() if isinstance(v, int) and k not in ("run_id", "exit_code")
    }
    error = None if summary.ok else f"finish_reason={summary.finish_reason}"
    # The console line (monitor.crawl_report) says this; the log keeps it for `earshot run`, at debug.
    log.debug("crawl %s finished (%s, failure %s): %s", name, summary.finish_reason, summary.failure, counts)
    return StageReport(f"crawl:{name}", counts, error=error), summary


def _check_health(engine: Engine, settings: EarshotSettings, name: str, report: StageReport) -> None:
    """Judge the source just crawled; a database problem here is logged and must not stop the crawls."""
    try:
        counts = check_sources(engine, settings, [name])
    except (SQLAlchemyError, NotImplementedError) as exc:
        log.error("source health of %s could not be checked: %s: %s", name, type(exc).__name__, exc)
        report.error = f"{type(exc).__name__}: {exc}"
        return
    for key, value in counts.items():
        report.counts[key] = report.counts.get(key, 0) + value


def run_crawls(
    settings: EarshotSettings,
    spiders: Sequence[str] | None = None,
    log_level: str | None = None,
    *,
    scrapy_overrides: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    check_health: bool = True,
    on_crawled: Callable[[str, StageReport, CrawlSummary | None], None] | None = None,
) -> CrawlPass:
    """Crawl each planned source in its own child process, then judge its health (see plan_crawls).

    One crashing spider does not stop the others; skipped sources are logged and counted, not errors.
    Runs that a killed process left open are closed as crashed first (spiders.abandoned), so they count
    as failures of their source. ``on_crawled(name, report, summary)`` is called as each source is
    done (the CLI prints its line then, not after the last crawl). Raises UnknownSourceError, before
    crawling anything, for a name no spider has.
    """
    overrides = {**(scrapy_overrides or {}), **({"LOG_LEVEL": log_level} if log_level else {})}
    planned, skipped = plan_crawls(settings, spiders, overrides or None)
    result = CrawlPass(skipped=skipped)
    if skipped:
        log.debug(
            "skipping %d source(s) with nothing to do: %s",
            len(skipped),
            "; ".join(f"{name} ({why})" for name, why in skipped.items()),
        )
    engine = make_engine(settings.effective_database_url)
    try:
        result.abandoned = close_abandoned_runs(engine)
        for info in planned:
            report, summary = _crawl_one(settings, info.name, overrides or None, timeout)
            result.reports.append(report)
            if summary is not None:
                result.summaries[info.name] = summary
            if on_crawled is not None:
                on_crawled(info.name, report, summary)
            if check_health and info.runnable:
                _check_health(engine, settings, info.name, result.health)
        if check_health:  # a closed run's source is judged now too, even if it was not crawled this pass
            for name in dict.fromkeys(r.spider for r in result.abandoned):
                if name not in result.summaries:
                    _check_health(engine, settings, name, result.health)
    finally:
        engine.dispose()
    return result
