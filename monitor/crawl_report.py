"""What a crawl pass prints: one line per source a person can read, in English or Polish.

``ceneo            ok  15 new, 2 updated (3.1 s)``
``google_business  failed: connection refused (127.0.0.1:9)  0 new · log: /srv/earshot/logs/…_run12.log``

The reason is a category (:mod:`spiders.failures`), not a traceback; Scrapy's own log of the run is in the
file named at the end. ``console_language`` picks the language; the words are the ``cli`` gettext
domain's (:mod:`monitor.cli_text`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from monitor.cli_text import seconds, t, when
from monitor.pipeline import CrawlPass, StageReport
from spiders.abandoned import AbandonedRun
from spiders.failures import failure_words

if TYPE_CHECKING:  # the runner imports Scrapy; printing a line must not
    from spiders.runner import CrawlSummary

__all__ = ["abandoned_line", "crawl_line", "crawl_lines", "skipped_line"]

Language = Literal["en", "pl"]
_DETAIL_CHARS = 160


def _seconds(value: float | None, language: Language) -> str:
    return "" if value is None else f" ({seconds(value, language)})"


def _counts(summary: CrawlSummary, language: Language) -> str:
    parts = [t(language, "%(n)s new", n=summary.items_new)]
    if summary.items_updated:
        parts.append(t(language, "%(n)s updated", n=summary.items_updated))
    if summary.items_rejected:
        parts.append(t(language, "%(n)s rejected", n=summary.items_rejected))
    return ", ".join(parts)


def _why(summary: CrawlSummary, language: Language) -> str:
    words = failure_words(summary.failure or "error", language)
    if summary.failure_where:
        return f"{words} ({summary.failure_where})"
    detail = " ".join((summary.failure_detail or "").split())
    if detail:
        cut = detail if len(detail) <= _DETAIL_CHARS else detail[: _DETAIL_CHARS - 1] + "…"
        return f"{words}: {cut}"
    return words


def crawl_line(
    name: str, summary: CrawlSummary | None, report: StageReport, language: Language = "en", width: int = 0
) -> str:
    """One source's outcome: ``ok`` with its counts and time, or ``failed: <why>`` with its log file."""
    label = name.ljust(width)
    if summary is None:
        return f"{label}  {t(language, 'failed')}: {t(language, 'the crawl could not start')}: {report.error}"
    if summary.ok:
        return (
            f"{label}  {t(language, 'ok')}  {_counts(summary, language)}{_seconds(summary.seconds, language)}"
        )
    line = f"{label}  {t(language, 'failed')}: {_why(summary, language)}  {_counts(summary, language)}"
    if summary.log_file:
        line += f" · {t(language, 'log')}: {summary.log_file}"
    return line


def skipped_line(name: str, why: str, language: Language = "en") -> str:
    return t(language, "skipped %(name)s: %(why)s", name=name, why=why)


def abandoned_line(run: AbandonedRun, language: Language = "en") -> str:
    """A crawl run a killed process left open, now closed; its start with the zone written out."""
    return t(
        language,
        "closed crawl run #%(id)s (%(name)s, started %(when)s) as crashed: %(why)s",
        id=run.run_id,
        name=run.spider,
        when=when(run.started_at, language),
        why=run.why,
    )


NAME_WIDTH = 15  # the longest source name (google_business): the columns line up


def crawl_lines(result: CrawlPass, language: Language = "en", *, crawled: bool = True) -> list[str]:
    """The pass as the console shows it: closed runs of killed crawls, one line per source, the skipped.

    ``crawled=False`` leaves out the per-source lines, for a caller that printed them as they came.
    """
    lines = [abandoned_line(run, language) for run in result.abandoned]
    if crawled:
        for report in result.reports:
            name = report.stage.removeprefix("crawl:")
            lines.append(crawl_line(name, result.summaries.get(name), report, language, NAME_WIDTH))
    lines += [skipped_line(name, why, language) for name, why in result.skipped.items()]
    return lines
