"""The runner: crashes and hangs are contained and recorded; in-process runs are one-shot."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlmodel import Session, select

from monitor.core.db import make_engine
from monitor.core.models import CrawlRun
from spiders.runner import CrawlError, available_spiders, run_crawl
from tests.spiders.conftest import FAST, LOC2, crawl_run, gbp_settings
from tests.spiders.replay_server import ReplayServer, Reply, reviews_path

FAKES = {"SPIDER_MODULES": ["spiders.spiders", "tests.spiders.fake_spiders"]}


SOURCES = [
    "allegro",
    "bluesky",
    "ceneo",
    "google_business",
    "google_places",
    "hackernews",
    "mastodon",
    "reddit",
    "rss",
    "trustpilot",
    "youtube",
]


def test_available_spiders() -> None:
    assert available_spiders() == SOURCES  # every source loads, and no module is missing from the list
    assert "earshot_test_crash" in available_spiders(FAKES)


def test_a_crashing_crawl_is_recorded_and_does_not_affect_the_caller(sqlite_url: str) -> None:
    settings = gbp_settings(sqlite_url, "http://127.0.0.1:9", ["1"])

    summary = run_crawl(settings, "earshot_test_crash", scrapy_overrides={**FAST, **FAKES})

    assert (summary.finish_reason, summary.exit_code) == ("crashed", 3)
    run = crawl_run(sqlite_url, summary.run_id)
    assert run.finish_reason == "crashed" and run.finished_at is not None
    assert run.stats["earshot/exit_code"] == 3


def test_a_hanging_crawl_is_stopped_at_the_timeout(sqlite_url: str) -> None:
    settings = gbp_settings(sqlite_url, "http://127.0.0.1:9", ["1"])

    summary = run_crawl(settings, "earshot_test_hang", scrapy_overrides={**FAST, **FAKES}, timeout=4)

    assert summary.finish_reason == "timeout"
    run = crawl_run(sqlite_url, summary.run_id)
    assert run.finished_at is not None
    assert run.stats.get("finish_reason", "shutdown") == "shutdown"  # SIGTERM let Scrapy close the spider


def test_unknown_spider_is_refused_before_anything_is_recorded(sqlite_url: str) -> None:
    settings = gbp_settings(sqlite_url, "http://127.0.0.1:9", ["1"])
    with pytest.raises(CrawlError, match=f"unknown spider 'nope'; available: {', '.join(SOURCES)}$"):
        run_crawl(settings, "nope")
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        assert session.exec(select(CrawlRun)).all() == []
    engine.dispose()


def test_in_process_crawl_runs_once_per_process(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    """isolate=False in a fresh interpreter (a reactor cannot start twice in pytest's process either)."""
    replay.add(reviews_path("111222333", LOC2), Reply.fixture("loc2_page1.json"))
    script = textwrap.dedent(
        """
        import sys
        from spiders.runner import CrawlError, run_crawl
        from tests.spiders.conftest import FAST, LOC2, gbp_settings

        settings = gbp_settings(sys.argv[1], sys.argv[2], [LOC2])
        summary = run_crawl(settings, isolate=False, scrapy_overrides={**FAST, "LOG_FILE": sys.argv[3]})
        print("SUMMARY", summary.finish_reason, summary.items_new, summary.requests, summary.exit_code)
        try:
            run_crawl(settings, isolate=False)
        except CrawlError as exc:
            print("SECOND", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, sqlite_url, replay.base_url, str(tmp_path / "crawl.log")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "SUMMARY finished 2 1 None" in done.stdout
    assert "SECOND an in-process crawl already ran in this process" in done.stdout
