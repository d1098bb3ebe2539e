"""The inbox's filters and order as the query string gives them, checked before any query runs.

Why apart from the SQL (:mod:`monitor.web.queries`): the inbox page, both exports and the OpenAPI
description share these names and limits, and a value no filter accepts must become the inbox's own 400
page (:class:`FilterError`, naming the field) before the database is asked anything.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

from monitor.web.inbox_sort import DEFAULT_DIRECTION, DIRECTIONS, SORTS
from monitor.web.search import SearchError, parse_search
from monitor.web.tags import TagError, normalise_tag

__all__ = [
    "FILTER_NAMES",
    "MAX_PAGE",
    "MAX_Q",
    "SENTIMENTS",
    "STATUSES",
    "URGENCIES",
    "FilterError",
    "Filters",
    "parse_filters",
]

SENTIMENTS: Final = ("negative", "neutral", "positive")
URGENCIES: Final = ("none", "elevated", "critical")
STATUSES: Final = ("handled", "unhandled")
FILTER_NAMES: Final = (
    "target",
    "source",
    "sentiment",
    "urgency",
    "status",
    "assignee",
    "date_from",
    "date_to",
    "q",
    "tag",
)
MAX_Q: Final = 200
MAX_PAGE: Final = 100_000


class FilterError(ValueError):
    """A filter value the inbox cannot use; the message names the field and what it accepts.

    ``template`` is the English msgid and ``values`` its placeholders, so the inbox page shows the
    message in its reader's language; ``str()`` is the English text the exports answer with.
    """

    def __init__(self, template: str, **values: str) -> None:
        super().__init__(template % values if values else template)
        self.template = template
        self.values = values


@dataclass(frozen=True)
class Filters:
    """The inbox's filters as given in the query string (empty = not filtered)."""

    target: str = ""
    source: str = ""
    sentiment: str = ""
    urgency: str = ""
    status: str = ""
    assignee: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    tag: str = ""
    page: int = 1
    sort: str = "time"
    direction: str = "desc"

    def params(self) -> dict[str, str]:
        """The non-empty filters and a non-default order as query parameters (no page), for links and exports."""
        out: dict[str, str] = {}
        for name in FILTER_NAMES:
            value = getattr(self, name)
            if value:
                out[name] = value.isoformat() if isinstance(value, date) else str(value)
        if self.sort != "time":
            out["sort"] = self.sort
        if self.direction != DEFAULT_DIRECTION[self.sort]:
            out["dir"] = self.direction
        return out


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value and value not in allowed:
        raise FilterError(
            "%(name)s must be one of %(allowed)s (got %(value)s)",
            name=name,
            allowed=", ".join(allowed),
            value=repr(value[:40]),
        )
    return value


def _day(name: str, value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FilterError(
            "%(name)s must be a date as YYYY-MM-DD (got %(value)s)", name=name, value=repr(value[:40])
        ) from exc


def parse_filters(query: Mapping[str, str]) -> Filters:
    """Filters from a query string; :class:`FilterError` for a value no filter accepts."""

    def get(name: str) -> str:
        value = (query.get(name) or "").strip()
        if "\x00" in value:  # no stored text holds one, and PostgreSQL refuses it in a query (a 500)
            raise FilterError("%(name)s must not contain a NUL character (%%00)", name=name)
        return value

    page_text = get("page") or "1"
    sort = _one_of("sort", get("sort"), SORTS) or "time"
    tag = get("tag")
    try:
        tag = normalise_tag(tag) if tag else ""
    except TagError as exc:
        raise FilterError("tag: %(reason)s", reason=str(exc)) from None
    if not page_text.isdecimal() or not 1 <= int(page_text) <= MAX_PAGE:
        raise FilterError("page must be a whole number from 1 (got %(value)s)", value=repr(page_text[:20]))
    filters = Filters(
        target=get("target")[:200],
        source=get("source")[:64],
        sentiment=_one_of("sentiment", get("sentiment"), SENTIMENTS),
        urgency=_one_of("urgency", get("urgency"), URGENCIES),
        status=_one_of("status", get("status"), STATUSES),
        assignee=get("assignee")[:200],
        date_from=_day("date_from", get("date_from")),
        date_to=_day("date_to", get("date_to")),
        q=unicodedata.normalize("NFC", get("q"))[:MAX_Q],
        tag=tag,
        page=int(page_text),
        sort=sort,
        direction=_one_of("dir", get("dir"), DIRECTIONS) or DEFAULT_DIRECTION[sort],
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise FilterError("date_from is after date_to")
    if filters.q:
        try:
            parse_search(filters.q)
        except SearchError as exc:
            raise FilterError("%(reason)s", reason=str(exc)) from None
    return filters
