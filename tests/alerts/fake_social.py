"""Fake reply endpoints of Allegro, Mastodon, Bluesky, YouTube and Reddit on 127.0.0.1.

One threaded server answers every source's documented write call (all sources' ``base_url`` may point at
it), with error bodies from ``tests/fixtures/replies/<source>.json``:

* Allegro ``PUT /sale/user-ratings/{ratingId}/answer`` (``{"message"}``, ``application/vnd.allegro.public.v1+json``);
* Mastodon ``POST /api/v1/statuses`` (``status``, ``in_reply_to_id``; ``Idempotency-Key`` honoured);
* Bluesky ``POST /xrpc/com.atproto.server.refreshSession`` (rotates the refreshJwt), ``…createSession``
  and ``POST /xrpc/com.atproto.repo.createRecord`` (checks the reply's root/parent strong refs);
* YouTube ``POST /youtube/v3/comments?part=snippet`` (``snippet.parentId`` must be a top-level comment) and
  Google's token endpoint ``POST /token`` (``grant_type=refresh_token``);
* Reddit ``POST /api/comment`` (form ``api_type=json``, ``thing_id``, ``text``; answers refusals as HTTP 200
  with ``json.errors``) and ``POST /api/v1/access_token`` (HTTP Basic app credentials).

Every request is recorded (method, path with query, headers, JSON or form body). :meth:`FakeSocialApi.fail_next`
answers the next matching requests with any status, body and headers.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.alerts.fake_sources import RecordedRequest, fixture

__all__ = ["FakeSocialApi"]

ALLEGRO_TOKEN = "allegro-seller-token-DO-NOT-LEAK"
MASTODON_TOKEN = "mastodon-write-token-DO-NOT-LEAK"
BSKY_IDENTIFIER = "sklep-kowalski.bsky.social"
BSKY_PASSWORD = "abcd-efgh-ijkl-mnop"
BSKY_DID = "did:plc:sk13pk0wa1sk1aaaaaaaaaaa"
GOOGLE_CLIENT = ("yt-client-id.apps.googleusercontent.com", "yt-client-secret-DO-NOT-LEAK")
YOUTUBE_REFRESH = "1//yt-refresh-token-DO-NOT-LEAK"
REDDIT_CLIENT = ("reddit-app-id", "reddit-app-secret-DO-NOT-LEAK")
REDDIT_REFRESH = "reddit-refresh-token-DO-NOT-LEAK"
_ALLEGRO_JSON = "application/vnd.allegro.public.v1+json"
_ALLEGRO_PATH = re.compile(r"/sale/user-ratings/([^/]+)/answer")


@dataclass
class _Failure:
    status: int
    path_part: str
    times: int
    body: Any
    headers: dict[str, str]


@dataclass
class SocialState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    allegro_ratings: dict[str, str | None] = field(default_factory=dict)
    mastodon_statuses: set[str] = field(default_factory=set)
    mastodon_posted: dict[str, dict[str, Any]] = field(default_factory=dict)  # Idempotency-Key -> status
    bsky_posts: dict[str, str] = field(default_factory=dict)  # uri -> cid
    bsky_refresh: set[str] = field(default_factory=set)
    bsky_access: set[str] = field(default_factory=set)
    bsky_records: list[dict[str, Any]] = field(default_factory=list)
    youtube_threads: set[str] = field(default_factory=set)
    youtube_access: set[str] = field(default_factory=set)
    youtube_replies: list[dict[str, Any]] = field(default_factory=list)
    reddit_things: dict[str, str] = field(default_factory=dict)  # fullname -> "open" | "locked"
    reddit_access: set[str] = field(default_factory=set)
    reddit_comments: list[dict[str, str]] = field(default_factory=list)


def _new_session(state: SocialState) -> dict[str, Any]:
    """A createSession / refreshSession answer; its tokens become valid (call with the lock held)."""
    n = next(state.counter)
    access, refresh = f"bsky-access-{n}-DO-NOT-LEAK", f"bsky-refresh-{n}-DO-NOT-LEAK"
    state.bsky_access.add(access)
    state.bsky_refresh.add(refresh)
    return {"accessJwt": access, "refreshJwt": refresh, "handle": BSKY_IDENTIFIER, "did": BSKY_DID}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _errors(source: str) -> dict[str, Any]:
    errors: dict[str, Any] = fixture(source)["errors"]
    return errors


class _Handler(BaseHTTPRequestHandler):
    state: SocialState

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests`` instead."""

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        body: Any
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            body = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw
        request = RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
        with self.state.lock:
            self.state.requests.append(request)
        return request

    def _bearer(self) -> str:
        value = self.headers.get("Authorization") or ""
        scheme, _, token = value.partition(" ")
        return token if scheme.lower() == "bearer" else ""

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        request = self._record()
        with self.state.lock:
            failure = next((f for f in self.state.failures if f.times > 0 and f.path_part in self.path), None)
            if failure is not None:
                failure.times -= 1
        if failure is not None:
            self._reply(failure.status, failure.body, failure.headers)
            return
        path = urlsplit(self.path).path
        allegro = _ALLEGRO_PATH.fullmatch(path)
        routes = {
            ("POST", "/api/v1/statuses"): self._mastodon,
            ("POST", "/xrpc/com.atproto.server.refreshSession"): self._bsky_refresh,
            ("POST", "/xrpc/com.atproto.server.createSession"): self._bsky_login,
            ("POST", "/xrpc/com.atproto.repo.createRecord"): self._bsky_record,
            ("POST", "/youtube/v3/comments"): self._youtube,
            ("POST", "/token"): self._google_token,
            ("POST", "/api/comment"): self._reddit,
            ("POST", "/api/v1/access_token"): self._reddit_token,
        }
        if allegro and request.method == "PUT":
            self._reply(*self._allegro(allegro.group(1), request))
        elif (request.method, path) in routes:
            self._reply(*routes[(request.method, path)](request))
        else:
            self._reply(404, {"error": "no such fake route"})

    # --- Allegro ----------------------------------------------------------------------------------------

    def _allegro(self, rating_id: str, request: RecordedRequest) -> tuple[int, Any]:
        errors = _errors("allegro")
        if self._bearer() != ALLEGRO_TOKEN:
            return 401, errors["401"]
        if request.headers.get("Content-Type") != _ALLEGRO_JSON:
            return 415, errors["415"]
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("message"), str) or not body["message"]:
            return 422, errors["422"]
        with self.state.lock:
            if rating_id not in self.state.allegro_ratings:
                return 404, errors["404"]
            self.state.allegro_ratings[rating_id] = body["message"]
        return 200, {"message": body["message"], "createdAt": "2026-11-23T09:00:00.000Z"}

    # --- Mastodon ---------------------------------------------------------------------------------------

    def _mastodon(self, request: RecordedRequest) -> tuple[int, Any]:
        errors = _errors("mastodon")
        if self._bearer() != MASTODON_TOKEN:
            return 401, errors["401"]
        body = request.body if isinstance(request.body, dict) else {}
        status, parent = body.get("status"), body.get("in_reply_to_id")
        if not isinstance(status, str) or not status.strip():
            return 422, errors["422"]
        if len(re.sub(r"@(\w+)@[\w.-]+", r"@\1", status)) > 500:  # a remote mention counts as @user
            return 422, errors["422_length"]
        key = request.headers.get("Idempotency-Key") or ""
        with self.state.lock:
            if parent is not None and parent not in self.state.mastodon_statuses:
                return 404, errors["404"]
            if key and key in self.state.mastodon_posted:
                return 200, self.state.mastodon_posted[key]
            new_id = str(113_000_000_000_000_000 + next(self.state.counter))
            posted = {
                "id": new_id,
                "in_reply_to_id": parent,
                "visibility": body.get("visibility"),
                "language": body.get("language"),
                "content": f"<p>{status}</p>",
                "url": f"https://mastodon.example/@sklep/{new_id}",
            }
            self.state.mastodon_posted[key or new_id] = posted
        return 200, posted

    # --- Bluesky ----------------------------------------------------------------------------------------

    def _bsky_refresh(self, request: RecordedRequest) -> tuple[int, Any]:
        token = self._bearer()
        with self.state.lock:
            if token not in self.state.bsky_refresh:
                return 400, _errors("bluesky")["400_expired"]
            self.state.bsky_refresh.discard(token)  # rotated: the old one is spent
            return 200, _new_session(self.state)

    def _bsky_login(self, request: RecordedRequest) -> tuple[int, Any]:
        body = request.body if isinstance(request.body, dict) else {}
        if (body.get("identifier"), body.get("password")) != (BSKY_IDENTIFIER, BSKY_PASSWORD):
            return 401, _errors("bluesky")["401_login"]
        with self.state.lock:
            return 200, _new_session(self.state)

    def _bsky_record(self, request: RecordedRequest) -> tuple[int, Any]:
        errors = _errors("bluesky")
        body = request.body if isinstance(request.body, dict) else {}
        record = _obj(body.get("record"))
        reply = _obj(record.get("reply"))
        with self.state.lock:
            if self._bearer() not in self.state.bsky_access:
                return 400, errors["400_expired"]
            if body.get("repo") != BSKY_DID or body.get("collection") != "app.bsky.feed.post":
                return 400, errors["400_invalid"]
            if record.get("$type") != "app.bsky.feed.post" or not record.get("createdAt"):
                return 400, errors["400_invalid"]
            if len(str(record.get("text", ""))) > 300:
                return 400, errors["400_length"]
            for ref in (reply.get("root"), reply.get("parent")):
                if not isinstance(ref, dict) or self.state.bsky_posts.get(ref.get("uri", "")) != ref.get(
                    "cid"
                ):
                    return 400, errors["400_invalid"]
            n = next(self.state.counter)
            self.state.bsky_records.append(record)
        return 200, {"uri": f"at://{BSKY_DID}/app.bsky.feed.post/3reply{n}", "cid": f"bafyreply{n}"}

    # --- YouTube ----------------------------------------------------------------------------------------

    def _google_token(self, request: RecordedRequest) -> tuple[int, Any]:
        body = request.body if isinstance(request.body, dict) else {}
        good = (
            body.get("grant_type") == "refresh_token"
            and (body.get("client_id"), body.get("client_secret")) == GOOGLE_CLIENT
            and body.get("refresh_token") == YOUTUBE_REFRESH
        )
        if not good:
            return 400, _errors("youtube")["token_400"]
        with self.state.lock:
            token = f"ya29.yt-access-{next(self.state.counter)}-DO-NOT-LEAK"
            self.state.youtube_access.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _youtube(self, request: RecordedRequest) -> tuple[int, Any]:
        errors = _errors("youtube")
        if parse_qs(urlsplit(self.path).query).get("part") != ["snippet"]:
            return 400, errors["400"]
        body = request.body if isinstance(request.body, dict) else {}
        snippet = _obj(body.get("snippet"))
        with self.state.lock:
            if self._bearer() not in self.state.youtube_access:
                return 401, errors["401"]
            if not snippet.get("textOriginal"):
                return 400, errors["400"]
            if snippet.get("parentId") not in self.state.youtube_threads:
                return 404, errors["404"]
            n = next(self.state.counter)
            self.state.youtube_replies.append(snippet)
        reply = {"kind": "youtube#comment", "id": f"{snippet['parentId']}.reply{n}", "snippet": snippet}
        return 200, reply

    # --- Reddit -----------------------------------------------------------------------------------------

    def _reddit_token(self, request: RecordedRequest) -> tuple[int, Any]:
        expected = base64.b64encode(":".join(REDDIT_CLIENT).encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return 401, _errors("reddit")["401"]
        body = request.body if isinstance(request.body, dict) else {}
        if body.get("grant_type") != "refresh_token" or body.get("refresh_token") != REDDIT_REFRESH:
            return 400, {"error": "invalid_grant"}
        with self.state.lock:
            token = f"reddit-user-{next(self.state.counter)}-DO-NOT-LEAK"
            self.state.reddit_access.add(token)
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": 3600, "scope": "submit"}

    def _reddit(self, request: RecordedRequest) -> tuple[int, Any]:
        errors = _errors("reddit")
        body = request.body if isinstance(request.body, dict) else {}
        with self.state.lock:
            if self._bearer() not in self.state.reddit_access:
                return 401, errors["401"]
            if body.get("api_type") != "json" or not body.get("text"):
                return 200, errors["200_no_text"]
            thing = self.state.reddit_things.get(str(body.get("thing_id")))
            if thing is None:
                return 200, errors["200_invalid_id"]
            if thing == "locked":
                return 200, errors["200_locked"]
            n = next(self.state.counter)
            self.state.reddit_comments.append({"thing_id": body["thing_id"], "text": body["text"]})
        data = {"name": f"t1_reply{n}", "parent_id": body["thing_id"], "body": body["text"]}
        return 200, {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": data}]}}}


class FakeSocialApi:
    """The five sources' reply APIs on one ephemeral loopback port; use as a context manager."""

    def __init__(self) -> None:
        self.state = SocialState()
        handler = type("FakeSocialHandler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeSocialApi:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def sources(self) -> dict[str, dict[str, Any]]:
        """``sources`` settings pointing every reply at this fake, with working credentials."""
        return {
            "allegro": {"base_url": self.url, "access_token": ALLEGRO_TOKEN},
            "mastodon": {"base_url": self.url, "reply_access_token": MASTODON_TOKEN},
            "bluesky": {"base_url": self.url, "identifier": BSKY_IDENTIFIER, "app_password": BSKY_PASSWORD},
            "youtube": {
                "base_url": self.url,
                "token_uri": f"{self.url}/token",
                "client_id": GOOGLE_CLIENT[0],
                "client_secret": GOOGLE_CLIENT[1],
                "reply_refresh_token": YOUTUBE_REFRESH,
            },
            "reddit": {
                "base_url": self.url,
                "auth_url": self.url,
                "client_id": REDDIT_CLIENT[0],
                "client_secret": REDDIT_CLIENT[1],
                "reply_refresh_token": REDDIT_REFRESH,
                "user_agent": "earshot-test/1.0 (by u/sklep)",
            },
        }

    def fail_next(
        self,
        status: int,
        path_part: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        with self.state.lock:
            self.state.failures.append(_Failure(status, path_part, times, body, headers or {}))

    def issue_bluesky_refresh(self) -> str:
        """A refreshJwt as ``earshot auth bluesky`` would have stored it."""
        with self.state.lock:
            return str(_new_session(self.state)["refreshJwt"])

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def secrets(self) -> list[str]:
        """Every credential the fake knows or issued: none may reach an outcome or a log line."""
        with self.state.lock:
            issued = self.state.bsky_access | self.state.bsky_refresh | self.state.youtube_access
            issued |= self.state.reddit_access
        fixed = {ALLEGRO_TOKEN, MASTODON_TOKEN, BSKY_PASSWORD, GOOGLE_CLIENT[1], YOUTUBE_REFRESH}
        return sorted(issued | fixed | {REDDIT_CLIENT[1], REDDIT_REFRESH})
