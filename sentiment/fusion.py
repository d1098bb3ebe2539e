"""Star-rating fusion: one label for a rated review from its text and its stars together.

Why: on a review the stars are the author's own summary, and they are right far more often than a text
classifier on short, sarcastic or code-switched Polish; but they are not always right (a 5★ "nie polecam,
towar uszkodzony", a 1★ that praises the product and blames nobody). A small multinomial logistic regression
over the text's log-probabilities and the stars learns how far to trust each. It is fitted on the corpus's
held-out development slices (never on training slices, whose texts the classifier has memorised, so their
probabilities are over-confident), and its accuracy is reported cross-fitted: fitted on one dev slice,
measured on the other.

Features: log p(negative/neutral/positive) of the text, the rating as a soft one-hot over 1..5 stars
(4.5 counts half 4, half 5), and a bias. 27 numbers in all, shipped as JSON beside the model weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FUSION_FILE: Final = Path(__file__).resolve().parent / "weights" / "earshot-fusion.json"
N_FEATURES: Final = 3 + 5 + 1
_EPS: Final = 1e-6

FloatArray = npt.NDArray[np.float64]


class FusionFileError(ValueError):
    """The fusion file is missing fields or has the wrong shape; refit with `earshot model fit-fusion`."""


def star_features(ratings: Sequence[float]) -> FloatArray:
    """Soft one-hot of each rating over the five star values (clipped to 1..5)."""
    out = np.zeros((len(ratings), 5), dtype=np.float64)
    for i, rating in enumerate(ratings):
        r = float(np.clip(rating, 1.0, 5.0)) - 1.0
        low = int(np.floor(r))
        frac = r - low
        out[i, low] += 1.0 - frac
        if frac > 0:
            out[i, low + 1] += frac
    return out


def features(probs: npt.ArrayLike, ratings: Sequence[float]) -> FloatArray:
    p = np.clip(np.asarray(probs, dtype=np.float64).reshape(-1, 3), _EPS, 1.0)
    return np.hstack([np.log(p), star_features(ratings), np.ones((p.shape[0], 1))])


def _softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class RatingFusion:
    """``weights`` is (9, 3): features x classes (negative, neutral, positive)."""

    weights: FloatArray
    model_version: str = ""
    fitted_on: int = 0

    def probabilities(self, text_probs: npt.ArrayLike, ratings: Sequence[float]) -> FloatArray:
        """Fused (n, 3) class probabilities."""
        return _softmax(features(text_probs, ratings) @ self.weights)

    @classmethod
    def fit(
        cls,
        text_probs: npt.ArrayLike,
        ratings: Sequence[float],
        labels: Sequence[int],
        *,
        l2: float = 0.05,
        steps: int = 3000,
        lr: float = 0.5,
        model_version: str = "",
    ) -> RatingFusion:
        """Full-batch gradient descent on cross-entropy + L2 (bias not penalised); deterministic."""
        x = features(text_probs, ratings)
        y = np.zeros((x.shape[0], 3))
        y[np.arange(x.shape[0]), np.asarray(labels, dtype=int)] = 1.0
        w = _prior_weights()
        mask = np.ones_like(w)
        mask[-1] = 0.0
        n = max(1, x.shape[0])
        for _ in range(steps):
            grad = x.T @ (_softmax(x @ w) - y) / n + l2 * mask * w
            w = w - lr * grad
        return cls(w, model_version, int(x.shape[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": ["log_p_negative", "log_p_neutral", "log_p_positive"]
            + [f"stars_{i}" for i in range(1, 6)]
            + ["bias"],
            "classes": ["negative", "neutral", "positive"],
            "weights": [[round(float(v), 6) for v in row] for row in self.weights],
            "model_version": self.model_version,
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RatingFusion:
        try:
            weights = np.asarray(raw["weights"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise FusionFileError(f"fusion weights unreadable ({exc})") from None
        if weights.shape != (N_FEATURES, 3) or not np.all(np.isfinite(weights)):
            raise FusionFileError(f"fusion weights must be {N_FEATURES}x3 finite numbers")
        return cls(weights, str(raw.get("model_version", "")), int(raw.get("fitted_on", 0)))

    def save(self, path: Path = FUSION_FILE) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = FUSION_FILE) -> RatingFusion:
        """The shipped fusion; without the file, :func:`prior_fusion` (text + stars, equal trust)."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return prior_fusion()
        except (OSError, ValueError) as exc:
            raise FusionFileError(f"{path} is unreadable ({exc})") from None
        return cls.from_dict(raw)


def _prior_weights() -> FloatArray:
    """Text log-probabilities passed through, stars as a moderate vote: the starting point of every fit."""
    w = np.zeros((N_FEATURES, 3))
    w[0:3, 0:3] = np.eye(3)
    stars_vote = np.array(
        [[2.0, -1.0, -2.0], [1.0, 0.0, -1.0], [-0.5, 1.0, -0.5], [-1.0, 0.0, 1.0], [-2.0, -1.0, 2.0]]
    )
    w[3:8] = stars_vote
    return w


def prior_fusion() -> RatingFusion:
    return RatingFusion(_prior_weights(), "prior", 0)
