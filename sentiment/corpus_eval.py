"""How the model reads the corpus's held-out development slices: the in-domain score, with and without stars.

Why here and not in :mod:`sentiment.evaluate`: those sets are public, human-written and evaluation-only; this
is Earshot's own shop text, where the figures the product depends on live (Polish vs English, rated reviews vs
social posts, what the stars add). Every figure is on whole slices the model never trained on, so it measures
a writer the model never saw. The fusion's figure is cross-fitted: fitted on one dev slice, measured on the
other, so the fusion is never scored on the rows it was fitted on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sentiment.analysis import rating_sentiment
from sentiment.corpus import SENTIMENT_VALUES, CorpusItem
from sentiment.fusion import RatingFusion
from sentiment.metrics import macro_f1

ProbabilityFn = Callable[[list[str]], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class GroupScore:
    """Accuracy, macro-F1 and the confusion matrix (rows gold, columns predicted) of one group of texts."""

    name: str
    n: int
    accuracy: float
    macro_f1: float
    confusion: list[list[int]] = field(hash=False)


def score_group(name: str, pred: npt.ArrayLike, gold: npt.ArrayLike) -> GroupScore:
    p, g = np.asarray(pred, dtype=int), np.asarray(gold, dtype=int)
    confusion = [[int(((g == a) & (p == b)).sum()) for b in range(3)] for a in range(3)]
    return GroupScore(
        name=name,
        n=len(g),
        accuracy=float((p == g).mean()) if len(g) else 0.0,
        macro_f1=macro_f1(list(p), list(g), [0, 1, 2]) if len(g) else 0.0,
        confusion=confusion,
    )


@dataclass(frozen=True)
class CorpusReport:
    groups: list[GroupScore]

    def get(self, name: str) -> GroupScore:
        return next(g for g in self.groups if g.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            g.name: {"n": g.n, "accuracy": g.accuracy, "macro_f1": g.macro_f1, "confusion": g.confusion}
            for g in self.groups
        }

    def format_table(self) -> str:
        lines = [f"{'corpus dev split (held-out writers)':<40} {'n':>5} {'acc':>7} {'macroF1':>8}"]
        for g in self.groups:
            lines.append(f"{g.name:<40} {g.n:>5} {100 * g.accuracy:>7.2f} {100 * g.macro_f1:>8.2f}")
        for name in ("all, text only", "rated reviews, fused (cross-fitted)"):
            g = self.get(name)
            lines.append(f"confusion, {name} (rows gold neg/neu/pos, columns predicted):")
            lines += [
                f"  {SENTIMENT_VALUES[i]:<9} {row[0]:>5} {row[1]:>5} {row[2]:>5}"
                for i, row in enumerate(g.confusion)
            ]
        return "\n".join(lines)


def _rated(items: Sequence[CorpusItem]) -> list[int]:
    return [i for i, x in enumerate(items) if x.kind == "review" and x.rating is not None]


def cross_fitted_fusion(
    items: Sequence[CorpusItem], probs: npt.NDArray[np.float32], model_version: str = ""
) -> npt.NDArray[np.float64]:
    """Fused probabilities for every rated item, each from a fusion fitted on the other dev slices only."""
    rated = _rated(items)
    out = np.zeros((len(rated), 3))
    slices = sorted({items[i].slice for i in rated})
    for held in slices:
        fit_rows = [i for i in rated if items[i].slice != held]
        test_pos = [k for k, i in enumerate(rated) if items[i].slice == held]
        if not fit_rows:  # a single dev slice: nothing else to fit on, so fit on it (optimistic, said so)
            fit_rows = rated
        fusion = RatingFusion.fit(
            probs[fit_rows],
            [float(items[i].rating or 0) for i in fit_rows],
            [items[i].label for i in fit_rows],
            model_version=model_version,
        )
        test_rows = [rated[k] for k in test_pos]
        out[test_pos] = fusion.probabilities(
            probs[test_rows], [float(items[i].rating or 0) for i in test_rows]
        )
    return out


def fit_fusion(
    items: Sequence[CorpusItem], probs: npt.NDArray[np.float32], model_version: str
) -> RatingFusion:
    """The shipped fusion: fitted on every rated review of the dev slices."""
    rated = _rated(items)
    return RatingFusion.fit(
        probs[rated],
        [float(items[i].rating or 0) for i in rated],
        [items[i].label for i in rated],
        model_version=model_version,
    )


def evaluate_corpus(
    items: Sequence[CorpusItem], probability_fn: ProbabilityFn, fusion: RatingFusion | None = None
) -> CorpusReport:
    """Text-only scores per language and kind; rated reviews by text, stars, shipped and cross-fitted fusion."""
    probs = np.asarray(probability_fn([x.text for x in items]), dtype=np.float32)
    pred = probs.argmax(axis=1)
    gold = np.asarray([x.label for x in items])

    def subset(name: str, keep: Callable[[CorpusItem], bool]) -> GroupScore:
        idx = [i for i, x in enumerate(items) if keep(x)]
        return score_group(name, pred[idx], gold[idx])

    groups = [
        subset("all, text only", lambda x: True),
        subset("Polish, text only", lambda x: x.lang == "pl"),
        subset("English, text only", lambda x: x.lang == "en"),
        subset("social posts and comments", lambda x: x.kind == "social"),
        subset("feed, announcements, questions", lambda x: x.kind in ("feed", "announcement", "question")),
        subset("rated reviews, text only", lambda x: x.kind == "review"),
    ]
    rated = _rated(items)
    rated_gold = gold[rated]
    stars = [rating_sentiment(float(items[i].rating or 0)) for i in rated]
    groups.append(score_group("rated reviews, stars only", stars, rated_gold))
    if fusion is not None:
        shipped = fusion.probabilities(probs[rated], [float(items[i].rating or 0) for i in rated])
        groups.append(
            score_group("rated reviews, fused (shipped fusion)", shipped.argmax(axis=1), rated_gold)
        )
    crossed = cross_fitted_fusion(items, probs)
    groups.append(score_group("rated reviews, fused (cross-fitted)", crossed.argmax(axis=1), rated_gold))
    fused_all = pred.copy()
    fused_all[rated] = crossed.argmax(axis=1)
    groups.append(score_group("all, fused where rated (cross-fitted)", fused_all, gold))
    pl = [i for i, x in enumerate(items) if x.lang == "pl"]
    groups.append(score_group("Polish, fused where rated (cross-fitted)", fused_all[pl], gold[pl]))
    return CorpusReport(groups)
