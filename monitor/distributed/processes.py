"""Start workers and schedulers as separate OS processes with given settings (demo, bench, tests).

``earshot worker`` / ``earshot scheduler`` read their settings from the environment and config file;
the demo's settings exist only in memory (its sources listen on ports chosen at start), so these start
the same :func:`run_worker` / :func:`run_scheduler` in a freshly spawned interpreter with the settings
handed over. Each child leads a process group of its own, so :func:`kill_group` takes its pool
processes and crawl children with it, as when a machine dies.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from multiprocessing.process import BaseProcess

from monitor.core.config import EarshotSettings

_SPAWN = multiprocessing.get_context("spawn")


def _child_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(processName)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _worker_main(
    settings: EarshotSettings,
    queues: list[str],
    concurrency: int,
    name: str | None,
    level: str,
    scorer_factory: str | None,
    console_path: str | None = None,
) -> None:
    os.setpgrp()
    _child_logging(level)
    from monitor.distributed.worker_cli import run_worker

    console = None
    if console_path is not None:
        # What the worker prints (the console sender's alerts) goes to a file of its own, appended line by
        # line, so the demo can show it and count every alert it printed, per worker.
        console = open(console_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115  lives as long as the process
        os.dup2(console.fileno(), 1)
        sys.stdout = console
    sys.exit(
        run_worker(
            settings,
            queues,
            concurrency,
            name=name,
            loglevel=level,
            scorer_factory=scorer_factory,
            keep_stdout=console is not None,
        )
    )


def _scheduler_main(settings: EarshotSettings, level: str) -> None:
    os.setpgrp()
    _child_logging(level)
    from monitor.distributed.leader import run_scheduler

    sys.exit(run_scheduler(settings))


def start_worker(
    settings: EarshotSettings,
    queues: Sequence[str] = ("crawl", "score", "alerts", "digest"),
    concurrency: int = 1,
    *,
    name: str | None = None,
    log_level: str = "WARNING",
    scorer_factory: str | None = None,
    console_path: str | None = None,
) -> BaseProcess:
    """A worker in a process of its own; ``console_path``: a file that gets what it prints (no banner)."""
    proc = _SPAWN.Process(
        target=_worker_main,
        args=(settings, list(queues), concurrency, name, log_level, scorer_factory, console_path),
        name=name or "earshot-worker",
    )
    proc.start()
    return proc


def start_scheduler(settings: EarshotSettings, *, log_level: str = "WARNING") -> BaseProcess:
    proc = _SPAWN.Process(target=_scheduler_main, args=(settings, log_level), name="earshot-scheduler")
    proc.start()
    return proc


def kill_group(proc: BaseProcess, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process and everything it started (its pool processes, a running crawl)."""
    if proc.pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.join(timeout=10)


def stop(proc: BaseProcess, timeout: float = 20) -> None:
    """SIGTERM (Celery's warm shutdown: running tasks finish), then SIGKILL of the group after ``timeout``."""
    if proc.pid is None or not proc.is_alive():
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    proc.join(timeout=timeout)
    if proc.is_alive():
        kill_group(proc)
