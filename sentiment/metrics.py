"""Classification metrics shared by every evaluation (public sets, the corpus, the detectors)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def macro_f1(pred: Sequence[int], gold: Sequence[int], classes: Sequence[int]) -> float:
    """Unweighted mean of per-class F1 (a class never predicted nor present counts as 0)."""
    p, g = np.asarray(pred), np.asarray(gold)
    scores = []
    for c in classes:
        tp = int(((p == c) & (g == c)).sum())
        fp = int(((p == c) & (g != c)).sum())
        fn = int(((p != c) & (g == c)).sum())
        scores.append(2 * tp / max(1, 2 * tp + fp + fn))
    return float(np.mean(scores))
