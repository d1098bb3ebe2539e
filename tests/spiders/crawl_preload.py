"""Imported once by the test session's crawl fork server, so that no crawl child imports it all again.

``tests/conftest.py`` starts every isolated crawl from a fork server (``spiders.runner.use_crawl_fork_server``)
that imports this module first: the runner, every spider module, and every Scrapy component class the
settings name (middlewares, extensions, pipelines, download handlers, scheduler, queues...). A crawl child
forked from it then spends its time crawling, not importing (about 0.4 s instead of 2-3 s a crawl).

It only imports. Nothing here builds a crawler or imports ``twisted.internet.reactor``: each child installs
its own reactor, as a spawned child would, and could not if the server had installed one already.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Imported for the children (the engine, and the database drivers make_engine picks), not used here.
import scrapy.core.engine
import scrapy.core.scheduler  # noqa: F401
import sqlalchemy.dialects.postgresql.psycopg
import sqlalchemy.dialects.sqlite.pysqlite  # noqa: F401
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.misc import load_object

from spiders.runner import scrapy_settings

_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def _object_paths(settings: Settings) -> Iterator[str]:
    """Every setting value (or component dict key or value) that looks like ``package.module.Object``."""
    for _name, value in settings.items():
        candidates: list[Any] = [value]
        if hasattr(value, "items"):
            candidates = [part for pair in value.items() for part in pair]
        yield from (c for c in candidates if isinstance(c, str) and _DOTTED.match(c))


def preload() -> int:
    """Import every spider module and every component the settings name; the number of objects loaded."""
    settings = scrapy_settings()
    get_spider_loader(settings).list()
    loaded = 0
    for path in sorted(set(_object_paths(settings))):
        try:
            load_object(path)
        except (ImportError, NameError, AttributeError, ValueError):
            continue  # a dotted string that names no object (a value, not a component): nothing to import
        loaded += 1
    return loaded


preload()
