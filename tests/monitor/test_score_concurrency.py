"""Two scorers at once (two ``earshot score``, or ``score`` beside ``run``) share the work without errors.

Before the claim step both picked the same unscored batch and the loser died with ``IntegrityError``,
throwing its pass's work away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from monitor.core.db import make_engine
from monitor.core.models import Mention, SentimentScore, StageRun
from monitor.pipeline import StageReport, score_pending
from sentiment.analysis import Analysis, MentionText
from sentiment.scorer import SentimentResult
from sentiment.urgency import Urgency

MENTIONS = 200
EDITED = range(0, MENTIONS, 10)  # these are at version 2, their version 1 already scored


class FastScorer:
    """A stand-in for the model: instant, except that the first batch waits until both scorers hold one."""

    def __init__(self, both_scoring: threading.Barrier) -> None:
        self.both_scoring = both_scoring
        self.calls = 0

    def analyze(self, items: Sequence[MentionText]) -> list[Analysis]:
        self.calls += 1
        if self.calls == 1:
            self.both_scoring.wait(timeout=30)
        time.sleep(0.002)  # let the other scorer interleave
        result = SentimentResult("negative", -0.8, 0.9, {"negative": 0.9}, "en", "fake", "1")
        return [Analysis(result, "text", Urgency("none", ()), ()) for _ in items]


def _seed(session: Session) -> None:
    for i in range(MENTIONS):
        session.add(
            Mention(
                source="google_business",
                external_id=f"r{i}",
                text=f"bad {i}",
                version=2 if i in EDITED else 1,
            )
        )
    session.flush()
    for mention in session.exec(select(Mention)).all():
        if mention.version == 2:
            session.add(
                SentimentScore(
                    mention_id=mention.id or 0,
                    mention_version=1,
                    label="positive",
                    score=0.5,
                    confidence=0.7,
                    model_name="fake",
                    model_version="1",
                )
            )
    session.commit()


@pytest.mark.parametrize("batch_size", [16])
def test_two_scorers_share_the_work_and_score_each_version_once(db_url: str, batch_size: int) -> None:
    setup = make_engine(db_url)
    with Session(setup) as s:
        _seed(s)
    both_scoring = threading.Barrier(2)
    reports: list[StageReport] = []
    errors: list[BaseException] = []

    def scorer_pass() -> None:
        engine = make_engine(db_url)  # its own engine and connections, like a second process
        try:
            reports.append(score_pending(engine, FastScorer(both_scoring), batch_size=batch_size))
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever the thread died of
            errors.append(exc)
            both_scoring.abort()
        finally:
            engine.dispose()

    threads = [threading.Thread(target=scorer_pass) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert len(reports) == 2
    with Session(setup) as s:
        per_version = s.exec(
            select(SentimentScore.mention_id, SentimentScore.mention_version, func.count())
            .join(Mention, col(Mention.id) == col(SentimentScore.mention_id))
            .where(col(SentimentScore.mention_version) == col(Mention.version))
            .group_by(col(SentimentScore.mention_id), col(SentimentScore.mention_version))
        ).all()
        assert len(per_version) == MENTIONS
        assert all(n == 1 for _, _, n in per_version)
        assert s.exec(select(func.count()).select_from(SentimentScore)).one() == MENTIONS + len(EDITED)
        runs = s.exec(select(StageRun).where(StageRun.stage == "score")).all()
        assert sorted(r.counts["scored"] for r in runs) == sorted(r.counts["scored"] for r in reports)
        langs = s.exec(select(Mention.lang).distinct()).all()
        assert langs == ["en"]
    assert sum(r.counts["scored"] for r in reports) == MENTIONS
    assert sum(r.counts["negative"] for r in reports) == MENTIONS
    if setup.dialect.name == "postgresql":
        # Rows are claimed FOR UPDATE SKIP LOCKED: each scorer held a different first batch.
        assert all(r.counts["scored"] > 0 for r in reports)
    setup.dispose()
