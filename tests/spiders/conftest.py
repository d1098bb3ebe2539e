"""Helpers for crawl tests: a replay server, settings pointing at it, and crawls run in a child process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from monitor.core.config import EarshotSettings, Target
from monitor.core.db import make_engine
from monitor.core.models import CrawlRun, Mention, MentionRevision
from monitor.core.store import get_watermark
from spiders.runner import CrawlSummary, run_crawl
from tests.spiders.replay_server import ReplayServer

ACCOUNT = "111222333"
LOC1, LOC2, LOC3, LOC4 = "9001", "9002", "9003", "9004"
TOKEN = "ya29.TEST-secret-token-4f1c9e"  # distinctive, so a leak into logs or the database is easy to find
TARGET = "Sklep Testowy"

# Fast and deterministic crawls; DEBUG logging so the token check also covers Scrapy's request lines.
FAST: dict[str, Any] = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "RETRY_TIMES": 1,
    "EARSHOT_RETRY_BACKOFF_BASE": 0.05,
    "LOG_LEVEL": "DEBUG",
    "LOGSTATS_INTERVAL": 0,
}


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'earshot.db'}"


def scope(location: str) -> str:
    return f"accounts/{ACCOUNT}/locations/{location}"


def gbp_settings(
    db_url: str, base_url: str, locations: list[str], token: str | None = TOKEN, page_size: int = 3
) -> EarshotSettings:
    """Settings for one target with ``locations`` on the replay server."""
    return EarshotSettings(
        database_url=db_url,
        targets=[Target(name=TARGET, google_account_id=ACCOUNT, google_location_ids=locations)],
        sources={"google_business": {"base_url": base_url, "access_token": token, "page_size": page_size}},
    )


@dataclass
class CrawlResult:
    summary: CrawlSummary
    log: str
    stats: dict[str, Any]


def crawl(
    settings: EarshotSettings, tmp_path: Path, spider: str = "google_business", **overrides: Any
) -> CrawlResult:
    """Run a crawl isolated in a child process; return its summary, its log file and its recorded stats."""
    log_file = tmp_path / f"crawl-{uuid.uuid4().hex[:8]}.log"
    summary = run_crawl(
        settings,
        spider,
        isolate=True,
        scrapy_overrides={**FAST, "LOG_FILE": str(log_file), **overrides},
        timeout=60,
    )
    log = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
    return CrawlResult(summary, log, crawl_run(settings.effective_database_url, summary.run_id).stats)


def crawl_run(db_url: str, run_id: int | None) -> CrawlRun:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            run = session.get(CrawlRun, run_id)
            assert run is not None
            return run
    finally:
        engine.dispose()


def mentions(db_url: str) -> dict[str, Mention]:
    """Stored mentions by external id."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return {m.external_id: m for m in session.exec(select(Mention).order_by(col(Mention.id)))}
    finally:
        engine.dispose()


def watermark(db_url: str, location: str) -> datetime | None:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return get_watermark(session, "google_business", scope(location))
    finally:
        engine.dispose()


def source_watermark(db_url: str, source: str, scope_key: str) -> datetime | None:
    """The stored watermark of any source's scope."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return get_watermark(session, source, scope_key)
    finally:
        engine.dispose()


def revisions(db_url: str, external_id: str) -> list[MentionRevision]:
    """Earlier versions of a mention, oldest first."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            mention = session.exec(select(Mention).where(Mention.external_id == external_id)).one()
            stmt = select(MentionRevision).where(MentionRevision.mention_id == mention.id)
            return list(session.exec(stmt.order_by(col(MentionRevision.version))))
    finally:
        engine.dispose()
