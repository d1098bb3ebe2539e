"""Benchmark the alert stage: enqueue throughput, storm detection at 100k mentions, interactivity acks.

Prints figures, each next to a baseline measured in the same run:

* enqueue: a full ``enqueue_alerts`` pass over N new scored mentions (rules, threads, suggested replies,
  one INSERT per alert) against the baseline of ``rules.evaluate`` alone over the same mentions in memory;
* storms: one ``check_storms`` over 100,000 mentions (30 days, 5 targets) against a plain
  ``SELECT COUNT(*)`` of the same table;
* interactivity: the time to acknowledge a signed button click (signature check, inbox INSERT, 200)
  against ``GET /healthz`` on the same server;
* similar past replies: ``similar_replies`` over 2,000 stored replies against a bare numpy top-3.

    .venv/bin/python bench/bench_alerts.py [--mentions 2000] [--clicks 200]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slack_sdk.signature import SignatureVerifier  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from alerts.enqueue import enqueue_alerts  # noqa: E402
from alerts.interactivity import InteractivityWorker  # noqa: E402
from alerts.rules import evaluate  # noqa: E402
from alerts.slack_sender import ConsoleSender  # noqa: E402
from alerts.storms import check_storms  # noqa: E402
from alerts.views import mention_view, score_view  # noqa: E402
from monitor.core.config import EarshotSettings  # noqa: E402
from monitor.core.db import make_engine  # noqa: E402
from monitor.core.models import Alert, Mention, SentimentScore, TargetRow  # noqa: E402
from monitor.slack_app import serve_interactivity  # noqa: E402
from monitor.web.app import bound_port, shutdown_web  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TEXTS = [
    ("Paczka nie dotarła, kurier nie odbiera, zwrot pieniędzy od miesiąca w toku.", -0.9, 1.0, "pl"),
    ("Obsługa klienta nie odpowiada na maile, reklamacja bez odpowiedzi.", -0.7, 2.0, "pl"),
    ("The parcel arrived broken and support never answered my refund request.", -0.8, 1.0, "en"),
    ("Szybka dostawa, polecam!", 0.9, 5.0, "pl"),
]


def _settings(tmp: Path) -> EarshotSettings:
    return EarshotSettings(
        data_dir=tmp,
        targets=[{"name": f"shop{i}"} for i in range(5)],
        slack={"signing_secret": "bench-secret", "interactivity_port": 0},
        alerts={
            "rules": [
                {"name": "urgent", "urgency": "elevated"},
                {"name": "returns", "keywords": ["zwrot", "reklamacja", "refund"], "cooldown_minutes": 60},
                {"name": "negative", "max_sentiment": -0.5, "max_stars": 2},
            ],
            "storm": {"enabled": False},
        },
    )


def _seed_scored(engine: Engine, n: int) -> None:
    with Session(engine) as session:
        targets = []
        for i in range(5):
            row = TargetRow(name=f"shop{i}")
            session.add(row)
            targets.append(row)
        session.flush()
        for i in range(n):
            body, score, rating, lang = TEXTS[i % len(TEXTS)]
            m = Mention(
                source="google_business",
                external_id=f"bench-{i}",
                target_id=targets[i % 5].id,
                author=f"Klient {i}",
                text=f"{body} #{i}",
                lang=lang,
                rating=rating,
                created_at=NOW - timedelta(minutes=30),
                first_seen_at=NOW - timedelta(minutes=20),
            )
            session.add(m)
            session.flush()
            label = "negative" if score < 0 else "positive"
            session.add(
                SentimentScore(
                    mention_id=m.id or 0,
                    mention_version=1,
                    label=label,
                    score=score,
                    confidence=0.9,
                    lang=lang,
                    model_name="bench",
                    model_version="1",
                    aspects=[{"aspect": "delivery", "sentiment": "negative"}] if score < 0 else [],
                )
            )
        session.commit()


def bench_enqueue(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp))
        engine = make_engine(settings.effective_database_url)
        _seed_scored(engine, n)
        with Session(engine) as session:
            rows = session.exec(
                select(Mention, SentimentScore, TargetRow.name)
                .join(SentimentScore, SentimentScore.mention_id == Mention.id)  # type: ignore[arg-type]
                .join(TargetRow, TargetRow.id == Mention.target_id)  # type: ignore[arg-type]
            ).all()
            views = [(mention_view(m, t), score_view(s)) for m, s, t in rows]
        started = time.perf_counter()
        fired = sum(evaluate(v, s, settings) is not None for v, s in views)
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        counts = enqueue_alerts(engine, settings, now=NOW, embedder_factory=lambda: None)
        full = time.perf_counter() - started
        engine.dispose()
    print(
        f"enqueue ({n} new scored mentions, SQLite): rules.evaluate alone {n / baseline:,.0f} mentions/s "
        f"({fired} fire); full enqueue pass {n / full:,.0f} mentions/s ({full:.2f} s: "
        f"created={counts['created']}, threaded={counts['threaded']})"
    )


def bench_storms() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp)).model_copy(deep=True)
        settings.alerts.storm.enabled = True
        engine = make_engine(settings.effective_database_url)
        with Session(engine) as session:
            for i in range(5):
                session.add(TargetRow(name=f"shop{i}"))
            session.commit()
        stamp = (
            "strftime('%Y-%m-%d %H:%M:%S', :now, '-' || (60 + (i * 431) % (30 * 24 * 60)) || ' minutes') "
            "|| '.000000'"
        )
        with engine.begin() as conn:
            conn.execute(
                text(
                    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999) "
                    "INSERT INTO mentions (source, external_id, target_id, text, created_at, first_seen_at, "
                    f"last_seen_at, version) SELECT 'rss', 'bulk-' || i, 1 + i % 5, 'x', {stamp}, {stamp}, "
                    f"{stamp}, 1 FROM n"
                ),
                {"now": NOW.strftime("%Y-%m-%d %H:%M:%S")},
            )
            conn.execute(
                text(
                    "INSERT INTO sentiment_scores (mention_id, mention_version, label, score, confidence, "
                    "probabilities, model_name, model_version, urgency, urgency_reasons, aspects, scored_at) "
                    "SELECT id, 1, 'x', CASE WHEN id % 7 = 1 THEN -0.9 ELSE 0.5 END, 0.9, '{}', 'm', '1', "
                    "'none', '[]', '[]', created_at FROM mentions"
                )
            )
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            check_storms(engine, settings, NOW)
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(text("SELECT COUNT(*) FROM mentions")).scalar_one()
        count_all = time.perf_counter() - started
        engine.dispose()
    print(
        f"check_storms over 100,000 mentions (SQLite, 5 targets): median {statistics.median(timings) * 1000:.0f} ms "
        f"of 5 runs; baseline SELECT COUNT(*) {count_all * 1000:.1f} ms"
    )


def _click_body(i: int) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0BENCH"},
        "trigger_id": f"t{i}",
        "actions": [
            {"action_id": "earshot_mark_handled", "value": "999999", "block_id": "earshot_actions_999999"}
        ],
        "container": {"channel_id": "C0BENCH", "message_ts": "1.0"},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def bench_ack(clicks: int) -> None:
    logging.getLogger("alerts").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp))
        engine = make_engine(settings.effective_database_url)
        with Session(engine) as session:  # the alert the clicks mark handled (the first click; then no-ops)
            session.add(Alert(id=999999, dedupe_key="bench", kind="negative", channel="#bench"))
            session.commit()
        worker = InteractivityWorker(engine, settings, ConsoleSender(), lambda _id: None)
        server, thread = serve_interactivity(
            settings, engine, ConsoleSender(), lambda _id: None, worker=worker
        )
        base = f"http://127.0.0.1:{bound_port(server)}"
        health, acks = [], []
        try:
            for i in range(clicks):
                started = time.perf_counter()
                urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
                health.append(time.perf_counter() - started)
                body = _click_body(i)
                ts = str(int(time.time()))
                headers: dict[str, Any] = {
                    "X-Slack-Request-Timestamp": ts,
                    "X-Slack-Signature": SignatureVerifier("bench-secret").generate_signature(
                        timestamp=ts, body=body
                    ),
                    "Content-Type": "application/x-www-form-urlencoded",
                }
                started = time.perf_counter()
                urllib.request.urlopen(
                    urllib.request.Request(f"{base}/slack/interactivity", data=body, headers=headers),
                    timeout=5,
                ).read()
                acks.append(time.perf_counter() - started)
        finally:
            shutdown_web(server, thread)
            engine.dispose()

    def p(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000

    print(
        f"interactivity ack over {clicks} signed clicks (SQLite inbox): p50 {p(acks, 0.5):.1f} ms, "
        f"p99 {p(acks, 0.99):.1f} ms; baseline GET /healthz p50 {p(health, 0.5):.1f} ms, p99 {p(health, 0.99):.1f} ms "
        "(Slack's limit: 3,000 ms)"
    )


def bench_similar_replies(stored: int) -> None:
    """similar_replies over ``stored`` past replies: one E5 embedding of the new item plus the comparison.

    Stored vectors are random unit vectors (the cost does not depend on what they encode); the baseline is
    the same top-k as a bare numpy matrix product over vectors already in memory.
    """
    import numpy as np

    from alerts.reply_library import record_reply, similar_replies
    from sentiment.embeddings import E5Embedder

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((stored, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embedder = E5Embedder(threads=1)
    item = "Paczka nie dotarła, kurier twierdzi że nikogo nie było w domu."
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(_settings(Path(tmp)).effective_database_url)
        with Session(engine) as session:
            session.add(TargetRow(name="shop"))
            session.flush()
            mention = Mention(source="google_business", external_id="x", text=item)
            session.add(mention)
            session.flush()
            for i in range(stored):
                row = record_reply(
                    session,
                    mention_id=mention.id or 0,
                    alert_id=None,
                    text=f"Odpowiedź {i}",
                    author="U0",
                    via="slack",
                    status="posted",
                )
                row.embedding = [round(float(x), 6) for x in vectors[i]]
            session.commit()
        started = time.perf_counter()
        embedder.embed([item])
        embed_one = time.perf_counter() - started
        timings = []
        for _ in range(3):
            with Session(engine) as session:
                started = time.perf_counter()
                similar_replies(session, item, embedder)
                timings.append(time.perf_counter() - started)
        engine.dispose()
    query = vectors[0]
    started = time.perf_counter()
    np.argsort(vectors @ query)[-3:]
    baseline = time.perf_counter() - started
    print(
        f"similar_replies over {stored:,} stored replies (SQLite): first call {timings[0] * 1000:.0f} ms, "
        f"warm {min(timings[1:]) * 1000:.0f} ms (of which one E5 embedding ~{embed_one * 1000:.0f} ms); "
        f"baseline numpy top-3 over vectors in memory {baseline * 1000:.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=2000)
    parser.add_argument("--clicks", type=int, default=200)
    parser.add_argument("--replies", type=int, default=2000)
    args = parser.parse_args()
    bench_enqueue(args.mentions)
    bench_storms()
    bench_ack(args.clicks)
    bench_similar_replies(args.replies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
