"""Pipelines and the run recorder: validation stats, batched storage and the watermark rule.

Most tests drive the pipelines on an asyncio loop without Scrapy's engine, as Scrapy's item processor
would (pipelines in order, ``item_dropped`` on DropItem, items of one response processed concurrently).
Database refusals are real: a trigger refuses rows whose text contains ``REFUSE``. The crash test runs
real crawls in child processes and kills one with SIGKILL in the middle of a commit.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine, session_scope
from monitor.core.models import CrawlRun, Mention, MentionRevision
from monitor.core.store import ensure_target, get_watermark, upsert_mention
from spiders.extensions import count_errors, fill_run, json_safe
from spiders.items import InvalidItem, MentionItem, to_mention_in
from spiders.pipelines import InvalidItemDropped, StorageFailed, StoragePipeline, ValidationPipeline
from spiders.signals import scope_completed
from tests.spiders.conftest import ACCOUNT, crawl, gbp_settings, mentions, watermark
from tests.spiders.replay_server import ReplayServer, Reply, reviews_path

SCOPE = "accounts/1/locations/2"
T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
REFUSED = "REFUSE"  # rows whose text contains this are refused by the database (see _refuse_marked_rows)


def _item(n: int, **overrides: Any) -> MentionItem:
    fields: dict[str, Any] = {
        "source": "google_business",
        "external_id": f"r{n}",
        "text": f"review {n}",
        "rating": 3,
        "updated_at": (T0 + timedelta(minutes=n)).isoformat(),
        "target": "Sklep",
        "scope": SCOPE,
    }
    fields.update(overrides)
    return MentionItem(**fields)


def _crawler(db_url: str, batch_size: int | None = None) -> Crawler:
    settings: dict[str, Any] = {"EARSHOT_SETTINGS": EarshotSettings(database_url=db_url)}
    if batch_size is not None:
        settings["EARSHOT_STORE_BATCH_SIZE"] = batch_size
    return get_crawler(settings_dict=settings)


@pytest.fixture
def crawler(sqlite_url: str) -> Crawler:
    return _crawler(sqlite_url)


def _stats(crawler: Crawler) -> dict[str, Any]:
    assert crawler.stats is not None
    return crawler.stats.get_stats()


def _watermark(url: str) -> datetime | None:
    engine = make_engine(url)
    with Session(engine) as session:
        value = get_watermark(session, "google_business", SCOPE)
    engine.dispose()
    return value


def _stored(url: str) -> dict[str, Mention]:
    engine = make_engine(url)
    with Session(engine) as session:
        rows = {m.external_id: m for m in session.exec(select(Mention))}
    engine.dispose()
    return rows


def _revision_count(url: str) -> int:
    engine = make_engine(url)
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(MentionRevision)).one()
    engine.dispose()
    return count


def _refuse_marked_rows(url: str) -> None:
    """Make the database itself refuse to insert or update a mention whose text contains ``REFUSE``."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for when in ("INSERT", "UPDATE"):
                conn.execute(
                    text(
                        f"CREATE TRIGGER refuse_{when.lower()} BEFORE {when} ON mentions "
                        f"WHEN NEW.text LIKE '%{REFUSED}%' BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
                    )
                )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_marked() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.text LIKE '%{REFUSED}%' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_marked BEFORE INSERT OR UPDATE ON mentions "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_marked()"
                )
            )
    engine.dispose()


def _with_target(url: str) -> str:
    """The database as after earlier runs: the target exists, so a batch starts with no row to write."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        ensure_target(session, "Sklep")
    engine.dispose()
    return url


def _count_commits(engine: Engine) -> list[int]:
    """A list that gets one entry (the committing thread's id) per transaction committed on ``engine``."""
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(threading.get_ident()))
    return commits


def _journal(engine: Engine) -> list[str]:
    """A list that gets "commit", "mention" (a row written) and "watermark" entries in execution order."""
    journal: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        head = sql.lstrip().upper()
        if head.startswith(("INSERT INTO MENTIONS", "UPDATE MENTIONS")):
            journal.append("mention")
        elif head.startswith(("INSERT INTO WATERMARKS", "UPDATE WATERMARKS")):
            journal.append("watermark")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", lambda _conn: journal.append("commit"))
    return journal


def _complete(crawler: Crawler, expected: int, newest: datetime) -> None:
    crawler.signals.send_catch_log(
        scope_completed, source="google_business", scope=SCOPE, watermark=newest, expected=expected
    )


async def _process(
    crawler: Crawler, validation: ValidationPipeline, storage: StoragePipeline, item: MentionItem
) -> DropItem | None:
    """What Scrapy's item processor does: the pipelines in order, and the dropped signal on DropItem."""
    try:
        await storage.process_item(validation.process_item(item))
    except DropItem as exc:
        crawler.signals.send_catch_log(
            signals.item_dropped, item=item, response=None, exception=exc, spider=None
        )
        return exc
    return None


async def _process_together(
    crawler: Crawler, validation: ValidationPipeline, storage: StoragePipeline, items: list[MentionItem]
) -> list[DropItem | None]:
    """Items processed concurrently, like the items of one response."""
    return list(await asyncio.gather(*(_process(crawler, validation, storage, item) for item in items)))


def _pipelines(crawler: Crawler) -> tuple[ValidationPipeline, StoragePipeline]:
    return ValidationPipeline.from_crawler(crawler), StoragePipeline.from_crawler(crawler)


# -- the watermark rule ---------------------------------------------------------------------------------


def test_watermark_waits_until_every_item_of_the_scope_is_stored(crawler: Crawler, sqlite_url: str) -> None:
    validation, storage = _pipelines(crawler)

    async def scenario() -> None:
        _complete(crawler, expected=3, newest=T0 + timedelta(minutes=3))  # the spider finished first
        await _process(crawler, validation, storage, _item(3))
        await _process(crawler, validation, storage, _item(2, rating=9))  # invalid: counts as handled
        await storage.flush()
        assert _watermark(sqlite_url) is None  # one item still in flight
        await _process(crawler, validation, storage, _item(1))
        await storage.flush()
        assert _watermark(sqlite_url) == T0 + timedelta(minutes=3)
        await storage.close_spider()

    asyncio.run(scenario())
    stats = _stats(crawler)
    assert stats["earshot/items_new"] == 2
    assert stats["earshot/items_rejected"] == 1
    assert stats["earshot/items_rejected/rating_out_of_range"] == 1
    assert stats["spidermon/validation/fields/errors/rating_out_of_range/rating"] == 1
    assert stats["earshot/watermarks_advanced"] == 1


def test_an_unfinished_scope_is_reported_at_close(crawler: Crawler, sqlite_url: str) -> None:
    validation, storage = _pipelines(crawler)

    async def scenario() -> None:
        await _process(crawler, validation, storage, _item(1))
        _complete(crawler, expected=2, newest=T0 + timedelta(minutes=2))
        await storage.close_spider()  # the second item never arrived (e.g. the run was cancelled)

    asyncio.run(scenario())
    assert _watermark(sqlite_url) is None
    assert _stats(crawler)["earshot/watermarks_held"] == 1


# -- batches --------------------------------------------------------------------------------------------


def test_items_arriving_together_are_committed_in_batches(db_url: str) -> None:
    crawler = _crawler(db_url, batch_size=10)
    validation, storage = _pipelines(crawler)
    commits = _count_commits(storage.engine)
    journal = _journal(storage.engine)
    items = [_item(n) for n in range(1, 26)]

    async def scenario() -> list[DropItem | None]:
        _complete(crawler, expected=len(items), newest=T0 + timedelta(minutes=25))
        dropped = await _process_together(crawler, validation, storage, items)
        await storage.close_spider()
        return dropped

    assert asyncio.run(scenario()) == [None] * 25
    assert set(_stored(db_url)) == {f"r{n}" for n in range(1, 26)}
    stats = _stats(crawler)
    assert stats["earshot/items_new"] == 25
    assert stats["earshot/storage_batches"] == math.ceil(25 / 10)
    assert len(commits) == math.ceil(25 / 10) + 1  # the batches, then the watermark
    assert _watermark(db_url) == T0 + timedelta(minutes=25)
    # The spider reported the scope complete before any item arrived; still, the watermark is written
    # only after the last of its items was committed, so a crash in between cannot skip reviews.
    last_mention = max(i for i, entry in enumerate(journal) if entry == "mention")
    assert "commit" in journal[last_mention : journal.index("watermark")]


def test_a_refused_row_costs_only_itself_and_a_rerun_stores_it_once(db_url: str) -> None:
    _refuse_marked_rows(_with_target(db_url))
    items = [_item(n) for n in range(1, 11)]
    items[3] = _item(4, text=f"{REFUSED} this one")
    newest = T0 + timedelta(minutes=10)

    crawler = _crawler(db_url, batch_size=10)
    validation, storage = _pipelines(crawler)

    async def first_run() -> list[DropItem | None]:
        dropped = await _process_together(crawler, validation, storage, items)
        _complete(crawler, expected=len(items), newest=newest)
        await storage.close_spider()
        return dropped

    dropped = asyncio.run(first_run())
    assert [isinstance(d, StorageFailed) for d in dropped] == [False] * 3 + [True] + [False] * 6
    assert set(_stored(db_url)) == {f"r{n}" for n in range(1, 11)} - {"r4"}
    stats = _stats(crawler)
    assert (stats["earshot/items_new"], stats["earshot/storage_errors"]) == (9, 1)
    assert stats["earshot/storage_batch_fallbacks"] == 1
    assert stats["earshot/watermarks_held"] == 1
    assert _watermark(db_url) is None  # so the next run reads the scope again

    # The next run: the database accepts the row again; the spider yields the same ten reviews.
    engine = make_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER refuse_insert"))
            conn.execute(text("DROP TRIGGER refuse_update"))
        else:
            conn.execute(text("DROP TRIGGER refuse_marked ON mentions"))
    engine.dispose()
    crawler = _crawler(db_url, batch_size=10)
    validation, storage = _pipelines(crawler)

    async def second_run() -> list[DropItem | None]:
        dropped = await _process_together(crawler, validation, storage, items)
        _complete(crawler, expected=len(items), newest=newest)
        await storage.close_spider()
        return dropped

    assert asyncio.run(second_run()) == [None] * 10
    stored = _stored(db_url)
    assert len(stored) == 10 and stored["r4"].text == f"{REFUSED} this one"
    stats = _stats(crawler)
    assert (stats["earshot/items_new"], stats["earshot/items_unchanged"]) == (1, 9)
    assert "earshot/storage_errors" not in stats
    assert _watermark(db_url) == newest


def test_the_same_review_twice_in_one_batch_is_stored_as_two_upserts(db_url: str) -> None:
    crawler = _crawler(db_url)
    validation, storage = _pipelines(crawler)
    items = [
        _item(1, text="Paczka nie dotarła."),
        _item(2),
        _item(1, text="Paczka dotarła po tygodniu.", rating=4),  # edited between two pages
        _item(2),  # the same review again, unchanged
    ]

    async def scenario() -> None:
        await _process_together(crawler, validation, storage, items)
        await storage.close_spider()

    asyncio.run(scenario())
    stats = _stats(crawler)
    assert (stats["earshot/items_new"], stats["earshot/items_updated"], stats["earshot/items_unchanged"]) == (
        2,
        1,
        1,
    )
    assert stats["earshot/storage_batches"] == 1
    stored = _stored(db_url)
    assert (stored["r1"].text, stored["r1"].rating, stored["r1"].version) == (
        "Paczka dotarła po tygodniu.",
        4,
        2,
    )
    assert stored["r2"].version == 1
    assert _revision_count(db_url) == 1


def _store_one_by_one(url: str, items: list[MentionItem]) -> tuple[Counter[str], dict[str, tuple[Any, ...]]]:
    """The reference: every item upserted in its own transaction, in order (the unbatched pipeline)."""
    engine = make_engine(url)
    outcomes: Counter[str] = Counter()
    for item in items:
        try:
            mention = to_mention_in(item)
        except InvalidItem:
            outcomes["rejected"] += 1
            continue
        try:
            with session_scope(engine) as session:
                outcomes[upsert_mention(session, mention)[1].value] += 1
        except SQLAlchemyError:
            outcomes["refused"] += 1
    engine.dispose()
    return outcomes, _state(url)


def _state(url: str) -> dict[str, tuple[Any, ...]]:
    engine = make_engine(url)
    with Session(engine) as session:
        revisions = Counter(session.exec(select(MentionRevision.mention_id)))
        state = {
            m.external_id: (m.text, m.rating, m.reply_text, m.version, revisions[m.id or 0])
            for m in session.exec(select(Mention).order_by(col(Mention.id)))
        }
    engine.dispose()
    return state


@st.composite
def review_streams(draw: st.DrawFn) -> list[MentionItem]:
    """Reviews as a crawl may deliver them: few ids, so repeats and edits within a batch are common."""
    count = draw(st.integers(1, 30))
    texts = st.sampled_from(["Dobrze.", "Źle, zwrot trwał miesiąc.", "OK", f"{REFUSED}: spam", ""])
    return [
        _item(
            0,
            external_id=draw(st.sampled_from(["a", "b", "c", "d"])),
            text=draw(texts),
            rating=draw(st.sampled_from([1, 3, 5, None])),
            reply_text=draw(st.sampled_from([None, "Dziękujemy!"])),
        )
        for _ in range(count)
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=review_streams(), batch_size=st.integers(1, 12))
def test_batched_storage_gives_the_same_result_as_one_transaction_per_item(
    items: list[MentionItem], batch_size: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        reference_url, batched_url = f"sqlite:///{tmp}/reference.db", f"sqlite:///{tmp}/batched.db"
        for url in (reference_url, batched_url):
            _refuse_marked_rows(_with_target(url))
        expected_outcomes, expected_state = _store_one_by_one(reference_url, items)

        crawler = _crawler(batched_url, batch_size=batch_size)
        validation, storage = _pipelines(crawler)

        async def scenario() -> list[DropItem | None]:
            dropped = await _process_together(crawler, validation, storage, items)
            await storage.close_spider()
            return dropped

        dropped = asyncio.run(scenario())
        stats = _stats(crawler)
        outcomes = Counter(
            {
                kind: stats[f"earshot/items_{kind}"]
                for kind in ("new", "updated", "unchanged", "rejected")
                if f"earshot/items_{kind}" in stats
            }
        )
        if "earshot/storage_errors" in stats:
            outcomes["refused"] = stats["earshot/storage_errors"]
        assert outcomes == expected_outcomes
        assert sum(isinstance(d, StorageFailed) for d in dropped) == expected_outcomes["refused"]
        assert _state(batched_url) == expected_state
        assert stats["earshot/storage_batches"] >= math.ceil(len(items) / batch_size)


def test_a_write_waiting_for_a_locked_database_does_not_stall_the_crawl(
    crawler: Crawler, sqlite_url: str
) -> None:
    validation, storage = _pipelines(crawler)
    commits = _count_commits(storage.engine)
    path = make_url(sqlite_url).database
    assert path is not None
    blocker = sqlite3.connect(path, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another writer (the scorer, say) holds the write lock
    release = threading.Timer(1.5, blocker.rollback)

    async def scenario() -> float:
        release.start()
        pending = asyncio.ensure_future(_process(crawler, validation, storage, _item(1)))
        start = time.perf_counter()
        for _ in range(10):
            await asyncio.sleep(0.01)  # the crawl's other work: fetching, parsing
        responsive = time.perf_counter() - start
        assert not pending.done()  # still waiting for the lock
        assert await pending is None
        await storage.close_spider()
        return responsive

    try:
        responsive = asyncio.run(scenario())
    finally:
        release.cancel()
        blocker.close()
    assert responsive < 1.0  # the event loop kept running while the write waited 1.5 s for the lock
    assert set(_stored(sqlite_url)) == {"r1"}
    assert commits and threading.get_ident() not in commits


def test_batch_size_must_be_positive(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="EARSHOT_STORE_BATCH_SIZE"):
        StoragePipeline.from_crawler(_crawler(sqlite_url, batch_size=0))


# -- a crawl killed in the middle of a commit, then run again -------------------------------------------


class KillDuringCommit:
    """Test-only item pipeline: SIGKILL the crawl process while StoragePipeline commits for the Nth time.

    Enabled by the crash test through ``ITEM_PIPELINES`` in the crawl's child process; the commit that is
    under way dies with the process, exactly like a crash (OOM kill, power loss) during a batch.
    """

    def __init__(self, crawler: Crawler, at: int) -> None:
        self.crawler = crawler
        self.at = at
        self.commits = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KillDuringCommit:
        return cls(crawler, crawler.settings.getint("TEST_KILL_AT_COMMIT"))

    def open_spider(self) -> None:
        assert self.crawler.engine is not None
        storage = next(
            p for p in self.crawler.engine.scraper.itemproc.middlewares if isinstance(p, StoragePipeline)
        )
        event.listen(storage.engine, "commit", self._on_commit)

    def _on_commit(self, _conn: Any) -> None:
        self.commits += 1
        if self.commits == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


CRASH_LOCATIONS = {"8101": 1, "8102": 5, "8103": 5}  # location -> pages of 10 reviews
REVIEWS_PER_PAGE = 10


def _serve_reviews(replay: ReplayServer) -> dict[str, datetime]:
    """Pages of generated reviews per location, newest first; returns each location's newest update."""
    newest: dict[str, datetime] = {}
    for loc, pages in CRASH_LOCATIONS.items():
        start = datetime(2026, 11, 20, 12, tzinfo=UTC) - timedelta(hours=int(loc[-1]))
        newest[loc] = start
        for page in range(pages):
            reviews = []
            for k in range(REVIEWS_PER_PAGE):
                n = page * REVIEWS_PER_PAGE + k
                when = (start - timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
                review_id = f"crash{loc}x{n:03d}"
                reviews.append(
                    {
                        "name": f"accounts/{ACCOUNT}/locations/{loc}/reviews/{review_id}",
                        "reviewId": review_id,
                        "reviewer": {"displayName": f"Klient {n}", "isAnonymous": False},
                        "starRating": "FOUR",
                        "comment": f"Opinia numer {n} o sklepie.",
                        "createTime": when,
                        "updateTime": when,
                    }
                )
            body: dict[str, Any] = {"reviews": reviews, "totalReviewCount": pages * REVIEWS_PER_PAGE}
            if page + 1 < pages:
                body["nextPageToken"] = f"{loc}-page{page + 2}"
            replay.add(
                reviews_path(ACCOUNT, loc),
                Reply.json(body),
                page_token=f"{loc}-page{page + 1}" if page else None,
            )
    return newest


@pytest.fixture
def crash_replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def test_a_crawl_killed_mid_commit_loses_only_uncommitted_items_and_a_rerun_stores_each_once(
    db_url: str, crash_replay: ReplayServer, tmp_path: Path
) -> None:
    newest = _serve_reviews(crash_replay)
    total = REVIEWS_PER_PAGE * sum(CRASH_LOCATIONS.values())
    settings = gbp_settings(db_url, crash_replay.base_url, list(CRASH_LOCATIONS), page_size=REVIEWS_PER_PAGE)
    pipelines = {
        "spiders.pipelines.ValidationPipeline": 100,
        "tests.spiders.test_pipelines.KillDuringCommit": 400,
        "spiders.pipelines.StoragePipeline": 500,
    }

    killed = crawl(
        settings, tmp_path, ITEM_PIPELINES=pipelines, TEST_KILL_AT_COMMIT=6, EARSHOT_STORE_BATCH_SIZE=7
    )

    assert killed.summary.finish_reason == "crashed" and killed.summary.exit_code == -signal.SIGKILL
    after_kill = mentions(db_url)
    assert 0 < len(after_kill) < total  # five commits made it; the sixth, and what came after, did not
    for loc, pages in CRASH_LOCATIONS.items():
        stored_here = sum(1 for external_id in after_kill if external_id.startswith(f"crash{loc}x"))
        if watermark(db_url, loc) is not None:  # a watermark only ever covers reviews that are stored
            assert stored_here == pages * REVIEWS_PER_PAGE
    assert watermark(db_url, "8102") is None  # 50 reviews cannot fit in five commits of at most 7

    rerun = crawl(settings, tmp_path, EARSHOT_STORE_BATCH_SIZE=7)

    s = rerun.summary
    assert (s.finish_reason, s.errors, s.items_updated) == ("finished", 0, 0)
    assert s.items_new == total - len(after_kill)  # exactly what the crash lost, fetched again
    stored = mentions(db_url)
    assert len(stored) == total  # the unique key would refuse a second copy; none was attempted as new
    assert all(m.version == 1 for m in stored.values()) and _revision_count(db_url) == 0
    for loc in CRASH_LOCATIONS:
        assert watermark(db_url, loc) == newest[loc]


# -- validation and the run record ----------------------------------------------------------------------


def test_validation_drops_with_the_reason() -> None:
    crawler = get_crawler()
    validation = ValidationPipeline.from_crawler(crawler)
    with pytest.raises(InvalidItemDropped, match="missing_external_id") as caught:
        validation.process_item(_item(1, external_id=None))
    assert caught.value.reason == "missing_external_id"
    other = {"not": "a mention"}
    assert validation.process_item(other) is other


def test_run_row_is_filled_from_the_stats() -> None:
    run = CrawlRun(spider="google_business")
    stats = {
        "earshot/items_new": 3,
        "earshot/items_updated": 1,
        "earshot/items_unchanged": 2,
        "earshot/items_rejected": 1,
        "downloader/request_count": 4,
        "log_count/ERROR": 2,
        "spider_exceptions/count": 1,
        "start_time": datetime(2026, 11, 24, 8, tzinfo=UTC),
        "elapsed": timedelta(seconds=1.5),
        "nan": float("nan"),
        "earshot/error_messages": ("a", "b"),
    }
    fill_run(run, stats, "finished")
    assert (run.items_new, run.items_updated, run.items_unchanged, run.items_rejected) == (3, 1, 2, 1)
    assert (run.requests, run.errors, run.finish_reason) == (4, 2, "finished")
    assert run.finished_at is not None
    assert run.stats["start_time"] == "2026-11-24T08:00:00+00:00"
    assert run.stats["elapsed"] == 1.5 and run.stats["nan"] is None
    assert run.stats["earshot/error_messages"] == ["a", "b"]


def test_errors_count_spider_exceptions_when_logging_is_off() -> None:
    assert count_errors({"log_count/ERROR": 2, "log_count/CRITICAL": 1, "spider_exceptions/count": 2}) == 3
    assert count_errors({"spider_exceptions/count": 2}) == 2
    assert json_safe({"x": {1, 2}, "y": object}) == {"x": [1, 2], "y": str(object)}
