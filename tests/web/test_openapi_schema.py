"""``/openapi.json``: served to signed-in users only, and a description worth fuzzing (typed parameters,
form bodies, the answers each route gives). The fuzz run itself is tests/web/test_fuzz_openapi.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from alerts.action_ids import SENTIMENT_LABELS
from alerts.interactivity import INTERACTIVITY_PATH, InteractivityWorker
from alerts.slack_sender import ConsoleSender
from monitor.web.app import create_app
from monitor.web.auth import SESSION_COOKIE
from monitor.web.queries import SENTIMENTS, STATUSES, URGENCIES
from tests.web.conftest import Clock, Site, make_web_settings


def _served(site: Site) -> dict[str, Any]:
    reply = site.logged_in().get("/openapi.json")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    return dict(json.loads(reply.body))


def test_a_signed_out_request_gets_the_sign_in_page_not_the_schema(sqlite_site: Site) -> None:
    reply = sqlite_site.client().get("/openapi.json")
    assert reply.status == 303 and reply.location == "/login?next=%2Fopenapi.json"
    assert b"paths" not in reply.body
    # Signed out by a forged cookie: the same.
    forged = sqlite_site.client()
    forged.cookies[SESSION_COOKIE] = "eyJzaWQiOiJ4In0.0000"
    assert forged.get("/openapi.json").status == 303


def test_the_interactive_docs_are_not_served(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    for path in ("/docs", "/redoc"):
        assert client.get(path).status == 404, path


def test_a_signed_in_user_gets_every_page_route_with_the_session_cookie_described(sqlite_site: Site) -> None:
    schema = _served(sqlite_site)
    operations = {f"{m.upper()} {p}" for p, ops in schema["paths"].items() for m in ops}
    assert operations == {
        "GET /",
        "GET /inbox",
        "GET /login",
        "POST /login",
        "POST /logout",
        "POST /language",
        "GET /export.csv",
        "GET /export.json",
        "GET /items/{mention_id}",
        *(f"POST /items/{{mention_id}}/{a}" for a in ("handle", "reopen", "assign", "correct", "reply")),
        "POST /items/{mention_id}/tags",
        "POST /items/{mention_id}/tags/remove",
        "POST /inbox/bulk",
        "GET /digests",
        "GET /digests/{slug}/{week}",
        "GET /healthz",
        "GET /reply-templates",
        "POST /reply-templates",
        "POST /reply-templates/{template_id}",
        "POST /reply-templates/{template_id}/delete",
        "GET /status",
    }
    assert schema["components"]["securitySchemes"]["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The signed session cookie POST /login sets.",
    }
    public = sorted(
        f"{m.upper()} {p}"
        for p, ops in schema["paths"].items()
        for m, op in ops.items()
        if op.get("security") == [{}]
    )
    assert public == ["GET /healthz", "GET /login", "POST /login"]


def test_the_filters_are_typed_and_the_inbox_answers_are_declared(sqlite_site: Site) -> None:
    schema = _served(sqlite_site)
    inbox = schema["paths"]["/inbox"]["get"]
    params = {p["name"]: p["schema"] for p in inbox["parameters"]}
    assert params["date_from"] == params["date_to"] == {"type": "string", "format": "date"}
    assert params["sentiment"]["enum"] == list(SENTIMENTS)
    assert params["urgency"]["enum"] == list(URGENCIES)
    assert params["status"]["enum"] == list(STATUSES)
    assert params["page"] == {"type": "integer", "minimum": 1, "maximum": 100_000}
    assert set(inbox["responses"]["200"]["content"]) == {"text/html"}
    assert set(inbox["responses"]["400"]["content"]) == {"text/html"}
    export = schema["paths"]["/export.json"]["get"]
    assert "page" not in {p["name"] for p in export["parameters"]}
    assert export["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert set(schema["paths"]["/export.csv"]["get"]["responses"]["200"]["content"]) == {"text/csv"}


def test_item_ids_are_bounded_and_the_actions_forms_described(sqlite_site: Site) -> None:
    schema = _served(sqlite_site)
    page = schema["paths"]["/items/{mention_id}"]["get"]
    (item_id,) = page["parameters"]
    assert item_id["in"] == "path" and item_id["schema"]["type"] == "integer"
    assert (item_id["schema"]["minimum"], item_id["schema"]["maximum"]) == (1, 2**63 - 1)
    correct = schema["paths"]["/items/{mention_id}/correct"]["post"]
    ref = correct["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert body["properties"]["label"]["enum"] == list(SENTIMENT_LABELS)
    assert "csrf_token" in body["properties"]
    assert {"303", "403", "404"} <= set(correct["responses"])


def test_the_slack_endpoint_is_described_with_its_signature_but_served_by_no_schema(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    settings = make_web_settings(tmp_path, slack={"bot_token": None, "signing_secret": "s"})
    worker = InteractivityWorker(sqlite_engine, settings, ConsoleSender(settings), lambda _id: None)
    both = create_app(settings, sqlite_engine, clock=Clock(), slack_worker=worker).openapi()
    slack = both["paths"][INTERACTIVITY_PATH]["post"]
    assert slack["security"] == [{}]
    assert {p["name"] for p in slack["parameters"]} == {"X-Slack-Request-Timestamp", "X-Slack-Signature"}
    assert (
        "payload"
        in slack["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
    )
    assert {"200", "401", "409", "413"} <= set(slack["responses"])

    slack_only = create_app(settings, sqlite_engine, slack_worker=worker, pages=False)
    assert all(getattr(route, "path", None) != "/openapi.json" for route in slack_only.routes)
