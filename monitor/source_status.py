"""What ``earshot sources`` shows: each catalogued source joined with its last run and its health.

Kept apart from :mod:`monitor.source_health`, which judges health and raises alerts after every crawl:
this module only reads, for the table and its ``--json`` form (:mod:`monitor.sources_table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.core.config import EarshotSettings
from monitor.core.timeutil import utcnow
from monitor.source_health import SourceHealth, assess
from spiders.catalogue import SourceInfo

__all__ = ["SourceStatus", "source_statuses"]


@dataclass(frozen=True)
class SourceStatus:
    info: SourceInfo
    health: SourceHealth

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types, for ``earshot sources --json``."""
        info, health, silence = self.info, self.health, self.health.silence
        run = health.last_run
        return {
            "name": info.name,
            "configured": info.configured,
            "missing": list(info.missing_env),
            "skip_reason": info.skip_reason,
            "targets": list(info.targets),
            "interval_minutes": info.interval_minutes,
            "max_requests": info.max_requests,
            "last_run": None
            if run is None
            else {
                "id": run.id,
                "finish_reason": run.finish_reason,
                "items_new": run.items_new,
                "items_updated": run.items_updated,
                "items_rejected": run.items_rejected,
                "requests": run.requests,
                "errors": run.errors,
                "finished_at": run.finished_at.isoformat(),
                "first_error": run.first_error,
                "failure": run.failure,
                "failure_text": run.failure_text(),
                "failure_detail": run.failure_detail,
                "log_file": run.log_file,
            },
            "health": {
                "status": health.status,
                "text": health.describe(),
                "reason": health.reason(),
                "failed_runs_in_row": health.failed_in_row,
                "newest_item_at": silence.newest_item_at.isoformat() if silence.newest_item_at else None,
                "quiet_hours": _hours(silence.quiet_for),
                "quiet_limit_hours": _hours(silence.limit),
            },
        }


def _hours(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 3600, 2)


def source_statuses(
    engine: Engine, settings: EarshotSettings, catalogue: Sequence[SourceInfo], now: datetime | None = None
) -> list[SourceStatus]:
    """Each catalogued source with its last run and health."""
    now = now or utcnow()
    with Session(engine) as session:
        return [
            SourceStatus(info, assess(session, info.name, settings.source_health, now)) for info in catalogue
        ]
