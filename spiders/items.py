"""The item every spider yields, and its validation into :class:`monitor.core.store.MentionIn`.

Spiders map source data into a :class:`MentionItem` without judging it; :func:`to_mention_in` is the one
place that decides whether an item may be stored, so every source is held to the same rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import scrapy

from monitor.core.store import MentionIn
from monitor.core.timeutil import as_utc

TEXT_MAX_CHARS = 100_000  # longer texts are truncated, not dropped: the start says what matters
AUTHOR_MAX_CHARS = 512
RATING_MIN, RATING_MAX = 0.0, 5.0
_MAX_RAW_DEPTH = 32

# RFC 3339 as Google emits it ("Z", or an offset), with 0-9 fractional digits. ASCII digits only.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
# Lone UTF-16 surrogates (JSON allows "\ud800") cannot be encoded as UTF-8 and break PostgreSQL.
_SURROGATES = re.compile("[\ud800-\udfff]")


class MentionItem(scrapy.Item):
    """One review or post as a spider found it. Times may be RFC 3339 strings or datetimes."""

    source = scrapy.Field()
    external_id = scrapy.Field()
    url = scrapy.Field()
    author = scrapy.Field()
    text = scrapy.Field()
    lang = scrapy.Field()
    rating = scrapy.Field()
    reply_text = scrapy.Field()
    parent_id = scrapy.Field()
    reach = scrapy.Field()
    created_at = scrapy.Field()
    updated_at = scrapy.Field()
    target = scrapy.Field()
    raw = scrapy.Field()
    # Crawl bookkeeping, not stored: the watermark scope (e.g. one GBP location) the item came from.
    scope = scrapy.Field()


class InvalidItem(ValueError):
    """An item that must not be stored; ``reason`` is a short stable slug used in stats."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


class InvalidTimestamp(InvalidItem):
    """A time that is not RFC 3339 or not a real date."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__("bad_timestamp", message, field)


def parse_timestamp(value: object, field: str | None = None) -> datetime:
    """Parse an RFC 3339 string (up to nanoseconds, ``Z`` or offset) or a datetime into aware UTC.

    Nanoseconds are truncated to microseconds, Python's resolution. Naive datetimes are taken as UTC.
    """
    if isinstance(value, datetime):
        return _to_utc(value, field)
    if not isinstance(value, str):
        raise InvalidTimestamp(f"{field or 'timestamp'} is {type(value).__name__}, not a string", field)
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise InvalidTimestamp(f"{field or 'timestamp'} {value[:40]!r} is not RFC 3339", field)
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    try:
        if zulu:
            tz: timezone = UTC
        else:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            tz = timezone(-offset if sign == "-" else offset)
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=tz
        )
    except ValueError as exc:  # month 13, 25:00, offset >= 24 h, leap second 60 ...
        raise InvalidTimestamp(f"{field or 'timestamp'} {value[:40]!r}: {exc}", field) from None
    return _to_utc(parsed, field)


def optional_timestamp(value: object, field: str | None = None) -> datetime | None:
    """:func:`parse_timestamp`, or None when the value is missing, empty or unreadable.

    For the times a spider orders and filters by: an unreadable one must not stop the page; the item's own
    time fields still go through validation, which rejects the item with its reason.
    """
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value, field)
    except InvalidItem:
        return None


def epoch_time(value: object) -> datetime | None:
    """Epoch seconds (Reddit's ``created_utc``, HN's ``created_at_i``) as aware UTC; None for anything that
    is not a finite number (Reddit's ``edited`` is ``false`` when unedited) or out of range."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def rfc3339_millis(when: datetime) -> str:
    """``2026-11-20T17:00:00.000Z``: the form Allegro and the AT Protocol lexicons expect in queries."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def whole_count(value: object) -> int | None:
    """A count from source data (likes, points, followers): a non-negative int, else None (bools too)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _to_utc(value: datetime, field: str | None) -> datetime:
    try:
        return as_utc(value)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 falls before year 1 in UTC
        raise InvalidTimestamp(f"{field or 'timestamp'} {value.isoformat()} is out of range", field) from None


def clean_str(value: str) -> str:
    """The string without NUL characters and lone surrogates, which UTF-8 and PostgreSQL refuse."""
    return _SURROGATES.sub("\ufffd", value.replace("\x00", ""))


def clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON-safe deep copy of ``value`` with every string cleaned (see :func:`clean_str`)."""
    if depth > _MAX_RAW_DEPTH:
        raise InvalidItem("raw_too_deep", f"raw data nested deeper than {_MAX_RAW_DEPTH} levels", "raw")
    if isinstance(value, str):
        return clean_str(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {clean_str(str(k)): clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v, depth + 1) for v in value]
    raise InvalidItem("bad_raw", f"raw data holds a {type(value).__name__}, not JSON", "raw")


def _optional_str(item: Mapping[str, Any], field: str, max_len: int | None = None) -> str | None:
    value = item.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidItem(f"bad_{field}", f"{field} is {type(value).__name__}, not a string", field)
    value = clean_str(value).strip()
    if max_len is not None and len(value) > max_len:
        raise InvalidItem(f"{field}_too_long", f"{field} is {len(value)} characters (max {max_len})", field)
    return value or None


def _required_str(item: Mapping[str, Any], field: str, max_len: int) -> str:
    value = _optional_str(item, field, max_len)
    if value is None:
        raise InvalidItem(f"missing_{field}", f"{field} is missing", field)
    return value


def _text(item: Mapping[str, Any], field: str) -> str | None:
    value = item.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidItem(f"bad_{field}", f"{field} is {type(value).__name__}, not a string", field)
    return clean_str(value).strip()[:TEXT_MAX_CHARS]


def _rating(item: Mapping[str, Any]) -> float | None:
    value = item.get("rating")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidItem("bad_rating", f"rating {str(value)[:20]!r} is not a number", "rating")
    if not math.isfinite(value) or not RATING_MIN <= value <= RATING_MAX:
        raise InvalidItem(
            "rating_out_of_range", f"rating {value} is outside {RATING_MIN:g}..{RATING_MAX:g}", "rating"
        )
    return float(value)


def _reach(item: Mapping[str, Any]) -> int | None:
    value = item.get("reach")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidItem("bad_reach", f"reach {str(value)[:20]!r} is not a count", "reach")
    return value


def _time(item: Mapping[str, Any], field: str) -> datetime | None:
    value = item.get(field)
    if value is None or value == "":
        return None
    return parse_timestamp(value, field)


def _raw(item: Mapping[str, Any]) -> dict[str, Any] | None:
    value = item.get("raw")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidItem("bad_raw", f"raw is {type(value).__name__}, not an object", "raw")
    cleaned: dict[str, Any] = clean_json(value)
    return cleaned


def to_mention_in(item: Mapping[str, Any]) -> MentionIn:
    """Validate and normalise a spider's item for storage, or raise :class:`InvalidItem` saying why.

    Texts are cleaned and truncated to ``TEXT_MAX_CHARS``; times become aware UTC; a missing update
    time falls back to the creation time so every stored mention can be ordered.
    """
    author = _optional_str(item, "author")
    created_at = _time(item, "created_at")
    updated_at = _time(item, "updated_at") or created_at
    return MentionIn(
        source=_required_str(item, "source", 64),
        external_id=_required_str(item, "external_id", 512),
        text=_text(item, "text") or "",
        url=_optional_str(item, "url"),
        author=author[:AUTHOR_MAX_CHARS] if author else None,
        target=_optional_str(item, "target", 200),
        lang=_optional_str(item, "lang", 16),
        rating=_rating(item),
        reply_text=_text(item, "reply_text") or None,
        parent_id=_optional_str(item, "parent_id", 512),
        reach=_reach(item),
        created_at=created_at,
        updated_at=updated_at,
        raw=_raw(item),
    )


def is_truncated(item: Mapping[str, Any]) -> bool:
    """Whether :func:`to_mention_in` cut the item's text or reply to ``TEXT_MAX_CHARS``."""
    return any(
        isinstance(item.get(f), str) and len(item[f].strip()) > TEXT_MAX_CHARS for f in ("text", "reply_text")
    )
