"""Fixtures of the distributed tests: a private PostgreSQL schema and a private queue prefix per test.

Real RabbitMQ (127.0.0.1:5672, guest/guest) and PostgreSQL on loopback; each test's queues, control
exchange and advisory locks carry its own prefix, and its tables live in its own schema, so tests running
in parallel (xdist) never see each other's workers, messages or locks.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
from amqp.exceptions import ChannelError
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from monitor.core.config import EarshotSettings, load_settings
from monitor.core.db import make_engine
from monitor.distributed import processes
from monitor.distributed.celery_app import STAGES, configure, queue_name
from tests.conftest import POSTGRES_URL, _require_postgres

BROKER = os.environ.get("EARSHOT_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
FAKE_SCORER = "tests.monitor.distributed.fakes:MarkedScorer"


def _require_rabbitmq() -> None:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=3).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("RabbitMQ is not reachable at 127.0.0.1:5672; CI must run the distributed tests")
        pytest.skip("RabbitMQ not reachable at 127.0.0.1:5672")


@dataclass
class Cluster:
    """One test's distributed installation: settings, engine, and the processes it started."""

    settings: EarshotSettings
    engine: Engine
    procs: list[BaseProcess] = field(default_factory=list)

    def with_settings(self, **updates: object) -> None:
        self.settings = self.settings.model_copy(update=updates)

    def worker(self, queues: tuple[str, ...] = STAGES, name: str = "w", **kw: object) -> BaseProcess:
        prefix = self.settings.distributed.queue_prefix
        proc = processes.start_worker(
            self.settings,
            queues,
            1,
            name=f"{name}@{prefix}",
            scorer_factory=FAKE_SCORER,
            **kw,  # type: ignore[arg-type]
        )
        self.procs.append(proc)
        return proc

    def scheduler(self) -> BaseProcess:
        proc = processes.start_scheduler(self.settings)
        self.procs.append(proc)
        return proc

    def wait_for_workers(self, count: int, timeout: float = 60) -> None:
        app = configure(self.settings)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=0.5) or []
            if len(replies) >= count:
                return
        raise AssertionError(f"{count} worker(s) did not answer within {timeout} s")


def wait_until(what: str, check: Callable[[], object], timeout: float = 60, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for: {what}")


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    _require_postgres()
    _require_rabbitmq()
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)
    prefix = f"t{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{prefix}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{prefix}"
    base = load_settings(data_dir=tmp_path)
    settings = base.model_copy(
        update={
            "database_url": url,
            "distributed": base.distributed.model_copy(
                update={"broker_url": SecretStr(BROKER), "queue_prefix": prefix, "leader_poll_seconds": 1}
            ),
            "digest": base.digest.model_copy(update={"enabled": False}),
            "schedule": base.schedule.model_copy(update={"crawl_jitter_seconds": 0}),
        }
    )
    engine = make_engine(url)
    c = Cluster(settings, engine)
    try:
        yield c
    finally:
        for proc in c.procs:
            processes.kill_group(proc)
        app = configure(settings)
        with app.connection_for_write() as conn, contextlib.suppress(OSError, ChannelError):
            channel = conn.channel()
            for stage in STAGES:
                channel.queue_delete(queue_name(prefix, stage))
            channel.exchange_delete(prefix)
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{prefix}" CASCADE'))
        admin.dispose()
