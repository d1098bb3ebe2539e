"""A loopback HTTP server that replays recorded API responses and records every request it gets.

One server serves every crawl test. A route holds a queue of replies, served in order, the last one
repeating. Routes are chosen by:

- path and Google's ``pageToken`` (:meth:`ReplayServer.add`); a POST's page token may also come from its
  JSON body, as in Google's batch calls;
- path and any query parameters (:meth:`ReplayServer.route`), where a None value means the parameter
  must be absent: several keywords or sellers share one search path, and pages differ by ``offset``,
  ``page``, ``after``, ``max_id`` or ``cursor``. These routes are tried first, most parameters first.

GET and POST are answered alike; a POST's body is kept with its request (token and login endpoints, batch
calls). Header values are filled in when a reply is served: ``{base}`` (the server's own URL, for ``Link``
headers), ``{epoch+N}`` and ``{iso+N}`` (a time N seconds after the reply, for rate-limit resets).
Unknown routes answer 404 in Google's error format.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "google_business"
SPIDER_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spiders"
_PLACEHOLDER = re.compile(r"\{(base|epoch|iso)(?:\+(\d+))?\}")


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def fixture(cls, name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        """A reply whose body is the recorded file ``tests/fixtures/google_business/<name>``."""
        return cls(status, (FIXTURES / name).read_bytes(), dict(headers or {}))

    @classmethod
    def recorded(
        cls, source: str, name: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> Reply:
        """A reply whose body is ``tests/fixtures/spiders/<source>/<name>``; headers may set Content-Type."""
        return cls(status, (SPIDER_FIXTURES / source / name).read_bytes(), dict(headers or {}))

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(data).encode())


@dataclass(frozen=True)
class Recorded:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived
    method: str = "GET"
    body: bytes = b""

    @property
    def json_body(self) -> Any:
        """The body as JSON (None when there is none); a test that expects JSON fails loudly otherwise."""
        return json.loads(self.body) if self.body else None

    @property
    def page_token(self) -> str | None:
        """Google's page token: in the query of a list call, or in the JSON body of a batch call (POST)."""
        token = self.query.get("pageToken", [None])[-1]
        if token is not None or self.method != "POST":
            return token
        try:
            data = json.loads(self.body)
        except ValueError:  # a form or other non-JSON body: no page token there
            return None
        value = data.get("pageToken") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None

    def matches(self, path: str | None, params: dict[str, str | None]) -> bool:
        """Whether the request is for ``path`` (None: any) with every ``params`` item (None: absent)."""
        if path is not None and self.path != path:
            return False
        return all(self.query.get(name, [None])[-1] == expected for name, expected in params.items())


def reviews_path(account: str, location: str) -> str:
    return f"/v4/accounts/{account}/locations/{location}/reviews"


@dataclass
class _QueryRoute:
    path: str
    params: dict[str, str | None]
    replies: list[Reply]


class ReplayServer:
    """Threaded HTTP server on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str | None], list[Reply]] = {}
        self.query_routes: list[_QueryRoute] = []
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, path: str, *replies: Reply, page_token: str | None = None) -> None:
        """Serve ``replies`` in order for ``path`` (and ``pageToken``), repeating the last."""
        with self._lock:
            self.routes[(path, page_token)] = list(replies)

    def route(self, path: str, *replies: Reply, **params: str | None) -> None:
        """Serve ``replies`` in order (the last repeating) for ``path`` when every ``params`` item matches.

        A None value means the parameter must be absent; names with dots go in as ``**{"user.id": ...}``.
        The route with most parameters wins; adding the same path and parameters again replaces it.
        """
        with self._lock:
            self.query_routes = [r for r in self.query_routes if (r.path, r.params) != (path, params)]
            self.query_routes.append(_QueryRoute(path, dict(params), list(replies)))
            self.query_routes.sort(key=lambda r: -len(r.params))

    def reset(self) -> None:
        with self._lock:
            self.routes.clear()
            self.query_routes.clear()
            self.requests.clear()

    def requests_for(self, path: str | None = None, **params: str | None) -> list[Recorded]:
        """The requests for ``path`` (None: any) whose query has every ``params`` item, as routes match."""
        with self._lock:
            return [r for r in self.requests if r.matches(path, params)]

    @property
    def posts(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    @property
    def gets(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET"]

    def reply_for(self, recorded: Recorded) -> Reply:
        """Record the request and pick its reply, with the header placeholders filled in."""
        with self._lock:
            self.requests.append(recorded)
            queue = next(
                (r.replies for r in self.query_routes if recorded.matches(r.path, r.params) and r.replies),
                None,
            ) or self.routes.get((recorded.path, recorded.page_token))
            if not queue:
                reply = Reply.json(
                    {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}, 404
                )
            else:
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return Reply(reply.status, reply.body, {name: self._fill(v) for name, v in reply.headers.items()})

    def _fill(self, value: str) -> str:
        def one(match: re.Match[str]) -> str:
            kind, seconds = match.group(1), int(match.group(2) or 0)
            if kind == "base":
                return self.base_url
            if kind == "epoch":
                return str(int(time.time()) + seconds)
            return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

        return _PLACEHOLDER.sub(one, value)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET", b"")

        def do_POST(self) -> None:
            self._answer("POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _answer(self, method: str, body: bytes) -> None:
            url = urlsplit(self.path)
            headers = dict(self.headers.items())
            recorded = Recorded(url.path, parse_qs(url.query), headers, time.monotonic(), method, body)
            reply = server.reply_for(recorded)
            self.send_response(reply.status)
            if not any(name.lower() == "content-type" for name in reply.headers):
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``server.requests`` instead."""

    return Handler
