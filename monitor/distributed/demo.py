"""`earshot demo --distributed`: the demo's three acts through the broker, run by two worker processes.

Same data, same acts and the same summary as ``earshot demo`` (see :mod:`monitor.demo`), but every stage
is a task on the configured broker (``distributed.broker_url``), and the state lives in a fresh schema of
the configured PostgreSQL database (``database_url``; kept afterwards, so it can be browsed). The demo
sends the stage tasks itself, in order (crawl every source, score, alert), and waits for them, so the
acts stay the same as on one machine.

Each worker prints the alerts it delivers (no Slack token: the console sender) into a file of its own;
the demo shows them after each act and, at the end, checks the invariants from two records that do not
share code: the database (every mention version scored once, nothing left claimed or due) and those
console files (every alert the database calls printed was printed exactly once, by either worker).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from amqp.exceptions import ChannelError
from sqlalchemy import create_engine, func, or_, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.cli_text import counts_line, seconds, t
from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine, redact_url
from monitor.core.models import Alert, AlertStatus, Mention, SentimentScore
from monitor.core.timeutil import utcnow
from monitor.demo import _demo_settings, _print_alert_kinds, _print_mentions, demo_spiders
from monitor.demo_source import DemoSource
from monitor.distributed import processes
from monitor.distributed.celery_app import STAGES, broker_url, configure, queue_name, require_postgres

TASK_TIMEOUT = 900  # seconds one stage may take (the first score pass loads the model in each worker)
WORKERS = 2
# The console sender's header line (alerts.slack_sender.ConsoleSender): one per printed alert.
_HEADER = re.compile(r"^--- Earshot alert #(\d+) for ", re.MULTILINE)


def _schema_url(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def _run(task: Any, *args: Any) -> dict[str, Any]:
    return dict(task.apply_async(args=args, ignore_result=False).get(timeout=TASK_TIMEOUT))


class ConsoleRecord:
    """The files the workers print their alerts into: shown act by act, counted per alert id at the end."""

    def __init__(self, directory: Path, workers: int) -> None:
        self.paths = [directory / f"worker{i + 1}.console" for i in range(workers)]
        for path in self.paths:
            path.touch()
        self._offsets = [0] * workers
        self.printed: Counter[int] = Counter()

    def take_new(self) -> list[tuple[int, str]]:
        """The alerts printed since the last call, ordered by alert id (the order they were decided in)."""
        blocks: list[tuple[int, str]] = []
        for i, path in enumerate(self.paths):
            with path.open("rb") as fh:
                fh.seek(self._offsets[i])
                chunk = fh.read()
            cut = chunk.rfind(b"\n--- Earshot alert #")  # a block may still be being written: keep it
            done = chunk if cut <= 0 or chunk.endswith(b"\n\n") else chunk[:cut]
            self._offsets[i] += len(done)
            content = done.decode("utf-8", errors="replace")
            starts = [m.start() for m in _HEADER.finditer(content)] + [len(content)]
            for start, end in pairwise(starts):
                match = _HEADER.match(content, start)
                assert match is not None
                blocks.append((int(match.group(1)), content[start:end].strip()))
        for alert_id, _ in blocks:
            self.printed[alert_id] += 1
        return sorted(blocks)


def _delivery_done(engine: Engine, offset: float) -> bool:
    """Nothing claimed, and nothing due whose parent (for a thread reply) is settled."""
    now = utcnow() + timedelta(seconds=offset)
    with Session(engine) as s:
        busy = s.exec(
            select(func.count())
            .select_from(Alert)
            .where(
                or_(
                    col(Alert.status) == AlertStatus.SENDING,
                    (col(Alert.status) == AlertStatus.PENDING)
                    & or_(col(Alert.next_attempt_at).is_(None), col(Alert.next_attempt_at) <= now),
                )
            )
        ).one()
    return busy == 0


def _alerts(engine: Engine, record: ConsoleRecord, label: str, language: str, offset: float = 0.0) -> None:
    from monitor.distributed.tasks import alerts_pass

    counts = _run(alerts_pass, offset)
    channels = counts.pop("channel_names", [])
    deadline = time.monotonic() + TASK_TIMEOUT
    while channels and not _delivery_done(engine, offset) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(0.2)  # the last print lands in its file just after its row is marked printed
    for _, block in record.take_new():
        print(f"\n{block}\n")
    shown = {k: v for k, v in counts.items() if v}
    listed = ", ".join(f"{t(language, k)}={v}" for k, v in shown.items()) or t(language, "nothing new")
    where = t(language, "console (no Slack token set)")
    print(t(language, "alerts (%(label)s): %(counts)s → %(where)s", label=label, counts=listed, where=where))


def _crawl_and_score(spiders: list[str], workers: int, language: str) -> None:
    from monitor.distributed.tasks import crawl_source, score_mentions

    pending = [(name, crawl_source.apply_async(args=(name,), ignore_result=False)) for name in spiders]
    for name, result in pending:
        counts = result.get(timeout=TASK_TIMEOUT)
        print(f"crawl {name:<16} " + ", ".join(f"{t(language, k)}={v}" for k, v in counts.items() if v))
    started = time.monotonic()
    scores = [score_mentions.apply_async(ignore_result=False) for _ in range(workers)]
    total: dict[str, int] = {}
    for result in scores:
        for key, value in result.get(timeout=TASK_TIMEOUT).items():
            total[key] = total.get(key, 0) + value
    print(f"{counts_line('score', total, language)} ({seconds(time.monotonic() - started, language)})")


def invariants(engine: Engine, printed: Counter[int], workers: int) -> str:
    """The last line: counted in the database and in the workers' console record, never assumed.

    duplicates: score rows beyond one per mention version, plus alerts printed more than once.
    lost: mention versions without a score, alerts still claimed or due, and alerts the database calls
    printed that no worker printed (or printed ones the database does not know).
    """
    with Session(engine) as s:
        mentions = s.exec(select(func.count()).select_from(Mention)).one()
        versions = s.exec(select(func.coalesce(func.sum(Mention.version), 0))).one()
        scores = s.exec(select(func.count()).select_from(SentimentScore)).one()
        scored = s.exec(
            select(func.count())
            .select_from(Mention)
            .join(
                SentimentScore,
                (col(SentimentScore.mention_id) == col(Mention.id))
                & (col(SentimentScore.mention_version) == col(Mention.version)),
            )
        ).one()
        alerts = s.exec(select(func.count()).select_from(Alert)).one()
        delivered = set(s.exec(select(Alert.id).where(Alert.status == AlertStatus.PRINTED)).all())
        open_alerts = s.exec(
            select(func.count())
            .select_from(Alert)
            .where(
                or_(
                    col(Alert.status) == AlertStatus.SENDING,
                    (col(Alert.status) == AlertStatus.PENDING) & col(Alert.next_attempt_at).is_(None),
                )
            )
        ).one()
    # A score row per mention version at most (the unique key), so any extra row would be a duplicate.
    duplicates = max(0, scores - int(versions)) + sum(n - 1 for n in printed.values() if n > 1)
    unprinted = len({i for i in delivered if i is not None} - set(printed))
    unknown = len(set(printed) - delivered)
    lost = (mentions - scored) + open_alerts + unprinted + unknown
    return (
        f"distributed: workers={workers} mentions={mentions} scored={scored} alerts={alerts} "
        f"duplicates={duplicates} lost={lost}"
    )


def _drop_queues(settings: EarshotSettings) -> None:
    """The demo's queues and exchange go with it (its schema stays, to be browsed)."""
    app = configure(settings)
    prefix = settings.distributed.queue_prefix
    with app.connection_for_write() as conn, contextlib.suppress(OSError, ChannelError):
        channel = conn.channel()
        for stage in STAGES:
            channel.queue_delete(queue_name(prefix, stage))
        channel.exchange_delete(prefix)


def run_distributed_demo(settings: EarshotSettings, workers: int = WORKERS) -> int:
    """The demo through the broker; returns a process exit code (1 when an invariant does not hold)."""
    from monitor.distributed.tasks import crawl_source  # noqa: F401  registers the tasks

    broker_url(settings)
    base_url = require_postgres(settings)
    t0 = time.monotonic()
    schema = f"earshot_demo_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = _schema_url(base_url, schema)
    data_dir = Path(tempfile.mkdtemp(prefix="earshot-demo-"))
    record = ConsoleRecord(data_dir, workers)
    started: list[Any] = []
    with DemoSource() as src:
        cfg = _demo_settings(settings, src, data_dir, use_slack=False)
        cfg = cfg.model_copy(
            update={
                "database_url": url,
                "distributed": settings.distributed.model_copy(update={"queue_prefix": schema}),
                "schedule": cfg.schedule.model_copy(update={"event_driven": False}),  # the demo sequences
            }
        )
        language = cfg.console_language
        configure(cfg)
        spiders = demo_spiders(src)
        print(t(language, "demo sources at %(url)s:", url=src.base_url))
        for name, what in src.describe().items():
            note = "" if name in spiders else "  " + t(language, "(no spider installed yet: not crawled)")
            print(f"  {name:<16} {what}{note}")
        print(t(language, "database: %(url)s", url=redact_url(url)) + f" (schema {schema})")
        engine = make_engine(url)
        try:
            started = [
                processes.start_worker(
                    cfg,
                    concurrency=1,
                    name=f"demo{i + 1}@{schema}",
                    console_path=str(record.paths[i]),
                )
                for i in range(workers)
            ]
            print(
                t(
                    language,
                    "started %(n)s workers; the first score pass waits for each to load the model",
                    n=workers,
                )
                + "\n"
            )
            print("== " + t(language, "act 1: the first crawl") + " ==")
            _crawl_and_score(spiders, workers, language)
            _alerts(engine, record, t(language, "act 1"), language)
            act2 = t(
                language, "act 2: new activity (a courier breaks down; a review is edited; a thread reply)"
            )
            print(f"\n== {act2} ==")
            changed = src.advance()
            print(counts_line("served", {k: v for k, v in changed.items() if v}, language))
            _crawl_and_score(spiders, workers, language)
            _alerts(engine, record, t(language, "act 2"), language)
            print("\n== " + t(language, "act 3: two hours later, nobody has answered") + " ==")
            _alerts(engine, record, "+2 h", language, 2 * 3600)
            print("\n== " + t(language, "act 3: three hours later, the complaints have stopped") + " ==")
            _alerts(engine, record, "+3 h", language, 3 * 3600)
        finally:
            for proc in started:
                processes.stop(proc)
            _drop_queues(cfg)
    for _, block in record.take_new():  # anything a worker printed after its act was shown
        print(f"\n{block}\n")
    _print_mentions(url, language)
    _print_alert_kinds(engine, language)
    summary = invariants(engine, record.printed, workers)
    engine.dispose()
    print("\n" + t(language, "demo finished in %(time)s", time=seconds(time.monotonic() - t0, language)))
    print(t(language, "schema %(schema)s kept: DROP SCHEMA %(schema)s CASCADE", schema=schema))
    print(summary)
    return 0 if summary.endswith("duplicates=0 lost=0") else 1
