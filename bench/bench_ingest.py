"""Ingestion: 10,000 reviews into SQLite and PostgreSQL, old per-item upsert against set-based batches.

A local Google Business Profile API (``monitor.demo_source``, the data of ``bench_crawl.make_data``) serves
``--items`` reviews (default 10,000) in pages of 50 across ``--locations`` locations. Measured in one run:

* **raw fetch**: every page fetched and JSON-decoded with ``urllib`` from as many threads as Scrapy may use
  for one host: what the network and the server alone allow (the baseline);
* **crawl**: the ``google_business`` spider with the validation and storage pipelines into a fresh
  database, once with the storage as it was (``tests/monitor/core/per_item_upsert.py``: about five
  statements per item, each batch's items one by one) and once as shipped (``upsert_mentions``: a
  handful of statements per batch). Each crawl runs in a fresh process; ``items/s`` uses Scrapy's
  ``elapsed_time_seconds``, ``CPU s`` is that process's CPU time during the crawl (not the database server's);
* **storage only**: the same reviews as ``MentionIn`` stored in batches of ``--batch-size`` (default 100,
  the pipeline's default) by each path, without Scrapy: first all new, then all again (unchanged), the
  database part of a crawl and of a re-read (``CPU s``: this process's).

PostgreSQL runs in a private schema of ``--postgres URL`` (default: the test database); ``--no-postgres``
skips it. No politeness delays: AutoThrottle off, ``DOWNLOAD_DELAY`` 0.

    .venv/bin/python bench/bench_ingest.py [--items 10000] [--locations 20] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the old path lives with the tests that check the new one against it

from bench_crawl import ACCOUNT, DEFAULT_PG_URL, FAST, PAGE_SIZE, make_data, postgres_schema, raw_fetch  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from monitor.core.config import EarshotSettings, Target  # noqa: E402
from monitor.core.db import make_engine, write_session  # noqa: E402
from monitor.core.models import CrawlRun, Mention  # noqa: E402
from monitor.core.store import MentionIn, Upserted, upsert_mentions  # noqa: E402
from monitor.demo_source import DemoSource  # noqa: E402
from spiders import pipelines  # noqa: E402
from spiders.runner import run_crawl, scrapy_settings  # noqa: E402
from tests.monitor.core.per_item_upsert import legacy_upsert_mention  # noqa: E402

STARS = {"ONE": 1.0, "TWO": 2.0, "THREE": 3.0, "FOUR": 4.0, "FIVE": 5.0}
TARGET = "Bench shop"


def per_item(session: Session, items: Sequence[MentionIn]) -> list[Upserted]:
    """The old storage: each item of the batch through the per-item upsert, in one transaction."""
    results = []
    for item in items:
        row, outcome = legacy_upsert_mention(session, item)
        results.append(Upserted(row.id or 0, outcome))
    return results


PATHS: dict[str, Callable[[Session, Sequence[MentionIn]], list[Upserted]]] = {
    "per-item (old)": per_item,
    "set-based (new)": upsert_mentions,
}


@dataclass
class Result:
    name: str
    items: int
    seconds: float
    cpu: float | None = None
    batches: int | None = None

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


# -- crawls, each in a fresh process ------------------------------------------------------------------


def _crawl_child(path: str, db_url: str, base_url: str, token: str, locations: list[str]) -> dict[str, Any]:
    """Runs in a spawned process: one in-process crawl with the storage path ``path``."""
    assert hasattr(pipelines, "upsert_mentions"), "store_batch no longer calls upsert_mentions"
    pipelines.upsert_mentions = PATHS[path]  # type: ignore[assignment]
    settings = EarshotSettings(
        database_url=db_url,
        targets=[Target(name=TARGET, google_account_id=ACCOUNT, google_location_ids=locations)],
        sources={
            "google_business": {
                "base_url": base_url,
                "access_token": token,
                "page_size": PAGE_SIZE,
                "max_requests": 100_000,
            }
        },
    )
    before = resource.getrusage(resource.RUSAGE_SELF)
    summary = run_crawl(settings, "google_business", isolate=False, scrapy_overrides=FAST)
    after = resource.getrusage(resource.RUSAGE_SELF)
    engine = make_engine(db_url)
    with Session(engine) as session:
        stored = session.exec(select(func.count()).select_from(Mention)).one()
        run = session.get(CrawlRun, summary.run_id)
        stats = dict(run.stats) if run else {}
    engine.dispose()
    if summary.finish_reason != "finished" or summary.errors or stored != summary.items_new:
        raise RuntimeError(f"{path}: the crawl did not complete cleanly: {summary} (stored {stored})")
    return {
        "items": summary.items_new,
        "seconds": float(stats["elapsed_time_seconds"]),
        "batches": stats.get("earshot/storage_batches"),
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }


def crawl(name: str, path: str, db_url: str, base_url: str, token: str, locations: list[str]) -> Result:
    make_engine(db_url).dispose()  # schema first, outside the measurement
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = pool.submit(_crawl_child, path, db_url, base_url, token, locations).result()
    return Result(f"crawl {name}, {path}", done["items"], done["seconds"], done["cpu"], done["batches"])


# -- storage only --------------------------------------------------------------------------------------


def as_mentions(data: dict[str, Any]) -> list[MentionIn]:
    """The generated reviews as the spider hands them to storage."""
    mentions = []
    for location in data["locations"]:
        for review in location["reviews"]:
            when = datetime.fromisoformat(review["updateTime"].replace("Z", "+00:00"))
            mentions.append(
                MentionIn(
                    source="google_business",
                    external_id=review["reviewId"],
                    text=review["comment"],
                    url=f"http://127.0.0.1/v4/accounts/{ACCOUNT}/locations/{location['location_id']}/reviews",
                    author=review["reviewer"]["displayName"],
                    target=TARGET,
                    rating=STARS[review["starRating"]],
                    created_at=when,
                    updated_at=when,
                    raw=review,
                )
            )
    return mentions


def store_all(engine: Engine, mentions: list[MentionIn], batch_size: int, path: str) -> tuple[float, float]:
    """Wall and CPU seconds (this process's, not the database server's) to store ``mentions`` in batches."""
    upsert = PATHS[path]
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(mentions), batch_size):
        with write_session(engine) as session:
            upsert(session, mentions[first : first + batch_size])
    return time.perf_counter() - start, time.process_time() - cpu


def storage_only(
    name: str, db_url: str, mentions: list[MentionIn], batch_size: int, path: str
) -> list[Result]:
    engine = make_engine(db_url)
    try:
        new = store_all(engine, mentions, batch_size, path)
        again = store_all(engine, mentions, batch_size, path)
    finally:
        engine.dispose()
    return [
        Result(f"store {name}, {path}, new", len(mentions), *new),
        Result(f"store {name}, {path}, unchanged", len(mentions), *again),
    ]


@contextmanager
def databases(tmp: Path, postgres: str | None, tag: str) -> Iterator[list[tuple[str, str]]]:
    """A fresh SQLite file and, unless disabled, a fresh PostgreSQL schema: (name, URL) pairs."""
    sqlite = ("SQLite", f"sqlite:///{tmp / f'{tag}.db'}")
    if postgres is None:
        yield [sqlite]
        return
    with postgres_schema(postgres) as pg_url:
        yield [sqlite, ("PostgreSQL", pg_url)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=100, help="storage-only batches (default 100)")
    parser.add_argument("--postgres", default=DEFAULT_PG_URL, metavar="URL")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)
    postgres = None if args.no_postgres else args.postgres

    per_domain = scrapy_settings(None, FAST).getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    data = make_data(args.items, args.locations)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        data_file = tmp / "reviews.json"
        data_file.write_text(json.dumps(data), encoding="utf-8")
        with DemoSource(data_file, sources=["google_business"], shift_to_now=False) as server:
            token, locations = server.access_token, server.location_ids
            print(
                f"{args.items} reviews, {args.locations} locations, pages of {PAGE_SIZE}; server "
                f"{server.base_url}; {per_domain} concurrent requests per host; load average "
                f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
            )
            raw = raw_fetch(server.base_url, token, locations, per_domain)
            results.append(Result(raw.name, raw.items, raw.seconds))
            for path in PATHS:
                with databases(tmp, postgres, f"crawl-{len(results)}") as dbs:
                    for name, url in dbs:
                        results.append(crawl(name, path, url, server.base_url, token, locations))
        mentions = as_mentions(data)
        for path in PATHS:
            with databases(tmp, postgres, f"store-{len(results)}") as dbs:
                for name, url in dbs:
                    results.extend(storage_only(name, url, mentions, args.batch_size, path))

    baseline = results[0].items_per_second
    print(f"\n{'':<46}{'items':>7}{'seconds':>9}{'items/s':>9}{'vs raw':>8}{'CPU s':>7}{'batches':>9}")
    for r in results:
        share = f"{r.items_per_second / baseline:8.1%}" if baseline else f"{'':>8}"
        cpu = f"{r.cpu:7.1f}" if r.cpu is not None else f"{'':>7}"
        batches = f"{r.batches:>9}" if r.batches else ""
        print(f"{r.name:<46}{r.items:>7}{r.seconds:>9.2f}{r.items_per_second:>9.0f}{share}{cpu}{batches}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        print(json.dumps([{**vars(r), "items_per_second": r.items_per_second} for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
