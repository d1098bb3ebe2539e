"""The service's stages (crawl → score → alert), each one a small function over the database.

Every stage counts its outcomes and records them as a run row, so a broken source, a model
failure or a Slack outage shows up in the numbers instead of passing silently.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import and_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.config import EarshotSettings
from monitor.db import session_scope
from monitor.models import Mention, SentimentScore, StageRun, utcnow
from sentiment.scorer import SentimentResult

log = logging.getLogger(__name__)


class TextScorer(Protocol):
    """What the scoring stage needs from a model: texts in, one result per text out, same order."""

    def score(self, texts: Sequence[str]) -> list[SentimentResult]: ...


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


def _unscored_ids(session: Session, limit: int) -> list[int]:
    """Mentions whose current version has no score yet, oldest first."""
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
    return [i for i in session.exec(stmt).all() if i is not None]


def _store_scores(session: Session, mentions: Sequence[Mention], results: Sequence[SentimentResult]) -> None:
    for mention, res in zip(mentions, results, strict=True):
        session.add(
            SentimentScore(
                mention_id=mention.id or 0,
                mention_version=mention.version,
                label=res.label,
                score=res.score,
                confidence=res.confidence,
                probabilities=dict(res.probabilities),
                lang=res.lang,
                model_name=res.model_name,
                model_version=res.model_version,
            )
        )
        if mention.lang is None and res.lang != "other":
            mention.lang = res.lang
            session.add(mention)


def score_pending(engine: Engine, scorer: TextScorer, batch_size: int = 64) -> StageReport:
    """Score every mention version that has no score, committing batch by batch.

    A crash loses at most the batch in flight; the next pass picks up exactly what is left.
    """
    report = StageReport("score", {"scored": 0, "batches": 0, "negative": 0, "neutral": 0, "positive": 0})
    started = utcnow()
    while True:
        with session_scope(engine) as s:
            ids = _unscored_ids(s, batch_size)
            if not ids:
                break
            mentions = list(s.exec(select(Mention).where(col(Mention.id).in_(ids)).order_by(col(Mention.id))))
            results = scorer.score([m.text for m in mentions])
            _store_scores(s, mentions, results)
        report.counts["scored"] += len(results)
        report.counts["batches"] += 1
        for r in results:
            report.counts[r.label] = report.counts.get(r.label, 0) + 1
    record_stage(engine, report, started)
    log.info("scoring finished: %s", report.counts)
    return report


def load_scorer(settings: EarshotSettings) -> TextScorer:
    """The configured model, built from the bundled weights on first use."""
    from sentiment.scorer import Scorer

    cfg = settings.sentiment
    return Scorer.load(
        model=cfg.model,
        cache_dir=cfg.model_cache_dir,
        batch_size=cfg.batch_size,
        max_length=cfg.max_length,
        threads=cfg.threads,
    )


def run_alerts(engine: Engine, settings: EarshotSettings) -> StageReport:
    """Turn scored mentions into outbox rows, then deliver what is due (Slack or console)."""
    from alerts.outbox import run_alerts as enqueue_and_deliver
    from alerts.slack_sender import make_sender

    return StageReport("alerts", enqueue_and_deliver(engine, settings, make_sender(settings)))


def run_crawls(
    settings: EarshotSettings, spiders: Sequence[str] | None = None, log_level: str | None = None
) -> list[StageReport]:
    """Run each spider in its own child process; one crashing spider does not stop the others."""
    from spiders.runner import available_spiders, run_crawl

    overrides = {"LOG_LEVEL": log_level} if log_level else None
    reports = []
    for name in spiders or available_spiders():
        summary = run_crawl(settings, name, isolate=True, scrapy_overrides=overrides)
        counts = {
            k: v
            for k, v in asdict(summary).items()
            if isinstance(v, int) and k not in ("run_id", "exit_code")
        }
        error = None if summary.ok else f"finish_reason={summary.finish_reason}"
        reports.append(StageReport(f"crawl:{name}", counts, error=error))
        log.info("crawl %s finished (%s): %s", name, summary.finish_reason, counts)
    return reports
