"""Misbehaving spiders for runner tests, loaded through SPIDER_MODULES overrides."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider


class CrashingSpider(scrapy.Spider):
    """Dies the hard way, as a segfault or the OOM killer would: no spider_closed, no cleanup."""

    name = "earshot_test_crash"

    async def start(self) -> AsyncIterator[Any]:
        os._exit(3)
        yield  # pragma: no cover


class HangingSpider(scrapy.Spider):
    """Never finishes on its own."""

    name = "earshot_test_hang"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> HangingSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.keep_open, signal=signals.spider_idle)
        return spider

    def keep_open(self) -> None:
        raise DontCloseSpider
