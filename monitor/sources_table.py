"""The ``earshot sources`` table: one line per source a person can read at a glance.

What each source is, whether it is configured, how often it runs, how its last run went and what it still
needs (the environment variables to set), so a broken or unconfigured source is obvious without a log.
Its words are in ``console_language`` (the ``cli`` gettext domain, :mod:`monitor.cli_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.cli_text import t
from monitor.core.credentials import auth_command
from monitor.core.timeutil import utcnow
from monitor.source_status import SourceStatus

__all__ = ["render_sources"]


def _ago(moment: datetime, now: datetime, language: str = "en") -> str:
    seconds = max(0.0, (now - moment).total_seconds())
    if seconds < 3600:
        return t(language, "%(n)s min ago", n=f"{seconds / 60:.0f}")
    if seconds < 48 * 3600:
        return t(language, "%(n)s h ago", n=f"{seconds / 3600:.0f}")
    return t(language, "%(n)s d ago", n=f"{seconds / 86400:.0f}")


def _every(minutes: float) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        return f"{minutes / 60:g} h"
    return f"{minutes:g} min"


def _targets(names: Sequence[str]) -> str:
    if not names:
        return "-"
    shown = ", ".join(names)
    return shown if len(shown) <= 28 else f"{len(names)}: {shown[:24]}…"


def _health(status: SourceStatus, language: str) -> str:
    """``ok``, or ``failing 3 runs: connection refused``: the last failure's reason in words."""
    text = status.health.describe(language)
    reason = status.health.reason(language)
    return f"{text}: {reason}" if reason else text


def _source_row(status: SourceStatus, now: datetime, language: str) -> list[str]:
    info, health = status.info, status.health
    run = health.last_run
    last = t(language, "never")
    if run is not None:
        counts = t(
            language,
            "%(new)s new, %(updated)s upd, %(rejected)s rej",
            new=run.items_new,
            updated=run.items_updated,
            rejected=run.items_rejected,
        )
        last = f"{run.finish_reason} {counts} ({_ago(run.finished_at, now, language)})"
    command = auth_command(info.name)
    missing = t(language, "set %(names)s", names=", ".join(info.missing_env)) if info.missing_env else ""
    if missing and command:
        missing = t(language, "%(missing)s or run `%(command)s`", missing=missing, command=command)
    if not missing and info.skip_reason:
        missing = info.skip_reason
    if not missing and command and run is not None and run.finish_reason == "auth_failed":
        missing = t(language, "run `%(command)s`", command=command)
    return [
        info.name,
        t(language, "yes") if info.configured else t(language, "no"),
        _targets(info.targets),
        _every(info.interval_minutes),
        "-" if info.max_requests is None else str(info.max_requests),
        last,
        _health(status, language),
        missing,
    ]


def render_sources(
    statuses: Sequence[SourceStatus], now: datetime | None = None, language: str = "en"
) -> str:
    """The `earshot sources` table; the last column says what a source still needs, if anything.

    A failing source's HEALTH says why its last run failed, in words (``console_language``).
    """
    now = now or utcnow()
    names = ("SOURCE", "CONFIGURED", "TARGETS", "EVERY", "BUDGET", "LAST RUN (items)", "HEALTH", "TO DO")
    header = [t(language, name) for name in names]
    rows = [header, *(_source_row(s, now, language) for s in statuses)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
