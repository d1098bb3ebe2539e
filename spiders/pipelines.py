"""Item pipelines: validate every item, then store it in batches and move watermarks forward safely.

Storage is a group commit: items queue up and one writer thread upserts them, up to
``EARSHOT_STORE_BATCH_SIZE`` per transaction. The writer starts as soon as an item arrives and, when it
finishes a batch, takes whatever queued meanwhile; so a batch is as large as the crawl's pace makes it
(one item when the crawl is slow, the full size when items arrive faster than they commit) and nothing
waits for a batch to fill. Each item's ``process_item`` returns only once its batch is committed, so
Scrapy's item signals, log lines and ``item_scraped_count`` keep meaning "stored", and Scrapy cannot go
idle or close with items unstored.

Watermark rule: a scope's watermark (the newest update time fully read, per GBP location) moves only
when the spider reports the scope finished without errors (``scope_completed`` signal) *and* every item
it yielded for that scope has been committed or rejected as invalid. Items arrive concurrently and in
batches, so the pipeline counts them per scope instead of trusting their order, and writes the
watermark in its own transaction after the batch holding the scope's last item has committed.
A crash loses only items not yet committed (the batch being written and those queued behind it), a
storage error or an unfinished scope leaves the old watermark, and the next run reads the same reviews
again (upserts are idempotent) rather than skipping any.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import DropItem
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.core.db import make_engine, write_session
from monitor.core.store import MentionIn, UpsertOutcome, set_watermark, upsert_mentions
from spiders.config import earshot_settings
from spiders.items import InvalidItem, MentionItem, is_truncated, to_mention_in
from spiders.logformatter import describe_item
from spiders.signals import scope_completed

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100  # EARSHOT_STORE_BATCH_SIZE: at most this many upserts per transaction


class InvalidItemDropped(DropItem):
    """An item that failed validation; it counts as handled for its scope's watermark."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, log_level="WARNING")
        self.reason = reason


class StorageFailed(DropItem):
    """An item the database refused; its scope's watermark must not move this run."""

    def __init__(self, message: str) -> None:
        super().__init__(message, log_level="ERROR")


class ValidationPipeline:
    """Drop items that :func:`spiders.items.to_mention_in` rejects, counting each reason.

    Stats: ``earshot/items_rejected`` and ``earshot/items_rejected/<reason>``, plus Spidermon's
    ``spidermon/validation/...`` names so Spidermon-style monitors can read them.
    """

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, MentionItem):
            return item
        self.stats.inc_value("spidermon/validation/items")
        try:
            to_mention_in(item)
        except InvalidItem as exc:
            self.stats.inc_value("earshot/items_rejected")
            self.stats.inc_value(f"earshot/items_rejected/{exc.reason}")
            self.stats.inc_value("spidermon/validation/items/errors")
            self.stats.inc_value("spidermon/validation/items/dropped")
            self.stats.inc_value(f"spidermon/validation/fields/errors/{exc.reason}/{exc.field or 'item'}")
            raise InvalidItemDropped(f"invalid item ({exc.reason}): {exc}", exc.reason) from exc
        if is_truncated(item):
            self.stats.inc_value("earshot/items_truncated")
            logger.info("Truncated the text of %s to fit storage", describe_item(item))
        return item


# -- the database side (runs on the writer thread) --------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    """Per-item outcomes of one batch, in order; ``fallback_error`` says why it was stored item by item."""

    outcomes: list[UpsertOutcome | SQLAlchemyError]
    fallback_error: SQLAlchemyError | None = None


def store_batch(engine: Engine, mentions: Sequence[MentionIn]) -> BatchResult:
    """Upsert ``mentions`` in one transaction, set-based; if the database refuses it, one transaction each.

    :func:`upsert_mentions` stores the batch as upserting its items in order would (a review twice in one
    batch is two upserts in a row) in a handful of statements. Why the fallback: one bad row must not cost
    the other items of its batch (nor their scopes' watermarks).
    """
    try:
        with write_session(engine) as session:
            outcomes: list[UpsertOutcome | SQLAlchemyError] = [
                result.outcome for result in upsert_mentions(session, mentions)
            ]
        return BatchResult(outcomes)
    except SQLAlchemyError as exc:
        if len(mentions) == 1:
            return BatchResult([exc])
        return BatchResult([_store_one(engine, mention) for mention in mentions], fallback_error=exc)


def _store_one(engine: Engine, mention: MentionIn) -> UpsertOutcome | SQLAlchemyError:
    """One item in its own transaction; the database's refusal is returned for that item to report."""
    try:
        with write_session(engine) as session:
            return upsert_mentions(session, [mention])[0].outcome
    except SQLAlchemyError as exc:
        return exc


def store_watermark(engine: Engine, source: str, scope: str, value: datetime) -> None:
    """Its own transaction, after the batches holding the scope's items: never ahead of the data."""
    with write_session(engine) as session:
        set_watermark(session, source, scope, value)


# -- the pipeline (runs on Scrapy's event loop) ---------------------------------------------------


@dataclass
class ScopeTally:
    """What the pipeline knows about one scope's items in this run."""

    handled: int = 0  # committed or rejected as invalid
    failed: int = 0  # refused by the database
    completed_at: datetime | None = None  # the watermark the spider reported, once it finished
    expected: int = 0
    settled: bool = False  # watermark queued for writing, or deliberately held


@dataclass
class _Queued:
    """An item waiting for its batch; ``stored`` resolves when the batch has committed (or failed)."""

    item: MentionItem
    mention: MentionIn
    stored: asyncio.Future[None] = field(repr=False)


def _scope_key(item: MentionItem) -> tuple[str, str]:
    return item.get("source") or "", item.get("scope") or ""


def _short_error(exc: SQLAlchemyError) -> str:
    """The driver's message without SQL parameters (review texts are personal data)."""
    return f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"


class StoragePipeline:
    """Upsert mentions in batched transactions on one writer thread; advance watermarks (module doc).

    Stats: ``earshot/items_new``, ``earshot/items_updated``, ``earshot/items_unchanged``,
    ``earshot/storage_errors`` (items, or watermarks, the database refused), ``earshot/watermarks_advanced``,
    ``earshot/watermarks_held``, ``earshot/storage_batches`` (transactions of items attempted) and
    ``earshot/storage_batch_fallbacks`` (batches refused as a whole and stored item by item).
    Requires Scrapy's asyncio reactor (``TWISTED_REACTOR`` in spiders/settings.py).
    """

    def __init__(self, stats: StatsCollector, engine: Engine, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"EARSHOT_STORE_BATCH_SIZE must be at least 1, not {batch_size}")
        self.stats = stats
        self.engine = engine
        self.batch_size = batch_size
        self.tallies: dict[tuple[str, str], ScopeTally] = {}
        self._queue: deque[_Queued] = deque()
        self._watermarks: list[tuple[str, str, datetime]] = []
        self._writer: asyncio.Task[None] | None = None
        # One worker: batches and watermarks are written in the order they were queued.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="earshot-storage")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        pipeline = cls(
            crawler.stats,
            make_engine(earshot_settings(crawler.settings).effective_database_url),
            crawler.settings.getint("EARSHOT_STORE_BATCH_SIZE", DEFAULT_BATCH_SIZE),
        )
        crawler.signals.connect(pipeline.on_scope_completed, signal=scope_completed)
        crawler.signals.connect(pipeline.on_item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(pipeline.on_item_error, signal=signals.item_error)
        return pipeline

    def open_spider(self) -> None:
        """Fail when the crawl starts, not on every item, if Scrapy runs without its asyncio reactor."""
        try:
            asyncio.get_running_loop()
        except RuntimeError as exc:
            raise RuntimeError(
                "StoragePipeline needs TWISTED_REACTOR = "
                '"twisted.internet.asyncioreactor.AsyncioSelectorReactor" (as in spiders/settings.py)'
            ) from exc

    async def process_item(self, item: Any) -> Any:
        """Queue the item for the writer and return it once its batch is committed.

        Raises :class:`StorageFailed` when the database refused this item (the others of its batch are
        stored; see :func:`store_batch`).
        """
        if not isinstance(item, MentionItem):
            return item
        try:
            mention = to_mention_in(item)  # normally ValidationPipeline has already checked it
        except InvalidItem as exc:
            raise InvalidItemDropped(f"invalid item ({exc.reason}): {exc}", exc.reason) from exc
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(item, mention, stored))
        self._start_writer()
        await stored
        return item

    async def flush(self) -> None:
        """Wait until every queued item and watermark is written."""
        while self._queue or self._watermarks or (self._writer is not None and not self._writer.done()):
            self._start_writer()
            assert self._writer is not None
            await asyncio.shield(self._writer)  # a cancelled caller must not cancel the writer

    async def close_spider(self) -> None:
        await self.flush()
        for (source, scope), tally in self.tallies.items():
            if tally.completed_at is not None and not tally.settled:
                self.stats.inc_value("earshot/watermarks_held")
                logger.warning(
                    "Watermark for %s %s not advanced: %d of %d items were not stored",
                    source,
                    scope,
                    tally.expected - tally.handled,
                    tally.expected,
                )
        self._executor.shutdown(wait=True)
        self.engine.dispose()

    def on_item_dropped(self, item: Any, exception: BaseException) -> None:
        """Invalid items are handled for watermark purposes: they would be invalid next time too."""
        if isinstance(item, MentionItem) and isinstance(exception, InvalidItemDropped):
            self._tally(item).handled += 1
            self._settle(item)

    def on_item_error(self, item: Any) -> None:
        """An unexpected exception in any pipeline: the item was not stored, hold the watermark."""
        if isinstance(item, MentionItem):
            self._tally(item).failed += 1
            self._settle(item)

    def on_scope_completed(self, source: str, scope: str, watermark: datetime, expected: int) -> None:
        tally = self.tallies.setdefault((source, scope), ScopeTally())
        tally.completed_at, tally.expected = watermark, expected
        self._settle_scope(source, scope, tally)

    # -- the writer ---------------------------------------------------------------------------------

    def _start_writer(self) -> None:
        """Start the writer task unless it is running; a running one takes new work before it ends."""
        if self._writer is not None and not self._writer.done():
            return
        if not (self._queue or self._watermarks):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # called outside the event loop (a signal sent from a thread): the next call starts it
        self._writer = loop.create_task(self._write_queued(), name="earshot-storage-writer")

    async def _write_queued(self) -> None:
        """Write watermarks, then the next batch of at most ``batch_size`` items, until nothing is left."""
        loop = asyncio.get_running_loop()
        while self._queue or self._watermarks:
            if self._watermarks:
                marks, self._watermarks = self._watermarks, []
                for source, scope, value in marks:
                    await self._write_watermark(loop, source, scope, value)
                continue
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            job = loop.run_in_executor(self._executor, store_batch, self.engine, [q.mention for q in batch])
            try:
                await asyncio.wait([job])
            except asyncio.CancelledError:  # the loop is stopping: nothing may wait for this batch forever
                for queued in batch:
                    queued.stored.cancel()
                raise
            error = job.exception()
            if error is not None:
                # Not a database refusal (store_batch reports those per item) but a bug: every item of the
                # batch raises it in Scrapy, which logs it with its traceback and holds the watermarks.
                for queued in batch:
                    if not queued.stored.done():
                        queued.stored.set_exception(error)
                continue
            result = job.result()
            self._record(batch, result)

    async def _write_watermark(
        self, loop: asyncio.AbstractEventLoop, source: str, scope: str, value: datetime
    ) -> None:
        try:
            await loop.run_in_executor(self._executor, store_watermark, self.engine, source, scope, value)
        except SQLAlchemyError as exc:
            self.stats.inc_value("earshot/storage_errors")
            self.stats.inc_value("earshot/watermarks_held")
            logger.error("Could not save the watermark for %s %s: %s", source, scope, _short_error(exc))
            return
        self.stats.inc_value("earshot/watermarks_advanced")
        logger.info("Watermark for %s %s is now %s", source, scope, value.isoformat())

    def _record(self, batch: list[_Queued], result: BatchResult) -> None:
        """Count each item's outcome, release its ``process_item``, then settle the scopes it touched."""
        self.stats.inc_value("earshot/storage_batches")
        if result.fallback_error is not None:
            self.stats.inc_value("earshot/storage_batch_fallbacks")
            logger.warning(
                "The database refused a batch of %d items (%s); stored them one by one",
                len(batch),
                _short_error(result.fallback_error),
            )
        for queued, outcome in zip(batch, result.outcomes, strict=True):
            tally = self._tally(queued.item)
            if isinstance(outcome, SQLAlchemyError):
                self.stats.inc_value("earshot/storage_errors")
                tally.failed += 1
                error = StorageFailed(
                    f"database refused {describe_item(queued.item)}: {type(outcome).__name__}: {outcome}"
                )
                error.__cause__ = outcome
                if not queued.stored.done():
                    queued.stored.set_exception(error)
            else:
                self.stats.inc_value(f"earshot/items_{outcome.value}")
                tally.handled += 1
                if not queued.stored.done():
                    queued.stored.set_result(None)
        for key in dict.fromkeys(_scope_key(queued.item) for queued in batch):
            self._settle_scope(*key, self.tallies[key])

    # -- watermarks ---------------------------------------------------------------------------------

    def _tally(self, item: MentionItem) -> ScopeTally:
        return self.tallies.setdefault(_scope_key(item), ScopeTally())

    def _settle(self, item: MentionItem) -> None:
        key = _scope_key(item)
        self._settle_scope(*key, self.tallies[key])

    def _settle_scope(self, source: str, scope: str, tally: ScopeTally) -> None:
        """Queue the watermark once the scope is complete and all its items are accounted for."""
        if tally.settled or tally.completed_at is None or not scope:
            return
        if tally.failed:
            tally.settled = True
            self.stats.inc_value("earshot/watermarks_held")
            logger.warning(
                "Watermark for %s %s not advanced: %d items could not be stored; they are read again "
                "next run",
                source,
                scope,
                tally.failed,
            )
            return
        if tally.handled < tally.expected:
            return
        tally.settled = True
        self._watermarks.append((source, scope, tally.completed_at))
        self._start_writer()
