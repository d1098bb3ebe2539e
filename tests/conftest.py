"""Shared fixtures: a database engine on SQLite and, when reachable, PostgreSQL (always in CI).

Every isolated crawl of the session (``run_crawl``, directly or through the pipeline and the CLI) forks from
one fork server that imported Scrapy once, instead of spawning an interpreter that imports it all again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from monitor.core.db import make_engine
from spiders.runner import use_crawl_fork_server

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(os.environ.get("EARSHOT_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
POSTGRES_URL = os.environ.get(
    "EARSHOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_available() -> bool:
    try:
        eng = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return True
    except OperationalError:
        return False


_PG_OK: bool | None = None


def _require_postgres() -> None:
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = _postgres_available()
    if not _PG_OK:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}; CI must run storage tests on it")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` first (a stable sort): under ``make test``'s two workers, which take whole files,
    one worker starts on the longest files while the other works through the rest, instead of ending alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The soak test's figures (tests/monitor/test_soak.py) in the run's summary; under xdist too, as they
    travel in the test report's ``user_properties``."""
    for report in [*terminalreporter.stats.get("passed", []), *terminalreporter.stats.get("failed", [])]:
        for name, value in getattr(report, "user_properties", []):
            if name == "soak_figures":
                terminalreporter.section("soak figures (tests/monitor/test_soak.py)")
                terminalreporter.write_line(str(value))


@pytest.fixture(scope="session", autouse=True)
def _crawls_fork_from_a_preloaded_server() -> None:
    """Crawl children keep their own process and reactor, without 2-3 s of imports each."""
    use_crawl_fork_server(preload=["tests.spiders.crawl_preload"])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a private schema in the PostgreSQL test database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'earshot.db'}"
        return
    _require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'earshot.db'}")
    yield eng
    eng.dispose()
