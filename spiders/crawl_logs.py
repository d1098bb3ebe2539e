"""One Scrapy log file per crawl under ``data_dir/logs/``, the newest ``crawl_logs_keep`` kept per source.

Scrapy's own log (the settings dump, per-request lines, the stats, tracebacks) is a few hundred lines a
run: useful when a source breaks, noise on a console. Each crawl writes it to
``data_dir/logs/2026-12-07T18-30-01_google_business_run12.log`` (the start in UTC, the source, the
``crawl_runs`` id), and the console gets one line naming that file.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

from monitor.core.timeutil import utcnow

__all__ = ["LOG_DIR", "log_path", "prune_logs"]

log = logging.getLogger(__name__)

LOG_DIR = "logs"


def _pattern(spider: str) -> re.Pattern[str]:
    return re.compile(rf"^\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\d_{re.escape(spider)}_run\d+\.log$")


def log_path(data_dir: Path, spider: str, run_id: int | None, started: datetime | None = None) -> Path:
    """Where the crawl ``run_id`` of ``spider`` writes its Scrapy log; the folder is created."""
    folder = data_dir / LOG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (started or utcnow()).strftime("%Y-%m-%dT%H-%M-%S")
    return (folder / f"{stamp}_{spider}_run{run_id or 0}.log").resolve()


def prune_logs(data_dir: Path, spider: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` log files of ``spider``; the paths deleted.

    Only files named as :func:`log_path` names them are touched, so a file a person put there stays.
    """
    folder = data_dir / LOG_DIR
    if not folder.is_dir():
        return []
    pattern = _pattern(spider)
    # The name starts with the UTC start time, so name order is age order; the run id breaks ties.
    files = sorted(
        (p for p in folder.iterdir() if pattern.match(p.name) and p.is_file()),
        key=lambda p: (p.name[:19], int(p.stem.rsplit("_run", 1)[1])),
    )
    removed = files[: max(0, len(files) - keep)]
    for path in removed:
        try:
            path.unlink()
        except FileNotFoundError:
            continue  # another crawl of the same source pruned it first
    if removed:
        log.debug("deleted %d old crawl log(s) of %s in %s", len(removed), spider, folder)
    return removed
