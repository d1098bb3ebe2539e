"""``GET /export.csv`` and ``GET /export.json``: the inbox's filtered mentions, every page, streamed.

Why streamed: an export may cover every mention ever stored, so rows go out a database batch at a time
and never sit in memory together. The query runs and its first row is read before the response starts,
so a failing query is an error status, never a 200 with a cut-off file. CSV cells a spreadsheet would
run as a formula are made text.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from monitor.core.timeutil import as_utc
from monitor.web.deps import EngineDep, SettingsDep, WebDep
from monitor.web.openapi import EXPORT_RECORD, EXPORT_RESPONSES, FILTER_PARAMETERS
from monitor.web.queries import FilterError, InboxRow, filtered_rows, parse_filters

__all__ = ["csv_cell", "router"]

router = APIRouter()

_CSV_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_CSV_FIELDS: Final = (
    "id",
    "time",
    "source",
    "target",
    "author",
    "rating",
    "reach",
    "lang",
    "sentiment",
    "sentiment_score",
    "confidence",
    "urgency",
    "status",
    "assignee",
    "handled_by",
    "handled_at",
    "alert_id",
    "url",
    "text",
    "time_local",
)
# ``time`` and ``handled_at`` stay ISO 8601 in UTC (``+00:00``), as documented and as scripts read them;
# ``time_local`` is the same moment in ``web.timezone`` with its offset, as the inbox shows it.


def _is_blank(ch: str) -> bool:
    """Whitespace or an invisible character (control, format: zero-width space, BOM) a spreadsheet skips."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: user text starting = + - @ (a formula) gets a ``'``.

    Leading whitespace and invisible characters do not hide a formula (spreadsheets skip them), so the
    first visible character is what counts; text starting with a tab or carriage return is quoted too.
    """
    if not isinstance(value, str):
        return value
    start = 0
    while start < len(value) and _is_blank(value[start]):
        start += 1
    if value.startswith(_CSV_FORMULA_START) or value.startswith(_CSV_FORMULA_START, start):
        return "'" + value
    return value


def _local_iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return as_utc(moment).astimezone(zone).isoformat() if moment is not None else None


def _csv_lines(rows: Iterator[InboxRow], timezone: str = "UTC") -> Iterator[str]:
    """The CSV export, one chunk per row: a BOM (so Excel reads UTF-8), the header, then the rows."""
    zone = ZoneInfo(timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_CSV_FIELDS)
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        record = row.to_dict()
        record["sentiment"] = row.label
        record["time_local"] = _local_iso(row.when, zone)
        writer.writerow([csv_cell(record.get(name)) for name in _CSV_FIELDS])
        yield buffer.getvalue()


def _json_lines(rows: Iterator[InboxRow]) -> Iterator[str]:
    """The JSON export: one array, streamed an element at a time."""
    yield "["
    first = True
    for row in rows:
        yield ("\n" if first else ",\n") + json.dumps(row.to_dict(), ensure_ascii=False)
        first = False
    yield "\n]\n"


def _export(request: Request, web: WebDep, settings: SettingsDep, engine: EngineDep, kind: str) -> Response:
    try:
        filters = parse_filters(request.query_params)
    except FilterError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    rows = filtered_rows(engine, filters, settings.web.timezone)
    # Run the query now: an error raised here is a 500 before any byte went out.
    first = next(rows, None)
    if first is not None:
        rows = itertools.chain((first,), rows)
    stamp = web.clock().strftime("%Y%m%d-%H%M")
    if kind == "csv":
        body, media = _csv_lines(rows, settings.web.timezone), "text/csv; charset=utf-8"
    else:
        body, media = _json_lines(rows), "application/json; charset=utf-8"
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="earshot-mentions-{stamp}.{kind}"'},
    )


def _described(media: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """The route's OpenAPI: the inbox's filters (no page: every page goes out) and a streamed 200."""
    ok = {"description": description, "content": {media: {"schema": schema}}}
    return {
        "tags": ["exports"],
        "response_class": StreamingResponse,
        "responses": {200: ok, **EXPORT_RESPONSES},
        "openapi_extra": {"parameters": [p for p in FILTER_PARAMETERS if p["name"] != "page"]},
    }


@router.get(
    "/export.csv",
    **_described(
        "text/csv",
        {"type": "string"},
        "The filtered mentions as CSV (UTF-8, BOM, header): the JSON export's fields, times in UTC "
        "(ISO 8601, +00:00), and time_local, the same moment in web.timezone with its offset.",
    ),
)
def export_csv(request: Request, web: WebDep, settings: SettingsDep, engine: EngineDep) -> Response:
    return _export(request, web, settings, engine, "csv")


@router.get(
    "/export.json",
    **_described(
        "application/json", {"type": "array", "items": EXPORT_RECORD}, "The filtered mentions, a JSON array."
    ),
)
def export_json(request: Request, web: WebDep, settings: SettingsDep, engine: EngineDep) -> Response:
    return _export(request, web, settings, engine, "json")
