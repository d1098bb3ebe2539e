"""Crawl output a person can read: one line per source with the reason in words, Scrapy's log in a file.

Every failure category is produced by a real loopback server: a dead port (bound, closed, reused), a
server that accepts and never answers, one that answers 503, one that answers malformed JSON. The console
test runs ``earshot crawl`` as a real command, in its own process, so what it prints is what a user sees.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.core.config import EarshotSettings, Target
from monitor.core.models import CrawlRun
from monitor.crawl_report import crawl_lines
from monitor.pipeline import run_crawls
from monitor.source_health import run_failed
from spiders.crawl_logs import prune_logs
from spiders.extensions import fill_run
from spiders.failures import classify, failure_words, host_of
from spiders.runner import run_crawl
from tests.spiders.conftest import FAST, crawl_run
from tests.spiders.replay_server import ReplayServer, Reply

ROOT = Path(__file__).resolve().parents[2]
EARSHOT = Path(sys.executable).with_name("earshot")
HN_PATH = "/api/v1/search_by_date"
QUICK = {**FAST, "RETRY_TIMES": 0, "LOG_LEVEL": "INFO"}


def dead_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class SilentServer:
    """Accepts connections and never answers (until ``release``), like a hung backend."""

    def __init__(self) -> None:
        self.release = threading.Event()
        release = self.release

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                release.wait(60)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


def hn_settings(tmp_path: Path, base_url: str, **extra: Any) -> EarshotSettings:
    return EarshotSettings(
        data_dir=tmp_path,
        targets=[Target(name="Sklep", keywords=["sklep"])],
        sources={"hackernews": {"base_url": base_url}},
        **extra,
    )


def hn_config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "earshot.toml"
    path.write_text(
        f'data_dir = "{tmp_path}"\n[sources.hackernews]\nbase_url = "{base_url}"\n'
        '[[targets]]\nname = "Sklep"\nkeywords = ["sklep"]\n',
        encoding="utf-8",
    )
    return path


# -- categories, each from a real server -------------------------------------------------------------------


def test_a_dead_port_is_a_failed_run_named_connection_refused_with_its_host(tmp_path: Path) -> None:
    port = dead_port()
    summary = run_crawl(
        hn_settings(tmp_path, f"http://127.0.0.1:{port}"), "hackernews", scrapy_overrides=QUICK
    )
    assert (summary.finish_reason, summary.failure, summary.failure_where) == (
        "finished",
        "connection_refused",
        f"127.0.0.1:{port}",
    )
    assert not summary.ok and summary.errors >= 1  # every request failed: never "finished" with 0 errors
    run = crawl_run(f"sqlite:///{tmp_path / 'earshot.db'}", summary.run_id)
    assert run.failure == "connection_refused"
    assert (
        run.failure_detail
        == f"127.0.0.1:{port} refused the connection (1 attempt); is the server up, on that port?"
    )
    # Scrapy's own log went to the run's file under data_dir/logs/, with the traceback and the stats.
    assert summary.log_file is not None
    log = Path(summary.log_file)
    assert log.parent == (tmp_path / "logs").resolve()
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\d_hackernews_run{summary.run_id}\.log", log.name)
    text = log.read_text(encoding="utf-8")
    assert "Connection was refused" in text and "Dumping Scrapy stats" in text


def test_a_server_that_never_answers_is_a_timeout(tmp_path: Path, silent: SilentServer) -> None:
    summary = run_crawl(
        hn_settings(tmp_path, silent.base_url),
        "hackernews",
        scrapy_overrides={**QUICK, "DOWNLOAD_TIMEOUT": 1},
    )
    assert (summary.failure, summary.failure_where) == ("timeout", silent.base_url.removeprefix("http://"))
    assert summary.failure_detail is not None and "did not answer in time" in summary.failure_detail


def test_503_is_http_5xx_and_malformed_json_is_malformed(tmp_path: Path, replay: ReplayServer) -> None:
    replay.route(HN_PATH, Reply(503, b"Service Unavailable"))
    down = run_crawl(hn_settings(tmp_path, replay.base_url), "hackernews", scrapy_overrides=QUICK)
    assert (down.failure, down.failure_where) == ("http_5xx", replay.base_url.removeprefix("http://"))
    assert down.failure_detail == f"{replay.base_url.removeprefix('http://')} answered HTTP 503 (1 time)"

    replay.route(HN_PATH, Reply.recorded("hackernews", "malformed_truncated.json"))
    bad = run_crawl(hn_settings(tmp_path, replay.base_url), "hackernews", scrapy_overrides=QUICK)
    assert (bad.finish_reason, bad.failure) == ("finished", "malformed")
    assert bad.failure_detail is not None and bad.failure_detail.startswith(
        "search:sklep: malformed response for page 1: body is not JSON"
    )


@pytest.mark.parametrize(
    ("stats", "reason", "errors", "code"),
    [
        ({"downloader/exception_type_count/twisted.internet.error.DNSLookupError": 4}, "finished", 1, "dns"),
        (
            {"downloader/exception_type_count/scrapy.exceptions.CannotResolveHostError": 2},
            "finished",
            1,
            "dns",
        ),
        (
            {"downloader/exception_type_count/twisted.internet.error.TCPTimedOutError": 2},
            "finished",
            1,
            "timeout",
        ),
        ({"earshot/api_errors/404": 1, "earshot/api_errors/503": 3}, "finished", 4, "http_5xx"),
        ({"earshot/api_errors/404": 2}, "finished", 2, "http_4xx"),
        ({"earshot/api_errors/401": 1}, "auth_failed", 1, "auth"),
        ({}, "missing_credentials", 1, "config"),
        ({}, "crashed", 0, "crashed"),
        ({"earshot/error_messages": ["something odd"]}, "finished", 1, "error"),
    ],
)
def test_the_other_categories_from_the_evidence_scrapy_records(
    stats: dict[str, Any], reason: str, errors: int, code: str
) -> None:
    found = classify(stats, reason, errors)
    assert found is not None and found.code == code
    assert failure_words(code, "pl") != failure_words(code, "en")  # said in both languages


def test_a_good_run_has_no_failure() -> None:
    stats = {"downloader/request_count": 2, "downloader/response_count": 2}
    assert classify(stats, "finished", 0) is None
    retried = {**stats, "downloader/exception_type_count/x.ConnectionRefusedError": 1}
    assert classify(retried, "finished", 0) is None  # a retry that then worked is no failure


# -- the console --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_earshot_crawl_prints_one_line_per_source_and_no_warning(tmp_path: Path) -> None:
    """`earshot crawl` as a user runs it: its children spawn and inherit its stdout and stderr."""
    port = dead_port()
    config = hn_config(tmp_path, f"http://127.0.0.1:{port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
    done = subprocess.run(
        [str(EARSHOT), "--config", str(config), "crawl", "--source", "hackernews"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env=env,
        check=False,
    )
    console = done.stdout + done.stderr
    assert done.returncode == 1, console
    assert "Warning" not in console and "WARNING" not in console and "Traceback" not in console
    assert done.stderr == ""  # Scrapy's settings dump, retries and stats are in the log file, not here
    lines = done.stdout.splitlines()
    assert len(lines) < 10, console
    line = re.fullmatch(
        rf"hackernews       failed: connection refused \(127\.0\.0\.1:{port}\)  0 new · log: (\S+)", lines[0]
    )
    assert line is not None, lines[0]
    log = Path(line.group(1))
    assert log.parent == (tmp_path / "logs").resolve() and "Connection was refused" in log.read_text()
    assert "ScrapyDeprecationWarning" not in log.read_text()  # fixed at the cause, not moved to the file


def test_earshot_sources_names_the_last_failure_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)
    port = dead_port()
    settings = hn_settings(tmp_path, f"http://127.0.0.1:{port}")
    run_crawls(settings, ["hackernews"], scrapy_overrides=QUICK)
    config = hn_config(tmp_path, f"http://127.0.0.1:{port}")
    assert main(["--config", str(config), "sources"]) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("hackernews")]
    assert "failing 1 run: connection refused" in row
    monkeypatch.setenv("EARSHOT_CONSOLE_LANGUAGE", "pl")
    assert main(["--config", str(config), "sources"]) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("hackernews")]
    assert "nieudane przebiegi z rzędu: 1: połączenie odrzucone" in row


def test_the_lines_in_polish_and_an_ok_line(tmp_path: Path, replay: ReplayServer) -> None:
    port = dead_port()
    settings = hn_settings(tmp_path, f"http://127.0.0.1:{port}", console_language="pl")
    failed = run_crawls(settings, ["hackernews"], scrapy_overrides=QUICK)
    [line] = crawl_lines(failed, "pl")
    assert line.startswith(f"hackernews       błąd: połączenie odrzucone (127.0.0.1:{port})  nowe: 0 · log: ")

    replay.route(HN_PATH, Reply.recorded("hackernews", "search_morele.json"))
    good = run_crawls(hn_settings(tmp_path, replay.base_url), ["hackernews"], scrapy_overrides=QUICK)
    [ok] = crawl_lines(good, "en")
    assert re.fullmatch(r"hackernews       ok  \d+ new \(\d+\.\d s\)", ok), ok
    assert re.fullmatch(r"hackernews       ok  nowe: \d+ \(\d+,\d s\)", crawl_lines(good, "pl")[0])


def test_old_log_files_of_a_source_are_deleted_beyond_the_setting(tmp_path: Path) -> None:
    port = dead_port()
    settings = hn_settings(tmp_path, f"http://127.0.0.1:{port}", crawl_logs_keep=2)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "notes.txt").write_text("mine")  # not a crawl log: never touched
    (logs / "2020-01-01T00-00-00_hackernews_run0.log").write_text("old")
    (logs / "2020-01-01T00-00-00_rss_run0.log").write_text("another source's")
    summaries = [run_crawl(settings, "hackernews", scrapy_overrides=QUICK) for _ in range(2)]
    kept = sorted(p.name for p in logs.glob("*_hackernews_run*.log"))
    assert kept == sorted(Path(s.log_file or "").name for s in summaries)
    assert (logs / "notes.txt").exists() and (logs / "2020-01-01T00-00-00_rss_run0.log").exists()
    assert prune_logs(tmp_path, "hackernews", 1) == [logs / kept[0]]  # the older one goes first
    assert sorted(p.name for p in logs.glob("*_hackernews_run*.log")) == kept[1:]


def test_the_host_named_on_the_line_never_carries_a_password() -> None:
    assert host_of("https://shop:s3cret@api.example.com/v1/reviews") == "api.example.com"
    assert host_of("http://127.0.0.1:9/feed.xml") == "127.0.0.1:9"


def test_a_run_whose_every_request_failed_is_never_finished_with_0_errors() -> None:
    """Even when nothing was logged at ERROR (a spider whose errback only warns, or logging turned off)."""
    stats = {
        "downloader/request_count": 3,
        "downloader/exception_count": 3,
        "downloader/exception_type_count/scrapy.exceptions.DownloadConnectionRefusedError": 3,
        "earshot/failure_where/connection_refused": "127.0.0.1:9",
    }
    run = CrawlRun(spider="hackernews")
    fill_run(run, stats, "finished")
    assert (run.finish_reason, run.errors, run.failure) == ("finished", 1, "connection_refused")
    assert run_failed(run)
    fill_run(run, {**stats, "downloader/response_count": 1}, "finished")  # one answer came back
    assert (run.errors, run.failure) == (0, None)
