"""The weekly run: every target's digest built, drawn, written to disk and posted to Slack (or printed).

The top of the package: it alone puts the numbers (:mod:`~monitor.digest.queries`), the charts, the
rendering and the report files together, so the scheduler's Monday job and ``earshot digest`` share one
code path. A Slack failure never loses a report: the files are written first and the error is returned.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from alerts.slack_errors import SlackError
from alerts.slack_sender import ConsoleSender
from monitor.core.config import EarshotSettings
from monitor.core.models import TargetRow
from monitor.core.timeutil import as_utc, utcnow
from monitor.digest.charts import render_charts
from monitor.digest.errors import DigestError
from monitor.digest.files import report_path, write_atomically
from monitor.digest.i18n import t
from monitor.digest.queries import build_digest
from monitor.digest.render import render_html, summary_text
from monitor.digest.report import Digest
from monitor.digest.weeks import Week, last_full_week

__all__ = ["DigestResult", "FileUploader", "run_digest"]

logger = logging.getLogger(__name__)


@runtime_checkable
class FileUploader(Protocol):
    """A sender that can share files with a comment (``SlackSender``); others get the summary printed."""

    def upload_files(
        self, channel: str, files: list[tuple[str, bytes]], initial_comment: str, title: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class DigestResult:
    target: str
    week: str
    path: Path  # the HTML report
    json_path: Path
    digest: Digest
    posted: bool = False  # shared in Slack
    printed: bool = False  # no Slack token: the summary went to the console
    error: str | None = None  # why posting failed (the report is written anyway)


def _targets(engine: Engine, settings: EarshotSettings, wanted: Iterable[str] | None) -> list[str]:
    """The configured targets (else those in the database); names asked for must be one of them."""
    with engine.connect() as conn:
        stored = [
            str(n) for n in conn.execute(select(col(TargetRow.name)).order_by(col(TargetRow.name))).scalars()
        ]
    known = [tg.name for tg in settings.targets] or stored
    if wanted is None:
        return known
    chosen = list(dict.fromkeys(wanted))
    unknown = [n for n in chosen if n not in known and n not in stored]
    if unknown:
        raise DigestError(
            f"unknown target(s) {', '.join(map(repr, unknown))}; known: {', '.join(map(repr, known)) or 'none'}"
        )
    return chosen


def run_digest(
    engine: Engine,
    settings: EarshotSettings,
    *,
    week: Week | None = None,
    targets: list[str] | None = None,
    sender: object | None = None,
    now: datetime | None = None,
    out: Callable[[str], None] | None = None,
) -> list[DigestResult]:
    """Build, render and write each target's digest of ``week`` (default: the last full week) and post it.

    With a sender that uploads files (``SlackSender``) the charts go to ``digest.channel`` (else
    ``slack.default_channel``) with the summary; with a ``ConsoleSender`` the summary and the report path
    are printed (``out``, default stdout); with none, only the files are written. A Slack failure is
    logged and returned in ``DigestResult.error``; the other targets still run.
    """
    moment = as_utc(now) or utcnow()
    chosen_week = week or last_full_week(moment, settings.digest.timezone)
    lang = settings.digest.language
    channel = settings.digest.channel or settings.slack.default_channel
    results = []
    for target in _targets(engine, settings, targets):
        digest = build_digest(engine, settings, target, chosen_week, now=moment)
        charts = render_charts(digest, lang)
        path = report_path(settings, target, chosen_week.iso)
        json_path = path.with_suffix(".json")
        write_atomically(json_path, json.dumps(digest.to_dict(), ensure_ascii=False, indent=1))
        write_atomically(path, render_html(digest, charts, settings))
        posted = printed = False
        error = None
        if isinstance(sender, FileUploader):
            files = [(f"{digest.target_slug}-{digest.week}-{name}.png", png) for name, png in charts.items()]
            try:
                sender.upload_files(
                    channel, files, summary_text(digest), title=f"{t('title', lang)} {digest.week}"
                )
                posted = True
            except SlackError as exc:
                error = str(exc)
                logger.warning("digest for %s %s not posted to Slack: %s", target, digest.week, error)
        elif isinstance(sender, ConsoleSender):
            write = out or _print
            write(f"{summary_text(digest, mrkdwn=False)}\n{t('report_saved', lang)}: {path}\n")
            printed = True
        results.append(DigestResult(target, chosen_week.iso, path, json_path, digest, posted, printed, error))
    return results


def _print(message: str) -> None:
    print(message, file=sys.stdout, flush=True)
