"""Crawl throughput: items per second through a spider and the item pipeline into the database.

A local Google Business Profile API (``monitor.demo_source`` with generated data) serves ``--items``
reviews (default 10,000) in pages of 50 across ``--locations`` locations (default 20). Measured in one run:

* **raw fetch baseline**: the same pages fetched and JSON-decoded with ``urllib`` from as many threads as
  Scrapy may use for one host (``CONCURRENT_REQUESTS_PER_DOMAIN``), following ``nextPageToken``: what the
  network and the server alone allow;
* **crawl**: ``spiders.runner.run_crawl`` of the ``google_business`` spider (isolated child process,
  validation and storage pipelines, watermarks, crawl-run recording) into a fresh SQLite database, and
  with ``--postgres`` into a private schema of a PostgreSQL database. ``spider`` time is Scrapy's
  ``elapsed_time_seconds`` (open to close); ``wall`` adds starting the child process; ``CPU s`` is the
  child's own CPU time (not the database server's), which a busy machine disturbs less than the clock.

The gap between the two is the cost of Scrapy plus validation plus the upserts, committed in batches of
up to ``EARSHOT_STORE_BATCH_SIZE`` (``--batch-size``; the table shows the batches the crawl formed). No
politeness delays: AutoThrottle off, ``DOWNLOAD_DELAY`` 0; concurrency as configured in spiders/settings.py.

    .venv/bin/python bench/bench_crawl.py [--items 10000] [--locations 20] [--postgres [URL]] [--batch-size N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ACCOUNT = "900100200"
PAGE_SIZE = 50
DEFAULT_PG_URL = os.environ.get(
    "EARSHOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
FAST = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "LOG_LEVEL": "WARNING", "LOGSTATS_INTERVAL": 0}
STARS = ["ONE", "TWO", "THREE", "FOUR", "FIVE"]
SENTENCES = [
    "Paczka przyszła uszkodzona, a obsługa klienta nie odpisuje na maile od tygodnia.",
    "Super obsługa, szybka wysyłka, wszystko zgodne z opisem, polecam!",
    "Zwrot pieniędzy trwał ponad miesiąc, nigdy więcej nie zamówię w tym sklepie.",
    "Kurier zostawił przesyłkę pod drzwiami bez uprzedzenia, na szczęście nic nie zginęło.",
    "The order arrived two weeks late and support ignored every single message.",
    "Great pans, fast delivery, and the returns desk was friendly.",
    "I asked for a refund three times and still have not heard back from anyone.",
]


def make_data(items: int, locations: int, seed: int = 7) -> dict[str, Any]:
    """Demo GBP data: ``items`` reviews spread over ``locations``, one minute apart, newest first."""
    rnd = random.Random(seed)
    newest = datetime.now(UTC) - timedelta(hours=1)
    per_location: list[list[dict[str, Any]]] = [[] for _ in range(locations)]
    for i in range(items):
        when = (newest - timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        per_location[i % locations].append(
            {
                "reviewId": f"bench{i:07d}",
                "reviewer": {"displayName": f"Klient {rnd.randrange(10**6)}", "isAnonymous": False},
                "starRating": rnd.choice(STARS),
                "comment": " ".join(rnd.choice(SENTENCES) for _ in range(rnd.randint(1, 4))),
                "createTime": when,
                "updateTime": when,
            }
        )
    return {
        "business": "Bench shop",
        "account_id": ACCOUNT,
        "locations": [
            {"location_id": str(7000000000 + n), "reviews": reviews} for n, reviews in enumerate(per_location)
        ],
    }


@dataclass
class Result:
    name: str
    items: int
    requests: int
    seconds: float  # the measured section
    wall: float | None = None
    batches: int | None = None  # storage transactions of items (earshot/storage_batches)
    cpu: float | None = None  # CPU seconds of the crawl process (user + system), robust to a busy machine

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def raw_fetch(base_url: str, token: str, locations: list[str], threads: int) -> Result:
    """Every page of every location with urllib: fetch, decode JSON, follow nextPageToken."""

    def location(loc: str) -> tuple[int, int]:
        reviews = pages = 0
        token_param = ""
        while True:
            url = (
                f"{base_url}/v4/accounts/{ACCOUNT}/locations/{loc}/reviews?pageSize={PAGE_SIZE}{token_param}"
            )
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())
            pages += 1
            reviews += len(body.get("reviews", []))
            if "nextPageToken" not in body:
                return reviews, pages
            token_param = f"&pageToken={quote(body['nextPageToken'])}"

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        done = list(pool.map(location, locations))
    seconds = time.perf_counter() - start
    return Result("raw fetch (urllib)", sum(r for r, _ in done), sum(p for _, p in done), seconds)


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A private schema in the PostgreSQL database at ``url``, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def crawl(
    name: str, db_url: str, base_url: str, token: str, locations: list[str], batch_size: int | None = None
) -> Result:
    """One isolated google_business crawl into ``db_url``; checks that every review was stored."""
    from sqlmodel import Session, func, select

    from monitor.core.config import EarshotSettings, Target
    from monitor.core.db import make_engine
    from monitor.core.models import CrawlRun, Mention
    from spiders.runner import run_crawl

    settings = EarshotSettings(
        database_url=db_url,
        targets=[Target(name="Bench shop", google_account_id=ACCOUNT, google_location_ids=locations)],
        sources={
            "google_business": {
                "base_url": base_url,
                "access_token": token,
                "page_size": PAGE_SIZE,
                "max_requests": 100_000,
            }
        },
    )
    make_engine(db_url).dispose()  # schema first, outside the measurement
    overrides = {**FAST, **({"EARSHOT_STORE_BATCH_SIZE": batch_size} if batch_size else {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    summary = run_crawl(settings, "google_business", isolate=True, scrapy_overrides=overrides)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    engine = make_engine(db_url)
    with Session(engine) as s:
        stored = s.exec(select(func.count()).select_from(Mention)).one()
        run = s.get(CrawlRun, summary.run_id)
        stats = run.stats if run else {}
        elapsed = float(stats.get("elapsed_time_seconds") or wall)
    engine.dispose()
    if summary.finish_reason != "finished" or summary.errors or stored != summary.items_new:
        raise SystemExit(f"{name}: crawl did not complete cleanly: {summary} (stored {stored})")
    batches = stats.get("earshot/storage_batches")
    return Result(f"crawl → {name}", summary.items_new, summary.requests, elapsed, wall, batches, cpu)


def main(argv: list[str] | None = None) -> int:
    from monitor.demo_source import DemoSource
    from spiders.runner import scrapy_settings

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_PG_URL,
        default=None,
        metavar="URL",
        help="also crawl into PostgreSQL",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="N",
        help="EARSHOT_STORE_BATCH_SIZE for the crawls (default: as configured)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)

    per_domain = scrapy_settings(None, FAST).getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    with tempfile.TemporaryDirectory(prefix="earshot-bench-") as tmp:
        data_file = Path(tmp) / "reviews.json"
        data_file.write_text(json.dumps(make_data(args.items, args.locations)), encoding="utf-8")
        results = []
        with DemoSource(data_file, sources=["google_business"], shift_to_now=False) as server:
            token, locations = server.access_token, server.location_ids
            print(
                f"{args.items} reviews, {args.locations} locations, pages of {PAGE_SIZE}; "
                f"server {server.base_url}; {per_domain} concurrent requests per host"
            )
            results.append(raw_fetch(server.base_url, token, locations, per_domain))
            results.append(
                crawl(
                    "SQLite",
                    f"sqlite:///{Path(tmp) / 'bench.db'}",
                    server.base_url,
                    token,
                    locations,
                    args.batch_size,
                )
            )
            if args.postgres:
                with postgres_schema(args.postgres) as pg_url:
                    results.append(
                        crawl("PostgreSQL", pg_url, server.base_url, token, locations, args.batch_size)
                    )
    baseline = results[0].items_per_second
    print(
        f"\n{'':<22}{'items':>7}{'requests':>10}{'seconds':>9}{'items/s':>9}{'vs raw':>8}{'wall s':>8}"
        f"{'CPU s':>7}{'batches':>9}{'per batch':>10}"
    )
    for r in results:
        wall = f"{r.wall:8.1f}" if r.wall is not None else f"{'':>8}"
        share = f"{r.items_per_second / baseline:7.1%}" if baseline else ""
        cpu = f"{r.cpu:7.1f}" if r.cpu is not None else f"{'':>7}"
        batches = f"{r.batches:>9}{r.items / r.batches:>10.1f}" if r.batches else ""
        print(
            f"{r.name:<22}{r.items:>7}{r.requests:>10}{r.seconds:>9.2f}{r.items_per_second:>9.0f}{share:>8}{wall}"
            f"{cpu}{batches}"
        )
    if args.json:
        print(json.dumps([{**vars(r), "items_per_second": r.items_per_second} for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
