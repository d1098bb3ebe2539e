"""`earshot demo`: the whole job once, on embedded defaults, with no accounts or tokens.

Stand-ins for Google Business Profile, Google Alerts (RSS), Hacker News, Ceneo and Mastodon are served
on loopback (see :mod:`monitor.demo_source`), a fresh SQLite database is created, and crawl → score →
alert run in three acts (first crawl; new activity; hours later) so every kind of alert appears once:
negative, low rating, urgent (critical channel), keyword, cooldown / edit / thread / repeat follow-ups in
threads, a storm and its end, SLA escalation. Alerts go to the console unless --slack.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.cli_text import counts_line, seconds, t
from monitor.core.alert_settings import AlertSettings
from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine
from monitor.core.models import Alert, Mention, SentimentScore, utcnow
from monitor.crawl_report import crawl_lines
from monitor.demo_source import DemoSource
from monitor.digest.queries import latest_activity_week
from monitor.digest.weeks import week_of
from monitor.pipeline import TextScorer, load_scorer, run_alerts, run_crawls, score_pending

DEMO_RULES = [
    {"name": "urgent", "urgency": "elevated"},
    {
        "name": "returns",
        "keywords": ["zwrot", "reklamacja", "refund", "return"],
        "max_sentiment": -0.2,
        "match": "all",
        "channel": "#cs-returns",
        "cooldown_minutes": 120,
    },
    {"name": "negative", "max_sentiment": -0.5, "max_stars": 2},
]
DEMO_CRITICAL_CHANNEL = "#cs-critical"


def _demo_settings(
    settings: EarshotSettings, src: DemoSource, data_dir: Path, use_slack: bool
) -> EarshotSettings:
    """The user's settings with the demo sources, a fresh database, (by default) console alerts, and,
    unless the user configured their own, rules that show every kind of alert."""
    slack = settings.slack if use_slack else settings.slack.model_copy(update={"bot_token": None})
    if slack.critical_channel is None:
        slack = slack.model_copy(update={"critical_channel": DEMO_CRITICAL_CHANNEL})
    if "language" not in settings.slack.model_fields_set:
        # The demo prints its alerts in the console it narrates in, unless Slack's language was chosen.
        slack = slack.model_copy(update={"language": settings.console_language})
    alerts = settings.alerts
    if not alerts.rules:
        alerts = AlertSettings.model_validate({**alerts.model_dump(exclude={"rules"}), "rules": DEMO_RULES})
    return src.configure(settings).model_copy(
        update={"data_dir": data_dir, "database_url": None, "slack": slack, "alerts": alerts}
    )


def demo_spiders(src: DemoSource) -> list[str]:
    """The demo sources that have a spider: a demo site may be ready before its spider is."""
    from spiders.runner import available_spiders

    known = set(available_spiders())
    return [s for s in src.sources if s in known]


def _print_mentions(engine_url: str, language: str = "en") -> None:
    engine = make_engine(engine_url)
    with Session(engine) as s:
        rows = s.exec(
            select(Mention, SentimentScore)
            .join(SentimentScore, col(SentimentScore.mention_id) == col(Mention.id))
            .where(col(SentimentScore.mention_version) == col(Mention.version))
            .order_by(col(SentimentScore.score))
        ).all()
        head = [t(language, word) for word in ("source", "stars", "lang", "sentiment", "text")]
        print(f"\n{head[0]:<17}{head[1]:<6}{head[2]:<6}{head[3]:<20}{head[4]}")
        for m, sc in rows:
            stars = "-" if m.rating is None else f"{m.rating:g}★"
            text = " ".join(m.text.split())
            print(
                f"{m.source:<17}{stars:<6}{sc.lang or '?':<6}{sc.label + f' {sc.score:+.2f}':<20}{text[:60]}"
            )
        per_source = Counter(m.source for m, _ in rows)
        print("\n" + counts_line("mentions per source", dict(sorted(per_source.items())), language))
        alerts = s.exec(select(Alert)).all()
        where = ", ".join(sorted({f"{a.status}:{a.channel}" for a in alerts}))
        print(t(language, "alerts: %(n)s → %(where)s", n=len(alerts), where=where))
    engine.dispose()


def _run_alerts(engine: Engine, cfg: EarshotSettings, label: str, clock: datetime | None = None) -> None:
    report = run_alerts(engine, cfg, clock=(lambda: clock) if clock else None)
    shown = {k: v for k, v in report.counts.items() if v}
    language = cfg.console_language
    where = "Slack" if cfg.slack.bot_token else t(language, "console (no Slack token set)")
    counts = ", ".join(f"{t(language, k)}={v}" for k, v in shown.items()) or t(language, "nothing new")
    print(t(language, "alerts (%(label)s): %(counts)s → %(where)s", label=label, counts=counts, where=where))


def _crawl_and_score(cfg: EarshotSettings, spiders: list[str], engine: Engine, scorer: TextScorer) -> bool:
    crawls = run_crawls(cfg, spiders, log_level="WARNING")
    for line in crawl_lines(crawls, cfg.console_language):  # Scrapy's own log: cfg.data_dir/logs/
        print(f"crawl {line}")
    t1 = time.monotonic()
    scored = score_pending(engine, scorer, batch_size=cfg.sentiment.batch_size)
    line = counts_line("score", scored.counts, cfg.console_language)
    print(f"{line} ({seconds(time.monotonic() - t1, cfg.console_language)})")
    return crawls.failed


def _print_alert_kinds(engine: Engine, language: str = "en") -> None:
    with Session(engine) as s:
        rows = s.exec(select(Alert)).all()
    kinds = Counter(a.kind for a in rows)
    statuses = Counter(a.status for a in rows)
    print("\n" + counts_line("alerts by kind", dict(sorted(kinds.items())), language))
    print(counts_line("alerts by status", dict(sorted(statuses.items())), language))
    print(f"{t(language, 'channels')}: " + ", ".join(sorted({a.channel for a in rows})))


def run_demo(settings: EarshotSettings, data_dir: str | None = None, use_slack: bool = False) -> int:
    """Run the demo in acts and print what each stage did; returns a process exit code.

    Act 1 crawls the demo sources (reviews and posts of the past days); act 2 serves what happens next
    (a burst of delivery complaints, an edited review, a repeat complaint, a reply in a Mastodon thread)
    and crawls again; act 3 runs the alert stage as if 2 and 3 hours had passed with nobody answering
    (SLA escalation, the storm subsiding).
    """
    t0 = time.monotonic()
    base = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="earshot-demo-"))
    with DemoSource() as src:
        cfg = _demo_settings(settings, src, base, use_slack)
        spiders = demo_spiders(src)
        language = cfg.console_language
        print(t(language, "demo sources at %(url)s:", url=src.base_url))
        for name, what in src.describe().items():
            note = "" if name in spiders else "  " + t(language, "(no spider installed yet: not crawled)")
            print(f"  {name:<16} {what}{note}")
        print(t(language, "database: %(url)s", url=cfg.effective_database_url) + "\n")
        engine = make_engine(cfg.effective_database_url)
        scorer = load_scorer(cfg)
        print("== " + t(language, "act 1: the first crawl") + " ==")
        failed = _crawl_and_score(cfg, spiders, engine, scorer)
        _run_alerts(engine, cfg, t(language, "act 1"))
        act2 = t(language, "act 2: new activity (a courier breaks down; a review is edited; a thread reply)")
        print(f"\n== {act2} ==")
        changed = src.advance()
        print(counts_line("served", {k: v for k, v in changed.items() if v}, language))
        failed = _crawl_and_score(cfg, spiders, engine, scorer) or failed
        _run_alerts(engine, cfg, t(language, "act 2"))
    now = utcnow()
    print("\n== " + t(language, "act 3: two hours later, nobody has answered") + " ==")
    _run_alerts(engine, cfg, "+2 h", now + timedelta(hours=2))
    print("\n== " + t(language, "act 3: three hours later, the complaints have stopped") + " ==")
    _run_alerts(engine, cfg, "+3 h", now + timedelta(hours=3))
    _print_mentions(cfg.effective_database_url, language)
    _print_alert_kinds(engine, language)
    # The demo's items, alerts and storm are of *now*: the digest's default (the last full week) is empty.
    week = latest_activity_week(engine, cfg.digest.timezone) or week_of(now, cfg.digest.timezone)
    engine.dispose()
    print("\n" + t(language, "demo finished in %(time)s", time=seconds(time.monotonic() - t0, language)))
    browse = f"EARSHOT_DATA_DIR={base} EARSHOT_WEB__SHARED_TOKEN=demo .venv/bin/earshot web"
    digest = f"EARSHOT_DATA_DIR={base} .venv/bin/earshot digest --week {week.iso} --no-slack"
    print(
        t(
            language,
            "browse it: %(browse)s (then %(url)s/inbox, token 'demo'); weekly report: %(digest)s",
            browse=browse,
            url=cfg.public_url,
            digest=digest,
        )
    )
    return 1 if failed else 0
