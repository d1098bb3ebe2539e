"""The weekly digest on a million mentions: how long one target's week takes to build and render.

Seeds ``--mentions`` (default 1,000,000) mentions over 8 ISO weeks (2026-W40..W47) for 3 targets in SQL
(a recursive CTE on SQLite, ``generate_series`` on PostgreSQL), 90% of them scored, negative ones with a
JSON aspect, 1 in 500 with an alert (half handled), and two storms per target. Then, in the same run:

* **baseline**: a bare ``COUNT(*)`` of the target's mentions in the week (the least any digest must read),
  and a ``COUNT(*)`` of the whole table;
* **digest**: ``build_digest`` (every SQL aggregation) and rendering (4 matplotlib charts + HTML) for one
  target and the last week, three times (the first is cold);
* both again after ``CREATE INDEX ix_mentions_target_item_time ON mentions (target_id,
  COALESCE(created_at, first_seen_at))``, the expression index the digest's week filter can use.

    .venv/bin/python bench/bench_digest.py [--mentions 1000000] [--postgres [URL]] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from monitor.core.config import EarshotSettings  # noqa: E402
from monitor.core.db import make_engine  # noqa: E402
from monitor.core.models import Storm, TargetRow  # noqa: E402
from monitor.digest.charts import render_charts  # noqa: E402
from monitor.digest.queries import build_digest  # noqa: E402
from monitor.digest.render import render_html  # noqa: E402
from monitor.digest.weeks import parse_week  # noqa: E402

DEFAULT_PG_URL = os.environ.get(
    "EARSHOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGETS = ("Sklep Kowalski", "Sklep Nowak", "Sklep Wiśniewski")
TZ = "Europe/Warsaw"
FIRST_WEEK, LAST_WEEK = "2026-W40", "2026-W47"
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
SOURCES = ("google_business", "ceneo", "allegro", "trustpilot", "reddit", "mastodon", "rss")
ASPECTS = ("delivery", "returns", "customer_service", "product_quality", "price", "payment", "website")
INDEX = (
    "CREATE INDEX ix_mentions_target_item_time ON mentions (target_id, COALESCE(created_at, first_seen_at))"
)


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A private schema in the PostgreSQL database at ``url``, dropped afterwards."""
    from sqlalchemy import create_engine

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


def _case(expr: str, values: tuple[str, ...]) -> str:
    """SQL CASE picking ``values[expr % len]`` (both dialects)."""
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"CASE ({expr}) % {len(values)} {whens} END"


def seed(engine: Engine, mentions: int) -> dict[str, float]:
    """Fill the tables in a few INSERT ... SELECT statements; returns seconds per table."""
    pg = engine.dialect.name == "postgresql"
    start = parse_week(FIRST_WEEK, TZ).start
    span = (parse_week(LAST_WEEK, TZ).end - start).total_seconds()
    step = span / mentions
    with Session(engine) as s:
        for name in TARGETS:
            s.add(TargetRow(name=name))
        s.commit()
    if pg:
        rows = f"SELECT x FROM generate_series(1::bigint, {mentions}) AS g(x)"
        when = f"(TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}' + (x * {step}) * INTERVAL '1 second')"
        cte = ""
    else:
        cte = f"WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {mentions}) "
        rows = "SELECT x FROM g"
        when = (
            f"(strftime('%Y-%m-%d %H:%M:%S', '{start:%Y-%m-%d %H:%M:%S}', '+' || CAST(x * {step} AS INTEGER) "
            "|| ' seconds') || '.000000')"
        )
    hashed = "((x * 7919) % 100)"
    label = f"CASE WHEN {hashed} < 30 THEN 'negative' WHEN {hashed} < 55 THEN 'neutral' ELSE 'positive' END"
    timings: dict[str, float] = {}
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text(
                f"{cte}INSERT INTO mentions (id, source, external_id, target_id, text, author, rating, created_at, "
                "first_seen_at, last_seen_at, version, url) "
                f"SELECT x, {_case('x * 31', SOURCES)}, 'ext-' || x, (x % 3) + 1, "
                "CASE WHEN "
                + hashed
                + " < 30 THEN 'Paczka nie dotarła, a obsługa klienta nie odpisuje od tygodnia.' "
                "ELSE 'Wszystko w porządku, szybka dostawa, polecam.' END, 'Klient ' || (x % 9973), "
                f"CASE WHEN (x * 31) % 7 < 4 THEN CASE WHEN {hashed} < 30 THEN 1 + (x % 2) ELSE 3 + (x % 3) END END, "
                f"{when}, {when}, {when}, 1, 'https://example.com/r/' || x FROM ({rows}) AS r"
            )
        )
    timings["mentions"] = time.perf_counter() - began
    aspect = (
        '\'[{"aspect": "\' || '
        + _case("x * 13", ASPECTS)
        + ' || \'", "sentiment": "negative", "score": -0.\' || (50 + x % 49) || '
        '\', "evidence": "Paczka nie dotarła na czas", "via": "lexicon"}]\''
    )
    aspects = f"CASE WHEN {hashed} < 30 THEN {aspect} ELSE '[]' END"
    if pg:
        aspects = f"({aspects})::json"
    urgency = "CASE WHEN x % 997 = 0 THEN 'critical' WHEN x % 211 = 0 THEN 'elevated' ELSE 'none' END"
    score = f"CASE WHEN {hashed} < 30 THEN -0.9 + {hashed} / 100.0 WHEN {hashed} < 55 THEN 0.0 ELSE 0.8 END"
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text(
                f"{cte}INSERT INTO sentiment_scores (mention_id, mention_version, label, score, confidence, "
                "model_name, model_version, urgency, urgency_reasons, aspects, scored_at) "
                f"SELECT x, 1, {label}, {score}, 0.9, 'earshot-sentiment-v1', '1', {urgency}, "
                + ("'[]'::json" if pg else "'[]'")
                + f", {aspects}, {when} FROM ({rows}) AS r WHERE x % 10 <> 0"
            )
        )
    timings["scores"] = time.perf_counter() - began
    began = time.perf_counter()
    alerts = (
        f"SELECT x FROM generate_series(500::bigint, {mentions}, 500) AS g(x)"
        if pg
        else "SELECT x FROM g WHERE x % 500 = 0"
    )
    plus = (
        (lambda m: f"({when} + ({m}) * INTERVAL '1 minute')")
        if pg
        else (lambda m: f"(strftime('%Y-%m-%d %H:%M:%S', {when}, '+' || ({m}) || ' minutes') || '.000000')")
    )
    target_names = "CASE (x % 3) " + " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(TARGETS)) + " END"
    with engine.begin() as conn:
        conn.execute(
            text(
                f"{cte}INSERT INTO alerts (dedupe_key, mention_id, mention_version, source, target, kind, severity, "
                "reason, channel, broadcast, payload, status, attempts, created_at, sent_at, handled_at, handled_by, "
                "state_version, synced_version) "
                f"SELECT 'bench:' || x, x, 1, 'google_business', {target_names}, 'negative', "
                "CASE WHEN x % 1000 = 0 THEN 'urgent' ELSE 'negative' END, 'bench', '#cs', "
                + ("false" if pg else "0")
                + ", "
                + ("'{}'::json" if pg else "'{}'")
                + f", 'sent', 1, {when}, {when}, CASE WHEN x % 1000 <> 0 THEN {plus('(x / 500 * 37) % 1500')} END, "
                f"CASE WHEN x % 1000 <> 0 THEN 'agent' END, 0, 0 FROM ({alerts}) AS r"
            )
        )
    with Session(engine) as s:
        for k, name in enumerate(TARGETS):
            for week in (LAST_WEEK, "2026-W45"):
                opened = parse_week(week, TZ).start + timedelta(days=2, hours=k + 9)
                s.add(
                    Storm(
                        target=name,
                        opened_at=opened,
                        closed_at=opened + timedelta(hours=2),
                        window_count=9,
                        peak_count=14,
                        payload={"themes": [{"aspect": "delivery", "count": 6}]},
                    )
                )
        s.commit()
    timings["alerts+storms"] = time.perf_counter() - began
    began = time.perf_counter()
    with engine.begin() as conn:
        if pg:
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('mentions', 'id'), (SELECT max(id) FROM mentions))"
                )
            )
        conn.execute(text("ANALYZE"))
    timings["analyze"] = time.perf_counter() - began
    return timings


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[list[float], Any]:
    """Wall seconds of each of ``repeat`` calls and the last result."""
    seconds, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - began)
    return seconds, result


def measure(engine: Engine, settings: EarshotSettings, label: str) -> dict[str, Any]:
    """Baseline counts, build_digest and rendering for the first target's last week."""
    week = parse_week(LAST_WEEK, TZ)
    target = TARGETS[0]
    count_week = text(
        "SELECT COUNT(*) FROM mentions WHERE target_id = 1 AND COALESCE(created_at, first_seen_at) >= :s "
        "AND COALESCE(created_at, first_seen_at) < :e"
    )
    from sqlalchemy import DateTime, bindparam

    count_week = count_week.bindparams(bindparam("s", type_=DateTime()), bindparam("e", type_=DateTime()))

    def week_count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(count_week, {"s": week.start, "e": week.end}).scalar_one())

    def table_count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM mentions")).scalar_one())

    base_week, in_week = timed(week_count)
    base_table, total = timed(table_count)
    build, digest = timed(lambda: build_digest(engine, settings, target, week, now=NOW))
    render, html = timed(lambda: render_html(digest, render_charts(digest, "pl"), settings))
    print(f"\n[{label}] target {target!r}, week {week.iso}: {in_week:,} of {total:,} mentions")
    print(f"  baseline COUNT(*) of the week's mentions : {_fmt(base_week)}")
    print(f"  baseline COUNT(*) of the whole table     : {_fmt(base_table)}")
    print(f"  build_digest (all SQL aggregations)      : {_fmt(build)}")
    print(f"  render (4 PNG charts + HTML, {len(html) // 1024} KiB)     : {_fmt(render)}")
    print(
        f"  digest: {digest.total:,} mentions, {digest.sentiment.counts}, unscored {digest.sentiment.unscored}, "
        f"aspects {[(a.aspect, a.count) for a in digest.aspects][:3]}..., alerts {digest.kpis.alerts}, "
        f"median {digest.kpis.median_minutes} min, storms {len(digest.storms)}"
    )
    return {"week_count": base_week, "table_count": base_table, "build": build, "render": render}


def _fmt(seconds: list[float]) -> str:
    return f"{' / '.join(f'{s:7.3f}' for s in seconds)} s  (median {statistics.median(seconds):.3f} s)"


def run(db_url: str, mentions: int, data_dir: Path) -> None:
    engine = make_engine(db_url)
    settings = EarshotSettings(
        data_dir=data_dir, targets=[{"name": n} for n in TARGETS], digest={"timezone": TZ, "language": "pl"}
    )
    print(
        f"\n=== {engine.dialect.name}: seeding {mentions:,} mentions over {FIRST_WEEK}..{LAST_WEEK}, 3 targets"
    )
    timings = seed(engine, mentions)
    print(
        "  seeding: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        + f"; total {sum(timings.values()):.1f} s"
    )
    measure(engine, settings, "indexes as in monitor/core/models.py")
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(INDEX))
        conn.execute(text("ANALYZE"))
    print(f"\n  {INDEX}: {time.perf_counter() - began:.1f} s")
    measure(engine, settings, "with ix_mentions_target_item_time")
    measure_inbox(engine, settings)
    engine.dispose()


INBOX_FILTERS = {
    "no filter": "",
    "status=unhandled": "status=unhandled",
    "sentiment=negative": "sentiment=negative",
    "q=kurier": "q=kurier",
    "page=200": "page=200",
}


def measure_inbox(engine: Engine, settings: EarshotSettings) -> None:
    """The inbox page (50 rows) over the same database through real HTTP, against GET /healthz."""
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    from monitor.web.app import bound_port, serve_web, shutdown_web

    web = settings.web.model_copy(update={"port": 0, "shared_token": SecretStr("bench-token")})
    server, thread = serve_web(settings.model_copy(update={"web": web}), engine)
    base = f"http://127.0.0.1:{bound_port(server)}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        page = opener.open(f"{base}/login", timeout=30).read().decode()
        match = re.search(r'name="csrf_token" value="([^"]*)"', page)
        assert match is not None, "no csrf_token on /login"
        form = urllib.parse.urlencode(
            {"csrf_token": match.group(1), "token": "bench-token", "username": "bench"}
        )
        opener.open(
            urllib.request.Request(f"{base}/login", data=form.encode(), headers={"Origin": base}), timeout=30
        )
        health, _ = timed(lambda: opener.open(f"{base}/healthz", timeout=30).read())
        print(f"\n  inbox over HTTP (50 rows; baseline GET /healthz {_fmt(health)}):")
        for label, query in INBOX_FILTERS.items():
            seconds, _ = timed(lambda q=query: opener.open(f"{base}/inbox?{q}", timeout=300).read())  # type: ignore[misc]
            print(f"    {label:<20} {_fmt(seconds)}")
    finally:
        shutdown_web(server, thread)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_PG_URL,
        default=None,
        metavar="URL",
        help="also run on PostgreSQL",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the SQLite database in this folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "bench-digest.db"
        db.unlink(missing_ok=True)
        run(f"sqlite:///{db}", args.mentions, folder)
        if args.postgres:
            with postgres_schema(args.postgres) as url:
                run(url, args.mentions, folder)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
