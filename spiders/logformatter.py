"""Log lines for dropped and failed items that name the item instead of dumping it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scrapy import Spider
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


def describe_item(item: Any) -> str:
    """``source/external_id`` for a mention, else the item's type: enough to find it, no personal data."""
    try:
        source, external_id = item.get("source"), item.get("external_id")
    except AttributeError:
        return type(item).__name__
    return f"{source}/{external_id}"


class EarshotLogFormatter(LogFormatter):
    """Scrapy's formatter, except item bodies (reviews, authors, raw API data) stay out of the log."""

    def scraped(self, item: Any, response: Response | Failure | None, spider: Spider) -> LogFormatterResult:
        result = super().scraped(item, response, spider)
        args = result["args"]
        source = args["src"] if isinstance(args, Mapping) else response
        result["msg"] = "Scraped %(item)s from %(src)s"
        result["args"] = {"item": describe_item(item), "src": source}
        return result

    def dropped(
        self, item: Any, exception: BaseException, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        result["msg"] = "Dropped %(item)s: %(exception)s"
        result["args"] = {"item": describe_item(item), "exception": exception}
        return result

    def item_error(
        self, item: Any, exception: BaseException, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult:
        result = super().item_error(item, exception, response, spider)
        result["msg"] = "Error processing %(item)s"
        result["args"] = {"item": describe_item(item)}
        return result
