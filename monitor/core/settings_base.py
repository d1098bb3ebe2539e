"""What every settings section is: strict about unknown keys, with one error type for a bad config.

The bottom of the settings modules (:mod:`monitor.core.config` composes the sections), so a section in
any module can share the rules without importing the whole settings object.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
)


class ConfigError(Exception):
    """The configuration is missing or malformed; the message names the setting and how to fix it."""


def known_zone(name: str) -> str:
    """An IANA time zone name, checked at load time so a typo is not found at 08:00 on a Monday."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Warsaw") from exc
    return name


class Section(BaseModel):
    """A config section: unknown keys are errors, so a typo is reported instead of ignored."""

    model_config = ConfigDict(extra="forbid")
