"""What the console prints, in ``console_language``: the ``cli`` gettext domain and its summary lines.

The crawl lines (:mod:`monitor.crawl_report`), the ``earshot sources`` table, the ``score`` / ``alerts``
summaries and the demo's narration all go through :func:`t`, so Polish lives in one catalogue
(``monitor/core/locale/pl/LC_MESSAGES/cli.po``) a translator can review, and English, the message id,
is exactly what the code says. Times are printed by :func:`when`: in UTC, with the zone written out,
because a console line is read next to server logs, which are in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from monitor.core.i18n import format_datetime, format_number, gettext

__all__ = ["DOMAIN", "counts_line", "seconds", "t", "when"]

DOMAIN: Final = "cli"


def t(language: str, message: str, **values: object) -> str:
    """``message`` (English, the msgid) in ``language``, ``%(name)s`` placeholders filled."""
    return gettext(language, DOMAIN, message, **values)


def counts_line(title: str, counts: Mapping[str, int], language: str = "en") -> str:
    """``score: scored=3, negative=1`` / ``ocena: ocenione=3, negatywne=1``: a stage's counters.

    Each counter's name is its own msgid, so a name the catalogue lacks is still printed (in English)
    rather than dropped: every outcome is shown.
    """
    parts = ", ".join(f"{t(language, key)}={value}" for key, value in counts.items())
    return f"{t(language, title)}: {parts}"


def seconds(value: float, language: str = "en") -> str:
    """``3.1 s`` / ``3,1 s``: a duration as its reader writes decimals."""
    return f"{format_number(value, language, 1)} s"


def when(moment: datetime, language: str = "en") -> str:
    """``Nov 18, 2026, 12:00 UTC`` / ``18 lis 2026, 12:00 UTC``: a moment, its zone always shown."""
    return format_datetime(moment, language, "UTC")
