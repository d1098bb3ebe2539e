"""A loopback fake of Google's OAuth token endpoint and of the Business Profile reviews API, as one server.

``POST /token`` answers the refresh-token grant (and the authorisation-code grant of ``earshot auth
google``, checking PKCE) like oauth2.googleapis.com: a new access token with ``expires_in``, optionally a
rotated refresh token (the old one then stops working), ``400 invalid_grant`` for a revoked or unknown
refresh token. ``GET /v4/.../reviews`` serves the recorded pages of tests/fixtures/google_business only to
a bearer token the endpoint issued and that has not expired (by the server's clock) nor been used up
(``first_token_uses``: Google refuses the first token after that many requests, while the client still
believes it valid for an hour); otherwise it answers
Google's 401. Every request is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.spiders.replay_server import FIXTURES

CLIENT_ID = "1234567890-fake.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-fake-client-secret-8d2e"
REFRESH_TOKEN = "1//0fake-refresh-token-7b3a9c"  # distinctive, so a leak is easy to find


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, str]
    at: float
    status: int = 0


@dataclass
class Issued:
    expires: float
    uses: int = 0


@dataclass
class FakeGoogle:
    """Knobs: ``expires_in`` of new access tokens, ``rotate`` refresh tokens, ``delay`` of API answers."""

    expires_in: int = 3600
    rotate: bool = False
    delay: float = 0.0
    first_token_uses: int | None = None
    revoked: set[str] = field(default_factory=set)
    pages: dict[tuple[str, str | None], str] = field(default_factory=dict)  # (path, pageToken) -> fixture
    seen: list[Seen] = field(default_factory=list)
    issued: dict[str, Issued] = field(default_factory=dict)
    refresh_tokens: list[str] = field(default_factory=lambda: [REFRESH_TOKEN])  # the valid ones
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (challenge, redirect_uri)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def grants(self) -> list[Seen]:
        return [s for s in self.seen if s.path == "/token"]

    def api_calls(self) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith("/v4/")]

    def __enter__(self) -> FakeGoogle:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- answers -----------------------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        with self._lock:
            grant = form.get("grant_type")
            if grant == "authorization_code":
                expected = self.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
                if expected is None or expected != (challenge.decode(), form.get("redirect_uri")):
                    return 400, {"error": "invalid_grant", "error_description": "Malformed auth code."}
                refresh = self.refresh_tokens[-1]
            elif grant == "refresh_token":
                refresh = form.get("refresh_token", "")
                if refresh in self.revoked or refresh not in self.refresh_tokens:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    }
            else:
                return 400, {"error": "unsupported_grant_type"}
            access = f"ya29.fake-access-{len(self.issued) + 1}-e51f"
            self.issued[access] = Issued(time.monotonic() + self.expires_in)
            answer: dict[str, Any] = {
                "access_token": access,
                "expires_in": self.expires_in,
                "scope": "https://www.googleapis.com/auth/business.manage",
                "token_type": "Bearer",
            }
            if grant == "authorization_code" or self.rotate:
                if self.rotate and grant == "refresh_token":
                    refresh = f"1//0fake-rotated-{len(self.issued)}-c4d2"
                    self.refresh_tokens = [refresh]  # the old one stops working
                answer["refresh_token"] = refresh
            return 200, answer

    def reviews(self, path: str, query: dict[str, list[str]], authorization: str) -> tuple[int, bytes]:
        token = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            issued = self.issued.get(token)
            valid = issued is not None and time.monotonic() < issued.expires
            first = next(iter(self.issued), None)
            if valid and self.first_token_uses is not None and issued is not None and token == first:
                valid = issued.uses < self.first_token_uses
            if valid and issued is not None:
                issued.uses += 1
        if not valid:
            return 401, (FIXTURES / "error_401.json").read_bytes()
        if self.delay:
            time.sleep(self.delay)
        name = self.pages.get((path, query.get("pageToken", [None])[-1]))
        if name is None:
            return 404, json.dumps(
                {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}
            ).encode()
        return 200, (FIXTURES / name).read_bytes()


def _handler(fake: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET", b"")

        def do_POST(self) -> None:
            self._answer("POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _answer(self, method: str, body: bytes) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()} if method == "POST" else {}
            seen = Seen(method, url.path, query, dict(self.headers.items()), form, time.monotonic())
            with fake._lock:
                fake.seen.append(seen)
            if url.path == "/token" and method == "POST":
                status, data = fake.token(form)
                payload = json.dumps(data).encode()
            elif url.path.startswith("/v4/"):
                status, payload = fake.reviews(url.path, query, self.headers.get("Authorization", ""))
            else:
                status, payload = 404, b'{"error": "not_found"}'
            seen.status = status
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``fake.seen``."""

    return Handler
