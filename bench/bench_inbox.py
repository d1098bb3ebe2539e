"""The inbox at a million mentions: p50/p95 of each filter, deep page and search, before and after 0008.

For each database (SQLite file, and PostgreSQL in a private schema of ``--postgres URL`` that is created and
dropped; ``--no-postgres`` skips it):

1. a fresh database at the head revision has the inbox's objects (``monitor.core.inbox_schema``) taken out
   again: the schema as it was at revision 0007;
2. ``--rows`` mentions (default 1,000,000) are bulk-loaded: 6 sources, 24 targets, two years of times,
   Polish and English review sentences with inflected forms ("kurier", "kuriera", "kurierem", "zwrotu
   pieniędzy", with and without diacritics), a sentiment score each, an alert on 6 % of them;
3. **before**: each case through the pre-0008 query (``bench/inbox_baseline.py``: no sort index, substring
   search);
4. the upgrade as revision 0008 does it (``install`` + ``enqueue_all``), then ``index_all`` (the words of
   every mention), both timed;
5. **after**: each case through ``monitor.web.queries.inbox_page``, and a few through ``GET /inbox`` of
   the real app over HTTP (sign-in included once, not timed).
6. the orders of revision 0010 (``sort=time asc|reach|severity|sla``, ``SORT_CASES``): without its indexes
   (``inbox_schema.drop_sort_indexes``), then with them (``--no-sorts`` skips this; ``--only sort=`` alone).

The "before" search column is the old substring search; its hit counts differ from the new matcher's by
design (``kurier`` as a substring also finds "kurierski" and misses nothing inflected only by its ending).

    .venv/bin/python bench/bench_inbox.py [--rows 1000000] [--repeats 15] [--no-postgres] [--no-http]
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inbox_baseline import inbox_page_before  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from monitor.core import inbox_schema  # noqa: E402
from monitor.core.db import make_engine  # noqa: E402
from monitor.web.queries import inbox_page, parse_filters  # noqa: E402
from monitor.web.search import index_all  # noqa: E402

DEFAULT_PG_URL = os.environ.get(
    "EARSHOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PAGE_SIZE = 50
ONLY = ""
"""``--only``: measure just the cases whose label starts with it."""
SOURCES = ("google_business", "trustpilot", "ceneo", "allegro", "mastodon", "reddit")
SOURCE_WEIGHTS = (40, 20, 15, 15, 6, 4)
TARGETS = [
    f"Sklep {name}" for name in ("Kowalski", "Nowak", "Żuraw", "Wiśniewski", "Lewandowski", "Zieliński")
]
TARGETS += [f"{city} store" for city in ("Kraków", "Warszawa", "Gdańsk", "Poznań", "Łódź", "Wrocław")]
TARGETS += [f"Księgarnia {n}" for n in range(12)]
PL = (
    "Kurier zostawił paczkę pod drzwiami", "paczka przyszła uszkodzona", "czekam na zwrot pieniędzy",
    "zwrotu pieniedzy nadal brak", "reklamacja odrzucona bez powodu", "obsługa nie odpowiada na maile",
    "kuriera nie było w domu", "rozmawiałam z kurierem", "szybka wysyłka, polecam", "towar zgodny z opisem",
    "kontakt ze sklepem bardzo dobry", "zamówienie doszło w terminie", "opakowanie mogłoby być lepsze",
    "cena w porządku", "Kurierowi należy się premia", "dostawa trwała tydzień", "produkt działa świetnie",
    "zepsuło się po tygodniu", "nie polecam tego sklepu", "reklamację rozpatrzono szybko",
)  # fmt: skip
EN = (
    "the courier left the parcel at the door", "still waiting for my refund", "great service, will order again",
    "delivery took two weeks", "the package arrived damaged", "nobody answers the phone", "friendly staff",
    "refunded within a day", "product as described", "terrible customer support", "fast shipping",
)  # fmt: skip
NAMES = ("Anna Nowak", "Jan Kowalski", "Zofia Wójcik", "Piotr Łęcki", "Kasia", "John Smith", "Ewa Żak")

CASES: list[tuple[str, dict[str, str]]] = [
    ("newest, page 1", {}),
    ("sentiment=negative", {"sentiment": "negative"}),
    ("sentiment=positive", {"sentiment": "positive"}),
    ("urgency=critical", {"urgency": "critical"}),
    ("status=unhandled", {"status": "unhandled"}),
    ("status=handled", {"status": "handled"}),
    ("assignee=U0AGENT02", {"assignee": "U0AGENT02"}),
    ("source=mastodon", {"source": "mastodon"}),
    ("target=Księgarnia 7", {"target": "Księgarnia 7"}),
    ("one month", {"date_from": "2026-03-01", "date_to": "2026-03-31"}),
    ("negative+source+month", {"sentiment": "negative", "source": "ceneo", "date_from": "2026-03-01"}),
    ("page 200", {"page": "200"}),
    ("page 2000", {"page": "2000"}),
    ("negative, page 200", {"sentiment": "negative", "page": "200"}),
    ("q=kurier", {"q": "kurier"}),
    ("q=kurierem", {"q": "kurierem"}),
    ("q=zwrot pieniedzy", {"q": "zwrot pieniedzy"}),
    ("q=refund", {"q": "refund"}),
    ("q=Wójcik (author)", {"q": "Wójcik"}),
    ("q=kurier, page 20", {"q": "kurier", "page": "20"}),
    ("q=kurier+negative+target", {"q": "kurier", "sentiment": "negative", "target": "Sklep Nowak"}),
    ("q=sanepid (no hit)", {"q": "sanepid"}),
]
# The orders of revision 0010 (monitor.web.inbox_sort), measured without and with its indexes.
SORT_CASES: list[tuple[str, dict[str, str]]] = [
    ("sort=time asc", {"sort": "time", "dir": "asc"}),
    ("sort=reach", {"sort": "reach"}),
    ("sort=reach asc", {"sort": "reach", "dir": "asc"}),
    ("sort=reach, page 200", {"sort": "reach", "page": "200"}),
    ("sort=reach+source=mastodon", {"sort": "reach", "source": "mastodon"}),
    ("sort=severity", {"sort": "severity"}),
    ("sort=severity asc", {"sort": "severity", "dir": "asc"}),
    ("sort=severity, page 200", {"sort": "severity", "page": "200"}),
    ("sort=severity+target", {"sort": "severity", "target": "Księgarnia 7"}),
    ("sort=sla", {"sort": "sla"}),
    ("sort=sla, page 20", {"sort": "sla", "page": "20"}),
    ("sort=sla+status=unhandled", {"sort": "sla", "status": "unhandled"}),
    ("sort=sla, page 2000 (rest)", {"sort": "sla", "page": "2000"}),
    ("sort=reach+q=kurier", {"sort": "reach", "q": "kurier"}),
    ("sort=sla+q=kurier", {"sort": "sla", "q": "kurier"}),
]
SLA_MINUTES = {"urgent": 60.0, "negative": 1440.0}


def _texts(rng: random.Random, count: int) -> Iterator[tuple[str, str, str | None]]:
    for _ in range(count):
        phrases = PL if rng.random() < 0.75 else EN
        parts = rng.sample(phrases, rng.randint(1, 3))
        body = ". ".join(p[0].upper() + p[1:] for p in parts) + "."
        if rng.random() < 0.02:
            body += " Zgłaszam sprawę do prawnika."
        yield body, rng.choice(NAMES), ("pl" if phrases is PL else "en")


def fill(engine: Engine, rows: int, seed: int = 7) -> None:
    """Bulk-load ``rows`` mentions with one score each and alerts on some (Core executemany / COPY)."""
    rng = random.Random(seed)
    reach_rng = random.Random(seed + 1)  # its own stream: the rest of the data is as before revision 0010
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = int(timedelta(days=730).total_seconds())
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO targets (name, created_at) VALUES (:n, :t)"), [
            {"n": name, "t": start} for name in TARGETS
        ])  # fmt: skip
    batch = 50_000
    mention_id = 0
    alert_id = 0
    for offset in range(0, rows, batch):
        mentions, scores, alerts = [], [], []
        for body, author, lang in _texts(rng, min(batch, rows - offset)):
            mention_id += 1
            created = start + timedelta(seconds=rng.randrange(span))
            reach = int(reach_rng.paretovariate(1.2) * 100) if reach_rng.random() < 0.1 else None
            label = rng.choices(("negative", "neutral", "positive"), (35, 35, 30))[0]
            urgency = (
                rng.choices(("none", "elevated", "critical"), (96, 3, 1))[0]
                if label == "negative"
                else "none"
            )
            mentions.append({
                "id": mention_id, "source": rng.choices(SOURCES, SOURCE_WEIGHTS)[0], "external_id": f"e{mention_id}",
                "target_id": rng.randint(1, len(TARGETS)), "author": author, "text": body, "lang": lang,
                "created_at": None if rng.random() < 0.02 else created, "first_seen_at": created,
                "last_seen_at": created, "version": 1, "reach": reach,
            })  # fmt: skip
            scores.append({
                "mention_id": mention_id, "mention_version": 1, "label": label, "urgency": urgency,
                "score": -0.8 if label == "negative" else 0.5, "confidence": 0.9, "model_name": "bench",
                "model_version": "1", "scored_at": created, "probabilities": "{}", "urgency_reasons": "[]",
                "aspects": "[]", "label_source": "text", "lang": lang,
            })  # fmt: skip
            if label == "negative" and rng.random() < 0.17:
                alert_id += 1
                handled = rng.random() < 0.7
                alerts.append({
                    "dedupe_key": f"mention:{mention_id}:alert", "mention_id": mention_id, "mention_version": 1,
                    "kind": "negative", "severity": "urgent" if urgency == "critical" else "negative",
                    "reason": "r", "channel": "#c", "status": "sent", "sent_at": created,
                    "attempts": 1, "created_at": created, "handled_at": created if handled else None,
                    "assignee": None if handled else rng.choice((None, "U0AGENT01", "U0AGENT02")),
                    "payload": "{}", "broadcast": False, "state_version": 0, "synced_version": 0,
                })  # fmt: skip
        with engine.begin() as conn:
            _insert(conn, "mentions", mentions)
            _insert(conn, "sentiment_scores", scores)
            if alerts:
                _insert(conn, "alerts", alerts)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def _insert(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    values = [
        tuple(v.isoformat(" ").replace("+00:00", "") if isinstance(v, datetime) else v for v in row.values())
        for row in rows
    ]
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    raw.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values
    )


def _timed(call: Callable[[], Any], repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def _page_ids(engine: Engine, filters: Any, page_size: int, timezone: str) -> list[int]:
    return [row.id for row in inbox_page(engine, filters, page_size, timezone, SLA_MINUTES.get).rows]


def measure_sorts(engine: Engine, kind: str, repeats: int) -> None:
    """The new orders without revision 0010's indexes ("before"), then with them ("after")."""
    with engine.begin() as conn:
        inbox_schema.drop_sort_indexes(conn)
    before = measure(engine, kind, max(3, repeats // 3), True, SORT_CASES)
    with engine.begin() as conn:
        inbox_schema.install(conn)
        conn.execute(text("ANALYZE"))
    after = measure(engine, kind, repeats, False, SORT_CASES)
    print(f"\n{kind}: the orders of revision 0010 (ms; before = without its indexes)")
    print(f"| {'case':28} | before p50 | before p95 | after p50 | after p95 | rows |")
    print(f"|{'-' * 30}|-----------:|-----------:|----------:|----------:|-----:|")
    for label, (p50, p95, hits) in after.items():
        b = before.get(label, (float("nan"),) * 3)
        print(f"| {label:28} | {b[0]:10.1f} | {b[1]:10.1f} | {p50:9.1f} | {p95:9.1f} | {hits:4} |")


def measure(
    engine: Engine, name: str, repeats: int, before: bool, cases: list[tuple[str, dict[str, str]]] = CASES
) -> dict[str, tuple[float, float, int]]:
    out = {}
    for label, query in cases:
        if ONLY and not label.startswith(ONLY):
            continue
        filters = parse_filters(query)
        page = inbox_page_before if before and cases is CASES else _page_ids
        call: Callable[[], Any] = functools.partial(page, engine, filters, PAGE_SIZE, "Europe/Warsaw")
        hits = len(call())  # warm-up; the page's size
        p50, p95 = _timed(call, repeats)
        out[label] = (p50, p95, hits)
        print(
            f"  {name} {'before' if before else 'after '} {label:28} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  rows {hits}"
        )
    return out


def measure_http(engine: Engine, repeats: int) -> dict[str, tuple[float, float]]:
    """``GET /inbox`` through the real app (uvicorn on 127.0.0.1), signed in once."""
    from urllib.parse import urlencode

    from monitor.web.app import serve_web, shutdown_web
    from tests.web.conftest import Client, make_web_settings

    with tempfile.TemporaryDirectory() as folder:
        settings = make_web_settings(Path(folder), web={"page_size": PAGE_SIZE})
        server, thread = serve_web(settings, engine)
        try:
            client = Client(server.servers[0].sockets[0].getsockname()[1])
            assert client.login().status == 303
            out = {}
            for label, query in (CASES[0], CASES[1], CASES[11], CASES[14]):
                path = "/inbox?" + urlencode(query)
                assert client.get(path).status == 200
                out[label] = _timed(lambda: client.get(path), repeats)  # noqa: B023
                print(f"  HTTP GET {path:40} p50 {out[label][0]:8.1f} ms  p95 {out[label][1]:8.1f} ms")
        finally:
            shutdown_web(server, thread)
    return out


@contextmanager
def database(kind: str, pg_url: str) -> Iterator[Engine]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            yield engine
            engine.dispose()
        return
    schema = f"bench_inbox_{os.getpid()}"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_url else "?"
    try:
        engine = make_engine(f"{pg_url}{sep}options=-csearch_path%3D{schema}")
        yield engine
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(kind: str, args: argparse.Namespace) -> None:
    with database(kind, args.postgres) as engine:
        with engine.begin() as conn:
            inbox_schema.uninstall(conn)  # the schema of revision 0007
        began = time.perf_counter()
        fill(engine, args.rows)
        print(f"{kind}: {args.rows:,} mentions loaded in {time.perf_counter() - began:.0f} s")
        before = measure(engine, kind, max(3, args.repeats // 3), before=True) if args.before else {}
        began = time.perf_counter()
        with engine.begin() as conn:
            inbox_schema.install(conn)
            inbox_schema.enqueue_all(conn)
            conn.execute(text("ANALYZE"))
        upgraded = time.perf_counter() - began
        began = time.perf_counter()
        indexed = index_all(engine)
        print(f"{kind}: revision 0008 objects in {upgraded:.0f} s; {indexed:,} mentions indexed in "
              f"{time.perf_counter() - began:.0f} s")  # fmt: skip
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        after = measure(engine, kind, args.repeats, before=False)
        print(f"\n{kind}, {args.rows:,} mentions, page size {PAGE_SIZE} (ms; before: {max(3, args.repeats // 3)} runs, "
              f"after: {args.repeats} runs)")  # fmt: skip
        print(f"| {'case':28} | before p50 | before p95 | after p50 | after p95 |")
        print(f"|{'-' * 30}|-----------:|-----------:|----------:|----------:|")
        for label, _query in CASES:
            if label not in after:
                continue
            b, a = before.get(label, (float("nan"),) * 3), after[label]
            print(f"| {label:28} | {b[0]:10.1f} | {b[1]:10.1f} | {a[0]:9.1f} | {a[1]:9.1f} |")
        if args.sorts:
            measure_sorts(engine, kind, args.repeats)
        if args.http:
            measure_http(engine, args.repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--postgres", default=DEFAULT_PG_URL)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-http", dest="http", action="store_false")
    parser.add_argument("--no-before", dest="before", action="store_false", help="skip the pre-0008 query")
    parser.add_argument("--no-sorts", dest="sorts", action="store_false", help="skip revision 0010's orders")
    parser.add_argument("--only", default="", help="only the cases whose label starts so (e.g. q=)")
    args = parser.parse_args()
    global ONLY
    ONLY = args.only
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} CPUs")
    for kind in ("sqlite", "postgres"):
        if (kind == "sqlite" and not args.no_sqlite) or (kind == "postgres" and not args.no_postgres):
            run(kind, args)
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
