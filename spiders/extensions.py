"""Record every spider run in ``crawl_runs`` with its counters, so a broken source shows up in reports."""

from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from scrapy import Spider, signals
from sqlalchemy.engine import Engine

from monitor.core.db import make_engine, session_scope
from monitor.core.models import CrawlRun, utcnow
from monitor.core.store import start_crawl_run
from spiders.config import earshot_settings
from spiders.failures import classify, every_request_failed

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON types: times as ISO strings, unknown objects as their ``str``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return str(value)


def count_errors(stats: Mapping[str, Any]) -> int:
    """Errors in a run: ERROR/CRITICAL log lines, or spider exceptions if more (logging may be off).

    Scrapy logs every spider exception at ERROR, so the two are not added up. A run in which every
    request failed to download counts at least one error, even if nothing was logged at ERROR.
    """
    logged = int(stats.get("log_count/ERROR", 0)) + int(stats.get("log_count/CRITICAL", 0))
    errors = max(logged, int(stats.get("spider_exceptions/count", 0)))
    return max(errors, 1) if every_request_failed(stats) else errors


class CrawlRunRecorder:
    """Open a ``crawl_runs`` row when the spider opens and fill in its outcome when it closes.

    When the runner created the row already (``EARSHOT_CRAWL_RUN_ID``), that row is used, so the runner
    can mark it ``crashed`` if the crawl process dies before closing. The row carries this process's pid
    and host while it is open, so a later crawl can tell a run still going from one killed mid-way. The
    full stats go into ``CrawlRun.stats``, with the run's log file (``earshot/log_file``).
    """

    def __init__(self, crawler: Crawler, engine: Engine, run_id: int | None) -> None:
        self.crawler = crawler
        self.engine = engine
        self.run_id = run_id

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        engine = make_engine(earshot_settings(crawler.settings).effective_database_url)
        run_id = crawler.settings.getint("EARSHOT_CRAWL_RUN_ID") or None
        recorder = cls(crawler, engine, run_id)
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    def spider_opened(self, spider: Spider) -> None:
        with session_scope(self.engine) as session:
            run = session.get(CrawlRun, self.run_id) if self.run_id else None
            if run is None:
                run = start_crawl_run(session, spider.name)
            run.spider = spider.name
            run.pid, run.host = os.getpid(), socket.gethostname()[:255]
            session.add(run)
            session.flush()
            self.run_id = run.id
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("earshot/crawl_run_id", self.run_id)
        log_file = self.crawler.settings.get("LOG_FILE")
        if log_file:
            self.crawler.stats.set_value("earshot/log_file", str(log_file))
        logger.info("Recording this crawl as crawl_runs id %s", self.run_id)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        assert self.crawler.stats is not None
        stats = self.crawler.stats.get_stats()
        try:
            with session_scope(self.engine) as session:
                run = session.get(CrawlRun, self.run_id) if self.run_id else None
                if run is None:
                    run = start_crawl_run(session, spider.name)
                fill_run(run, stats, reason)
                session.add(run)
        finally:
            self.engine.dispose()
        logger.info(
            "Crawl %s finished (%s%s): %d new, %d updated, %d unchanged, %d rejected, %d requests, %d errors",
            self.run_id,
            reason,
            f", failure {run.failure}: {run.failure_detail}" if run.failure else "",
            run.items_new,
            run.items_updated,
            run.items_unchanged,
            run.items_rejected,
            run.requests,
            run.errors,
        )


def fill_run(run: CrawlRun, stats: Mapping[str, Any], reason: str | None) -> None:
    """Copy a Scrapy stats dict into the run's counters and its JSON ``stats`` column."""
    run.finished_at = utcnow()
    run.items_new = int(stats.get("earshot/items_new", 0))
    run.items_updated = int(stats.get("earshot/items_updated", 0))
    run.items_unchanged = int(stats.get("earshot/items_unchanged", 0))
    run.items_rejected = int(stats.get("earshot/items_rejected", 0))
    run.requests = int(stats.get("downloader/request_count", 0))
    run.errors = count_errors(stats)
    run.finish_reason = (reason or "unknown")[:64]
    run.stats = json_safe(dict(stats))
    failure = classify(stats, run.finish_reason, run.errors)
    run.failure = failure.code if failure is not None else None
    run.failure_detail = failure.detail if failure is not None else None
