"""Pipelines and the run recorder, driven directly (no reactor): validation stats and the watermark rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from monitor.config import EarshotSettings
from monitor.db import make_engine
from monitor.models import CrawlRun
from monitor.store import get_watermark
from spiders import pipelines
from spiders.extensions import count_errors, fill_run, json_safe
from spiders.items import MentionItem
from spiders.pipelines import InvalidItemDropped, StoragePipeline, ValidationPipeline
from spiders.signals import scope_completed

SCOPE = "accounts/1/locations/2"
T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


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


@pytest.fixture
def crawler(sqlite_url: str) -> Crawler:
    return get_crawler(settings_dict={"EARSHOT_SETTINGS": EarshotSettings(database_url=sqlite_url)})


def _watermark(url: str) -> datetime | None:
    engine = make_engine(url)
    with Session(engine) as session:
        value = get_watermark(session, "google_business", SCOPE)
    engine.dispose()
    return value


def _complete(crawler: Crawler, expected: int, newest: datetime) -> None:
    crawler.signals.send_catch_log(
        scope_completed, source="google_business", scope=SCOPE, watermark=newest, expected=expected
    )


def _process(
    crawler: Crawler, validation: ValidationPipeline, storage: StoragePipeline, item: MentionItem
) -> None:
    """What Scrapy's item processor does: the pipelines in order, and the dropped signal on DropItem."""
    try:
        storage.process_item(validation.process_item(item))
    except DropItem as exc:
        crawler.signals.send_catch_log(
            signals.item_dropped, item=item, response=None, exception=exc, spider=None
        )


def test_watermark_waits_until_every_item_of_the_scope_is_stored(crawler: Crawler, sqlite_url: str) -> None:
    validation, storage = ValidationPipeline.from_crawler(crawler), StoragePipeline.from_crawler(crawler)
    _complete(crawler, expected=3, newest=T0 + timedelta(minutes=3))  # the spider finished first
    _process(crawler, validation, storage, _item(3))
    _process(crawler, validation, storage, _item(2, rating=9))  # invalid: counts as handled
    assert _watermark(sqlite_url) is None  # one item still in flight
    _process(crawler, validation, storage, _item(1))
    assert _watermark(sqlite_url) == T0 + timedelta(minutes=3)
    stats = crawler.stats
    assert stats is not None
    assert stats.get_value("earshot/items_new") == 2
    assert stats.get_value("earshot/items_rejected") == 1
    assert stats.get_value("earshot/items_rejected/rating_out_of_range") == 1
    assert stats.get_value("spidermon/validation/fields/errors/rating_out_of_range/rating") == 1
    assert stats.get_value("earshot/watermarks_advanced") == 1
    storage.close_spider()


def test_a_storage_failure_holds_the_watermark(
    crawler: Crawler, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    validation, storage = ValidationPipeline.from_crawler(crawler), StoragePipeline.from_crawler(crawler)
    real_upsert = pipelines.upsert_mention

    def flaky_upsert(session: Session, mention: Any) -> Any:
        if mention.external_id == "r2":
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real_upsert(session, mention)

    monkeypatch.setattr(pipelines, "upsert_mention", flaky_upsert)
    for n in (2, 1):
        _process(crawler, validation, storage, _item(n))
    _complete(crawler, expected=2, newest=T0 + timedelta(minutes=2))
    assert _watermark(sqlite_url) is None
    assert crawler.stats is not None
    assert crawler.stats.get_value("earshot/storage_errors") == 1
    assert crawler.stats.get_value("earshot/watermarks_held") == 1
    storage.close_spider()


def test_an_unfinished_scope_is_reported_at_close(crawler: Crawler, sqlite_url: str) -> None:
    validation, storage = ValidationPipeline.from_crawler(crawler), StoragePipeline.from_crawler(crawler)
    _process(crawler, validation, storage, _item(1))
    _complete(crawler, expected=2, newest=T0 + timedelta(minutes=2))
    storage.close_spider()  # the second item never arrived (e.g. the run was cancelled)
    assert _watermark(sqlite_url) is None
    assert crawler.stats is not None and crawler.stats.get_value("earshot/watermarks_held") == 1


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
