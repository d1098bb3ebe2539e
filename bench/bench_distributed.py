"""The distributed mode's throughput with 1 and with 2 workers, in one run, with the bundled model.

For each worker count, a fresh PostgreSQL schema and queue prefix on the configured broker, that many
`earshot worker` processes (all queues, ``--concurrency 1``, the model loaded before timing starts), then:

* **pipeline**: the demo's first act through the broker, event-driven as in production: one crawl task per
  demo source (loopback), each crawl that stored items fans out score tasks, each score pass an alert pass,
  each alert pass one delivery per channel (console sender; Slack's ~1 message/s per channel spacing holds).
  Timed from enqueueing the crawls until everything is settled: every mention scored, no alert due or
  being sent, every queue empty and no task running (polled every ~0.5 s: the resolution of the figure).
* **score**: ``--mentions`` stored mentions (bland texts: no alerts), then ``2 × workers`` score tasks;
  timed until every one is scored: the model-bound part, the one that more workers should speed up.

Per worker it prints the resident memory (psutil RSS) of the worker process and of its pool process (which
holds the model). No timed assertions. The machine may be shared: the load average is printed with the
figures. Needs EARSHOT_DISTRIBUTED__BROKER_URL and EARSHOT_DATABASE_URL (PostgreSQL):

    EARSHOT_DISTRIBUTED__BROKER_URL=amqp://guest:guest@127.0.0.1:5672// \\
    EARSHOT_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    .venv/bin/python bench/bench_distributed.py [--workers 1,2] [--mentions 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import and_, create_engine, func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.core.config import EarshotSettings, load_settings
from monitor.core.db import make_engine
from monitor.core.models import Alert, AlertStatus, Mention, SentimentScore
from monitor.demo import _demo_settings, demo_spiders
from monitor.demo_source import DemoSource
from monitor.distributed import processes
from monitor.distributed.celery_app import broker_url, configure, require_postgres
from monitor.distributed.demo import _drop_queues, _schema_url
from monitor.distributed.status import _depths

BLAND = [
    "Zamówienie dotarło, produkt zgodny z opisem.",
    "Order arrived on Tuesday, as described in the listing.",
    "Paczka odebrana w paczkomacie, wszystko w porządku.",
    "The pan works on induction, nice weight, good handle.",
]


def _unscored(engine: Engine) -> int:
    with Session(engine) as s:
        return int(
            s.exec(
                select(func.count())
                .select_from(Mention)
                .outerjoin(
                    SentimentScore,
                    and_(
                        col(SentimentScore.mention_id) == col(Mention.id),
                        col(SentimentScore.mention_version) == col(Mention.version),
                    ),
                )
                .where(col(SentimentScore.id).is_(None))
            ).one()
        )


def _due_alerts(engine: Engine) -> int:
    with Session(engine) as s:
        return int(
            s.exec(
                select(func.count())
                .select_from(Alert)
                .where(col(Alert.status).in_([AlertStatus.PENDING, AlertStatus.SENDING]))
            ).one()
        )


def _settled(engine: Engine, cfg: EarshotSettings) -> bool:
    if _unscored(engine) or _due_alerts(engine):
        return False
    if any(q.ready for q in _depths(cfg)):
        return False
    active = configure(cfg).control.inspect(timeout=0.5).active() or {}
    return not any(active.values())


def _wait(what: str, check: Any, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not settled after {timeout} s: {what}")
        time.sleep(0.2)


def _rss_mib(proc: BaseProcess) -> tuple[float, float]:
    """(worker process, its pool process(es)) resident MiB."""
    main = psutil.Process(proc.pid)
    pool = sum(c.memory_info().rss for c in main.children(recursive=True))
    return main.memory_info().rss / 2**20, pool / 2**20


def run(base: EarshotSettings, workers: int, mentions: int) -> dict[str, Any]:
    from monitor.distributed.tasks import crawl_source, score_mentions

    base_url = require_postgres(base)
    schema = f"earshot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(base_url, schema)
    data_dir = Path(tempfile.mkdtemp(prefix="earshot-bench-"))
    started: list[BaseProcess] = []
    out: dict[str, Any] = {"workers": workers}
    with DemoSource() as src:
        cfg = _demo_settings(base, src, data_dir, use_slack=False)
        cfg = cfg.model_copy(
            update={
                "database_url": url,
                "distributed": base.distributed.model_copy(update={"queue_prefix": schema}),
                "schedule": cfg.schedule.model_copy(update={"event_driven": True}),
            }
        )
        app = configure(cfg)
        engine = make_engine(url)
        try:
            t_load = time.monotonic()
            started = [
                processes.start_worker(
                    cfg,
                    concurrency=1,
                    name=f"bench{i + 1}@{schema}",
                    console_path=str(data_dir / f"w{i}.out"),
                )
                for i in range(workers)
            ]
            _wait("workers answer", lambda: len(app.control.ping(timeout=0.5) or []) >= workers)
            # Every worker takes one of these only once its pool process has loaded the model.
            warm = [score_mentions.apply_async(ignore_result=False) for _ in range(2 * workers)]
            for result in warm:
                result.get(timeout=900)
            out["ready_s"] = time.monotonic() - t_load
            out["rss_mib"] = [_rss_mib(p) for p in started]

            t0 = time.monotonic()
            for name in demo_spiders(src):
                crawl_source.delay(name)
            time.sleep(1)
            _wait("pipeline", lambda: _settled(engine, cfg))
            out["pipeline_s"] = time.monotonic() - t0
            with Session(engine) as s:
                out["pipeline_mentions"] = s.exec(select(func.count()).select_from(Mention)).one()
                out["pipeline_alerts"] = s.exec(
                    select(func.count()).select_from(Alert).where(col(Alert.status) == AlertStatus.PRINTED)
                ).one()

            with Session(engine) as s:
                for i in range(mentions):
                    s.add(Mention(source="bench", external_id=f"b{i}", text=f"{BLAND[i % len(BLAND)]} #{i}"))
                s.commit()
            t1 = time.monotonic()
            for _ in range(2 * workers):
                score_mentions.delay()
            _wait("score", lambda: _unscored(engine) == 0)
            out["score_s"] = time.monotonic() - t1
        finally:
            for proc in started:
                processes.stop(proc)
            _drop_queues(cfg)
            engine.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="worker counts to run, in order (default 1,2)")
    parser.add_argument("--mentions", type=int, default=300, help="stored mentions for the score figure")
    args = parser.parse_args()
    settings = load_settings()
    broker_url(settings)
    require_postgres(settings)
    counts = [int(n) for n in args.workers.split(",")]
    if len(counts) > 1:
        # Each worker count in a fresh interpreter: the Celery app is configured once per process (results
        # over rpc:// do not survive switching it to another prefix), as in production.
        print(f"cpus={os.cpu_count()} load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for n in counts:
            cmd = [sys.executable, __file__, "--workers", str(n), "--mentions", str(args.mentions)]
            done = subprocess.run(cmd, check=False)
            if done.returncode:
                return done.returncode
        return 0
    for n in counts:
        r = run(settings, n, args.mentions)
        rss = "; ".join(f"worker {m:.0f} MiB + pool {p:.0f} MiB" for m, p in r["rss_mib"])
        print(
            f"workers={n}: ready (model loaded) in {r['ready_s']:.1f} s; "
            f"pipeline (demo act 1: crawl 5 sources, score, alert) {r['pipeline_mentions']} mentions, "
            f"{r['pipeline_alerts']} alerts posted in {r['pipeline_s']:.1f} s; "
            f"score {args.mentions} mentions in {r['score_s']:.1f} s = {args.mentions / r['score_s']:.1f}/s; "
            f"RSS {rss}; load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
