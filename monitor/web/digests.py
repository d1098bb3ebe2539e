"""The digest pages: the saved weekly reports (monitor.digest writes them) listed and served.

Why a wrapper over :mod:`monitor.digest.files`: the web app serves files named by a URL, so besides the
digest module's own slug/week check every path is resolved and must lie inside ``data_dir/reports``
(a symlink planted there cannot lead out either).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from monitor.core.config import EarshotSettings
from monitor.digest.files import find_report, list_reports

__all__ = ["DigestLink", "digest_file", "digest_links"]


@dataclass(frozen=True)
class DigestLink:
    target: str
    week: str
    href: str
    created: datetime


def digest_links(settings: EarshotSettings) -> list[DigestLink]:
    """Every saved report, newest week first, with the link the digest page serves it at."""
    links = []
    for report in list_reports(settings):
        slug = report.target_slug or report.path.parent.name
        if digest_file(settings, slug, report.week_iso) is None:
            continue  # only what the report page would serve (a symlink out is not listed either)
        href = f"/digests/{slug}/{report.week_iso}"
        links.append(DigestLink(report.target, report.week_iso, href, report.created))
    return links


def digest_file(settings: EarshotSettings, slug: str, week: str) -> Path | None:
    """The report file for ``/digests/<slug>/<week>``, or None (unknown, malformed, or outside reports)."""
    path = find_report(settings, slug, week)
    if path is None:
        return None
    root = (Path(settings.data_dir) / "reports").resolve()
    resolved = path.resolve()
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved
