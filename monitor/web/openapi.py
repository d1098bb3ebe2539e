"""The web app's OpenAPI description: what each route takes and answers, for people and for the fuzzer.

Why describe an HTML app at all: ``tests/web/test_fuzz_openapi.py`` generates its requests from this
description (schemathesis), so a parameter left out here is a parameter nobody fuzzes. The inbox filters
are parsed by :func:`monitor.web.queries.parse_filters`, which answers a bad value with the inbox's own 400
page; they are therefore *described* here (``openapi_extra``) rather than declared as FastAPI parameters,
whose validation would turn that page into a bare 422. Item ids are described with the bounds of their
column while :func:`monitor.web.deps.known_item` still answers 404 for anything outside them.

Who may read it: ``/openapi.json`` is served to signed-in users only. The sign-in guard
(:mod:`monitor.web.guard`) covers it like any page, so a signed-out visitor is sent to the sign-in page and
learns nothing about the routes; a signed-in agent already sees every page, and gets a schema to point
a tool at (``schemathesis run`` against a staging copy, with the session cookie). The interactive docs
(Swagger UI, ReDoc) stay off: they load scripts from a CDN, which the pages' Content-Security-Policy
forbids. The Slack-only app serves no schema.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from monitor.web.auth import SESSION_COOKIE
from monitor.web.inbox_sort import DIRECTIONS, SORTS
from monitor.web.queries import MAX_PAGE, MAX_Q, SENTIMENTS, STATUSES, URGENCIES
from monitor.web.tags import MAX_TAG

__all__ = [
    "ACTION_RESPONSES",
    "EXPORT_RECORD",
    "EXPORT_RESPONSES",
    "FILTER_PARAMETERS",
    "ITEM_ID_BOUNDS",
    "OPENAPI_URL",
    "PUBLIC",
    "SLACK_BODY",
    "SLACK_PARAMETERS",
    "SLACK_RESPONSES",
    "html",
    "install_openapi",
]

OPENAPI_URL: Final = "/openapi.json"
MAX_ITEM_ID: Final = 2**63 - 1  # the largest id a BIGINT column holds (SQLite's INTEGER too)
ITEM_ID_BOUNDS: Final[dict[str, Any]] = {"minimum": 1, "maximum": MAX_ITEM_ID}
PUBLIC: Final[list[dict[str, list[str]]]] = [{}]  # an operation's ``security``: no sign-in needed
_TEXT: Final = {"type": "string"}


def html(description: str) -> dict[str, Any]:
    """A response that is an HTML page (the page itself, or an error page saying what went wrong)."""
    return {"description": description, "content": {"text/html": {"schema": _TEXT}}}


def _redirect(description: str) -> dict[str, Any]:
    return {"description": description, "headers": {"Location": {"schema": _TEXT}}}


def _json_error(description: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"error": _TEXT}, "required": ["error"]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _filter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


FILTER_PARAMETERS: Final[list[dict[str, Any]]] = [
    _filter("target", "A watched target's name (exact).", _TEXT),
    _filter("source", "A source's name, e.g. google_business (exact).", _TEXT),
    _filter("sentiment", "The newest score's label.", {"type": "string", "enum": list(SENTIMENTS)}),
    _filter("urgency", "The newest score's urgency.", {"type": "string", "enum": list(URGENCIES)}),
    _filter("status", "handled, or alerted and not handled.", {"type": "string", "enum": list(STATUSES)}),
    _filter("assignee", "Who the item's alert is assigned to (exact).", _TEXT),
    _filter("date_from", "First day (in web.timezone).", {"type": "string", "format": "date"}),
    _filter("date_to", "Last day, included; not before date_from.", {"type": "string", "format": "date"}),
    _filter("q", f"Text search, case-insensitive; cut to {MAX_Q} characters.", _TEXT),
    _filter("tag", f"Items carrying this tag (normalised; at most {MAX_TAG} characters).", _TEXT),
    _filter("sort", "Order: newest, reach, severity, SLA due.", {"type": "string", "enum": list(SORTS)}),
    _filter("dir", "desc or asc (default: the natural way).", {"type": "string", "enum": list(DIRECTIONS)}),
    _filter("page", "Page number (the inbox only).", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
]

ACTION_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    303: _redirect("Back to the item page, which shows the outcome as a one-time message."),
    401: html("The session ended: sign in again."),
    403: html("Refused: the form's CSRF token is not this session's, or it came from another site."),
    404: html("No mention has this id."),
}

EXPORT_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    400: _json_error("A filter value no filter accepts; the message names it."),
    401: _json_error("Not signed in."),
}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


# One mention of the JSON export (monitor.web.queries.InboxRow.to_dict), times in UTC; the CSV has the same
# columns plus time_local (the moment in web.timezone, with its offset).
EXPORT_RECORD: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", **ITEM_ID_BOUNDS},
        "time": _nullable("string", format="date-time"),
        "source": _TEXT,
        "target": _nullable("string"),
        "author": _nullable("string"),
        "text": _TEXT,
        "url": _nullable("string"),
        "lang": _nullable("string"),
        "rating": _nullable("number"),
        "reach": _nullable("integer"),
        "sentiment": {"type": ["string", "null"], "enum": [*SENTIMENTS, None]},
        "sentiment_score": _nullable("number"),
        "confidence": _nullable("number"),
        "urgency": _nullable("string"),
        "alert_id": _nullable("integer"),
        "status": {"type": "string", "enum": ["handled", "assigned", "open", "none"]},
        "assignee": _nullable("string"),
        "handled_by": _nullable("string"),
        "handled_at": _nullable("string", format="date-time"),
    },
    "required": ["id", "time", "source", "text", "status"],
}

SLACK_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {"payload": {"type": "string", "description": "Slack's JSON payload."}},
                "required": ["payload"],
            }
        }
    },
}
SLACK_PARAMETERS: Final[list[dict[str, Any]]] = [
    {"name": "X-Slack-Request-Timestamp", "in": "header", "required": True, "schema": _TEXT},
    {"name": "X-Slack-Signature", "in": "header", "required": True, "schema": _TEXT},
]
_SLACK_TEXT: Final = {"text/plain": {"schema": _TEXT}}
SLACK_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "Accepted (queued); a modal's answer when Slack needs one."},
    400: {"description": "A malformed payload.", "content": _SLACK_TEXT},
    401: {"description": "No valid Slack signature (or a stale timestamp).", "content": _SLACK_TEXT},
    409: {"description": "A replay of a request already received.", "content": _SLACK_TEXT},
    413: {"description": "A body over 1 MiB.", "content": _SLACK_TEXT},
    503: {"description": "No signing secret is configured.", "content": _SLACK_TEXT},
}


def install_openapi(app: FastAPI) -> None:
    """Describe the sign-in (the session cookie) on top of FastAPI's schema, built once, on first request.

    Every operation needs the cookie except those that say ``security: [{}]`` (:data:`PUBLIC`): the
    sign-in page, the health check and Slack's endpoint.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            components["securitySchemes"] = {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": "The signed session cookie POST /login sets.",
                }
            }
            schema["security"] = [{"session": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
