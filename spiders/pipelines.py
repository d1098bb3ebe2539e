"""Item pipelines: validate every item, then store it and move watermarks forward safely.

Watermark rule: a scope's watermark (the newest update time fully read, per GBP location) moves only
when the spider reports the scope finished without errors (``scope_completed`` signal) *and* every item
it yielded for that scope has been committed or rejected as invalid. Items are processed concurrently
and each commits on its own, so the pipeline counts them per scope instead of trusting their order.
A crash, a storage error or an unfinished scope therefore leaves the old watermark, and the next run
reads the same reviews again (upserts are idempotent) rather than skipping any.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import DropItem
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.db import make_engine, session_scope
from monitor.store import set_watermark, upsert_mention
from spiders.config import earshot_settings
from spiders.items import InvalidItem, MentionItem, is_truncated, to_mention_in
from spiders.logformatter import describe_item
from spiders.signals import scope_completed

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


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


@dataclass
class ScopeTally:
    """What the pipeline knows about one scope's items in this run."""

    handled: int = 0  # committed or rejected as invalid
    failed: int = 0  # refused by the database
    completed_at: datetime | None = None  # the watermark the spider reported, once it finished
    expected: int = 0
    settled: bool = False  # watermark written, or deliberately not


class StoragePipeline:
    """Upsert mentions through :func:`monitor.store.upsert_mention`; advance watermarks (see module doc).

    Stats: ``earshot/items_new``, ``earshot/items_updated``, ``earshot/items_unchanged``,
    ``earshot/storage_errors``, ``earshot/watermarks_advanced``, ``earshot/watermarks_held``.
    """

    def __init__(self, stats: StatsCollector, engine: Engine) -> None:
        self.stats = stats
        self.engine = engine
        self.tallies: dict[tuple[str, str], ScopeTally] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        pipeline = cls(crawler.stats, make_engine(earshot_settings(crawler.settings).effective_database_url))
        crawler.signals.connect(pipeline.on_scope_completed, signal=scope_completed)
        crawler.signals.connect(pipeline.on_item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(pipeline.on_item_error, signal=signals.item_error)
        return pipeline

    def close_spider(self) -> None:
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
        self.engine.dispose()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, MentionItem):
            return item
        try:
            mention = to_mention_in(item)  # normally ValidationPipeline has already checked it
        except InvalidItem as exc:
            raise InvalidItemDropped(f"invalid item ({exc.reason}): {exc}", exc.reason) from exc
        try:
            with session_scope(self.engine) as session:
                _, outcome = upsert_mention(session, mention)
        except SQLAlchemyError as exc:
            self.stats.inc_value("earshot/storage_errors")
            self._tally(item).failed += 1
            self._settle(item)
            raise StorageFailed(
                f"database refused {describe_item(item)}: {type(exc).__name__}: {exc}"
            ) from exc
        self.stats.inc_value(f"earshot/items_{outcome.value}")
        self._tally(item).handled += 1
        self._settle(item)
        return item

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

    def _tally(self, item: MentionItem) -> ScopeTally:
        return self.tallies.setdefault((item.get("source") or "", item.get("scope") or ""), ScopeTally())

    def _settle(self, item: MentionItem) -> None:
        key = (item.get("source") or "", item.get("scope") or "")
        self._settle_scope(*key, self.tallies[key])

    def _settle_scope(self, source: str, scope: str, tally: ScopeTally) -> None:
        """Write the watermark once the scope is complete and all its items are accounted for."""
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
        try:
            with session_scope(self.engine) as session:
                set_watermark(session, source, scope, tally.completed_at)
        except SQLAlchemyError as exc:
            self.stats.inc_value("earshot/storage_errors")
            self.stats.inc_value("earshot/watermarks_held")
            logger.error("Could not save the watermark for %s %s: %s", source, scope, exc)
            return
        self.stats.inc_value("earshot/watermarks_advanced")
        logger.info("Watermark for %s %s is now %s", source, scope, tally.completed_at.isoformat())
