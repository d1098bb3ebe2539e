"""Held-out figures for what replies and alerts take from the detectors: apologies and urgency.

Why apart from :mod:`sentiment.aspect_eval`: a suggested reply apologises only for aspects the text
confidently complains about (:func:`sentiment.apology.is_complaint`), so the figure a customer notices is the
precision of *those* aspects against the aspects a person labelled negative, and how often a praised aspect is
apologised for (it must never be). The corpus's dev slices (writers the detectors were never tuned on) are a
second held-out set beside the bundled samples, converted here into the samples' own types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sentiment.apology import is_complaint
from sentiment.aspect_eval import LabelledAspects
from sentiment.aspects import AspectMention
from sentiment.corpus import CorpusItem
from sentiment.urgency_eval import LabelledUrgency


@dataclass(frozen=True)
class ComplaintReport:
    """How the aspects a reply would apologise for compare with the aspects a person labelled negative."""

    name: str
    texts: int
    apologised: int
    correct: int
    gold_negative: int
    praised_apologised: int
    texts_with_general_apology: int

    @property
    def precision(self) -> float:
        return self.correct / self.apologised if self.apologised else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold_negative if self.gold_negative else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "precision": self.precision, "recall": self.recall}

    def format_row(self) -> str:
        return (
            f"{self.name:<34} {self.texts:>5} {self.apologised:>6} {100 * self.precision:>9.1f} "
            f"{100 * self.recall:>7.1f} {self.praised_apologised:>8}"
        )


COMPLAINT_HEADER = (
    f"{'apologised aspects':<34} {'texts':>5} {'aspects':>6} {'precision':>9} {'recall':>7} {'praised':>8}"
)


def evaluate_complaints(
    name: str, items: Sequence[LabelledAspects], found: Sequence[Sequence[AspectMention]]
) -> ComplaintReport:
    """Score the aspects a reply would apologise for, in ``found`` (:meth:`sentiment.aspects.AspectDetector.detect` of ``items``).

    Takes the detections rather than the detector: the same detections also give the aspect figures
    (:func:`sentiment.aspect_eval.score_aspects`), and detecting is the costly part.
    """
    if len(found) != len(items):
        raise ValueError(f"{len(found)} detection lists for {len(items)} labelled texts")
    apologised = correct = gold_negative = praised = general = 0
    for item, mentions in zip(items, found, strict=True):
        complaints = {m.aspect for m in mentions if is_complaint(m.sentiment, m.score, m.complaint)}
        negative = {a for a, s in item.aspects.items() if s == "negative"}
        apologised += len(complaints)
        correct += len(complaints & negative)
        gold_negative += len(negative)
        praised += sum(1 for a in complaints if item.aspects.get(a) == "positive")
        general += not complaints
    return ComplaintReport(name, len(items), apologised, correct, gold_negative, praised, general)


def spread_sample(items: Sequence[CorpusItem], n: int | None) -> list[CorpusItem]:
    """At most ``n`` items spread evenly over ``items`` (every slice and style keeps its share); all for None.

    A quicker look at the dev slices than all of them: the first ``n`` would be one slice's writers only.
    """
    if n is None or n >= len(items):
        return list(items)
    if n < 1:
        raise ValueError(f"a sample needs at least 1 text, not {n}")
    return [items[i * len(items) // n] for i in range(n)]


def corpus_aspects(items: Sequence[CorpusItem]) -> list[LabelledAspects]:
    return [LabelledAspects(x.id, x.lang, x.text, dict(x.aspects)) for x in items]  # type: ignore[arg-type]


def corpus_urgency(items: Sequence[CorpusItem]) -> list[LabelledUrgency]:
    return [LabelledUrgency(x.id, x.lang, x.text, x.reach, 0, x.urgency, x.reasons) for x in items]
