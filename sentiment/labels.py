"""Map any text-classification model's labels onto Earshot's negative / neutral / positive.

Users may point ``sentiment.model`` at any transformers sentiment model, and these name their classes in many
ways: ``LABEL_0..2``, ``negative/neutral/positive``, ``NEG/NEU/POS``, ``1 star``..``5 stars``, two-class
``NEGATIVE/POSITIVE``, Polish names... Each model class becomes a row of a (num_labels x 3) matrix so that
``probs @ matrix`` gives Earshot's three probabilities; star ratings fold 1-2 into negative, 3 into neutral,
4-5 into positive. A two-class model has no neutral class, so its neutral probability is always 0.
A scheme we cannot interpret raises :class:`UnsupportedLabelsError` at load time rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

Sentiment = Literal["negative", "neutral", "positive"]
SENTIMENTS: Final[tuple[Sentiment, Sentiment, Sentiment]] = ("negative", "neutral", "positive")
NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2

_NAMES: Final[dict[str, int]] = {
    **dict.fromkeys(["negative", "neg", "negatywny", "negatywna", "negatywne", "bad", "minus"], NEGATIVE),
    **dict.fromkeys(
        ["neutral", "neu", "neut", "neutralny", "neutralna", "neutralne", "zero", "mixed"], NEUTRAL
    ),
    **dict.fromkeys(["positive", "pos", "pozytywny", "pozytywna", "pozytywne", "good", "plus"], POSITIVE),
}
_GENERIC: Final = re.compile(r"^(?:label)?[_\s-]?(\d+)$")
_STARS: Final = re.compile(r"^(\d)\s*(?:star|stars|gwiazdka|gwiazdki|gwiazdek)?$")
_STAR_TO_SENTIMENT: Final = {1: NEGATIVE, 2: NEGATIVE, 3: NEUTRAL, 4: POSITIVE, 5: POSITIVE}


class UnsupportedLabelsError(ValueError):
    """The model's ``id2label`` is not a sentiment scheme we can map to negative/neutral/positive."""


def _clean(label: str) -> str:
    return label.strip().lower().replace("__label__", "")


def _named(labels: list[str]) -> list[int] | None:
    out = [_NAMES.get(_clean(lab)) for lab in labels]
    if any(o is None for o in out):
        return None
    classes = [o for o in out if o is not None]
    return classes if {NEGATIVE, POSITIVE} <= set(classes) else None


def _stars(labels: list[str]) -> list[int] | None:
    matches = [_STARS.match(_clean(lab)) for lab in labels]
    if len(labels) != 5 or any(m is None for m in matches):
        return None
    stars = sorted(int(m.group(1)) for m in matches if m is not None)
    if stars != [1, 2, 3, 4, 5]:
        return None
    return [_STAR_TO_SENTIMENT[int(m.group(1))] for m in matches if m is not None]


def _generic(labels: list[str]) -> list[int] | None:
    """``LABEL_k`` (or bare ``k``): the usual sentiment order for 2, 3 or 5 classes."""
    matches = [_GENERIC.match(_clean(lab)) for lab in labels]
    if any(m is None for m in matches):
        return None
    idx = [int(m.group(1)) for m in matches if m is not None]
    if sorted(idx) != list(range(len(labels))):
        return None
    by_count = {
        2: [NEGATIVE, POSITIVE],
        3: [NEGATIVE, NEUTRAL, POSITIVE],
        5: [_STAR_TO_SENTIMENT[k + 1] for k in range(5)],
    }
    order = by_count.get(len(labels))
    return [order[i] for i in idx] if order else None


def label_matrix(id2label: Mapping[int, str] | Mapping[str, str]) -> npt.NDArray[np.float32]:
    """A (num_labels x 3) 0/1 matrix folding the model's classes into negative/neutral/positive.

    ``id2label`` is the model config's mapping (keys may be ints or the strings JSON leaves them as).
    """
    if not id2label:
        raise UnsupportedLabelsError("the model config has no id2label mapping")
    by_index = {int(k): str(v) for k, v in id2label.items()}
    if sorted(by_index) != list(range(len(by_index))):
        raise UnsupportedLabelsError(f"id2label indices are not 0..n-1: {sorted(by_index)}")
    labels = [by_index[i] for i in range(len(by_index))]
    classes = _named(labels) or _stars(labels) or _generic(labels)
    if classes is None:
        raise UnsupportedLabelsError(
            f"cannot map labels {labels} to negative/neutral/positive; supported: LABEL_0..2, "
            "negative/neutral/positive (or NEG/NEU/POS), '1 star'..'5 stars', and two-class negative/positive"
        )
    matrix = np.zeros((len(labels), 3), dtype=np.float32)
    for row, cls in enumerate(classes):
        matrix[row, cls] = 1.0
    return matrix


def normalize_label(label: str) -> Sentiment:
    """Canonical name of one label string, e.g. ``"NEG"`` -> ``"negative"``, ``"4 stars"`` -> positive."""
    clean = _clean(label)
    if clean in _NAMES:
        return SENTIMENTS[_NAMES[clean]]
    star = _STARS.match(clean)
    if star and int(star.group(1)) in _STAR_TO_SENTIMENT:
        return SENTIMENTS[_STAR_TO_SENTIMENT[int(star.group(1))]]
    raise UnsupportedLabelsError(f"unknown sentiment label {label!r}")
