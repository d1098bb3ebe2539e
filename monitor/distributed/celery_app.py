"""The Celery app of the distributed mode, and the per-process state its tasks use.

Delivery guarantees come from the settings below, and every one of them assumes the tasks are safe to
run twice (they are: :mod:`monitor.distributed.tasks`):

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after its task ran,
  and a task whose process died (``kill -9``, OOM) is handed back to the broker, which gives it to another
  worker. A whole worker that dies drops its broker connection, which returns its unacked messages too.
* ``worker_prefetch_multiplier = 1``: a worker holds one message per free process, so a dead worker
  strands nothing it had not started, and a busy one does not hoard crawls another could run.
* ``worker_cancel_long_running_tasks_on_connection_loss``: when a worker loses the broker, the broker
  redelivers its unacked messages elsewhere; the worker stops those tasks instead of finishing them
  beside their second copy (the database would keep the outcome right either way; this saves the work).
* Results are not stored (``task_ignore_result``): the database is the record; only the distributed
  demo asks for results, over ``rpc://``, of the tasks it sends itself.

Queue names and the control exchange carry ``distributed.queue_prefix``, so two installations (or two
tests) can share one broker and vhost without seeing each other's workers.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from celery import Celery
from kombu import Exchange, Queue
from kombu.utils.url import maybe_sanitize_url
from sqlalchemy import event
from sqlalchemy.engine import Engine

from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine
from monitor.core.settings_base import ConfigError

if TYPE_CHECKING:
    from monitor.pipeline import TextScorer

log = logging.getLogger(__name__)

STAGES = ("crawl", "score", "alerts", "digest")
# task name -> the stage (queue) it runs on; per-channel delivery shares the alerts queue.
TASK_STAGES = {
    "earshot.crawl": "crawl",
    "earshot.score": "score",
    "earshot.alerts": "alerts",
    "earshot.deliver": "alerts",
    "earshot.digest": "digest",
}

app = Celery("earshot", set_as_current=False)


def queue_name(prefix: str, stage: str) -> str:
    return f"{prefix}.{stage}"


def broker_url(settings: EarshotSettings) -> str:
    """The broker URL, or a ConfigError saying how to choose the distributed mode."""
    secret = settings.distributed.broker_url
    if secret is None or not secret.get_secret_value():
        raise ConfigError(
            "distributed mode needs a broker: set EARSHOT_DISTRIBUTED__BROKER_URL (e.g. "
            "amqp://guest:guest@127.0.0.1:5672// or redis://127.0.0.1:6379/0), or use `earshot run` "
            "on one machine"
        )
    return secret.get_secret_value()


def require_postgres(settings: EarshotSettings) -> str:
    """The database URL, which must be PostgreSQL: row locks and advisory locks are what make tasks safe."""
    url = settings.effective_database_url
    if not url.startswith("postgresql"):
        raise ConfigError(
            "distributed mode keeps all state in PostgreSQL: set EARSHOT_DATABASE_URL to "
            "postgresql+psycopg://user:pw@host:5432/earshot (SQLite is for `earshot run` on one machine)"
        )
    return url


def safe_broker(settings: EarshotSettings) -> str:
    """The broker URL with its password masked, for logs and `earshot status`."""
    return str(maybe_sanitize_url(broker_url(settings)))


def configure(settings: EarshotSettings) -> Celery:
    """Point the app at the configured broker and queues; called once per process before any task is sent."""
    url = broker_url(settings)
    require_postgres(settings)
    if STATE.settings is not None and STATE.settings is not settings:
        _forget_connections()
    prefix = settings.distributed.queue_prefix
    exchange = Exchange(prefix, type="direct", durable=True)
    queues = [
        Queue(queue_name(prefix, s), exchange, routing_key=queue_name(prefix, s), durable=True)
        for s in STAGES
    ]
    app.conf.update(
        broker_url=url,
        result_backend="rpc://",
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,  # a task that raised is recorded as a failed stage run
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker rides out a broker restart instead of exiting
        broker_heartbeat=10,
        broker_transport_options={"visibility_timeout": 3600, "confirm_publish": True},
        task_queues=queues,
        task_default_queue=queue_name(prefix, "score"),
        task_default_exchange=prefix,
        task_routes={
            name: {"queue": queue_name(prefix, stage), "routing_key": queue_name(prefix, stage)}
            for name, stage in TASK_STAGES.items()
        },
        control_exchange=f"{prefix}.control",
        event_exchange=f"{prefix}.events",
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        enable_utc=True,
        timezone="UTC",
    )
    STATE.settings = settings
    return app


def _forget_connections() -> None:
    """Drop what the app cached from its last configuration (pool, queues, control exchange, backend).

    Celery reads its settings once, when first used; a process that switches installations (the tests,
    the bench's runs) must start those objects again for the new broker URL and prefix.
    """
    app._pool = None  # not closed: objects made from it (a producer in flight) may still hold it
    for name in ("amqp", "control", "events", "oid", "_backend", "backend"):
        app.__dict__.pop(name, None)
    app._local = threading.local()


@dataclass
class ProcessState:
    """What a worker process keeps between tasks: the settings, one engine, the scorer (loaded once).

    Why module state: Celery's prefork pool forks its processes from the worker; each makes its own
    database engine after the fork (sockets must not be shared) and loads the model once, in
    ``worker_process_init``, instead of once per task.
    """

    settings: EarshotSettings | None = None
    engine: Engine | None = None
    scorer: TextScorer | None = None
    pid: int = field(default_factory=os.getpid)
    load_scorer_on_start: bool = False
    scorer_factory: str | None = None  # "module:callable" instead of the model (tests, model-free bench)

    def require_settings(self) -> EarshotSettings:
        if self.settings is None:
            raise ConfigError("the Celery app is not configured; start workers with `earshot worker`")
        return self.settings

    def require_engine(self) -> Engine:
        if self.engine is None or self.pid != os.getpid():
            self.pid = os.getpid()
            self.engine = make_engine(require_postgres(self.require_settings()))
            name = f"earshot-worker {socket.gethostname()}:{self.pid}"[:63]

            @event.listens_for(self.engine, "connect")
            def _name(dbapi_conn: Any, _record: Any) -> None:
                # pg_stat_activity then says which worker process holds a claim or a channel's lock.
                with dbapi_conn.cursor() as cur:
                    cur.execute("SELECT set_config('application_name', %s, false)", (name,))
                dbapi_conn.commit()

            self.engine.dispose()  # the schema check's connections were made before the name was set
        return self.engine

    def require_scorer(self) -> TextScorer:
        if self.scorer is None and self.scorer_factory:
            import importlib

            module, _, name = self.scorer_factory.partition(":")
            self.scorer = getattr(importlib.import_module(module), name)()
        if self.scorer is None:
            from monitor.pipeline import load_scorer

            self.scorer = load_scorer(self.require_settings())
        return self.scorer


STATE = ProcessState()
