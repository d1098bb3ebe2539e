"""`earshot demo`: the whole job once, on embedded defaults, with no accounts or tokens.

Stand-ins for Google Business Profile, Google Alerts (RSS), Hacker News, Ceneo and Mastodon are served
on loopback (see :mod:`monitor.demo_source`), a fresh SQLite database is created, and crawl → score →
alert run once over every demo source that has a spider; alerts go to the console unless --slack.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlmodel import Session, col, select

from monitor.config import EarshotSettings
from monitor.db import make_engine
from monitor.demo_source import DemoSource
from monitor.models import Alert, Mention, SentimentScore
from monitor.pipeline import load_scorer, run_alerts, run_crawls, score_pending


def _demo_settings(
    settings: EarshotSettings, src: DemoSource, data_dir: Path, use_slack: bool
) -> EarshotSettings:
    """The user's settings with the demo sources, a fresh database and (by default) console alerts."""
    slack = settings.slack if use_slack else settings.slack.model_copy(update={"bot_token": None})
    return src.configure(settings).model_copy(
        update={"data_dir": data_dir, "database_url": None, "slack": slack}
    )


def demo_spiders(src: DemoSource) -> list[str]:
    """The demo sources that have a spider: a demo site may be ready before its spider is."""
    from spiders.runner import available_spiders

    known = set(available_spiders())
    return [s for s in src.sources if s in known]


def _print_mentions(engine_url: str) -> None:
    engine = make_engine(engine_url)
    with Session(engine) as s:
        rows = s.exec(
            select(Mention, SentimentScore)
            .join(SentimentScore, col(SentimentScore.mention_id) == col(Mention.id))
            .order_by(col(SentimentScore.score))
        ).all()
        print(f"\n{'source':<17}{'stars':<6}{'lang':<6}{'sentiment':<20}text")
        for m, sc in rows:
            stars = "-" if m.rating is None else f"{m.rating:g}★"
            text = " ".join(m.text.split())
            print(
                f"{m.source:<17}{stars:<6}{sc.lang or '?':<6}{sc.label + f' {sc.score:+.2f}':<20}{text[:60]}"
            )
        per_source = Counter(m.source for m, _ in rows)
        print("\nmentions per source: " + ", ".join(f"{k}={v}" for k, v in sorted(per_source.items())))
        alerts = s.exec(select(Alert)).all()
        print(f"alerts: {len(alerts)} → " + ", ".join(sorted({f"{a.status}:{a.channel}" for a in alerts})))
    engine.dispose()


def run_demo(settings: EarshotSettings, data_dir: str | None = None, use_slack: bool = False) -> int:
    """Run the demo and print what each stage did, per source; returns a process exit code."""
    t0 = time.monotonic()
    base = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="earshot-demo-"))
    with DemoSource() as src:
        cfg = _demo_settings(settings, src, base, use_slack)
        spiders = demo_spiders(src)
        print(f"demo sources at {src.base_url}:")
        for name, what in src.describe().items():
            note = "" if name in spiders else "  (no spider installed yet: not crawled)"
            print(f"  {name:<16} {what}{note}")
        print(f"database: {cfg.effective_database_url}\n")
        crawls = run_crawls(cfg, spiders, log_level="WARNING")
        for r in crawls.reports:
            name = r.stage.removeprefix("crawl:")
            counts = ", ".join(f"{k}={v}" for k, v in r.counts.items())
            print(f"crawl {name:<16} {counts}" + (f"  ERROR {r.error}" if r.error else ""))
    engine = make_engine(cfg.effective_database_url)
    t1 = time.monotonic()
    scored = score_pending(engine, load_scorer(cfg), batch_size=cfg.sentiment.batch_size)
    print(
        f"score:  {', '.join(f'{k}={v}' for k, v in scored.counts.items())} ({time.monotonic() - t1:.1f} s)"
    )
    alerts = run_alerts(engine, cfg)
    where = "Slack " + cfg.slack.default_channel if cfg.slack.bot_token else "console (no Slack token set)"
    print(f"alerts: {', '.join(f'{k}={v}' for k, v in alerts.counts.items())} → {where}")
    _print_mentions(cfg.effective_database_url)
    engine.dispose()
    print(f"\ndemo finished in {time.monotonic() - t0:.1f} s")
    return 1 if crawls.failed else 0
