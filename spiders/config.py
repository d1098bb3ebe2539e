"""How Scrapy components find Earshot's settings: the ``EARSHOT_SETTINGS`` Scrapy setting."""

from __future__ import annotations

from collections.abc import Mapping

from scrapy.settings import BaseSettings

from monitor.core.config import EarshotSettings, load_settings


def earshot_settings(settings: BaseSettings) -> EarshotSettings:
    """The EarshotSettings the runner put in ``EARSHOT_SETTINGS``.

    A mapping is validated into EarshotSettings; without the setting (a bare ``scrapy crawl``) the
    settings are loaded from the ``EARSHOT_*`` environment and ``EARSHOT_CONFIG`` like the CLI does.
    """
    value = settings.get("EARSHOT_SETTINGS")
    if isinstance(value, EarshotSettings):
        return value
    if isinstance(value, Mapping):
        return EarshotSettings.model_validate(dict(value))
    if value is None:
        return load_settings()
    raise TypeError(f"EARSHOT_SETTINGS must be EarshotSettings or a mapping, not {type(value).__name__}")
