"""How well aspect detection does on gold-labelled texts: per-aspect, micro and macro precision/recall/F1.

Apart from :mod:`sentiment.aspects` because production never needs it: it reads a labelled JSONL file
(:func:`load_labelled`), runs a detector over it and scores detection and aspect sentiment
(:func:`evaluate_aspects`, or :func:`score_aspects` on detections already made) into an :class:`AspectReport`, which prints as a table
(:meth:`AspectReport.format_table`) or JSON (:meth:`AspectReport.to_dict`) for ``earshot model`` and is what
the regression tests guarding the tuned lexicon and thresholds check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sentiment.aspects import ASPECTS, SENTIMENTS, AspectDetector, AspectMention, Sentiment

__all__ = [
    "AspectReport",
    "AspectScores",
    "LabelledAspects",
    "LabelledDataError",
    "evaluate_aspects",
    "load_labelled",
    "score_aspects",
]


class LabelledDataError(ValueError):
    """A line of a labelled aspect file is not valid JSON or does not follow the format."""


@dataclass(frozen=True)
class LabelledAspects:
    """One gold-labelled text: the aspects it mentions, each with a sentiment or None (mentioned, no verdict)."""

    id: str
    lang: str
    text: str
    aspects: dict[str, Sentiment | None]


def _parse_labelled(raw: object, where: str) -> LabelledAspects:
    if not isinstance(raw, dict):
        raise LabelledDataError(f"{where}: expected a JSON object")
    text, lang, aspects = raw.get("text"), raw.get("lang"), raw.get("aspects", {})
    if not isinstance(text, str) or lang not in ("pl", "en") or not isinstance(aspects, dict):
        raise LabelledDataError(f"{where}: needs 'text' (str), 'lang' ('pl'/'en') and 'aspects' (object)")
    for aspect, sentiment in aspects.items():
        if aspect not in ASPECTS:
            raise LabelledDataError(f"{where}: unknown aspect {aspect!r} (expected one of {ASPECTS})")
        if sentiment is not None and sentiment not in SENTIMENTS:
            raise LabelledDataError(f"{where}: sentiment of {aspect!r} must be one of {SENTIMENTS} or null")
    return LabelledAspects(
        str(raw.get("id", where)), str(lang), text, cast(dict[str, Sentiment | None], aspects)
    )


def load_labelled(path: Path) -> list[LabelledAspects]:
    """Read a JSONL file of ``{"id", "lang", "text", "aspects": {aspect: sentiment | null}}`` lines."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledDataError(f"{where}: invalid JSON ({exc.msg})") from exc
        items.append(_parse_labelled(raw, where))
    return items


@dataclass(frozen=True)
class AspectScores:
    """Detection counts and scores of one aspect (or of a micro-average); None where 0/0."""

    tp: int
    fp: int
    fn: int
    sentiment_correct: int
    sentiment_total: int

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def sentiment_accuracy(self) -> float | None:
        return self.sentiment_correct / self.sentiment_total if self.sentiment_total else None

    def to_dict(self) -> dict[str, object]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "sentiment_accuracy": self.sentiment_accuracy,
            "sentiment_n": self.sentiment_total,
        }


@dataclass(frozen=True)
class AspectReport:
    """Per-aspect, micro and macro detection scores, plus aspect-sentiment accuracy.

    Macro averages run over aspects present in the gold labels; an aspect that was never predicted counts
    as precision 0 there. Sentiment accuracy is measured on correctly detected aspects with a gold sentiment.
    ``by_via`` gives true/false positives per detection route, to show what the encoder adds.
    """

    n_texts: int
    per_aspect: dict[str, AspectScores]
    micro: AspectScores
    macro_precision: float | None
    macro_recall: float | None
    macro_f1: float | None
    by_lang: dict[str, AspectScores]
    by_via: dict[str, tuple[int, int]]

    def to_dict(self) -> dict[str, object]:
        return {
            "n_texts": self.n_texts,
            "per_aspect": {aspect: s.to_dict() for aspect, s in self.per_aspect.items()},
            "micro": self.micro.to_dict(),
            "macro": {"precision": self.macro_precision, "recall": self.macro_recall, "f1": self.macro_f1},
            "by_lang": {lang: s.to_dict() for lang, s in self.by_lang.items()},
            "by_via": {via: {"tp": tp, "fp": fp} for via, (tp, fp) in self.by_via.items()},
        }

    def format_table(self) -> str:
        def num(x: float | None) -> str:
            return "    -" if x is None else f"{x:5.3f}"

        head = f"{'aspect':<18}{'gold':>5}{'pred':>5}{'P':>7}{'R':>7}{'F1':>7}{'sent.acc':>10}{'n':>4}"
        lines = [f"aspect detection on {self.n_texts} texts", head, "-" * len(head)]
        rows = [*self.per_aspect.items(), *((f"micro ({lang})", s) for lang, s in self.by_lang.items())]
        for name, s in [*rows, ("micro", self.micro)]:
            lines.append(
                f"{name:<18}{s.support:>5}{s.tp + s.fp:>5}  {num(s.precision)}  {num(s.recall)}  {num(s.f1)}"
                f"     {num(s.sentiment_accuracy)}{s.sentiment_total:>4}"
            )
        lines.append(
            f"{'macro':<28}  {num(self.macro_precision)}  {num(self.macro_recall)}  {num(self.macro_f1)}"
        )
        vias = ", ".join(f"{via}: {tp} TP / {fp} FP" for via, (tp, fp) in self.by_via.items())
        lines.append(f"by route: {vias}")
        return "\n".join(lines)


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    sentiment_correct: int = 0
    sentiment_total: int = 0

    def add(
        self, gold: dict[str, Sentiment | None], predicted: dict[str, AspectMention], aspect: str
    ) -> None:
        in_gold, in_pred = aspect in gold, aspect in predicted
        self.tp += in_gold and in_pred
        self.fp += in_pred and not in_gold
        self.fn += in_gold and not in_pred
        if in_gold and in_pred and gold[aspect] is not None:
            self.sentiment_total += 1
            self.sentiment_correct += predicted[aspect].sentiment == gold[aspect]

    def frozen(self) -> AspectScores:
        return AspectScores(self.tp, self.fp, self.fn, self.sentiment_correct, self.sentiment_total)


def evaluate_aspects(detector: AspectDetector, items: Sequence[LabelledAspects]) -> AspectReport:
    """Run ``detector`` on the labelled texts (one batch) and score detection and aspect sentiment."""
    return score_aspects(items, detector.detect([item.text for item in items]))


def score_aspects(
    items: Sequence[LabelledAspects], predictions: Sequence[Sequence[AspectMention]]
) -> AspectReport:
    """Score detections already made (one list of mentions per item, in order) against the gold labels.

    Apart from :func:`evaluate_aspects` so that a caller measuring several things on one text set (``earshot
    model eval-detectors``: aspects and apologies) runs the detector, the costly part, once.
    """
    if len(predictions) != len(items):
        raise ValueError(f"{len(predictions)} prediction lists for {len(items)} labelled texts")
    per_aspect = {aspect: _Counts() for aspect in ASPECTS}
    micro, by_lang = _Counts(), {lang: _Counts() for lang in sorted({item.lang for item in items})}
    by_via: dict[str, list[int]] = {via: [0, 0] for via in ("lexicon", "encoder", "both")}
    for item, mentions in zip(items, predictions, strict=True):
        predicted = {m.aspect: m for m in mentions}
        for aspect in ASPECTS:
            for counts in (per_aspect[aspect], micro, by_lang[item.lang]):
                counts.add(item.aspects, predicted, aspect)
        for mention in mentions:
            by_via[mention.via][0 if mention.aspect in item.aspects else 1] += 1
    scores = {aspect: counts.frozen() for aspect, counts in per_aspect.items()}
    present = [s for s in scores.values() if s.support > 0]
    return AspectReport(
        n_texts=len(items),
        per_aspect=scores,
        micro=micro.frozen(),
        macro_precision=_mean([s.precision or 0.0 for s in present]),
        macro_recall=_mean([s.recall or 0.0 for s in present]),
        macro_f1=_mean([s.f1 or 0.0 for s in present]),
        by_lang={lang: counts.frozen() for lang, counts in by_lang.items()},
        by_via={via: (tp, fp) for via, (tp, fp) in by_via.items()},
    )


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
