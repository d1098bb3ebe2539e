"""The web pages for agents and managers: sign-in, inbox, item page with actions, exports, digests.

Plain server-rendered HTML (Jinja2, autoescape on) with a little JavaScript for conveniences. Every page
except ``/login``, ``/healthz`` and ``/static/*`` needs a signed-in session; every POST carries the
session's CSRF token. Actions reuse :mod:`alerts.actions`, so a click here and a click in Slack change an
alert the same way; the Slack message is re-rendered afterwards (best effort, after the response).

Routes and element ids are a contract the browser tests rely on; see the package docstring.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import uvicorn
from fastapi import BackgroundTasks, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from alerts.action_ids import SENTIMENT_LABELS
from alerts.actions import ActionError, assign, correct_sentiment, mark_handled, reopen, reply_to_item
from alerts.outbox import sync_updates
from alerts.slack_sender import AlertSender, SlackError, make_sender
from monitor.core.config import EarshotSettings
from monitor.core.corrections import CorrectionError, record_correction
from monitor.core.db import write_session
from monitor.core.models import Alert, AlertKind, Mention
from monitor.web.auth import (
    SESSION_COOKIE,
    Session,
    WebConfigError,
    authenticate,
    load_session_key,
    new_session,
    read_payload,
    read_session,
    sign_payload,
    sign_session,
)
from monitor.web.csrf import CsrfError, check_csrf
from monitor.web.digests import DigestLink, digest_file, digest_links
from monitor.web.item import load_item
from monitor.web.queries import (
    SENTIMENTS,
    STATUSES,
    URGENCIES,
    FilterError,
    InboxRow,
    filtered_rows,
    inbox_page,
    parse_filters,
)

__all__ = ["WebConfigError", "bound_port", "create_app", "serve_web", "shutdown_web"]

log = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
FLASH_COOKIE: Final = "earshot_flash"
_PUBLIC_PREFIXES: Final = ("/login", "/healthz", "/static/")
_CSV_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_PAGE_CSP: Final = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# A saved digest report: its own inline styles and data: images, nothing else, no scripts at all.
_REPORT_CSP: Final = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
)
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
)

Clock = Callable[[], datetime]
SenderFactory = Callable[[EarshotSettings], AlertSender]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _safe_next(target: str | None) -> str:
    """A post-login destination on this site only (``/inbox?...``), never ``//evil`` or ``https://...``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/inbox"
    if any(ord(ch) < 32 for ch in target):
        return "/inbox"
    return target


def _csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: user text starting = + - @ (a formula) gets a ``'``."""
    if isinstance(value, str) and value.startswith(_CSV_FORMULA_START):
        return "'" + value
    return value


def _csv_lines(rows: Iterator[InboxRow]) -> Iterator[str]:
    """The CSV export, one chunk per row: a BOM (so Excel reads UTF-8), the header, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_CSV_FIELDS)
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        record = row.to_dict()
        record["sentiment"] = row.label
        writer.writerow([_csv_cell(record.get(name)) for name in _CSV_FIELDS])
        yield buffer.getvalue()


def _json_lines(rows: Iterator[InboxRow]) -> Iterator[str]:
    """The JSON export: one array, streamed an element at a time."""
    yield "["
    first = True
    for row in rows:
        yield ("\n" if first else ",\n") + json.dumps(row.to_dict(), ensure_ascii=False)
        first = False
    yield "\n]\n"


class _Web:
    """The app's state and handlers; one per :func:`create_app` call."""

    def __init__(
        self, settings: EarshotSettings, engine: Engine, clock: Clock, sender_factory: SenderFactory
    ) -> None:
        web = settings.web
        has_token = web.shared_token is not None and bool(web.shared_token.get_secret_value())
        if not web.users and not has_token:
            raise WebConfigError(
                "the web pages need someone who can sign in: set EARSHOT_WEB__SHARED_TOKEN, or add "
                "[[web.users]] entries (username + password_hash from `earshot web hash-password`)"
            )
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.sender_factory = sender_factory
        self._sender: AlertSender | None = None
        self._sender_lock = threading.Lock()
        self.key = load_session_key(settings)
        self.has_token = has_token
        self.has_users = bool(web.users)
        public = urlsplit(settings.public_url)
        self.secure = public.scheme == "https"
        self.public_host = public.netloc or None
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["localtime"] = self._localtime
        self.env.filters["stars"] = _stars

    # -- helpers -------------------------------------------------------------------------------------

    def _localtime(self, moment: datetime | None) -> str:
        if moment is None:
            return "–"
        local = (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(
            ZoneInfo(self.settings.digest.timezone)
        )
        return local.strftime("%Y-%m-%d %H:%M")

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        session: Session | None = request.state.session
        flash = self._pop_flash(request)
        html = self.env.get_template(name).render(
            user=session.user if session else None,
            csrf_token=session.csrf_token(self.key) if session else "",
            flash=flash,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def set_session(self, response: Response, session: Session) -> None:
        max_age = max(1, int((session.expires - self.clock()).total_seconds()))
        response.set_cookie(
            SESSION_COOKIE,
            sign_session(session, self.key),
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )

    def flash(self, response: Response, message: str, kind: str = "ok") -> None:
        """A one-time message shown by the next page (signed, so no one can plant text in it)."""
        value = sign_payload({"typ": "flash", "kind": kind, "message": message}, self.key)
        response.set_cookie(
            FLASH_COOKIE, value, max_age=60, path="/", httponly=True, samesite="lax", secure=self.secure
        )

    def _pop_flash(self, request: Request) -> dict[str, str] | None:
        data = read_payload(request.cookies.get(FLASH_COOKIE), self.key)
        message = data.get("message") if data is not None else None
        if data is None or data.get("typ") != "flash" or not isinstance(message, str):
            return None
        return {"kind": "error" if data.get("kind") == "error" else "ok", "message": message}

    def user_name(self, request: Request) -> str:
        """How the signed-in person is recorded on alerts: ``web:<username>``."""
        session: Session = request.state.session
        return f"web:{session.user}"

    def csrf(self, request: Request, token: str) -> None:
        check_csrf(request.state.session, self.key, token, request.headers, self.public_host)

    def sync_slack(self, alert_id: int) -> None:
        """Re-render the alert's Slack message; a Slack or database problem is logged, never raised."""
        try:
            with self._sender_lock:
                if self._sender is None:
                    self._sender = self.sender_factory(self.settings)
                sender = self._sender
            sync_updates(self.engine, self.settings, sender, alert_ids=[alert_id])
        except (SlackError, SQLAlchemyError, OSError) as exc:
            log.warning("could not update the Slack message of alert %s: %s", alert_id, type(exc).__name__)

    def main_alert(self, mention_id: int) -> Alert | None:
        with DbSession(self.engine) as db:
            return db.exec(
                select(Alert)
                .where(Alert.mention_id == mention_id, col(Alert.kind).in_(AlertKind.ITEM_KINDS))
                .order_by(col(Alert.id).desc())
            ).first()

    def back_to_item(self, mention_id: int, message: str, kind: str = "ok") -> RedirectResponse:
        response = RedirectResponse(f"/items/{mention_id}", status_code=303)
        self.flash(response, message, kind)
        return response


def _stars(rating: float | None) -> str:
    if rating is None:
        return ""
    full = max(0, min(5, round(rating)))
    return "★" * full + "☆" * (5 - full)


def _error_page(web: _Web, request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return web.render(request, "error.html", status=status, title=title, message=message)


def create_app(
    settings: EarshotSettings,
    engine: Engine,
    *,
    clock: Clock | None = None,
    sender_factory: SenderFactory | None = None,
) -> FastAPI:
    """The web app over ``engine``; :class:`WebConfigError` when nobody could sign in.

    ``clock`` (aware UTC) and ``sender_factory`` (the Slack sender for message updates) are for tests.
    """
    web = _Web(settings, engine, clock or _utcnow, sender_factory or make_sender)
    app = FastAPI(title="Earshot", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.web = web

    @app.middleware("http")
    async def require_session(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Nothing but the sign-in page, the health check and static files without a session."""
        session = read_session(request.cookies.get(SESSION_COOKIE), web.key, web.clock())
        request.state.session = session
        path = request.url.path
        public = path == "/login" or path == "/healthz" or path.startswith("/static/")
        if not public and (session is None or session.user is None):
            if path.startswith("/export"):
                return JSONResponse({"error": "sign in first"}, status_code=401)
            if request.method in ("GET", "HEAD"):
                target = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            return _error_page(web, request, 401, "Sign in first", "Your session has ended; sign in again.")
        response = await call_next(request)
        if not path.startswith("/digests/"):
            response.headers.setdefault("Content-Security-Policy", _PAGE_CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if not public:
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/inbox", status_code=303)

    # -- sign-in -----------------------------------------------------------------------------------

    def login_page(request: Request, next_url: str, status: int = 200, error: str | None = None) -> Response:
        session: Session | None = request.state.session
        fresh = session is None
        if session is None:
            session = new_session(None, web.clock(), settings.web.session_hours)
            request.state.session = session
        response = web.render(
            request,
            "login.html",
            status=status,
            next_url=_safe_next(next_url),
            error=error,
            has_token=web.has_token,
            has_users=web.has_users,
        )
        if fresh:
            web.set_session(response, session)
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/inbox") -> Response:
        return login_page(request, next)

    @app.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        csrf_token: Annotated[str, Form()] = "",
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/inbox",
    ) -> Response:
        web.csrf(request, csrf_token)
        user = authenticate(settings, username.strip(), password, token.strip())
        if user is None:
            log.info("failed web sign-in for %r", username[:64])
            return login_page(request, next, 401, "Wrong user name, password or token.")
        log.info("web sign-in: %s", user)
        response = RedirectResponse(_safe_next(next), status_code=303)
        web.set_session(response, new_session(user, web.clock(), settings.web.session_hours))
        return response

    @app.post("/logout")
    def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
        web.csrf(request, csrf_token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=web.secure, httponly=True, samesite="lax")
        return response

    # -- inbox and exports ---------------------------------------------------------------------------

    @app.get("/inbox", response_class=HTMLResponse)
    def inbox(request: Request) -> Response:
        try:
            filters = parse_filters(request.query_params)
        except FilterError as exc:
            return _error_page(web, request, 400, "Bad filter", str(exc))
        page = inbox_page(engine, filters, settings.web.page_size, settings.digest.timezone)
        params = filters.params()
        query = urlencode(params)

        def page_link(number: int) -> str:
            return "/inbox?" + urlencode({**params, "page": str(number)})

        return web.render(
            request,
            "inbox.html",
            page=page,
            filters=filters,
            query=query,
            prev_link=page_link(page.page - 1) if page.page > 1 else None,
            next_link=page_link(page.page + 1) if page.has_next else None,
            sentiments=SENTIMENTS,
            urgencies=URGENCIES,
            statuses=STATUSES,
        )

    def export(request: Request, kind: str) -> Response:
        try:
            filters = parse_filters(request.query_params)
        except FilterError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        rows = filtered_rows(engine, filters, settings.digest.timezone)
        stamp = web.clock().strftime("%Y%m%d-%H%M")
        if kind == "csv":
            body, media = _csv_lines(rows), "text/csv; charset=utf-8"
        else:
            body, media = _json_lines(rows), "application/json; charset=utf-8"
        return StreamingResponse(
            body,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="earshot-mentions-{stamp}.{kind}"'},
        )

    @app.get("/export.csv")
    def export_csv(request: Request) -> Response:
        return export(request, "csv")

    @app.get("/export.json")
    def export_json(request: Request) -> Response:
        return export(request, "json")

    # -- item page and its actions -----------------------------------------------------------------

    @app.get("/items/{mention_id}", response_class=HTMLResponse)
    def item_page(request: Request, mention_id: int) -> Response:
        item = load_item(engine, settings, mention_id)
        if item is None:
            return _error_page(web, request, 404, "No such item", f"There is no mention {mention_id}.")
        return web.render(request, "item.html", item=item, sentiments=SENTIMENT_LABELS)

    def alert_or_flash(mention_id: int) -> Alert | RedirectResponse:
        alert = web.main_alert(mention_id)
        if alert is None or alert.id is None:
            return web.back_to_item(mention_id, "This item has no alert to act on.", "error")
        return alert

    def change_alert(
        request: Request,
        mention_id: int,
        tasks: BackgroundTasks,
        csrf_token: str,
        change: Callable[[int, str], bool],
        messages: tuple[str, str],
    ) -> Response:
        """CSRF check, the item's alert, one state change, a Slack sync after the response, a flash."""
        web.csrf(request, csrf_token)
        alert = alert_or_flash(mention_id)
        if isinstance(alert, RedirectResponse):
            return alert
        assert alert.id is not None
        done, unchanged = messages
        if not change(alert.id, web.user_name(request)):
            return web.back_to_item(mention_id, unchanged)
        tasks.add_task(web.sync_slack, alert.id)
        return web.back_to_item(mention_id, done)

    @app.post("/items/{mention_id}/handle")
    def handle(
        request: Request, mention_id: int, tasks: BackgroundTasks, csrf_token: Annotated[str, Form()] = ""
    ) -> Response:
        def change(alert_id: int, user: str) -> bool:
            return mark_handled(engine, alert_id, user, web.clock())

        return change_alert(
            request, mention_id, tasks, csrf_token, change, ("Marked handled.", "Already handled.")
        )

    @app.post("/items/{mention_id}/reopen")
    def reopen_item(
        request: Request, mention_id: int, tasks: BackgroundTasks, csrf_token: Annotated[str, Form()] = ""
    ) -> Response:
        def change(alert_id: int, user: str) -> bool:
            return reopen(engine, alert_id, user)

        return change_alert(
            request, mention_id, tasks, csrf_token, change, ("Reopened.", "It was already open.")
        )

    @app.post("/items/{mention_id}/assign")
    def assign_item(
        request: Request,
        mention_id: int,
        tasks: BackgroundTasks,
        csrf_token: Annotated[str, Form()] = "",
        assignee: Annotated[str, Form()] = "",
    ) -> Response:
        who = "".join(ch for ch in assignee if ch.isprintable()).strip()[:200] or None

        def change(alert_id: int, user: str) -> bool:
            return assign(engine, alert_id, who, user, web.clock())

        done = f"Assigned to {who}." if who else "Unassigned."
        return change_alert(request, mention_id, tasks, csrf_token, change, (done, "Nothing changed."))

    @app.post("/items/{mention_id}/correct")
    def correct(
        request: Request,
        mention_id: int,
        tasks: BackgroundTasks,
        csrf_token: Annotated[str, Form()] = "",
        label: Annotated[str, Form()] = "",
    ) -> Response:
        web.csrf(request, csrf_token)
        if label not in SENTIMENT_LABELS:
            return web.back_to_item(mention_id, f"Pick one of: {', '.join(SENTIMENT_LABELS)}.", "error")
        user = web.user_name(request)
        alert = web.main_alert(mention_id)
        try:
            if alert is not None and alert.id is not None:
                if correct_sentiment(engine, alert.id, label, user, via="web"):
                    tasks.add_task(web.sync_slack, alert.id)
            else:
                with write_session(engine) as db:
                    record_correction(db, mention_id, label, corrected_by=user, via="web")
        except (ActionError, CorrectionError) as exc:
            return web.back_to_item(mention_id, f"Not saved: {exc}", "error")
        return web.back_to_item(mention_id, f"Sentiment recorded as {label}. Thank you.")

    @app.post("/items/{mention_id}/reply")
    def reply(
        request: Request,
        mention_id: int,
        tasks: BackgroundTasks,
        csrf_token: Annotated[str, Form()] = "",
        text: Annotated[str, Form()] = "",
    ) -> Response:
        web.csrf(request, csrf_token)
        with DbSession(engine) as db:
            if db.get(Mention, mention_id) is None:
                return _error_page(web, request, 404, "No such item", f"There is no mention {mention_id}.")
        alert = web.main_alert(mention_id)
        alert_id = alert.id if alert is not None else None
        try:
            outcome = reply_to_item(
                engine,
                settings,
                alert_id=alert_id,
                mention_id=mention_id,
                text=text.strip(),
                user=web.user_name(request),
                via="web",
                now=web.clock(),
            )
        except ActionError as exc:
            return web.back_to_item(mention_id, str(exc), "error")
        if outcome.status == "failed":
            return web.back_to_item(
                mention_id, f"Reply not posted: {outcome.detail}. Your text is saved in Earshot.", "error"
            )
        if alert_id is not None:
            tasks.add_task(web.sync_slack, alert_id)
        message = "Reply posted." if outcome.status == "posted" else f"Reply recorded: {outcome.detail}."
        return web.back_to_item(mention_id, message)

    # -- digests -----------------------------------------------------------------------------------

    @app.get("/digests", response_class=HTMLResponse)
    def digests(request: Request) -> Response:
        links: list[DigestLink] = digest_links(settings)
        return web.render(request, "digests.html", links=links)

    @app.get("/digests/{slug}/{week}")
    def digest_page(request: Request, slug: str, week: str) -> Response:
        path = digest_file(settings, slug, week)
        if path is None:
            return _error_page(web, request, 404, "No such digest", "That report has not been made.")
        response = HTMLResponse(path.read_text(encoding="utf-8"))
        response.headers["Content-Security-Policy"] = _REPORT_CSP
        return response

    # -- errors ------------------------------------------------------------------------------------

    @app.exception_handler(CsrfError)
    async def csrf_rejected(request: Request, exc: CsrfError) -> Response:
        log.warning("CSRF check failed for %s %s: %s", request.method, request.url.path, exc)
        return _error_page(
            web, request, 403, "Request refused", f"This form cannot be accepted: {exc}. Go back and reload."
        )

    return app


def bound_port(server: uvicorn.Server) -> int:
    """The port the started server listens on (useful with port 0)."""
    for srv in server.servers:
        for sock in srv.sockets:
            return int(sock.getsockname()[1])
    raise WebConfigError("the web server is not listening")


def serve_web(
    settings: EarshotSettings, engine: Engine, *, app: FastAPI | None = None, timeout: float = 15.0
) -> tuple[uvicorn.Server, threading.Thread]:
    """Start the web pages on ``web.host``:``web.port`` in a thread; returns once it is listening."""
    config = uvicorn.Config(
        app or create_app(settings, engine),
        host=settings.web.host,
        port=settings.web.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="earshot-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise WebConfigError(
                f"the web pages could not start on {settings.web.host}:{settings.web.port} "
                "(port in use? see the log above)"
            )
        if time.monotonic() > deadline:
            server.should_exit = True
            raise WebConfigError(f"the web pages did not start within {timeout:g} s")
        time.sleep(0.02)
    log.info("web pages on http://%s:%s/", settings.web.host, bound_port(server))
    return server, thread


def shutdown_web(server: uvicorn.Server, thread: threading.Thread, timeout: float = 10.0) -> None:
    """Stop a server started by :func:`serve_web` and wait for its thread."""
    server.should_exit = True
    thread.join(timeout)
