"""The web app fuzzed from its own OpenAPI description (schemathesis), signed in, as part of ``make test``.

What it does: every operation the app describes (the description ``/openapi.json`` serves, built at import
so that schemathesis makes one test per operation) gets a few hundred generated requests, valid and
invalid (schemathesis' examples, coverage and fuzzing phases), against the real app in-process over
ASGI, on SQLite and on PostgreSQL, each seeded with the web tests' demo data and one saved digest. Every
request carries the fuzzer's session cookie (from a real sign-in through the sign-in page) and every form
the session's CSRF token, so requests get past the guard and the CSRF check into the handlers; most
made-up item ids are swapped for seeded ones, so the pages and actions run on real rows, and the
module's teardown fails when an operation never reached its handler. What fails a test: any 5xx (or an
exception out of the app), a status or content type the description does not list, a JSON answer that
does not match its schema, and an export that is not complete (:func:`make_export_check`).

Why in-process: measured here, a request costs 4-14 ms in-process against 5-25 ms over loopback HTTP, and
the run must fit in about a minute of one core. It still sees streamed exports whole: the ASGI adapter
collects every chunk until the app says the body has ended, and an exception raised mid-stream (what a
server turns into a 200 cut off mid-file) reaches the test as that exception.

Why PostgreSQL too: it refuses what SQLite takes (a NUL in a text value; tests/web/test_fuzz_findings.py).
Why deterministic: a fixed seed and ``deterministic`` generation make CI reproducible; a failure prints
the request as a curl command (the session cookie filtered) to replay against ``earshot web``.

Not fuzzed: ``POST /slack/interactivity``, ``/slack/events`` and ``/slack/commands`` (described, with their
signature headers): their requests must be signed by Slack, and tests/web/test_slack_route.py and
tests/alerts/test_app_home.py cover signed, stale, replayed and malformed ones.
``POST /logout`` is fuzzed with a disposable session per request, so the fuzzer's own stays signed in.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.core.failures import FailureGroup
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from alerts.interactivity import INTERACTIVITY_PATH, InteractivityWorker
from alerts.slack_events import COMMANDS_PATH, EVENTS_PATH
from alerts.slack_sender import ConsoleSender
from monitor.core.config import CONFIG_ENV, EarshotSettings
from monitor.core.db import make_engine
from monitor.web.app import bound_port, create_app, serve_web, shutdown_web
from monitor.web.auth import (
    SESSION_COOKIE,
    credential_fingerprint,
    new_session,
    remember_session,
    sign_session,
)
from monitor.web.context import WebContext
from monitor.web.routes import exports
from monitor.web.routes.exports import _CSV_FIELDS
from tests.conftest import POSTGRES_URL, _require_postgres
from tests.web.conftest import USER, Client, Clock, make_web_settings
from tests.web.seed import SEED_WEEK, SeedInfo, seed_demo

pytestmark = pytest.mark.slow

# Per operation, generation mode and phase (the coverage phase adds its own cases): 1,820 requests per
# database, about 30 s of one core each (measured; see the README's figures).
MAX_EXAMPLES: Final = 100
SLACK_SECRET: Final = "fuzz-signing-secret"
DIGEST_SLUG: Final = "sklep-kowalski"
# Statuses that mean the request reached its handler (not the sign-in guard): per operation, one of them
# must have been seen, or the fuzzer ran signed out or never got past the CSRF check.
REACHED: Final[dict[str, set[int]]] = {
    "GET /": {303},
    "GET /inbox": {200},
    "GET /login": {200},
    "POST /login": {401, 429},
    "POST /logout": {303},
    "POST /language": {303},
    "GET /export.csv": {200},
    "GET /export.json": {200},
    "GET /items/{mention_id}": {200},
    "POST /items/{mention_id}/handle": {303},
    "POST /items/{mention_id}/reopen": {303},
    "POST /items/{mention_id}/assign": {303},
    "POST /items/{mention_id}/correct": {303},
    "POST /items/{mention_id}/reply": {303},
    "POST /items/{mention_id}/tags": {303},
    "POST /items/{mention_id}/tags/remove": {303},
    "POST /inbox/bulk": {303},
    "GET /digests": {200},
    "GET /digests/{slug}/{week}": {200},
    "GET /healthz": {200},
    "GET /reply-templates": {200},
    "POST /reply-templates": {303},
    "POST /reply-templates/{template_id}": {303},
    "POST /reply-templates/{template_id}/delete": {303},
    "GET /status": {200},
}


@dataclass
class FuzzTarget:
    """The app under test, the fuzzer's signed-in session, and what it answered."""

    app: FastAPI
    web: WebContext
    engine: Engine
    seed: SeedInfo
    cookie: str
    csrf: str
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    requests: int = 0
    failed: bool = False

    @property
    def mention_ids(self) -> list[int]:
        return sorted(self.seed.mentions.values())

    def disposable_session(self) -> tuple[str, str]:
        """A signed-in session of its own (cookie, CSRF token), for a request that ends its session."""
        now = self.web.clock()
        credential = credential_fingerprint(self.web.settings, self.web.key, USER, via_token=False)
        session = new_session(USER, now, 1, credential)
        remember_session(self.engine, session, now)
        return sign_session(session, self.web.key), session.csrf_token(self.web.key)


def _write_digest(settings: EarshotSettings) -> None:
    """One saved weekly report, so the digest list has a link and the report page a file to serve."""
    folder = Path(settings.data_dir) / "reports" / DIGEST_SLUG
    folder.mkdir(parents=True)
    (folder / f"{SEED_WEEK}.html").write_text(
        "<!doctype html><title>Sklep Kowalski 2026-W47</title><p>12 wzmianek / 12 mentions</p>",
        encoding="utf-8",
    )


def _clear_earshot_env(patch: pytest.MonkeyPatch) -> None:
    """Settings from this test alone (the web conftest's rule, for a fixture that outlives one test)."""
    for name in list(os.environ):
        section = name.removeprefix("EARSHOT_").split("__")[0].lower()
        if name == CONFIG_ENV or (name.startswith("EARSHOT_") and section in EarshotSettings.model_fields):
            patch.delenv(name)


def _web_app(settings: EarshotSettings, engine: Engine, worker: InteractivityWorker) -> FastAPI:
    return create_app(settings, engine, clock=Clock(), slack_worker=worker)


def _description() -> dict[str, Any]:
    """The app's own OpenAPI description, built at import (schemathesis makes one test per operation from
    it at collection); nothing is served or stored to build it. The served copy is the same
    (test_openapi_schema.py)."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        _clear_earshot_env(patch)
        settings = make_web_settings(Path(folder))
        engine = create_engine("sqlite://")
        worker = InteractivityWorker(engine, settings, ConsoleSender(settings), lambda _id: None)
        description = _web_app(settings, engine, worker).openapi()
        engine.dispose()
    return description


@contextmanager
def _database(backend: str, folder: Path) -> Iterator[Engine]:
    """A fresh database for the whole module: a SQLite file, or a private PostgreSQL schema."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{folder / 'earshot.db'}")
        yield engine
        engine.dispose()
        return
    _require_postgres()
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    engine = make_engine(f"{POSTGRES_URL}{sep}options=-csearch_path%3D{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzz_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    """The app (pages and the Slack route) over the seeded database, and a session from a real sign-in.

    One per database for the whole module: every operation's test fuzzes the same app, and the teardown
    checks that each operation was reached past the guard. PostgreSQL too, because it refuses what
    SQLite takes (a NUL in a text value: tests/web/test_fuzz_findings.py).
    """
    folder = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as patch:
        _clear_earshot_env(patch)
        settings = make_web_settings(folder, slack={"bot_token": None, "signing_secret": SLACK_SECRET})
    with _database(request.param, folder) as engine:
        yield from _fuzzed(settings, engine)


def _fuzzed(settings: EarshotSettings, engine: Engine) -> Iterator[FuzzTarget]:
    seed = seed_demo(engine)
    _write_digest(settings)
    worker = InteractivityWorker(engine, settings, ConsoleSender(settings), lambda _id: None).start()
    app = _web_app(settings, engine, worker)
    server, thread = serve_web(settings, engine, app=app)
    try:
        client = Client(bound_port(server))
        assert client.login().status == 303
        cookie, csrf = client.cookies[SESSION_COOKIE], client.csrf_from("/inbox")
    finally:
        shutdown_web(server, thread)
    target = FuzzTarget(app, app.state.web, engine, seed, cookie, csrf)
    started, cpu = time.perf_counter(), time.process_time()
    yield target
    worker.stop()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"\nfuzz: {target.requests} generated requests in {elapsed:.1f} s ({cpu:.1f} s of CPU)")
    for name, seen in sorted(target.statuses.items()):
        print(f"  {name}: {dict(sorted(seen.items()))}")
    if target.failed:
        return  # the failing operation's test says what went wrong
    # Only the operations that ran (``-k`` may pick a few); other methods (TRACE /healthz, ...) are the
    # coverage phase asking about methods no route has.
    missing = {
        name: sorted(seen)
        for name, seen in target.statuses.items()
        if name in REACHED and not seen.keys() & REACHED[name]
    }
    assert not missing, f"operations the fuzzer never got into (statuses seen): {missing}"
    documented = {f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()}
    assert documented == set(REACHED), "the description's operations changed: update REACHED"


CONFIG: Final = schemathesis.Config.from_dict(
    {
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "with-security-parameters": False,
        },
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
    }
)


def _csv_rows(body: str) -> list[list[str]]:
    assert body.startswith("\ufeff"), "the CSV export lost its BOM"
    assert body.endswith("\r\n"), f"the CSV export does not end with a line end: {body[-80:]!r}"
    rows = list(csv.reader(io.StringIO(body[1:], newline="")))
    assert rows and tuple(rows[0]) == _CSV_FIELDS, f"the CSV export's header is {rows[:1]!r}"
    short = [row for row in rows[1:] if len(row) != len(_CSV_FIELDS)]
    assert not short, f"CSV rows with the wrong number of cells: {short[:2]!r}"
    return rows[1:]


def make_export_check(target: FuzzTarget) -> Any:
    """A check that a 200 export is whole: the JSON parses, the CSV has as many rows as the JSON export."""

    def export_is_complete(ctx: CheckContext, response: Response, case: Case) -> bool | None:
        if case.path not in ("/export.csv", "/export.json") or response.status_code != 200:
            return None
        body = response.content.decode("utf-8")
        if case.path == "/export.json":
            assert body.endswith("\n]\n"), f"the JSON export is cut off: {body[-80:]!r}"
            records = json.loads(body)
            assert isinstance(records, list)
            return True
        rows = _csv_rows(body)
        same_query = case.operation.schema["/export.json"]["GET"].Case(query=dict(case.query or {}))
        answer = same_query.call(app=target.app, cookies={SESSION_COOKIE: target.cookie})
        assert answer.status_code == 200, f"the JSON export for the same query answered {answer.status_code}"
        expected = len(json.loads(answer.content))
        assert len(rows) == expected, f"the CSV export has {len(rows)} rows, the JSON export {expected}"
        return True

    return export_is_complete


def _prepare(case: Case, target: FuzzTarget) -> None:
    """Sign the request in, give its form the CSRF token, and point most item ids at seeded mentions."""
    cookie, csrf = target.cookie, target.csrf
    if case.method == "POST" and case.path == "/logout":
        cookie, csrf = target.disposable_session()
    case.cookies = {SESSION_COOKIE: cookie}
    if case.method == "POST" and isinstance(case.body, dict):
        case.body = {**case.body, "csrf_token": csrf}
    params = case.path_parameters or {}
    mention_id = params.get("mention_id")
    ids = target.mention_ids
    # Made-up ids become seeded ones (3 in 4); 0, negative and ids past a 32-bit int stay as generated.
    if isinstance(mention_id, int) and ids[-1] < mention_id < 2**31 and mention_id % 4:
        case.path_parameters = {**params, "mention_id": ids[mention_id % len(ids)]}
    week = params.get("week")
    if isinstance(week, str) and len(week) % 2 == 0:
        case.path_parameters = {**params, "slug": DIGEST_SLUG, "week": SEED_WEEK}


schema = schemathesis.openapi.from_dict(_description(), config=CONFIG).exclude(
    path=[INTERACTIVITY_PATH, EVENTS_PATH, COMMANDS_PATH]
)


@schema.parametrize()
# No deadline and no too_slow check: under make test's two workers on two cores a request or a generated
# form can take a second; the run is bounded by max-examples, not by Hypothesis' timer.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_no_route_answers_a_server_error_or_a_broken_export(case: Case, fuzz_target: FuzzTarget) -> None:
    _prepare(case, fuzz_target)
    fuzz_target.requests += 1
    try:
        response = case.call_and_validate(
            app=fuzz_target.app, additional_checks=[make_export_check(fuzz_target)]
        )
    except BaseException:
        fuzz_target.failed = True
        raise
    label = f"{case.method} {case.operation.path}"
    fuzz_target.statuses.setdefault(label, Counter())[response.status_code] += 1


# ------------------------------------------------------------------- the checks can fail (no blind spot)


@pytest.fixture
def small_target(sqlite_engine: Engine, tmp_path: Path) -> FuzzTarget:
    """The app over the seeded database with a signed-in session, without the fuzz run."""
    settings = make_web_settings(tmp_path)
    app = create_app(settings, sqlite_engine, clock=Clock())
    target = FuzzTarget(app, app.state.web, sqlite_engine, seed_demo(sqlite_engine), "", "")
    target.cookie, target.csrf = target.disposable_session()
    return target


def _export_case(path: str, target: FuzzTarget) -> Case:
    case = schema[path]["GET"].Case(query={})
    case.cookies = {SESSION_COOKIE: target.cookie}
    return case


def test_the_export_check_fails_a_csv_export_short_of_rows(
    small_target: FuzzTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = exports._csv_lines
    monkeypatch.setattr(exports, "_csv_lines", lambda rows, *zone: itertools.islice(whole(rows, *zone), 4))
    case = _export_case("/export.csv", small_target)
    with pytest.raises(FailureGroup) as failed:
        case.call_and_validate(app=small_target.app, additional_checks=[make_export_check(small_target)])
    assert "the CSV export has 3 rows, the JSON export 12" in str(failed.value.exceptions[0])


def test_an_export_stream_that_breaks_midway_fails_the_call(
    small_target: FuzzTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    def breaks(rows: Iterator[object]) -> Iterator[str]:
        yield "["
        raise RuntimeError("the database went away mid-export")

    monkeypatch.setattr(exports, "_json_lines", breaks)
    case = _export_case("/export.json", small_target)
    with pytest.raises(RuntimeError, match="went away mid-export"):
        case.call_and_validate(app=small_target.app, additional_checks=[make_export_check(small_target)])


def test_a_complete_export_passes_the_check(small_target: FuzzTarget) -> None:
    for path in ("/export.csv", "/export.json"):
        case = _export_case(path, small_target)
        response = case.call_and_validate(
            app=small_target.app, additional_checks=[make_export_check(small_target)]
        )
        assert response.status_code == 200, path
