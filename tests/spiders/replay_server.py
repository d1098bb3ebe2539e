"""A loopback HTTP server that replays recorded API responses and records every request it gets.

Routes are keyed by path and ``pageToken``; each route holds a queue of replies, served in order, the
last one repeating. Unknown routes answer 404 in Google's error format.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "google_business"


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
    def json(cls, data: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(data).encode())


@dataclass(frozen=True)
class Recorded:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float  # time.monotonic() when the request arrived

    @property
    def page_token(self) -> str | None:
        return self.query.get("pageToken", [None])[-1]


def reviews_path(account: str, location: str) -> str:
    return f"/v4/accounts/{account}/locations/{location}/reviews"


class ReplayServer:
    """Threaded HTTP server on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str | None], list[Reply]] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, path: str, *replies: Reply, page_token: str | None = None) -> None:
        """Serve ``replies`` in order for ``path`` (and ``pageToken``), repeating the last."""
        with self._lock:
            self.routes[(path, page_token)] = list(replies)

    def reset(self) -> None:
        with self._lock:
            self.routes.clear()
            self.requests.clear()

    def requests_for(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def reply_for(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            queue = self.routes.get((recorded.path, recorded.page_token))
            if not queue:
                return Reply.json(
                    {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}, 404
                )
            return queue.pop(0) if len(queue) > 1 else queue[0]

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
            url = urlsplit(self.path)
            recorded = Recorded(url.path, parse_qs(url.query), dict(self.headers.items()), time.monotonic())
            reply = server.reply_for(recorded)
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``server.requests`` instead."""

    return Handler
