"""Crawl finished -> alert posted, in a real ``earshot run``, with and without the event-driven stages.

Two runs of the real CLI (``earshot run`` as a subprocess: SQLite in a temporary folder, the bundled
model), each against the same loopback replay source and fake Slack the soak test uses
(``tests/monitor/soak_fakes.GrowingFeeds``: two Google Alerts Atom feeds that release a new article every
``--release`` seconds; ``tests/alerts/fake_slack.FakeSlack``: slack-sdk's real ``WebClient`` posts to it):

* **baseline**: ``schedule.event_driven = false``: scoring and alerts only on their intervals
  (``--stage-minutes``, default 1, the shipped alerts interval);
* **event-driven**: the default: a crawl that stored items starts a score pass, which starts an alert pass.

For every alert posted, latency = the alert's ``sent_at`` minus the ``finished_at`` of the crawl run that
stored the version it is about (the first run finishing after the mention's ``first_seen_at``, or after
the edit's ``recorded_at`` for an alert on an edit). Prints p50/p95/max per
mode, and the run process's RSS (median of the last 30 s, the model loaded), measured the same run.

    .venv/bin/python bench/bench_alert_latency.py [--seconds 90] [--release 4] [--crawl-seconds 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from monitor.core.db import make_engine  # noqa: E402
from monitor.core.models import Alert, CrawlRun, Mention, MentionRevision  # noqa: E402
from tests.alerts.fake_slack import FakeSlack  # noqa: E402
from tests.monitor.soak_fakes import GrowingFeeds  # noqa: E402

EARSHOT = Path(sys.executable).with_name("earshot")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _latencies(db: Path) -> list[tuple[float, bool]]:
    """(seconds from crawl finished to alert posted, whether that crawl was the run's first) per alert."""
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        runs = [r for r in session.exec(select(CrawlRun).order_by(col(CrawlRun.id))) if r.finished_at]
        seen = {m.id: m.first_seen_at for m in session.exec(select(Mention))}
        edits: dict[int, list[datetime]] = {}
        for revision in session.exec(select(MentionRevision)):
            edits.setdefault(revision.mention_id, []).append(revision.recorded_at)
        sent = [a for a in session.exec(select(Alert)) if a.sent_at is not None and a.mention_id in seen]
    engine.dispose()
    out: list[tuple[float, bool]] = []
    for alert in sent:
        if alert.mention_id is None:  # a source-health alert: no crawl stored it
            continue
        # The version the alert is about: an edit alert follows the crawl that stored the edit.
        stored = max(
            [seen[alert.mention_id]] + [t for t in edits.get(alert.mention_id, []) if t <= alert.created_at]
        )
        crawl = next((r for r in runs if r.finished_at and r.finished_at >= stored), None)
        if crawl is not None and crawl.finished_at is not None and alert.sent_at is not None:
            out.append(((alert.sent_at - crawl.finished_at).total_seconds(), crawl is runs[0]))
    return out


def run_mode(event_driven: bool, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack, GrowingFeeds(args.release) as feeds:
        folder = Path(tmp)
        config = folder / "earshot.toml"
        feed_list = ", ".join(json.dumps(url) for url in feeds.feed_urls)
        config.write_text(f'[[targets]]\nname = "DobraKuchnia.pl"\nfeeds = [{feed_list}]\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
        env.update(
            EARSHOT_CONFIG=str(config),
            EARSHOT_DATA_DIR=str(folder / "data"),
            EARSHOT_SLACK__BOT_TOKEN=slack.token,
            EARSHOT_SLACK__API_URL=slack.url,
            EARSHOT_SOURCES__RSS__INTERVAL_MINUTES=str(args.crawl_seconds / 60),
            EARSHOT_SCHEDULE__CRAWL_JITTER_SECONDS="0",
            EARSHOT_SCHEDULE__SCORE_MINUTES=str(args.stage_minutes),
            EARSHOT_SCHEDULE__ALERTS_MINUTES=str(args.stage_minutes),
            EARSHOT_SCHEDULE__EVENT_DRIVEN=str(event_driven).lower(),
            EARSHOT_ALERTS__STORM__ENABLED="false",  # every alert posted on its own, so each has a latency
            EARSHOT_WEB__ENABLED="false",
            EARSHOT_DIGEST__ENABLED="false",
        )
        log = (folder / "run.log").open("wb")
        proc = subprocess.Popen(
            [str(EARSHOT), "run"], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT
        )
        rss: list[tuple[float, int]] = []
        started = time.monotonic()
        try:
            process = psutil.Process(proc.pid)
            while time.monotonic() - started < args.seconds and proc.poll() is None:
                rss.append((time.monotonic(), process.memory_info().rss))
                time.sleep(1)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            log.close()
        measured = _latencies(folder / "data" / "earshot.db")
    # The first crawl carries the backlog released while the process loaded the model (a restart's
    # catch-up); the steady figures leave it out, the "all" column keeps it.
    latencies = [x for x, first in measured if not first]
    everything = sorted(x for x, _ in measured)
    tail = [value for t, value in rss if t >= started + args.seconds - 30]
    return {
        "alerts": len(everything),
        "p95_all": _percentile(everything, 0.95) if everything else float("nan"),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": _percentile(latencies, 0.95) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "rss_mib": statistics.median(tail) / 2**20 if tail else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=90, help="how long each earshot run lives")
    parser.add_argument("--release", type=float, default=4, help="seconds between new articles in the feeds")
    parser.add_argument("--crawl-seconds", type=float, default=6, help="the rss source's crawl interval")
    parser.add_argument("--stage-minutes", type=float, default=1, help="score and alerts intervals")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    rows = {
        name: run_mode(event_driven, args) for name, event_driven in (("baseline", False), ("event", True))
    }
    print(
        f"\ncrawl finished -> alert posted, earshot run, {args.seconds:g} s each, crawls every {args.crawl_seconds:g} s"
    )
    print("p50/p95/max leave out the first crawl's catch-up backlog; 'p95 all' keeps it")
    print(f"{'mode':<34}{'alerts':>7}{'p50 s':>8}{'p95 s':>8}{'max s':>8}{'p95 all':>9}{'RSS MiB':>9}")
    labels = {
        "baseline": f"intervals only ({args.stage_minutes:g} min)",
        "event": "event-driven (default)",
    }
    for name, row in rows.items():
        print(
            f"{labels[name]:<34}{row['alerts']:>7.0f}{row['p50']:>8.1f}{row['p95']:>8.1f}"
            f"{row['max']:>8.1f}{row['p95_all']:>9.1f}{row['rss_mib']:>9.0f}"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
