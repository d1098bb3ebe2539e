"""Fake reply endpoints of Google Business Profile and Trustpilot on 127.0.0.1, for tests that post replies.

It answers as the documented APIs do, with bodies from ``tests/fixtures/replies``:

* ``PUT /v4/accounts/{a}/locations/{l}/reviews/{r}/reply`` with ``{"comment": text}`` and a bearer token:
  200 with the stored ReviewReply (``comment``, ``updateTime``); Google's JSON errors otherwise
  (401 wrong/missing token, 404 unknown review, 400 missing comment or one over 4096 bytes);
* ``POST /v1/private/reviews/{id}/reply`` with ``{"authorBusinessUserId", "message"}`` and a bearer token:
  201 with no body; 401 (gateway fault) for a wrong token, 404 for an unknown review, 400 for a malformed
  body, 403 for another business user.

Every request is recorded (method, path, headers, parsed JSON body). Failures are scripted with
:meth:`FakeReplyApi.fail_next` (any status, the fixture's error body, optional ``Retry-After``) and slow answers
with :meth:`FakeReplyApi.delay_next` (the request still takes effect after the delay, as when a client
times out).

Usage::

    with FakeReplyApi() as api:
        api.add_google_review("accounts/1/locations/2/reviews/abc")
        settings = EarshotSettings(sources={"google_business": {"base_url": api.url, "access_token": api.google_token}})
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["FakeReplyApi", "RecordedRequest", "fixture"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
GOOGLE_TOKEN = "ya29.fake-google-token-DO-NOT-LEAK"
TRUSTPILOT_TOKEN = "tp-fake-business-token-DO-NOT-LEAK"
BUSINESS_USER_ID = "507f191e810c19729de860ea"
_GOOGLE_PATH = re.compile(r"/v4/(accounts/[^/]+/locations/[^/]+/reviews/[^/]+)/reply")
_TRUSTPILOT_PATH = re.compile(r"/v1/private/reviews/([^/]+)/reply")
_MAX_COMMENT_BYTES = 4096


def fixture(source: str) -> dict[str, Any]:
    """``tests/fixtures/replies/<source>.json``."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{source}.json").read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it was not JSON


@dataclass
class _Failure:
    status: int
    path_part: str | None
    times: int
    retry_after: str | None
    body: Any


@dataclass
class _State:
    google_token: str
    trustpilot_token: str
    business_user_id: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)
    requests: list[RecordedRequest] = field(default_factory=list)
    google_reviews: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    trustpilot_reviews: dict[str, str | None] = field(default_factory=dict)
    failures: list[_Failure] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests`` instead."""

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        request = RecordedRequest(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
        with self.state.lock:
            self.state.requests.append(request)
        return request

    def _take_failure(self) -> _Failure | None:
        with self.state.lock:
            for failure in self.state.failures:
                if failure.times > 0 and (failure.path_part is None or failure.path_part in self.path):
                    failure.times -= 1
                    return failure
        return None

    def _take_delay(self) -> float:
        with self.state.lock:
            return self.state.delays.pop(0) if self.state.delays else 0.0

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        request = self._record()
        delay = self._take_delay()
        if delay:
            self.state.closing.wait(delay)
        failure = self._take_failure()
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else None
            self._reply(failure.status, failure.body, headers)
            return
        google = _GOOGLE_PATH.fullmatch(self.path)
        trustpilot = _TRUSTPILOT_PATH.fullmatch(self.path)
        if google and request.method == "PUT":
            self._reply(*self._google(google.group(1), request))
        elif trustpilot and request.method == "POST":
            self._reply(*self._trustpilot(trustpilot.group(1), request))
        else:
            self._reply(404, fixture("google_business")["errors"]["404"])

    def _google(self, name: str, request: RecordedRequest) -> tuple[int, Any]:
        errors = fixture("google_business")["errors"]
        if request.headers.get("Authorization") != f"Bearer {self.state.google_token}":
            return 401, errors["401"]
        body = request.body
        comment = body.get("comment") if isinstance(body, dict) else None
        if not isinstance(comment, str) or not comment.strip():
            return 400, errors["400"]
        if len(comment.encode("utf-8")) > _MAX_COMMENT_BYTES:
            return 400, errors["400"]
        with self.state.lock:
            if name not in self.state.google_reviews:
                return 404, errors["404"]
            reply = {**fixture("google_business")["reply"], "comment": comment}
            self.state.google_reviews[name] = reply
        return 200, reply

    def _trustpilot(self, review_id: str, request: RecordedRequest) -> tuple[int, Any]:
        errors = fixture("trustpilot")["errors"]
        if request.headers.get("Authorization") != f"Bearer {self.state.trustpilot_token}":
            return 401, errors["401"]
        body = request.body
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("message"), str)
            or not body["message"].strip()
        ):
            return 400, errors["400"]
        if body.get("authorBusinessUserId") != self.state.business_user_id:
            return 403, errors["403"]
        with self.state.lock:
            if review_id not in self.state.trustpilot_reviews:
                return 404, errors["404"]
            self.state.trustpilot_reviews[review_id] = body["message"]
        return 201, None


class FakeReplyApi:
    """A threaded fake of both reply APIs on an ephemeral loopback port; use as a context manager."""

    def __init__(
        self,
        google_token: str = GOOGLE_TOKEN,
        trustpilot_token: str = TRUSTPILOT_TOKEN,
        business_user_id: str = BUSINESS_USER_ID,
    ) -> None:
        self.google_token = google_token
        self.trustpilot_token = trustpilot_token
        self.business_user_id = business_user_id
        self._state = _State(google_token, trustpilot_token, business_user_id)
        handler = type("FakeReplyHandler", (_Handler,), {"state": self._state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The API root for ``sources.<name>.base_url`` (no trailing slash)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeReplyApi:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-replies",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.closing.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeReplyApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- set-up and scripting ---------------------------------------------------------------------------

    def add_google_review(self, name: str) -> None:
        """A review (``accounts/…/locations/…/reviews/…``) that can be replied to."""
        with self._state.lock:
            self._state.google_reviews.setdefault(name, None)

    def add_trustpilot_review(self, review_id: str) -> None:
        with self._state.lock:
            self._state.trustpilot_reviews.setdefault(review_id, None)

    def fail_next(
        self,
        status: int,
        *,
        source: str = "google_business",
        times: int = 1,
        retry_after: str | None = None,
        path_part: str | None = None,
        body: Any = "fixture",
    ) -> None:
        """Answer the next ``times`` requests (whose path contains ``path_part``, if given) with ``status``
        and ``source``'s documented error body for it (``body=None``: no body, or any JSON value)."""
        if body == "fixture":
            body = fixture(source)["errors"].get(str(status))
        with self._state.lock:
            self._state.failures.append(_Failure(status, path_part, times, retry_after, body))

    def delay_next(self, seconds: float) -> None:
        """Answer the next request only after ``seconds`` (it still takes effect)."""
        with self._state.lock:
            self._state.delays.append(seconds)

    # --- inspection -------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def google_reply(self, name: str) -> dict[str, Any] | None:
        """The reply stored on a review (None when none was posted)."""
        with self._state.lock:
            return self._state.google_reviews.get(name)

    def trustpilot_reply(self, review_id: str) -> str | None:
        with self._state.lock:
            return self._state.trustpilot_reviews.get(review_id)
