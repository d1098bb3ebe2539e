"""Redis as the broker, the README's documented alternative to RabbitMQ: a score task end to end.

Real Redis on loopback (database 5, not the default 0); the test's queues and bindings carry its own
prefix, and only keys holding that prefix are deleted afterwards, so other users of that database keep
theirs. Needs the ``redis`` client (``pip install 'earshot[redis]'``, part of the dev extras).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
import redis
from pydantic import SecretStr

from monitor.distributed.celery_app import configure
from tests.monitor.distributed.conftest import Cluster, wait_until
from tests.monitor.distributed.test_distributed import _all_scored, _scores, _seed

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REDIS_BROKER = os.environ.get("EARSHOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


@pytest.fixture
def redis_cluster(cluster: Cluster) -> Iterator[Cluster]:
    """The test's cluster with Redis as its broker; afterwards its prefixed keys are gone from Redis."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=3).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable at 127.0.0.1:6379; CI must run the Redis broker test")
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    distributed = cluster.settings.distributed.model_copy(update={"broker_url": SecretStr(REDIS_BROKER)})
    cluster.with_settings(distributed=distributed)
    prefix = distributed.queue_prefix
    client = redis.Redis.from_url(REDIS_BROKER)
    try:
        yield cluster
    finally:
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
        # Kombu's shared index of fanout bindings (a sorted set): only this test's members go.
        deadlines = "_kombu.binding_deadlines"
        mine = [m for m in client.zrange(deadlines, 0, -1) if isinstance(m, bytes) and prefix.encode() in m]
        if mine:
            client.zrem(deadlines, *mine)
        client.close()


def test_a_score_task_runs_end_to_end_through_a_redis_broker(redis_cluster: Cluster) -> None:
    cluster = redis_cluster
    _seed(cluster, 8)
    cluster.worker(("score",), name="w1")
    cluster.wait_for_workers(1)
    configure(cluster.settings)
    from monitor.distributed.tasks import score_mentions

    score_mentions.delay()
    prefix = cluster.settings.distributed.queue_prefix
    bindings = redis.Redis.from_url(REDIS_BROKER).keys(f"_kombu.binding.{prefix}*")
    assert bindings, "the task's queues are bound in Redis, not in RabbitMQ"
    wait_until("the worker scores what was sent through Redis", lambda: _all_scored(cluster), timeout=60)
    mentions, scores, distinct = _scores(cluster)
    assert mentions == scores == distinct == 8
