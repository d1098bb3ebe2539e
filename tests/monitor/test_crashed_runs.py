"""A crawl killed mid-way (kill -9 of the command and its crawl process) leaves its run open; the next start
of a crawl closes it as ``crashed``, and ``earshot sources`` counts it as a failure of its source."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.cli import main
from monitor.core.db import make_engine
from monitor.core.models import CrawlRun
from monitor.core.timeutil import utcnow
from spiders.abandoned import close_abandoned_runs, process_alive, this_host
from tests.spiders.replay_server import ReplayServer, Reply
from tests.spiders.test_crawl_output import SilentServer

ROOT = Path(__file__).resolve().parents[2]
EARSHOT = Path(sys.executable).with_name("earshot")
FEED = "/feed/atom/"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


def write_config(tmp_path: Path, hn_url: str, feed_url: str) -> Path:
    path = tmp_path / "earshot.toml"
    path.write_text(
        f'data_dir = "{tmp_path}"\n[sources.hackernews]\nbase_url = "{hn_url}"\n'
        f'[[targets]]\nname = "Sklep"\nkeywords = ["sklep"]\nfeeds = ["{feed_url}"]\n',
        encoding="utf-8",
    )
    return path


def open_run(engine: Engine) -> CrawlRun | None:
    with Session(engine) as s:
        return s.exec(select(CrawlRun).where(col(CrawlRun.finished_at).is_(None))).first()


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_crawl_killed_with_kill_9_is_closed_as_crashed_by_the_next_start(
    tmp_path: Path, silent: SilentServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with ReplayServer() as replay:
        replay.add(FEED, Reply.recorded("rss", "blog.atom", headers={"Content-Type": "application/atom+xml"}))
        config = write_config(tmp_path, silent.base_url, replay.base_url + FEED)
        engine = make_engine(f"sqlite:///{tmp_path / 'earshot.db'}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
        command = subprocess.Popen(
            [str(EARSHOT), "--config", str(config), "crawl", "--source", "hackernews"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # The crawl process records its own pid when its spider opens; then it waits on the silent server.
            wait_for(
                lambda: (r := open_run(engine)) is not None and r.pid not in (None, command.pid), "the crawl"
            )
            run = open_run(engine)
            assert run is not None and run.pid is not None and run.host == this_host()
            crawler = run.pid
            os.kill(command.pid, signal.SIGKILL)  # the command first, so nothing is left to close the run
            command.wait(10)
            os.kill(crawler, signal.SIGKILL)
            wait_for(lambda: not process_alive(crawler), "the crawl process to die", 10)
        finally:
            if command.poll() is None:
                command.kill()
        assert open_run(engine) is not None  # killed mid-way: nobody closed it

        assert main(["--config", str(config), "crawl", "--source", "rss"]) == 0
        out = capsys.readouterr().out
    assert f"as crashed: its process (pid {crawler}) was gone" in out
    assert re.match(r"rss +ok  \d+ new \(", out), out
    assert f"closed crawl run #{run.id} (hackernews, started " in out
    with Session(engine) as s:
        closed = s.get(CrawlRun, run.id)
    assert closed is not None and closed.finished_at is not None
    assert (closed.finish_reason, closed.failure) == ("crashed", "crashed")
    assert closed.failure_detail is not None and "closed when the next crawl started" in closed.failure_detail
    engine.dispose()

    assert main(["--config", str(config), "sources", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    health = rows["hackernews"]["health"]
    assert (health["status"], health["text"], health["reason"]) == ("failing", "failing 1 run", "crashed")
    assert rows["rss"]["health"]["status"] == "ok"


def test_only_runs_whose_process_is_gone_or_that_are_too_old_are_closed(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'earshot.db'}")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = utcnow()
    rows = {
        "alive here": CrawlRun(spider="a", pid=os.getpid(), host=this_host(), started_at=now),
        "dead here": CrawlRun(spider="b", pid=gone.pid, host=this_host(), started_at=now),
        "other host, recent": CrawlRun(spider="c", pid=1, host="elsewhere", started_at=now),
        "other host, old": CrawlRun(spider="d", pid=1, host="elsewhere", started_at=now - timedelta(hours=3)),
        "before pids, old": CrawlRun(spider="e", started_at=now - timedelta(hours=3)),
        "finished": CrawlRun(
            spider="f", pid=gone.pid, host=this_host(), finished_at=now, finish_reason="finished"
        ),
    }
    with Session(engine) as s:
        s.add_all(rows.values())
        s.commit()
        ids = {name: row.id for name, row in rows.items()}
    closed = close_abandoned_runs(engine)
    assert [c.spider for c in closed] == ["b", "d", "e"]
    assert closed[0].why == f"its process (pid {gone.pid}) was gone"
    with Session(engine) as s:
        after = {name: s.get(CrawlRun, i) for name, i in ids.items()}
    assert {name for name, r in after.items() if r is not None and r.finish_reason == "crashed"} == {
        "dead here",
        "other host, old",
        "before pids, old",
    }
    assert after["alive here"] is not None and after["alive here"].finished_at is None
    assert close_abandoned_runs(engine) == []  # once
    engine.dispose()
