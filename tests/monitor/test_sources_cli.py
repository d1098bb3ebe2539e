"""`earshot sources` shows every source's configuration, last run and health; `earshot crawl --source`."""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from monitor.cli import main
from monitor.core.db import make_engine
from monitor.core.models import CrawlRun, utcnow
from monitor.demo_source import DemoSource
from spiders.runner import available_spiders

SECRET_KEY = "AIza-very-secret-places-key"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)


def write_config(tmp_path: Path, body: str) -> str:
    path = tmp_path / "earshot.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n{body}', encoding="utf-8")
    return str(path)


def add_run(tmp_path: Path, spider: str, reason: str, errors: int = 0, **counts: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'earshot.db'}")
    with Session(engine) as s:
        s.add(
            CrawlRun(
                spider=spider,
                finish_reason=reason,
                errors=errors,
                finished_at=utcnow() - timedelta(hours=2),
                **counts,
            )
        )
        s.commit()
    engine.dispose()


def runs(tmp_path: Path) -> list[CrawlRun]:
    engine = make_engine(f"sqlite:///{tmp_path / 'earshot.db'}")
    with Session(engine) as s:
        rows = list(s.exec(select(CrawlRun).order_by(col(CrawlRun.id))))
    engine.dispose()
    return rows


CONFIG = f"""
[schedule]
crawl_minutes = 45

[sources.rss]
interval_minutes = 15

[sources.google_places]
api_key = "{SECRET_KEY}"

[[targets]]
name = "Sklep A"
feeds = ["https://alerts.example.com/feed-a.xml"]
place_ids = ["ChIJa"]

[[targets]]
name = "Sklep B"
feeds = ["https://alerts.example.com/feed-b.xml"]
"""


@pytest.fixture
def seeded(tmp_path: Path) -> str:
    config = write_config(tmp_path, CONFIG)
    add_run(tmp_path, "rss", "finished", items_new=5, items_updated=1, items_rejected=2)
    for _ in range(3):
        add_run(tmp_path, "google_places", "auth_failed", errors=1)
    return config


def test_sources_json_lists_every_source_with_config_and_history(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", seeded, "sources", "--json"]) == 0
    out = capsys.readouterr().out
    assert SECRET_KEY not in out
    rows = {row["name"]: row for row in json.loads(out)}
    assert sorted(rows) == available_spiders()

    rss = rows["rss"]
    assert (rss["configured"], rss["missing"], rss["skip_reason"]) == (True, [], None)
    assert (rss["targets"], rss["interval_minutes"], rss["max_requests"]) == (["Sklep A", "Sklep B"], 15, 500)
    last = rss["last_run"]
    assert (last["finish_reason"], last["items_new"], last["items_updated"], last["items_rejected"]) == (
        "finished",
        5,
        1,
        2,
    )
    assert rss["health"]["status"] == "ok" and rss["health"]["text"] == "ok"

    places = rows["google_places"]
    assert (places["configured"], places["targets"], places["interval_minutes"]) == (True, ["Sklep A"], 720)
    assert places["health"] == {**places["health"], "status": "failing", "text": "failing 3 runs"}
    assert places["health"]["failed_runs_in_row"] == 3
    assert places["health"]["reason"] == "credentials refused (auth)"  # a run recorded without a failure code
    assert places["last_run"]["failure"] == "auth"

    gbp = rows["google_business"]
    assert gbp["configured"] is False
    assert gbp["missing"] == ["EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN"]
    assert (gbp["interval_minutes"], gbp["last_run"], gbp["health"]["text"]) == (45, None, "no runs yet")


def test_sources_table_shows_the_same_facts(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", seeded, "sources"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["SOURCE", "CONFIGURED", "TARGETS"]
    row = {line.split()[0]: line for line in lines[1:]}
    assert sorted(row) == available_spiders()
    assert row["google_business"].split()[1] == "no"
    assert row["google_business"].endswith(
        "set EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN or run `earshot auth google`"
    )
    assert "finished 5 new, 1 upd, 2 rej (2 h ago)" in row["rss"] and "15 min" in row["rss"]
    assert (
        "failing 3 runs: credentials refused (auth)" in row["google_places"]
        and "12 h" in row["google_places"]
    )
    assert "no target has ceneo_urls" in row["ceneo"]


def test_unknown_source_exits_2_listing_the_valid_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "")
    assert main(["--config", config, "crawl", "--source", "rss", "--source", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown source(s) nope" in err
    assert all(name in err for name in available_spiders())
    assert runs(tmp_path) == []


def _demo_config(tmp_path: Path, demo: DemoSource) -> str:
    feeds: Any = demo.target().feeds
    return write_config(tmp_path, f'[[targets]]\nname = "DobraKuchnia.pl"\nfeeds = {json.dumps(feeds)}\n')


def test_crawl_runs_only_sources_with_work_and_says_what_it_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with DemoSource(sources=["rss"]) as demo:
        assert main(["--config", _demo_config(tmp_path, demo), "crawl"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^rss +ok  6 new \(\d+\.\d s\)$", out, re.M), out
    assert (
        "skipped google_business: not configured: set EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN" in out
    )
    assert "skipped ceneo: no target has ceneo_urls" in out
    assert "source health: evaluated=1, ok=1" in out
    assert [(r.spider, r.finish_reason) for r in runs(tmp_path)] == [("rss", "finished")]


def test_a_named_source_runs_even_when_unconfigured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, '[[targets]]\nname = "X"\ngoogle_location_ids = ["1"]\n')
    assert main(["--config", config, "crawl", "--spider", "google_business"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(
        "google_business  failed: not configured: no access token configured: "
        "set EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN"
    )
    assert captured.err == ""
    assert [(r.spider, r.finish_reason) for r in runs(tmp_path)] == [
        ("google_business", "missing_credentials")
    ]


def test_a_crashing_spider_does_not_stop_the_next_one(tmp_path: Path) -> None:
    from monitor.core.config import EarshotSettings
    from monitor.pipeline import run_crawls

    fakes = {"SPIDER_MODULES": ["spiders.spiders", "tests.spiders.fake_spiders"]}
    with DemoSource(sources=["rss"]) as demo:
        settings = demo.configure(EarshotSettings(data_dir=tmp_path))
        result = run_crawls(settings, ["earshot_test_crash", "rss"], scrapy_overrides=fakes)
    crash, rss = result.reports
    assert (crash.stage, crash.error) == ("crawl:earshot_test_crash", "finish_reason=crashed")
    assert (rss.stage, rss.error, rss.counts["items_new"]) == ("crawl:rss", None, 6)
    assert result.failed and result.health.counts["evaluated"] == 2
    assert [(r.spider, r.finish_reason) for r in runs(tmp_path)] == [
        ("earshot_test_crash", "crashed"),
        ("rss", "finished"),
    ]
