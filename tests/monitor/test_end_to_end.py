"""The whole path once: demo Google source → spider → database → real model → outbox → fake Slack."""

from __future__ import annotations

import os
import re
import threading
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import Session, col, select

from monitor.cli import main
from monitor.core.config import EarshotSettings, load_settings
from monitor.core.db import make_engine
from monitor.core.models import Alert, AlertStatus, CrawlRun, Mention, SentimentScore, StageRun
from monitor.demo_source import DemoSource
from monitor.pipeline import TextScorer, run_alerts, run_crawls, score_pending
from monitor.scheduler import run_forever
from tests.alerts.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)


def _settings(tmp_path: Path, src: DemoSource, slack: FakeSlack | None) -> EarshotSettings:
    base = load_settings(data_dir=tmp_path)
    cfg = src.configure(base)
    if slack is not None:
        cfg = cfg.model_copy(
            update={
                "slack": cfg.slack.model_copy(
                    update={
                        "bot_token": SecretStr(slack.token),
                        "api_url": slack.url,
                        "default_channel": "#cs-alerts",
                    }
                )
            }
        )
    return cfg


def test_review_travels_from_source_to_slack_once(
    tmp_path: Path, scorer: TextScorer, clean_env: None
) -> None:
    with DemoSource(sources=["google_business"]) as src, FakeSlack() as slack:
        slack.add_channel("cs-alerts", "C0CSALERTS")
        cfg = _settings(tmp_path, src, slack)
        engine = make_engine(cfg.effective_database_url)

        [crawl] = run_crawls(cfg).reports
        assert crawl.counts["items_new"] == 12
        assert crawl.counts["errors"] == 0

        scored = score_pending(engine, scorer)
        assert scored.counts["scored"] == 12

        first = run_alerts(engine, cfg)
        with Session(engine) as s:
            alerts = s.exec(select(Alert)).all()
            mentions = {m.id or 0: m for m in s.exec(select(Mention)).all()}
            scores = {sc.mention_id: sc for sc in s.exec(select(SentimentScore)).all()}

        def fresh(m: Mention) -> bool:  # older than max_age_hours when first crawled = backlog, no alert
            assert m.created_at is not None and cfg.alerts.max_age_hours is not None
            age = m.first_seen_at.replace(tzinfo=UTC) - m.created_at.replace(tzinfo=UTC)
            return age <= timedelta(hours=cfg.alerts.max_age_hours)

        expected = {
            mid
            for mid, m in mentions.items()
            if fresh(m)
            and (
                (m.rating is not None and m.rating <= 2) or scores[mid].score <= cfg.alerts.negative_threshold
            )
        }
        # Each fresh negative review is accounted for once: its own message, or a reply in an earlier
        # alert's thread (same author again), or folded into a storm.
        assert sorted(a.mention_id or 0 for a in alerts if a.mention_id is not None) == sorted(expected)
        assert len(expected) >= 4
        delivered = [a for a in alerts if a.status == AlertStatus.SENT]
        assert first.counts["sent"] == len(delivered) and all(a.slack_ts for a in delivered)
        assert all(a.status in (AlertStatus.SENT, AlertStatus.FOLDED) for a in alerts)
        posted = slack.messages()
        assert len(posted) == len(delivered)
        assert {m.ts for m in posted} == {a.slack_ts for a in delivered}
        # Polish and English reviews both reached Slack, each with a link to the review.
        langs = {scores[a.mention_id].lang for a in delivered if a.mention_id is not None}
        assert {"pl", "en"} <= langs
        assert all(m.text for m in posted), "every message carries a fallback text"

        # Running every stage again sends nothing twice.
        run_crawls(cfg)
        assert score_pending(engine, scorer).counts["scored"] == 0
        again = run_alerts(engine, cfg)
        assert again.counts.get("sent", 0) == 0
        assert len(slack.messages()) == len(delivered)

        with Session(engine) as s:
            runs = s.exec(select(CrawlRun).order_by(col(CrawlRun.id))).all()
            assert [r.finish_reason for r in runs] == ["finished", "finished"]
            assert runs[1].items_new == 0
            assert s.exec(select(StageRun).where(StageRun.stage == "score")).first() is not None
        engine.dispose()


def test_scheduler_runs_stages_and_stops_cleanly(tmp_path: Path, clean_env: None) -> None:
    with DemoSource(sources=["google_business"]) as src:
        cfg = _settings(tmp_path, src, None)
        cfg = cfg.model_copy(
            update={
                "schedule": cfg.schedule.model_copy(update={"score_minutes": 0.05, "alerts_minutes": 0.05})
            }
        )
        stop = threading.Event()
        worker = threading.Thread(target=run_forever, args=(cfg, stop))
        worker.start()
        engine = make_engine(cfg.effective_database_url)
        try:
            for _ in range(240):
                with Session(engine) as s:
                    if s.exec(select(Alert).where(Alert.status == AlertStatus.PRINTED)).first():
                        break
                stop.wait(0.5)
        finally:
            stop.set()
            worker.join(timeout=60)
        assert not worker.is_alive(), "the scheduler did not stop after the stop signal"
        with Session(engine) as s:
            assert len(s.exec(select(Mention)).all()) == 12
            assert s.exec(select(Alert).where(Alert.status == AlertStatus.PRINTED)).first() is not None
        engine.dispose()


@pytest.mark.slow
def test_earshot_demo_command(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`earshot demo` through the command line's entry point, in this process so that its ten crawls fork
    from the session's crawl server (each still in its own process) instead of importing Scrapy each."""
    monkeypatch.chdir(ROOT)
    returncode = main(["demo", "--data-dir", str(tmp_path)])
    out = capsys.readouterr()
    assert returncode == 0, out.err[-3000:]
    # Every demo source is served and crawled: Google, Google Alerts (RSS), Hacker News, Ceneo, Mastodon.
    act1, act2 = out.out.split("== act 2", 1)
    crawled = {name: int(n) for name, n in re.findall(r"^crawl (\w+) +ok  (\d+) new", act1, re.M)}
    assert crawled == {"google_business": 12, "rss": 6, "hackernews": 5, "ceneo": 15, "mastodon": 4}
    assert f"scored={sum(crawled.values())}" in act1
    later = {name: int(n) for name, n in re.findall(r"^crawl (\w+) +ok  (\d+) new", act2, re.M)}
    assert later["google_business"] == 10 and later["mastodon"] == 1
    per_source = re.search(r"^mentions per source: (.*)$", out.out, re.M)
    totals = {k: crawled[k] + later.get(k, 0) for k in crawled}
    assert per_source is not None and per_source.group(1) == ", ".join(
        f"{name}={totals[name]}" for name in sorted(totals)
    )
    assert "console (no Slack token set)" in out.out
    # One alert of each kind reaches the console, and the storm folds the burst instead of 10 alerts.
    kinds_line = re.search(r"^alerts by kind: +(.*)$", out.out, re.M)
    assert kinds_line is not None
    kinds = {k: int(v) for k, v in (part.split("=") for part in kinds_line.group(1).split(", "))}
    every_kind = {"negative", "low_rating", "urgent", "keyword", "cooldown", "edited", "thread_reply"}
    every_kind |= {"repeat_complaint", "storm", "storm_subsided", "sla_escalation"}
    assert every_kind <= set(kinds), kinds
    assert kinds["storm"] == kinds["storm_subsided"] == 1
    assert re.search(r"folded=9\b", out.out)
    for title in ("Negative storm", "has subsided", "Review edited", "Same author", "Suggested reply"):
        assert title in out.out, title
    assert (tmp_path / "earshot.db").is_file()
