"""Where reports are kept: ``data_dir/reports/<target-slug>/<week>.html`` with the numbers' JSON beside it.

The web app serves these files by URL, so every path is built from a checked slug and ISO week only (a
crafted URL can never name a file outside the reports folder), and a report is written atomically so a
reader never sees half of one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.core.config import EarshotSettings
from monitor.digest.errors import DigestError
from monitor.digest.links import target_slug
from monitor.digest.weeks import WEEK_ISO

__all__ = ["ReportInfo", "find_report", "list_reports", "report_path", "write_atomically"]

logger = logging.getLogger(__name__)

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # what target_slug makes


@dataclass(frozen=True)
class ReportInfo:
    target: str
    week_iso: str
    path: Path
    created: datetime  # when the file was written (aware UTC)
    target_slug: str = ""


def report_path(settings: EarshotSettings, target: str, week_iso: str) -> Path:
    """``data_dir/reports/<target-slug>/<week>.html`` (the JSON of the numbers lies beside it)."""
    if not WEEK_ISO.fullmatch(week_iso):
        raise DigestError(f"week {week_iso!r} is not an ISO week such as 2026-W47")
    return Path(settings.data_dir) / "reports" / target_slug(target) / f"{week_iso}.html"


def find_report(settings: EarshotSettings, slug: str, week_iso: str) -> Path | None:
    """The saved report for a URL's ``<slug>/<week>``, or None; anything else than a slug and an ISO week
    is refused, so a crafted URL can never name a file outside the reports folder."""
    if not _SLUG.fullmatch(slug) or not WEEK_ISO.fullmatch(week_iso):
        return None
    path = Path(settings.data_dir) / "reports" / slug / f"{week_iso}.html"
    return path if path.is_file() else None


def list_reports(settings: EarshotSettings) -> list[ReportInfo]:
    """Every saved report, newest week first (then by target name)."""
    root = Path(settings.data_dir) / "reports"
    if not root.is_dir():
        return []
    names = {target_slug(tg.name): tg.name for tg in settings.targets}
    found = []
    for path in root.glob("*/*.html"):
        slug, week_iso = path.parent.name, path.stem
        if not _SLUG.fullmatch(slug) or not WEEK_ISO.fullmatch(week_iso):
            continue
        target = names.get(slug) or _target_from_json(path.with_suffix(".json")) or slug
        created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        found.append(ReportInfo(target, week_iso, path, created, slug))
    found.sort(key=lambda r: (r.target.lower(), r.target))
    found.sort(key=lambda r: r.week_iso, reverse=True)
    return found


def _target_from_json(path: Path) -> str | None:
    """The target name written beside a report (for targets no longer in the config)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.debug("no readable digest JSON at %s: %s", path, exc)
        return None
    name = data.get("target") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def write_atomically(path: Path, content: str) -> None:
    """Write via a temporary file and rename, so the web app never serves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
