"""The ``earshot sources`` table: one line per source a person can read at a glance.

What each source is, whether it is configured, how often it runs, how its last run went and what it still
needs (the environment variables to set), so a broken or unconfigured source is obvious without a log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.core.credentials import auth_command
from monitor.core.timeutil import utcnow
from monitor.source_health import SourceStatus

__all__ = ["render_sources"]


def _ago(moment: datetime, now: datetime) -> str:
    seconds = max(0.0, (now - moment).total_seconds())
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"


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
    last = "never"
    if run is not None:
        counts = f"{run.items_new} new, {run.items_updated} upd, {run.items_rejected} rej"
        last = f"{run.finish_reason} {counts} ({_ago(run.finished_at, now)})"
    command = auth_command(info.name)
    missing = ("set " + ", ".join(info.missing_env)) if info.missing_env else ""
    if missing and command:
        missing += f" or run `{command}`"
    if not missing and info.skip_reason:
        missing = info.skip_reason
    if not missing and command and run is not None and run.finish_reason == "auth_failed":
        missing = f"run `{command}`"
    return [
        info.name,
        "yes" if info.configured else "no",
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
    header = ["SOURCE", "CONFIGURED", "TARGETS", "EVERY", "BUDGET", "LAST RUN (items)", "HEALTH", "TO DO"]
    rows = [header, *(_source_row(s, now, language) for s in statuses)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
