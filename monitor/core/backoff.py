"""One backoff rule for everything that retries: the Slack outbox, spider retries and Retry-After waits.

Exponential (``base * 2**(attempt-1)``) so a long outage costs few tries, capped so a recovered service is
noticed soon, and with random jitter on top so that many alerts or requests that failed together do not all
retry in the same second (the thundering herd that re-triggers a rate limit). The jitter only ever adds, so
a server's ``Retry-After`` or a documented minimum wait is never undercut.
"""

from __future__ import annotations

import random

__all__ = ["DEFAULT_JITTER", "backoff_delay"]

DEFAULT_JITTER = 0.2  # up to +20% of the delay, at random


def backoff_delay(
    attempt: int,
    base: float,
    cap: float,
    *,
    jitter: float = DEFAULT_JITTER,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry).

    ``min(cap, base * 2**(attempt-1))`` plus up to ``jitter`` times that at random; ``jitter=0`` gives the
    plain formula (tests, and callers that add their own spread). ``rng`` makes the jitter reproducible.
    """
    if base < 0 or cap < 0 or jitter < 0:
        raise ValueError("backoff_delay: base, cap and jitter must not be negative")
    exponent = max(attempt - 1, 0)
    delay = cap if exponent >= 64 else min(cap, base * 2.0**exponent)
    if jitter and delay:
        delay += delay * jitter * (rng or random).random()
    return delay
