"""Run a spider from Python and get its outcome back, safely and repeatably.

By default the crawl runs in a child process (multiprocessing "spawn"): the Twisted reactor cannot be
restarted inside one process, and a crash in a spider or extension must not take the caller (the
scheduler, the CLI) down with it. The ``crawl_runs`` row is created before the child starts, so a
child that dies is still recorded, as ``crashed`` with its exit code. A caller that runs many crawls in a
row (the test suite) may start the children from a fork server instead (``use_crawl_fork_server``): the
same isolation, without importing Scrapy and SQLModel again for every crawl.

Scrapy's log goes to a file per run under ``data_dir/logs/`` (:mod:`spiders.crawl_logs`), never to the
console; the summary says where it is, and why the run failed (:mod:`spiders.failures`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext, SpawnContext
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader
from sqlalchemy.engine import Engine
from twisted.python.failure import Failure

from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine, session_scope
from monitor.core.models import CrawlRun, utcnow
from monitor.core.store import start_crawl_run
from spiders.abandoned import this_host
from spiders.crawl_logs import log_path, prune_logs
from spiders.failures import classify, failure_where

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CRAWL_FAILED = 2  # the crawl could not start (a component raised while being built)
_TERMINATE_GRACE_SECONDS = 30.0

_in_process_crawl_done = False
# Where isolated crawls start: a freshly spawned interpreter each, unless use_crawl_fork_server() was called.
_child_context: SpawnContext | ForkServerContext = multiprocessing.get_context("spawn")


class CrawlError(Exception):
    """A crawl could not be started: unknown spider, or a second in-process crawl in this process."""


@dataclass
class CrawlSummary:
    """The outcome of one crawl, as recorded in its ``crawl_runs`` row."""

    run_id: int | None
    spider: str
    items_new: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    items_rejected: int = 0
    requests: int = 0
    errors: int = 0
    finish_reason: str | None = None
    exit_code: int | None = None  # of the child process; None for in-process crawls
    failure: str | None = None  # spiders.failures code: connection_refused, dns, timeout, http_5xx, ...
    failure_detail: str | None = None
    failure_where: str | None = None  # host:port that failed, when known
    log_file: str | None = None  # Scrapy's log of this run
    seconds: float | None = None  # wall time, process start included

    @property
    def ok(self) -> bool:
        """Finished normally and without errors."""
        return self.finish_reason == "finished" and self.errors == 0 and self.failure is None


def scrapy_settings(
    settings: EarshotSettings | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Scrapy settings: ``spiders.settings``, then EarshotSettings (and its log level), then overrides."""
    result = Settings()
    result.setmodule("spiders.settings", priority="project")
    if settings is not None:
        result.set("EARSHOT_SETTINGS", settings, priority="cmdline")
        result.set("LOG_LEVEL", settings.log_level.upper(), priority="project")
    if overrides:
        result.setdict(dict(overrides), priority="cmdline")
    return result


def available_spiders(overrides: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the spiders ``run_crawl`` can run."""
    return sorted(get_spider_loader(scrapy_settings(None, overrides)).list())


def use_crawl_fork_server(preload: Sequence[str] = ("spiders.runner",)) -> None:
    """Start later isolated crawls from a fork server, a clean process that imports ``preload`` once.

    Each crawl still gets a process and a reactor of its own, its arguments pickled as with spawn, and
    crashes, hangs and timeouts are handled alike; it only skips importing Scrapy and SQLModel afresh
    (about two seconds a crawl). For callers that run many crawls in one process, such as the test suite:
    the service keeps the default, a spawned interpreter per crawl. The children see the environment
    variables the server started with (at the first crawl), not the caller's at the time of each crawl.
    """
    global _child_context
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    _child_context = context


def run_crawl(
    settings: EarshotSettings,
    spider: str = "google_business",
    isolate: bool = True,
    *,
    scrapy_overrides: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> CrawlSummary:
    """Run ``spider`` to completion and return its summary from ``crawl_runs``.

    ``isolate=False`` runs in this process: only once per process (the reactor cannot restart), for
    one-shot commands. ``scrapy_overrides`` are extra Scrapy settings (tests, LOG_FILE...). ``timeout``
    (isolated only) stops the child gracefully, then forcibly, after that many seconds.

    Without a LOG_FILE override, Scrapy logs to ``data_dir/logs/<start>_<spider>_run<id>.log`` and older
    files of the spider beyond ``settings.crawl_logs_keep`` are deleted.
    """
    known = available_spiders(scrapy_overrides)
    if spider not in known:
        raise CrawlError(f"unknown spider {spider!r}; available: {', '.join(known) or 'none'}")
    if not isolate and _in_process_crawl_done:
        raise CrawlError(
            "an in-process crawl already ran in this process and Twisted's reactor cannot restart; "
            "use run_crawl(..., isolate=True)"
        )
    began = time.monotonic()
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            run = start_crawl_run(session, spider)
            # Until the crawl process records its own pid, the run belongs to this process.
            run.pid, run.host = os.getpid(), this_host()
            session.add(run)
            run_id = run.id
        overrides = {**(scrapy_overrides or {}), "EARSHOT_CRAWL_RUN_ID": run_id}
        if not overrides.get("LOG_FILE"):
            prune_logs(settings.data_dir, spider, settings.crawl_logs_keep - 1)
            overrides["LOG_FILE"] = str(log_path(settings.data_dir, spider, run_id))
        if isolate:
            exit_code, timed_out = _run_isolated(settings, spider, overrides, timeout)
            summary = _finish(engine, run_id, exit_code, timed_out, timeout)
        else:
            exit_code = _run_in_process(settings, spider, overrides)
            summary = _finish(engine, run_id, exit_code, timed_out=False)
            summary.exit_code = None
        summary.log_file = summary.log_file or str(overrides["LOG_FILE"])
        summary.seconds = time.monotonic() - began
        return summary
    finally:
        engine.dispose()


def _run_isolated(
    settings: EarshotSettings, spider: str, overrides: Mapping[str, Any], timeout: float | None
) -> tuple[int | None, bool]:
    """Run the crawl in a child process; return its exit code and whether it had to be stopped."""
    child = _child_context.Process(
        target=_child_main, args=(settings, spider, dict(overrides)), name=f"earshot-crawl-{spider}"
    )
    child.start()
    timed_out = False
    try:
        child.join(timeout)
        if child.is_alive():
            timed_out = True
            logger.error("Crawl %s ran over %.0f s; stopping it", spider, timeout or 0)
            child.terminate()  # SIGTERM: Scrapy shuts down gracefully and records "shutdown"
            child.join(_TERMINATE_GRACE_SECONDS)
    finally:
        if child.is_alive():
            child.kill()
            child.join()
    return child.exitcode, timed_out


def _child_main(settings: EarshotSettings, spider: str, overrides: dict[str, Any]) -> None:
    """Entry point of the crawl process."""
    sys.exit(_crawl_here(settings, spider, overrides, install_signal_handlers=True))


def _run_in_process(settings: EarshotSettings, spider: str, overrides: Mapping[str, Any]) -> int:
    global _in_process_crawl_done
    _in_process_crawl_done = True
    return _crawl_here(
        settings,
        spider,
        overrides,
        install_signal_handlers=threading.current_thread() is threading.main_thread(),
    )


def _crawl_here(
    settings: EarshotSettings, spider: str, overrides: Mapping[str, Any], install_signal_handlers: bool
) -> int:
    """Run one crawl with a CrawlerProcess in this process; the exit code for the parent.

    Scrapy's root handler writes to the run's LOG_FILE. Without a file, an application's own logging
    setup is kept when it has one (LOG_INSTALL_ROOT_HANDLER off), else Scrapy's console handler is used.
    """
    crawl_settings = scrapy_settings(settings, overrides)
    install = bool(crawl_settings.get("LOG_FILE")) or not logging.getLogger().handlers
    crawl_settings.set("LOG_INSTALL_ROOT_HANDLER", install, priority="cmdline")
    process = CrawlerProcess(crawl_settings)
    failures: list[Failure] = []
    process.crawl(spider).addErrback(failures.append)
    process.start(install_signal_handlers=install_signal_handlers)
    for failure in failures:
        logger.error("Crawl %s could not run: %s", spider, failure.getTraceback())
    return EXIT_CRAWL_FAILED if failures else EXIT_OK


def _finish(
    engine: Engine,
    run_id: int | None,
    exit_code: int | None,
    timed_out: bool,
    timeout: float | None = None,
) -> CrawlSummary:
    """Read the run back; a run the crawl never closed is ``crashed``, one stopped by ``timeout`` says so."""
    with session_scope(engine) as session:
        run = session.get(CrawlRun, run_id)
        if run is None:
            raise CrawlError(f"crawl_runs row {run_id} disappeared during the crawl")
        if run.finish_reason is None or timed_out:
            if run.finish_reason is None:
                logger.error(
                    "Crawl %s (%s) ended without closing its spider (exit code %s)",
                    run.id,
                    run.spider,
                    exit_code,
                )
            run.finish_reason = "timeout" if timed_out else "crashed"
            run.finished_at = run.finished_at or utcnow()
            run.stats = {**(run.stats or {}), "earshot/exit_code": exit_code}
            found = classify(run.stats, run.finish_reason, run.errors)
            run.failure = found.code if found is not None else run.finish_reason
            if timed_out:
                run.failure_detail = f"the crawl ran longer than {timeout or 0:.0f} s and was stopped"
            else:
                run.failure_detail = (
                    f"the crawl process ended (exit code {exit_code}) without closing its run; "
                    "its log says what it was doing"
                )
            session.add(run)
        stats = run.stats or {}
        return CrawlSummary(
            run_id=run.id,
            spider=run.spider,
            items_new=run.items_new,
            items_updated=run.items_updated,
            items_unchanged=run.items_unchanged,
            items_rejected=run.items_rejected,
            requests=run.requests,
            errors=run.errors,
            finish_reason=run.finish_reason,
            exit_code=exit_code,
            failure=run.failure,
            failure_detail=run.failure_detail,
            failure_where=failure_where(stats, run.failure),
            log_file=stats.get("earshot/log_file"),
        )
