"""What a suggested reply may apologise for: the one rule, shared by the replies and their evaluation.

Standard library only, so that rendering a Slack message never imports numpy or the model stack.
"""

from __future__ import annotations

from typing import Final

COMPLAINT_SCORE: Final = -0.5
"""Aspect score (p(positive) - p(negative) of the clauses naming it) at or below which a reply apologises."""


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


__all__ = ["COMPLAINT_SCORE", "is_complaint"]
