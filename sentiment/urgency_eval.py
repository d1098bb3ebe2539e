"""Precision and recall of :mod:`sentiment.urgency` on the held-out labelled sample.

The sample (``sentiment/data/urgency_labelled.jsonl``) was written by a different person than the
lexicons, without seeing them, so the figures measure the detector rather than its author's memory.
Scored as in production: the mention's sentiment score comes from the classifier when one is given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sentiment.urgency import REASONS, assess_urgency

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
URGENCY_SAMPLE: Final = DATA_DIR / "urgency_labelled.jsonl"
LEVELS: Final = ("none", "elevated", "critical")


@dataclass(frozen=True)
class LabelledUrgency:
    id: str
    lang: str
    text: str
    reach: int | None
    prior_complaints: int
    level: str
    reasons: tuple[str, ...]


def load_urgency_labelled(path: Path = URGENCY_SAMPLE) -> list[LabelledUrgency]:
    """Read the JSONL sample; a malformed line raises ValueError naming the file and line."""
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            items.append(
                LabelledUrgency(
                    str(obj["id"]),
                    str(obj["lang"]),
                    str(obj["text"]),
                    obj.get("reach"),
                    int(obj.get("prior_complaints") or 0),
                    str(obj["level"]),
                    tuple(obj.get("reasons") or ()),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{lineno}: not a labelled urgency line ({exc})") from exc
    return items


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    support: int

    @classmethod
    def of(cls, tp: int, fp: int, fn: int) -> PRF:
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return cls(p, r, 2 * p * r / (p + r) if p + r else 0.0, tp + fn)


@dataclass
class UrgencyReport:
    n: int
    level_accuracy: float
    flagged: PRF  # "needs attention" (elevated or critical) as one binary decision
    critical: PRF
    reasons: dict[str, PRF]
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # gold -> predicted -> count

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "level_accuracy": self.level_accuracy,
            "flagged": vars(self.flagged),
            "critical": vars(self.critical),
            "reasons": {k: vars(v) for k, v in self.reasons.items()},
            "confusion": self.confusion,
        }

    def format_table(self) -> str:
        lines = [f"urgency: {self.n} held-out texts, level accuracy {100 * self.level_accuracy:.1f}%"]
        lines.append(f"{'':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
        rows = [("flagged (elev+crit)", self.flagged), ("critical", self.critical), *self.reasons.items()]
        for name, m in rows:
            lines.append(
                f"{name:<20} {100 * m.precision:>9.1f} {100 * m.recall:>7.1f} {100 * m.f1:>6.1f} {m.support:>8}"
            )
        lines.append(
            "confusion (gold \\ predicted): "
            + "; ".join(f"{g}: " + " ".join(f"{p}={self.confusion[g][p]}" for p in LEVELS) for g in LEVELS)
        )
        return "\n".join(lines)


def evaluate_urgency(
    items: Sequence[LabelledUrgency], sentiment_scores: Sequence[float | None] | None = None
) -> UrgencyReport:
    """Level accuracy, flagged/critical P/R, and per-reason P/R over ``items``."""
    scores = list(sentiment_scores) if sentiment_scores is not None else [None] * len(items)
    confusion = {g: dict.fromkeys(LEVELS, 0) for g in LEVELS}
    counts = {r: [0, 0, 0] for r in REASONS}  # tp, fp, fn
    flag = [0, 0, 0]
    crit = [0, 0, 0]
    for item, score in zip(items, scores, strict=True):
        got = assess_urgency(
            item.text, reach=item.reach, prior_complaints=item.prior_complaints, sentiment_score=score
        )
        confusion[item.level][got.level] += 1
        for acc, gold, pred in (
            (flag, item.level != "none", got.level != "none"),
            (crit, item.level == "critical", got.level == "critical"),
        ):
            acc[0] += gold and pred
            acc[1] += pred and not gold
            acc[2] += gold and not pred
        predicted = {r.code for r in got.reasons}
        for code in REASONS:
            gold_has, pred_has = code in item.reasons, code in predicted
            counts[code][0] += gold_has and pred_has
            counts[code][1] += pred_has and not gold_has
            counts[code][2] += gold_has and not pred_has
    correct = sum(confusion[g][g] for g in LEVELS)
    return UrgencyReport(
        n=len(items),
        level_accuracy=correct / len(items) if items else 0.0,
        flagged=PRF.of(*flag),
        critical=PRF.of(*crit),
        reasons={code: PRF.of(*c) for code, c in counts.items()},
        confusion=confusion,
    )
