"""The catalogue of sources: every spider Scrapy knows, with what the configuration says about it.

Whether a source has credentials, which targets give it something to read, how often it runs and how many
requests it may make are spider knowledge (each :class:`spiders.base.SourceSpider` names its settings
section, credentials and target fields), so the catalogue lives with the spiders. ``earshot sources``, the
scheduler and ``run_crawls`` plan from it; :mod:`monitor.source_health` adds each source's health.

Scrapy and the spider modules are imported when a catalogue is built, not when this module is: the
modules that import it (the pipeline, source health) also serve commands that never look at a spider,
and should not pay for loading Scrapy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.core.config import EarshotSettings
from monitor.core.source_settings import source_env_var

__all__ = ["SourceInfo", "source_catalogue", "source_info", "spider_classes"]


@dataclass(frozen=True)
class SourceInfo:
    """A source as configured: whether a run would have anything to do, for whom, how often, how much."""

    name: str
    skip_reason: str | None  # why a run would do nothing; None = it has work
    missing_env: tuple[str, ...]  # environment variables of unset credentials
    targets: tuple[str, ...]  # targets with something for this source
    interval_minutes: float
    max_requests: int | None

    @property
    def configured(self) -> bool:
        """All credentials set (or none needed)."""
        return not self.missing_env

    @property
    def runnable(self) -> bool:
        """Configured and some target uses it: the scheduler crawls it."""
        return self.skip_reason is None


def spider_classes(scrapy_overrides: Mapping[str, Any] | None = None) -> dict[str, type]:
    """Every spider Scrapy knows, by name (what ``spiders.runner.available_spiders`` lists)."""
    from scrapy.spiderloader import get_spider_loader  # not at import time: see the module doc

    from spiders.runner import scrapy_settings

    loader = get_spider_loader(scrapy_settings(None, scrapy_overrides))
    return {name: loader.load(name) for name in sorted(loader.list())}


def source_info(settings: EarshotSettings, name: str, spider: type) -> SourceInfo:
    """What ``settings`` say about source ``name``; a spider that is no SourceSpider is always runnable."""
    from spiders.base import SourceSpider  # not at import time: see the module doc

    schedule_minutes = settings.schedule.crawl_minutes
    if not (isinstance(spider, type) and issubclass(spider, SourceSpider)):
        return SourceInfo(name, None, (), (), schedule_minutes, None)
    section = spider.settings_of(settings)
    fields = spider.target_fields
    targets = tuple(t.name for t in settings.targets if any(getattr(t, f, None) for f in fields))
    skip_reason = spider.skip_reason(settings)
    missing = section.missing_credentials()
    if missing and not (skip_reason or "").startswith("not configured"):
        missing = []  # the spider found them elsewhere: stored by `earshot auth <source>`
    return SourceInfo(
        name=name,
        skip_reason=skip_reason,
        missing_env=tuple(source_env_var(spider.settings_section, f) for f in missing),
        targets=targets,
        interval_minutes=section.interval_minutes or schedule_minutes,
        max_requests=section.max_requests,
    )


def source_catalogue(
    settings: EarshotSettings, scrapy_overrides: Mapping[str, Any] | None = None
) -> list[SourceInfo]:
    """Every known source, in name order."""
    return [source_info(settings, name, cls) for name, cls in spider_classes(scrapy_overrides).items()]
