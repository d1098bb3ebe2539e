"""Loopback stand-ins for the soak test (tests/monitor/test_soak.py): feeds that keep growing, a chaotic Slack.

:class:`GrowingFeeds` serves two Google Alerts Atom feeds on 127.0.0.1 and, from a background thread,
releases one event every ``interval`` seconds from ``tests/fixtures/soak/feed_entries.json``: a new entry
(in one feed, or in both, as Google Alerts finds one article through two alerts) or an edit of an entry
released earlier (same id, newer ``<updated>``, changed text). Times are whole seconds and strictly
increasing, so the RSS spider's watermark (newest ``updated`` read) never hides a later entry. A feed
response can be held back (:meth:`GrowingFeeds.hold_next`) so a test can kill a crawl while it is running.

:class:`ChaosSlack` is the alert tests' :class:`~tests.alerts.fake_slack.FakeSlack` (a real Web API on
loopback that slack-sdk's ``WebClient`` talks to) that also counts the scripted failures it actually served
(429s, 500s, ``token_expired``...), and tells which alert each accepted ``chat.postMessage`` carried.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from monitor.demo_data.rss import google_redirect
from tests.alerts.fake_slack import FakeSlack, ScriptedFailure

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "soak" / "feed_entries.json"
FEEDS = ("a", "b")
ATOM = "application/atom+xml; charset=UTF-8"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Entry:
    key: str
    n: int  # position in the fixture; part of the per-feed entry ids and of the redirect link
    feeds: list[str]
    title: str
    url: str
    content: str
    published: datetime
    updated: datetime


@dataclass(frozen=True)
class _Event:
    """Release ``key`` (``edit`` None) or apply its edit."""

    key: str
    edit: str | None = None


@dataclass
class FeedFigures:
    released: int = 0  # distinct entries (articles) released
    in_both_feeds: int = 0  # of those, served by both feeds (to be stored once)
    edits: int = 0
    requests: int = 0  # feed GETs (robots.txt not counted)
    by_feed: Counter[str] = field(default_factory=Counter)


def _schedule(raw: list[dict[str, Any]]) -> list[_Event]:
    """Entries in fixture order; each edit slotted ``after`` further entries behind its entry."""
    events: list[_Event] = []
    pending: list[tuple[int, _Event]] = []  # (entries still to go, edit)
    for item in raw:
        events.append(_Event(item["key"]))
        due = [(left - 1, ev) for left, ev in pending]
        events.extend(ev for left, ev in due if left <= 0)
        pending = [(left, ev) for left, ev in due if left > 0]
        if "edit" in item:
            pending.append((int(item["edit"]["after"]), _Event(item["key"], item["edit"]["content"])))
    events.extend(ev for _, ev in pending)
    return events


class GrowingFeeds:
    """Two Atom feeds on 127.0.0.1 that grow by one event every ``interval`` seconds once started."""

    def __init__(self, interval: float, fixture: Path = FIXTURE) -> None:
        data = json.loads(fixture.read_text(encoding="utf-8"))
        self._raw = {item["key"]: (i + 1, item) for i, item in enumerate(data["entries"])}
        self.events = _schedule(data["entries"])
        self.interval = interval
        self.figures = FeedFigures()
        self.feed_requested = threading.Event()  # set on every feed GET; a test clears it to wait for a crawl
        self._entries: dict[str, _Entry] = {}
        self._last_stamp: datetime | None = None
        self._hold = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def feed_urls(self) -> list[str]:
        return [f"{self.base_url}/alerts/feeds/soak/{name}" for name in FEEDS]

    @property
    def exhausted(self) -> bool:
        with self._lock:
            return self.figures.released + self.figures.edits >= len(self.events)

    def start(self) -> GrowingFeeds:
        self._threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
            threading.Thread(target=self._release_loop, name="soak-feed-releases", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> GrowingFeeds:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def latest(self) -> dict[str, datetime]:
        """Per released article (its real URL, the stored external id), the time of its latest version."""
        with self._lock:
            return {e.url: e.updated for e in self._entries.values()}

    def hold_next(self, seconds: float) -> None:
        """Answer the next feed GET only after ``seconds`` (the crawl is in flight meanwhile)."""
        with self._lock:
            self._hold = seconds

    def release_next(self) -> bool:
        """Apply the next event now; False when every event was released."""
        with self._lock:
            done = self.figures.released + self.figures.edits
            if done >= len(self.events):
                return False
            event = self.events[done]
            now = datetime.now(UTC).replace(microsecond=0)
            stamp = now if self._last_stamp is None else max(now, self._last_stamp + timedelta(seconds=1))
            self._last_stamp = stamp
            n, raw = self._raw[event.key]
            if event.edit is None:
                self._entries[event.key] = _Entry(
                    event.key, n, list(raw["feeds"]), raw["title"], raw["url"], raw["content"], stamp, stamp
                )
                self.figures.released += 1
                self.figures.in_both_feeds += len(raw["feeds"]) > 1
            else:
                entry = self._entries[event.key]
                entry.content, entry.updated = event.edit, stamp
                self.figures.edits += 1
            return True

    def _release_loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.release_next():
                return

    def atom(self, feed: str) -> bytes:
        """The feed as Google Alerts writes it: per-alert entry ids, links through google.com/url."""
        with self._lock:
            entries = sorted(
                (e for e in self._entries.values() if feed in e.feeds), key=lambda e: e.updated, reverse=True
            )
            updated = entries[0].updated if entries else datetime(2026, 1, 1, tzinfo=UTC)
            parts = [
                '<?xml version="1.0" encoding="utf-8"?>',
                '<feed xmlns="http://www.w3.org/2005/Atom">',
                f"<id>tag:google.com,2005:reference-feeds-alert-000/soak/{feed}</id>",
                f"<title>{escape('Alert Google – „DobraKuchnia.pl” (' + feed + ')')}</title>",
                f"<updated>{_iso(updated)}</updated>",
            ]
            for e in entries:
                parts += [
                    "<entry>",
                    f"<id>tag:google.com,2013:googlealerts/feed:{feed}{e.n:06d}</id>",
                    f'<title type="html">{escape(e.title)}</title>',
                    f"<link href={quoteattr(google_redirect(e.url, e.n))}></link>",
                    f"<published>{_iso(e.published)}</published><updated>{_iso(e.updated)}</updated>",
                    f'<content type="html">{escape(e.content)}</content>',
                    "<author><name></name></author>",
                    "</entry>",
                ]
        parts.append("</feed>")
        return "".join(parts).encode("utf-8")

    def _answer(self, path: str) -> tuple[int, bytes, str]:
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", "text/plain; charset=UTF-8"
        feed = path.rsplit("/", 1)[-1]
        if not path.startswith("/alerts/feeds/soak/") or feed not in FEEDS:
            return 404, b"<html><body>Not Found</body></html>", "text/html; charset=UTF-8"
        with self._lock:
            self.figures.requests += 1
            self.figures.by_feed[feed] += 1
            hold, self._hold = self._hold, 0.0
        self.feed_requested.set()
        if hold:
            time.sleep(hold)
        return 200, self.atom(feed), ATOM

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, ctype = feeds._answer(self.path.split("?", 1)[0])
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the crawl was killed while we held the answer back: that is the point

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the soak prints its own figures."""

        return Handler


class ChaosSlack(FakeSlack):
    """FakeSlack that counts the scripted failures it served, by kind (``ratelimited``, ``server_error``...)."""

    def __init__(self) -> None:
        super().__init__()
        self.served: Counter[str] = Counter()
        self._served_lock = threading.Lock()
        outer = self
        base = self._server.RequestHandlerClass

        class CountingHandler(base):  # type: ignore[valid-type,misc]
            def _fail(self, f: ScriptedFailure) -> None:
                with outer._served_lock:
                    outer.served[f.kind] += 1
                super()._fail(f)

        self._server.RequestHandlerClass = CountingHandler

    def __enter__(self) -> ChaosSlack:
        self.start()
        return self

    def served_counts(self) -> dict[str, int]:
        with self._served_lock:
            return dict(self.served)

    def posts_by_alert(self) -> Counter[int]:
        """How many accepted ``chat.postMessage`` calls carried each alert id in their metadata."""
        posts: Counter[int] = Counter()
        for msg in self.messages():
            payload = (msg.metadata or {}).get("event_payload") or {}
            if "alert_id" in payload:
                posts[int(payload["alert_id"])] += 1
        return posts
