"""A fake Slack Web API on 127.0.0.1 for tests that drive slack-sdk's real ``WebClient``.

Point ``WebClient(token=FakeSlack.token, base_url=fake.url)`` (or ``EarshotSettings.slack.api_url``) at it.
It answers like Slack's documented Web API, as far as Earshot uses it:

* ``auth.test``;
* ``chat.postMessage``: stores the message (text, blocks, metadata) under a fresh ``ts``; ``#name``/``name``
  resolve to the channel id; answers ``{"ok": true, "channel": "C…", "ts": "…", "message": {...}}``;
  ``channel_not_found`` for unknown channels, ``not_in_channel`` when the bot is not a member;
* ``chat.postMessage`` with ``thread_ts`` (+ ``reply_broadcast``): a thread reply. Like Slack, a
  ``thread_ts`` that names no message is accepted anyway; replies are left out of
  ``conversations.history`` unless broadcast;
* ``chat.update`` (``message_not_found`` for an unknown ts; each update kept in the message's
  ``updates`` history); ``conversations.list`` (cursor paging); ``conversations.history`` (channel ids
  only, newest first, ``oldest``/``latest``/``inclusive``/``limit``/``cursor``, ``metadata`` only with
  ``include_all_metadata``); ``conversations.replies`` (the parent and its replies, oldest first, cursor
  paging);
* ``views.publish`` (recorded, see :meth:`FakeSlack.published`; a ``home`` view of at most 100 blocks);
* ``views.open`` (recorded, see :meth:`FakeSlack.views`; ``expired_trigger_id`` for a trigger id
  registered with :meth:`FakeSlack.expire_trigger`); ``chat.postEphemeral`` (recorded, see
  :meth:`FakeSlack.ephemerals`);
* files upload v2, as ``WebClient.files_upload_v2`` drives it: ``files.getUploadURLExternal``
  (``filename`` + ``length``; answers an ``upload_url`` on this server and a fresh ``file_id``), the raw
  ``POST`` of the bytes to that URL (no token, as Slack's pre-signed URLs need none; a length other than
  the announced one is refused with HTTP 400) and ``files.completeUploadExternal`` (``files`` JSON of
  ``{"id", "title"}``, ``channel_id``, ``initial_comment``, ``thread_ts``): ``file_not_found`` for an id
  not yet uploaded, ``channel_not_found`` / ``not_in_channel`` like ``chat.postMessage``; each completed
  share is kept as an :class:`Upload` (see :meth:`FakeSlack.uploads`);
* bearer-token check on every Web API call: ``not_authed`` without one, ``invalid_auth`` for a wrong one.

Slack's other direction is here too: :meth:`FakeSlack.connect_app` names the app's interactivity URL and
signing secret, then :meth:`FakeSlack.click` presses a button or picks a select option *found in a stored
message's blocks* and :meth:`FakeSlack.submit_view` submits the last opened modal, each POSTed to the app
signed and form-encoded exactly as Slack sends them (:func:`interaction_body`, :func:`signed_headers`).

Every request is recorded (method, merged params, headers with ``Authorization`` redacted: the token is
never stored). Failures can be scripted per method for the next N calls with :meth:`FakeSlack.fail_next`
(``ratelimited`` with HTTP 429 + ``Retry-After``, an HTML 500, or any Slack error code) and responses
delayed with :meth:`FakeSlack.delay_next` (the call still takes effect, as when a client times out).

Usage::

    with FakeSlack() as slack:
        settings = EarshotSettings(slack={"bot_token": slack.token, "api_url": slack.url})
        ...
        assert len(slack.messages()) == 1
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "AppResponse",
    "Ephemeral",
    "FakeSlack",
    "OpenedView",
    "RecordedRequest",
    "ScriptedFailure",
    "StoredMessage",
    "Upload",
    "UploadedFile",
    "fake_slack_server",
    "interaction_body",
    "post_to_app",
    "signed_headers",
]

DEFAULT_TOKEN = "xoxb-fake-0000-TESTTOKEN"
DEFAULT_USER = "U0AGENT01"
TEAM_ID = "T0EARSHOT"
APP_ID = "A0EARSHOT"
# Slack's deprecated verification token, still sent in every payload; apps must not rely on (or keep) it.
VERIFICATION_TOKEN = "verification-token-do-not-store"
BOT_USER_ID = "U0EARSHOT"
BOT_ID = "B0EARSHOT"
# Where the fake hands out upload URLs (files upload v2, step 2); outside /api/, and needing no token.
UPLOAD_PATH = "/upload/v1/"
UPLOAD_METHOD = "upload"  # the name upload POSTs are recorded (and can be failed) under


@dataclass(frozen=True)
class RecordedRequest:
    """One call as the server saw it (``Authorization`` redacted; ``token_ok``: the token matched)."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    token_ok: bool


@dataclass
class StoredMessage:
    channel: str  # channel id
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    params: dict[str, Any]
    thread_ts: str | None = None  # set on thread replies: the parent's ts
    reply_broadcast: bool = False
    # Every chat.update applied to this message, oldest first: {"text": ..., "blocks": [...]}.
    updates: list[dict[str, Any]] = field(default_factory=list)

    def as_slack(self, include_metadata: bool) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": self.text,
            "ts": self.ts,
            "blocks": self.blocks,
        }
        if self.thread_ts is not None:
            msg["thread_ts"] = self.thread_ts
        if include_metadata and self.metadata is not None:
            msg["metadata"] = self.metadata
        return msg


@dataclass(frozen=True)
class OpenedView:
    """A modal opened with ``views.open``: the trigger it used and the view as decoded JSON."""

    trigger_id: str
    view: dict[str, Any]


@dataclass(frozen=True)
class PublishedView:
    """An App Home view published with ``views.publish``: whose Home it is and the view as decoded JSON."""

    user_id: str
    view: dict[str, Any]


@dataclass(frozen=True)
class Ephemeral:
    """A ``chat.postEphemeral`` message: only ``user`` sees it, and Slack keeps no copy."""

    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]


@dataclass
class UploadedFile:
    """A file announced with ``files.getUploadURLExternal``; ``content`` is set once its bytes arrive."""

    id: str
    filename: str
    length: int
    title: str | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class Upload:
    """One ``files.completeUploadExternal``: the files shared, where, and the comment posted with them."""

    channel: str | None  # channel id, None when the files were uploaded without sharing
    initial_comment: str | None
    thread_ts: str | None
    files: list[UploadedFile]


@dataclass
class ScriptedFailure:
    """Answer the next ``times`` calls of ``method`` (``None`` = any) with this failure."""

    method: str | None
    times: int
    kind: str  # "ratelimited", "server_error", or a Slack error code such as "channel_not_found"
    retry_after: int = 1


@dataclass
class _State:
    token: str
    channels: dict[str, str]  # name -> id
    members: set[str]  # channel ids the bot is in
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: list[StoredMessage] = field(default_factory=list)
    failures: list[ScriptedFailure] = field(default_factory=list)
    delays: list[tuple[str, float]] = field(default_factory=list)
    views: list[OpenedView] = field(default_factory=list)
    published: list[PublishedView] = field(default_factory=list)
    expired_triggers: set[str] = field(default_factory=set)
    ephemerals: list[Ephemeral] = field(default_factory=list)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    last_ts: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_ts(self) -> str:
        """A fresh, strictly increasing message ts ("seconds.micros"), as Slack's are unique per channel."""
        self.last_ts = max(time.time(), self.last_ts + 0.000001)
        return f"{self.last_ts:.6f}"


def _truthy(value: Any) -> bool:
    return str(value).lower() in {"1", "true", "yes"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeSlack/1.0"
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is for the test."""

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(urlsplit(self.path).query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        ctype = (self.headers.get("Content-Type") or "").lower()
        if body and ctype.startswith("application/json"):
            params.update(json.loads(body.decode("utf-8")))
        elif body:
            params.update(dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
        for key in ("blocks", "metadata", "view"):  # form-encoded callers send these as JSON strings
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    def _send(
        self, status: int, payload: dict[str, Any] | str, headers: dict[str, str] | None = None
    ) -> None:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        raw = body.encode("utf-8")
        ctype = "text/html; charset=utf-8" if isinstance(payload, str) else "application/json; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); Slack would not notice either

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        st = self.state
        path = urlsplit(self.path).path
        if path.startswith(UPLOAD_PATH):
            self._receive_upload(path.removeprefix(UPLOAD_PATH))
            return
        method = path.rsplit("/", 1)[-1]
        params = self._params()
        auth = self.headers.get("Authorization") or ""
        has_token = bool(auth) or "token" in params
        token_ok = auth == f"Bearer {st.token}" or params.pop("token", None) == st.token
        headers = {k: ("Bearer ***" if k.lower() == "authorization" else v) for k, v in self.headers.items()}
        with st.lock:
            st.requests.append(RecordedRequest(method, params, headers, token_ok))
            failure = self._take_failure(method)
            delay = self._take_delay(method)
        if not has_token:
            self._send(200, {"ok": False, "error": "not_authed"})
            return
        if not token_ok:
            self._send(200, {"ok": False, "error": "invalid_auth"})
            return
        if failure is not None:
            self._fail(failure)
            return
        status, payload = self._dispatch(method, params)
        if delay:
            time.sleep(delay)
        self._send(status, payload)

    def _receive_upload(self, file_id: str) -> None:
        """Step 2 of files upload v2: the raw bytes POSTed to the URL ``files.getUploadURLExternal`` gave."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.state.lock:
            self.state.requests.append(
                RecordedRequest(
                    UPLOAD_METHOD, {"file_id": file_id, "bytes": len(body)}, dict(self.headers), True
                )
            )
            failure = self._take_failure(UPLOAD_METHOD)
            announced = self.state.files.get(file_id)
            if failure is None and announced is not None and announced.length == len(body):
                announced.content = body
        if failure is not None:
            self._fail(failure)
        elif announced is None:
            self._send(404, "<html><body>unknown upload</body></html>")
        elif announced.length != len(body):
            self._send(400, "<html><body>length mismatch</body></html>")
        else:
            self._send(200, f"OK - {len(body)}")

    def _take_failure(self, method: str) -> ScriptedFailure | None:
        for f in self.state.failures:
            if f.times > 0 and f.method in (None, method):
                f.times -= 1
                return f
        return None

    def _take_delay(self, method: str) -> float:
        for i, (m, seconds) in enumerate(self.state.delays):
            if m == method:
                del self.state.delays[i]
                return seconds
        return 0.0

    def _fail(self, f: ScriptedFailure) -> None:
        if f.kind == "ratelimited":
            self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(f.retry_after)})
        elif f.kind == "server_error":
            self._send(500, "<html><body><h1>500 Internal Server Error</h1></body></html>")
        else:
            self._send(200, {"ok": False, "error": f.kind})

    def _dispatch(self, method: str, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        handlers = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "conversations.list": self._conversations_list,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "chat.postEphemeral": self._post_ephemeral,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }
        handler = handlers.get(method)
        if handler is None:
            return 404, {"ok": False, "error": "unknown_method"}
        with self.state.lock:
            return 200, handler(p)

    def _channel_id(self, channel: str) -> str | None:
        st = self.state
        if channel in st.channels.values():
            return channel
        return st.channels.get(channel.lstrip("#"))

    def _auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://earshot-test.slack.com/",
            "team": "Earshot Test",
            "user": "earshot",
            "team_id": "T0EARSHOT",
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _post_message(self, p: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._channel_id(str(p.get("channel", "")))
        if channel_id is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel_id not in self.state.members:
            return {"ok": False, "error": "not_in_channel"}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        thread_ts = p.get("thread_ts") or None
        msg = StoredMessage(
            channel=channel_id,
            ts=self.state.next_ts(),
            text=str(p.get("text") or ""),
            blocks=list(p.get("blocks") or []),
            metadata=p.get("metadata"),
            params=p,
            thread_ts=str(thread_ts) if thread_ts else None,
            reply_broadcast=bool(thread_ts) and _truthy(p.get("reply_broadcast", "0")),
        )
        self.state.messages.append(msg)
        return {
            "ok": True,
            "channel": channel_id,
            "ts": msg.ts,
            "message": msg.as_slack(include_metadata=True),
        }

    def _update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._channel_id(str(p.get("channel", "")))
        for msg in self.state.messages:
            if msg.channel == channel_id and msg.ts == p.get("ts"):
                msg.text = str(p.get("text", msg.text))
                msg.blocks = list(p.get("blocks") or msg.blocks)
                if "metadata" in p:
                    msg.metadata = p["metadata"]
                msg.updates.append({"text": msg.text, "blocks": msg.blocks})
                return {"ok": True, "channel": channel_id, "ts": msg.ts, "text": msg.text}
        return {"ok": False, "error": "message_not_found" if channel_id else "channel_not_found"}

    def _conversations_list(self, p: dict[str, Any]) -> dict[str, Any]:
        items = sorted(self.state.channels.items())
        start = int(p.get("cursor") or 0)
        limit = int(p.get("limit") or 100)
        page = items[start : start + limit]
        nxt = str(start + limit) if start + limit < len(items) else ""
        channels = [
            {"id": cid, "name": name, "is_channel": True, "is_member": cid in self.state.members}
            for name, cid in page
        ]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": nxt}}

    def _history(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel", ""))
        if channel not in self.state.channels.values():  # Slack wants an id here, not "#name"
            return {"ok": False, "error": "channel_not_found"}
        if channel not in self.state.members:
            return {"ok": False, "error": "not_in_channel"}
        inclusive = _truthy(p.get("inclusive", "0"))
        oldest = float(p.get("oldest") or 0)
        latest = float(p.get("latest") or time.time() + 1e6)

        def in_range(ts: float) -> bool:
            low = ts >= oldest if inclusive else ts > oldest
            high = ts <= latest if inclusive else ts < latest
            return low and high

        found = [
            m
            for m in self.state.messages
            if m.channel == channel
            and in_range(float(m.ts))
            and (m.thread_ts is None or m.thread_ts == m.ts or m.reply_broadcast)
        ]
        found.sort(key=lambda m: float(m.ts), reverse=True)
        start = int(p.get("cursor") or 0)
        limit = min(int(p.get("limit") or 100), 999)
        page = found[start : start + limit]
        has_more = start + limit < len(found)
        include_metadata = _truthy(p.get("include_all_metadata", "0"))
        return {
            "ok": True,
            "messages": [m.as_slack(include_metadata) for m in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": str(start + limit) if has_more else ""},
        }

    def _replies(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel", ""))
        if channel not in self.state.channels.values():
            return {"ok": False, "error": "channel_not_found"}
        if channel not in self.state.members:
            return {"ok": False, "error": "not_in_channel"}
        ts = str(p.get("ts") or "")
        in_channel = [m for m in self.state.messages if m.channel == channel]
        parent = next((m for m in in_channel if m.ts == ts), None)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        thread = [parent, *(m for m in in_channel if m.thread_ts == ts and m.ts != ts)]
        thread.sort(key=lambda m: float(m.ts))
        start = int(p.get("cursor") or 0)
        limit = min(int(p.get("limit") or 1000), 1000)
        page = thread[start : start + limit]
        has_more = start + limit < len(thread)
        include_metadata = _truthy(p.get("include_all_metadata", "0"))
        return {
            "ok": True,
            "messages": [m.as_slack(include_metadata) for m in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": str(start + limit) if has_more else ""},
        }

    def _views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        trigger_id = str(p.get("trigger_id") or "")
        view = p.get("view")
        if not trigger_id:
            return {"ok": False, "error": "invalid_arguments"}
        if trigger_id in self.state.expired_triggers:
            return {"ok": False, "error": "expired_trigger_id"}
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        self.state.views.append(OpenedView(trigger_id, view))
        view_id = f"V{len(self.state.views):08d}"
        return {"ok": True, "view": {**view, "id": view_id}}

    def _views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        """Slack's checks that matter here: a user, a ``home`` view, at most 100 blocks."""
        user_id = str(p.get("user_id") or "")
        view = p.get("view")
        if not user_id:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict) or view.get("type") != "home" or len(view.get("blocks", [])) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        self.state.published.append(PublishedView(user_id, view))
        return {"ok": True, "view": {**view, "id": f"VH{len(self.state.published):07d}"}}

    def _post_ephemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._channel_id(str(p.get("channel", "")))
        if channel_id is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel_id not in self.state.members:
            return {"ok": False, "error": "not_in_channel"}
        user = str(p.get("user") or "")
        if not user:
            return {"ok": False, "error": "user_not_in_channel"}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        self.state.ephemerals.append(
            Ephemeral(channel_id, user, str(p.get("text") or ""), list(p.get("blocks") or []))
        )
        return {"ok": True, "message_ts": self.state.next_ts()}

    def _get_upload_url(self, p: dict[str, Any]) -> dict[str, Any]:
        filename = str(p.get("filename") or "")
        try:
            length = int(p.get("length") or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not filename or length <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self.state.files) + 1:08d}"
        self.state.files[file_id] = UploadedFile(file_id, filename, length)
        address: Any = self.server.server_address  # (host, port) for the IPv4 server used here
        host, port = address[0], address[1]
        return {"ok": True, "upload_url": f"http://{host!s}:{port}{UPLOAD_PATH}{file_id}", "file_id": file_id}

    def _complete_upload(self, p: dict[str, Any]) -> dict[str, Any]:
        raw = p.get("files")
        try:
            entries = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(entries, list) or not entries:
            return {"ok": False, "error": "invalid_arguments"}
        files: list[UploadedFile] = []
        for entry in entries:
            stored = self.state.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if stored is None or stored.content is None:
                return {"ok": False, "error": "file_not_found"}
            stored.title = entry.get("title") or stored.filename
            files.append(stored)
        channel_id: str | None = None
        if p.get("channel_id"):
            channel_id = self._channel_id(str(p["channel_id"]))
            if channel_id is None:
                return {"ok": False, "error": "channel_not_found"}
            if channel_id not in self.state.members:
                return {"ok": False, "error": "not_in_channel"}
        self.state.uploads.append(
            Upload(channel_id, p.get("initial_comment"), p.get("thread_ts") or None, files)
        )
        return {
            "ok": True,
            "files": [{"id": f.id, "name": f.filename, "title": f.title, "size": f.length} for f in files],
        }


class FakeSlack:
    """A threaded fake Slack Web API on an ephemeral loopback port; use as a context manager."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        channels: dict[str, str] | None = None,
        bot_member_of: set[str] | None = None,
    ) -> None:
        chans = (
            dict(channels)
            if channels is not None
            else {"earshot-alerts": "C0ALERTS01", "general": "C0GENERAL1"}
        )
        members = set(chans.values()) if bot_member_of is None else set(bot_member_of)
        self.token = token
        self._state = _State(token=token, channels=chans, members=members)
        handler = type("FakeSlackHandler", (_Handler,), {"state": self._state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._app: tuple[str, str] | None = None
        self._trigger_count = 100000001
        self._last_trigger: str | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The Web API base URL for ``WebClient(base_url=...)``, trailing slash included."""
        return f"http://127.0.0.1:{self.port}/api/"

    def start(self) -> FakeSlack:
        # A short poll interval makes stop() (and so every test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting --------------------------------------------------------------------------------------

    def fail_next(
        self, method: str | None, kind: str = "ratelimited", *, times: int = 1, retry_after: int = 1
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (``None``: any method) with ``kind``:
        ``"ratelimited"`` (HTTP 429, ``Retry-After``), ``"server_error"`` (HTML 500) or a Slack error code.

        ``fail_next("chat.update", "ratelimited", retry_after=5)``; ``times`` is keyword-only so a kind
        passed second can never be taken for a count."""
        with self._state.lock:
            self._state.failures.append(ScriptedFailure(method, times, kind, retry_after))

    def delay_next(self, method: str, seconds: float) -> None:
        """Handle the next call to ``method`` normally but answer only after ``seconds``."""
        with self._state.lock:
            self._state.delays.append((method, seconds))

    def add_channel(self, name: str, channel_id: str, member: bool = True) -> None:
        with self._state.lock:
            self._state.channels[name] = channel_id
            if member:
                self._state.members.add(channel_id)

    def set_member(self, channel_id: str, member: bool) -> None:
        with self._state.lock:
            (self._state.members.add if member else self._state.members.discard)(channel_id)

    def expire_trigger(self, trigger_id: str) -> None:
        """Answer ``views.open`` with this trigger id with ``expired_trigger_id`` (Slack's 3 s window)."""
        with self._state.lock:
            self._state.expired_triggers.add(trigger_id)

    # --- inspection -------------------------------------------------------------------------------------

    def channel_id(self, name: str) -> str:
        return self._state.channels[name.lstrip("#")]

    def messages(self, channel: str | None = None) -> list[StoredMessage]:
        with self._state.lock:
            cid = None if channel is None else (self._state.channels.get(channel.lstrip("#")) or channel)
            return [m for m in self._state.messages if cid is None or m.channel == cid]

    def requests(self, method: str | None = None) -> list[RecordedRequest]:
        with self._state.lock:
            return [r for r in self._state.requests if method is None or r.method == method]

    def calls(self, method: str) -> int:
        return len(self.requests(method))

    def message(self, ts: str) -> StoredMessage:
        """The stored message with this ts (KeyError when none)."""
        with self._state.lock:
            for msg in self._state.messages:
                if msg.ts == ts:
                    return msg
        raise KeyError(ts)

    def thread(self, ts: str) -> list[StoredMessage]:
        """The replies posted in the thread of ``ts``, oldest first (the parent not included)."""
        with self._state.lock:
            return [m for m in self._state.messages if m.thread_ts == ts and m.ts != ts]

    def views(self) -> list[OpenedView]:
        """Modals opened with ``views.open``, oldest first."""
        with self._state.lock:
            return list(self._state.views)

    def published(self) -> list[PublishedView]:
        """App Home views published with ``views.publish``, oldest first."""
        with self._state.lock:
            return list(self._state.published)

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        """``chat.postEphemeral`` messages (for ``user`` only when given), oldest first."""
        with self._state.lock:
            return [e for e in self._state.ephemerals if user is None or e.user == user]

    def uploads(self, channel: str | None = None) -> list[Upload]:
        """Completed files-upload-v2 shares (into ``channel`` only when given: ``#name`` or id), oldest first."""
        with self._state.lock:
            cid = None if channel is None else (self._state.channels.get(channel.lstrip("#")) or channel)
            return [u for u in self._state.uploads if cid is None or u.channel == cid]

    def inject_message(
        self, channel: str, text: str, metadata: dict[str, Any] | None = None
    ) -> StoredMessage:
        """Store a message as if posted earlier (e.g. by a run that crashed before recording it)."""
        with self._state.lock:
            cid = self._state.channels.get(channel.lstrip("#")) or channel
            msg = StoredMessage(cid, self._state.next_ts(), text, [], metadata, {})
            self._state.messages.append(msg)
            return msg

    # --- Slack -> app: interactivity ------------------------------------------------------------------

    def connect_app(self, url: str, signing_secret: str) -> None:
        """Where :meth:`click` and :meth:`submit_view` POST, and the secret they sign with."""
        self._app = (url, signing_secret)

    def _post_interaction(self, payload: dict[str, Any]) -> AppResponse:
        if self._app is None:
            raise RuntimeError("call connect_app(url, signing_secret) first")
        url, secret = self._app
        body = interaction_body(payload)
        return post_to_app(url, body, signed_headers(secret, body))

    def _new_trigger(self) -> str:
        trigger = self.next_trigger()
        self._trigger_count += 1
        self._last_trigger = trigger
        return trigger

    def next_trigger(self) -> str:
        """The trigger id the next click or submission will carry (to expire it beforehand)."""
        n = self._trigger_count
        return f"{n}.{TEAM_ID}.{hashlib.sha256(str(n).encode()).hexdigest()[:32]}"

    def click(
        self,
        message_ts: str,
        action_id: str,
        *,
        user: str = DEFAULT_USER,
        selected_user: str | None = None,
        option: str | None = None,
    ) -> AppResponse:
        """Press the element ``action_id`` of the stored message ``message_ts`` as ``user`` would.

        The element must be in the message's current blocks (AssertionError otherwise): a test cannot
        click a button the message does not show. ``selected_user`` answers a users_select, ``option``
        (an option value) a static_select.
        """
        msg = self.message(message_ts)
        found = [
            (block, el)
            for block in msg.blocks
            if block.get("type") == "actions"
            for el in block.get("elements", [])
            if el.get("action_id") == action_id
        ]
        assert found, f"message {message_ts} shows no element {action_id!r}; its blocks: {msg.blocks}"
        block, element = found[0]
        action: dict[str, Any] = {
            "type": element["type"],
            "action_id": action_id,
            "block_id": block.get("block_id", ""),
            "action_ts": f"{time.time():.6f}",
        }
        if element["type"] == "button":
            action["text"] = element.get("text")
            if "value" in element:
                action["value"] = element["value"]
        elif element["type"] == "users_select":
            assert selected_user is not None, "a users_select click needs selected_user"
            action["selected_user"] = selected_user
        elif element["type"] == "static_select":
            choices = [o for o in element.get("options", []) if o.get("value") == option]
            assert choices, f"{action_id!r} offers no option {option!r}"
            action["selected_option"] = choices[0]
        channel_name = next((n for n, cid in self._state.channels.items() if cid == msg.channel), msg.channel)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": msg.ts,
                "channel_id": msg.channel,
                "is_ephemeral": False,
            },
            "trigger_id": self._new_trigger(),
            "team": {"id": TEAM_ID, "domain": "earshot-test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": msg.channel, "name": channel_name},
            "message": msg.as_slack(include_metadata=False),
            "state": {"values": {}},
            "response_url": f"https://hooks.slack.com/actions/{TEAM_ID}/1/x",
            "actions": [action],
        }
        return self._post_interaction(payload)

    def last_trigger(self) -> str | None:
        """The trigger id of the latest click (for :meth:`expire_trigger` before the app uses it)."""
        return self._last_trigger

    def submit_view(
        self, values: dict[str, dict[str, str]], *, user: str = DEFAULT_USER, view: OpenedView | None = None
    ) -> AppResponse:
        """Submit ``view`` (default: the last opened modal) with ``values`` {block_id: {action_id: text}}."""
        opened = view
        if opened is None:
            views = self.views()
            assert views, "no modal was opened"
            opened = views[-1]
        state = {
            block: {action: {"type": "plain_text_input", "value": text} for action, text in actions.items()}
            for block, actions in values.items()
        }
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "earshot-test"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._new_trigger(),
            "view": {
                **opened.view,
                "id": "V0MODAL001",
                "team_id": TEAM_ID,
                "state": {"values": state},
                "hash": "1700000000.abcdef",
                "app_id": APP_ID,
            },
            "response_urls": [],
            "is_enterprise_install": False,
        }
        return self._post_interaction(payload)


@dataclass(frozen=True)
class AppResponse:
    """The app's answer to an interactivity POST."""

    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float  # how long the app took to answer

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def interaction_body(payload: dict[str, Any]) -> bytes:
    """The body Slack posts: ``application/x-www-form-urlencoded`` with the JSON in ``payload``."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode("ascii")


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signing headers for ``body`` (computed here independently of the code under test)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


def post_to_app(url: str, body: bytes, headers: dict[str, str], timeout: float = 30.0) -> AppResponse:
    """POST like Slack does and return the status, body and time taken, whatever the status."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            data = resp.read()
            return AppResponse(resp.status, data, dict(resp.headers), time.monotonic() - started)
    except urllib.error.HTTPError as err:
        data = err.read()
        return AppResponse(err.code, data, dict(err.headers), time.monotonic() - started)


@contextmanager
def fake_slack_server(**kwargs: Any) -> Iterator[FakeSlack]:
    """``with fake_slack_server() as slack:`` - the same as ``with FakeSlack(**kwargs) as slack``."""
    with FakeSlack(**kwargs) as slack:
        yield slack
