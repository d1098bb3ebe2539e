"""The console's summaries in Polish (``console_language = "pl"``) and English, times with their zone.

What a Polish operator reads: the ``earshot sources`` table, a crawl pass's lines (a crashed run closed,
with the moment it started and its zone), the ``score`` / ``alerts`` summaries and the requeue count in
the right plural form. English stays exactly what scripts and the other tests read.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from monitor.cli import main
from monitor.cli_text import counts_line, seconds, when
from monitor.core.db import make_engine
from monitor.core.models import CrawlRun, utcnow
from monitor.crawl_report import abandoned_line, skipped_line
from spiders.abandoned import AbandonedRun

CONFIG = """
[[targets]]
name = "Sklep A"
feeds = ["https://alerts.example.com/feed-a.xml"]
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)


def _config(tmp_path: Path, language: str) -> str:
    path = tmp_path / "earshot.toml"
    path.write_text(f'data_dir = "{tmp_path}"\nconsole_language = "{language}"\n{CONFIG}', encoding="utf-8")
    return str(path)


def test_a_crashed_run_is_closed_with_its_start_and_zone_in_both_languages() -> None:
    run = AbandonedRun(7, "rss", datetime(2026, 12, 7, 8, 36, tzinfo=UTC), "process 41 is gone")
    assert abandoned_line(run, "en") == (
        "closed crawl run #7 (rss, started Dec 7, 2026, 08:36 UTC) as crashed: process 41 is gone"
    )
    assert abandoned_line(run, "pl") == (
        "zamknięto przebieg #7 (rss, start 7 gru 2026, 08:36 UTC) jako przerwany (crash): process 41 is gone"
    )
    assert (
        skipped_line("ceneo", "no target has ceneo_urls", "pl") == "pominięto ceneo: no target has ceneo_urls"
    )


def test_summary_lines_translate_titles_and_counters_and_keep_unknown_counters() -> None:
    counts = {"scored": 3, "negative": 1, "brand_new_counter": 2}
    assert counts_line("score", counts, "en") == "score: scored=3, negative=1, brand_new_counter=2"
    assert counts_line("score", counts, "pl") == "ocena: ocenione=3, negatywne=1, brand_new_counter=2"
    assert seconds(1234.56, "pl") == "1\xa0234,6 s" and seconds(3.14, "en") == "3.1 s"
    assert when(datetime(2026, 7, 1, 22, 5, tzinfo=UTC), "pl") == "1 lip 2026, 22:05 UTC"


def test_the_sources_table_in_polish(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'earshot.db'}")
    with Session(engine) as s:
        s.add(
            CrawlRun(
                spider="rss",
                finish_reason="finished",
                items_new=5,
                items_updated=1,
                items_rejected=2,
                finished_at=utcnow() - timedelta(hours=2),
            )
        )
        s.commit()
    engine.dispose()
    assert main(["--config", _config(tmp_path, "pl"), "sources"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["ŹRÓDŁO", "SKONFIGUROWANE", "MARKI"]
    row = {line.split()[0]: line for line in lines[1:]}
    assert row["rss"].split()[1] == "tak" and "finished 5 nowe, 1 zm., 2 odrz. (2 godz. temu)" in row["rss"]
    assert row["google_business"].split()[1] == "nie" and "nigdy" in row["google_business"]
    assert (
        "ustaw EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN albo uruchom `earshot auth google`"
        in (row["google_business"])
    )


def test_score_prints_its_summary_in_the_console_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", _config(tmp_path, "pl"), "score"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ocena: ocenione=0, już ocenione=0, partie=0"), out
    assert main(["--config", _config(tmp_path, "en"), "score"]) == 0
    assert capsys.readouterr().out.startswith("score: scored=0, already_scored=0, batches=0")
