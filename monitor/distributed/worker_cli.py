"""`earshot worker`: a Celery worker on the configured broker, consuming some or all of the stage queues.

Prefork pool: each task runs in a pool process of its own, which loads the model once (when the worker
takes scores) and makes its own database engine; a crawl still starts its own child process under it,
so Scrapy's reactor is fresh each time. Torch gets the cores divided between the pool processes, so two
scoring processes on two cores do not fight over four threads.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence

from monitor.core.config import EarshotSettings
from monitor.core.settings_base import ConfigError
from monitor.distributed.celery_app import STAGES, STATE, configure, queue_name, safe_broker

log = logging.getLogger(__name__)


def parse_queues(text: str | None, settings: EarshotSettings) -> list[str]:
    """``crawl,score`` → stage names, checked; None → ``distributed.queues``."""
    if text is None:
        return list(settings.distributed.queues)
    stages = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise ConfigError(
            f"unknown queue(s) {', '.join(unknown) or '(none given)'}; choose from {','.join(STAGES)}"
        )
    return list(dict.fromkeys(stages))


def worker_settings(settings: EarshotSettings, concurrency: int) -> EarshotSettings:
    """Torch threads per pool process: the cores shared out, unless sentiment.threads says otherwise."""
    if settings.sentiment.threads:
        return settings
    threads = max(1, (os.cpu_count() or 1) // max(1, concurrency))
    return settings.model_copy(
        update={"sentiment": settings.sentiment.model_copy(update={"threads": threads})}
    )


def run_worker(
    settings: EarshotSettings,
    queues: Sequence[str],
    concurrency: int | None = None,
    *,
    name: str | None = None,
    loglevel: str = "INFO",
    scorer_factory: str | None = None,
    keep_stdout: bool = False,
) -> int:
    """Run a worker until SIGTERM/SIGINT (Celery's warm shutdown: running tasks finish first).

    ``scorer_factory`` ("module:callable") replaces the model: the fault tests and the bench's
    model-free figures use it; ``earshot worker`` never does. ``keep_stdout``: no banner, and what tasks
    print stays on stdout instead of going to the log (the demo collects it from a file).
    """
    procs = concurrency or settings.distributed.concurrency or (os.cpu_count() or 1)
    settings = worker_settings(settings, procs)
    app = configure(settings)
    import monitor.distributed.tasks  # noqa: F401  registers the tasks on the app

    STATE.load_scorer_on_start = "score" in queues
    STATE.scorer_factory = scorer_factory
    prefix = settings.distributed.queue_prefix
    node = name or f"{prefix}-{os.getpid()}@{socket.gethostname()}"
    log.info(
        "earshot worker %s: queues %s, %d process(es), broker %s",
        node,
        ",".join(queues),
        procs,
        safe_broker(settings),
    )
    worker = app.Worker(
        hostname=node,
        queues=[queue_name(prefix, q) for q in queues],
        concurrency=procs,
        pool="prefork",
        loglevel=loglevel,
        without_gossip=True,
        without_mingle=True,
        optimization="fair",
        quiet=keep_stdout,
        redirect_stdouts=not keep_stdout,
    )
    worker.start()
    return int(worker.exitcode or 0)
