"""Distributed mode: Celery workers on a broker (RabbitMQ, or Redis), PostgreSQL as the only state.

Chosen by setting ``distributed.broker_url``; ``earshot run`` stays the single-machine mode. The pieces:

* :mod:`~monitor.distributed.celery_app`: the Celery app, its queues (``<prefix>.crawl|score|alerts|digest``)
  and delivery guarantees (acks late, requeue on worker loss, one message prefetched at a time);
* :mod:`~monitor.distributed.tasks`: the tasks, each safe to run twice because the database, never the
  broker, makes them idempotent (claims ``FOR UPDATE SKIP LOCKED``, unique keys, advisory locks);
* :mod:`~monitor.distributed.delivery`: the alert pass of one channel under a PostgreSQL advisory lock, so
  Slack's ~1 message/s per channel holds across all workers;
* :mod:`~monitor.distributed.leader`: ``earshot scheduler``; an advisory lock elects one active scheduler,
  which only enqueues;
* :mod:`~monitor.distributed.worker_cli`: ``earshot worker``; :mod:`~monitor.distributed.status`:
  ``earshot status``; :mod:`~monitor.distributed.demo`: ``earshot demo --distributed``.

Nothing here is imported unless one of those commands runs (Celery costs CLI start-up time).
"""
