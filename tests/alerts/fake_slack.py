"""A fake Slack Web API on 127.0.0.1 for tests that drive slack-sdk's real ``WebClient``.

Point ``WebClient(token=FakeSlack.token, base_url=fake.url)`` (or ``EarshotSettings.slack.api_url``) at it.
It answers like Slack's documented Web API, as far as Earshot uses it:

* ``auth.test``;
* ``chat.postMessage``: stores the message (text, blocks, metadata) under a fresh ``ts``; ``#name``/``name``
  resolve to the channel id; answers ``{"ok": true, "channel": "C…", "ts": "…", "message": {...}}``;
  ``channel_not_found`` for unknown channels, ``not_in_channel`` when the bot is not a member;
* ``chat.update``; ``conversations.list`` (cursor paging); ``conversations.history`` (channel ids only,
  newest first, ``oldest``/``latest``/``inclusive``/``limit``/``cursor``, ``metadata`` only with
  ``include_all_metadata``);
* bearer-token check on every call: ``not_authed`` without one, ``invalid_auth`` for a wrong one.

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

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["FakeSlack", "RecordedRequest", "ScriptedFailure", "StoredMessage", "fake_slack_server"]

DEFAULT_TOKEN = "xoxb-fake-0000-TESTTOKEN"
BOT_USER_ID = "U0EARSHOT"
BOT_ID = "B0EARSHOT"


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
        if include_metadata and self.metadata is not None:
            msg["metadata"] = self.metadata
        return msg


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
        for key in ("blocks", "metadata"):  # form-encoded callers send these as JSON strings
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
        method = urlsplit(self.path).path.rsplit("/", 1)[-1]
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
        msg = StoredMessage(
            channel=channel_id,
            ts=self.state.next_ts(),
            text=str(p.get("text") or ""),
            blocks=list(p.get("blocks") or []),
            metadata=p.get("metadata"),
            params=p,
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

        found = [m for m in self.state.messages if m.channel == channel and in_range(float(m.ts))]
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
        self, method: str | None, times: int = 1, kind: str = "ratelimited", retry_after: int = 1
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (``None``: any method) with ``kind``:
        ``"ratelimited"`` (HTTP 429, ``Retry-After``), ``"server_error"`` (HTML 500) or a Slack error code."""
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

    def inject_message(
        self, channel: str, text: str, metadata: dict[str, Any] | None = None
    ) -> StoredMessage:
        """Store a message as if posted earlier (e.g. by a run that crashed before recording it)."""
        with self._state.lock:
            cid = self._state.channels.get(channel.lstrip("#")) or channel
            msg = StoredMessage(cid, self._state.next_ts(), text, [], metadata, {})
            self._state.messages.append(msg)
            return msg


@contextmanager
def fake_slack_server(**kwargs: Any) -> Iterator[FakeSlack]:
    """``with fake_slack_server() as slack:`` - the same as ``with FakeSlack(**kwargs) as slack``."""
    with FakeSlack(**kwargs) as slack:
        yield slack
