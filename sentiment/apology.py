"""What a suggested reply may apologise for: the one rule, shared by the replies and their evaluation.

Standard library only, so that rendering a Slack message never imports numpy or the model stack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Protocol

from sentiment.vocabulary import ASPECT_KEYS

COMPLAINT_SCORE: Final = -0.5
"""Aspect score (p(positive) - p(negative) of the clauses naming it) at or below which a reply apologises."""
MAX_COMPLAINTS: Final = 2
"""At most this many aspects of one text are apologised for, the ones the complaint model is surest of.

Why: one angry sentence names many things ("punkt zamknięty, telefon nie działa, strona kłamie, płatność
przepadła"); the corpus's guidelines say a sentence rarely touches more than two aspects, and a reply that
apologises for four reads as a form letter.
"""


def is_complaint(sentiment: str | None, score: float | None, complaint: bool | None = None) -> bool:
    """Whether the text complains about an aspect confidently enough for a reply to apologise for it.

    Why a threshold: a reply that apologises for what the customer did not complain about (or praised) reads
    as a form letter; a mention without a stance ("odebrałam z paczkomatu") is no complaint at all, and a
    reply with no confident complaint apologises in general terms instead. ``complaint`` is the corpus-trained
    model's word (False: the text names the aspect but its complaint is about something else).
    """
    return (
        sentiment == "negative" and score is not None and score <= COMPLAINT_SCORE and complaint is not False
    )


class NamedAspect(Protocol):
    """What :func:`complained_about` reads of one aspect a text names (e.g. an ``AspectMention``)."""

    @property
    def aspect(self) -> str: ...
    @property
    def sentiment(self) -> str | None: ...
    @property
    def score(self) -> float | None: ...


def complained_about(
    aspects: Sequence[NamedAspect], probabilities: Sequence[float], threshold: Callable[[str], float]
) -> set[str]:
    """The aspects of one text the complaint model stands behind (each an ``AspectMention.complaint``).

    An aspect counts when its probability (``probabilities``, in ``ASPECT_KEYS`` order) reaches the model's
    ``threshold`` for it; where more than :data:`MAX_COMPLAINTS` of them are also
    confidently negative (:func:`is_complaint`, what a reply apologises for), only the ones the model is
    surest of keep it (ties keep the first named). A praised aspect may count here, the model saying the text
    is about it, but :func:`is_complaint` never lets a reply apologise for it.
    """
    probability = dict(zip(ASPECT_KEYS, probabilities, strict=True))
    backed = [a for a in aspects if probability[a.aspect] >= threshold(a.aspect)]
    confident = sorted(
        (a for a in backed if is_complaint(a.sentiment, a.score)), key=lambda a: -probability[a.aspect]
    )
    dropped = {a.aspect for a in confident[MAX_COMPLAINTS:]}
    return {a.aspect for a in backed} - dropped


__all__ = [
    "COMPLAINT_SCORE",
    "MAX_COMPLAINTS",
    "NamedAspect",
    "complained_about",
    "is_complaint",
]
