"""Local stand-ins for the sources Earshot reads, serving bundled data about the demo shop DobraKuchnia.pl.

``earshot demo`` points the spiders at it, so crawl → score → alert runs offline against realistic data.
One small threaded HTTP server on 127.0.0.1 hosts every demo site. A site is a route table over a data
file, both in ``monitor/demo_data/`` (``rss.py`` + ``rss_alerts.json``...), speaking the real source's
format: the Google Business Profile API, a Google Alerts Atom feed, Hacker News search (Algolia), Ceneo
opinion pages and Mastodon's REST API. Adding a source to the demo is adding such a pair to ``SITES``.

    with DemoSource() as demo:
        settings = demo.configure(load_settings())
        run_crawls(settings, demo.sources)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from monitor.core.config import EarshotSettings, Target
from monitor.demo_data import ceneo, google_business, hackernews, mastodon, rss
from monitor.demo_data.google_business import GoogleBusinessSite
from monitor.demo_data.site import DemoRequest, DemoSite, Reply

logger = logging.getLogger(__name__)

DEFAULT_ACCESS_TOKEN = "earshot-demo-token"
BUSINESS_NAME = "DobraKuchnia.pl"
# Every demo site, by the source (spider) it stands in for; each is monitor/demo_data/<name>.py.
SITES = ("google_business", "rss", "hackernews", "ceneo", "mastodon")
ROBOTS_TXT = b"User-agent: *\nAllow: /\n"


SITE_CLASSES: dict[str, type[DemoSite]] = {
    site.name: site
    for site in (
        google_business.SITE,
        rss.SITE,
        hackernews.SITE,
        ceneo.SITE,
        mastodon.SITE,
    )
}


def site_class(name: str) -> type[DemoSite]:
    """The DemoSite of source ``name`` (``monitor.demo_data.<name>.SITE``)."""
    if name not in SITES:
        raise ValueError(f"no demo site for {name!r}; demo sites: {', '.join(SITES)}")
    return SITE_CLASSES[name]


class DemoSource:
    """The demo server. Use as a context manager, or ``start()`` / ``stop()``.

    ``sources`` picks demo sites (default: all of ``SITES``); ``data_file`` replaces the Google Business
    Profile data; ``shift_to_now`` moves every site's times so its newest item is 90 minutes old.
    """

    def __init__(
        self,
        data_file: Path | str | None = None,
        *,
        sources: Sequence[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        shift_to_now: bool = True,
    ) -> None:
        self.access_token = access_token
        self.request_count = 0
        self.sites: dict[str, DemoSite] = {}
        for name in dict.fromkeys(sources or SITES):
            own_file = data_file if name == "google_business" else None
            self.sites[name] = site_class(name).load(
                token=access_token, shift_to_now=shift_to_now, data_file=own_file
            )
        self._routes = [route for site in self.sites.values() for route in site.routes()]
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def sources(self) -> list[str]:
        """The sources served, in SITES order: the spiders to run against this server."""
        return list(self.sites)

    def _google(self) -> GoogleBusinessSite:
        site = self.sites.get("google_business")
        if not isinstance(site, GoogleBusinessSite):
            raise RuntimeError("this DemoSource does not serve google_business")
        return site

    @property
    def business_name(self) -> str:
        return BUSINESS_NAME

    @property
    def account_id(self) -> str:
        return self._google().account_id

    @property
    def location_ids(self) -> list[str]:
        return self._google().location_ids

    @property
    def token(self) -> SecretStr:
        """The bearer token the server accepts (Google, Mastodon)."""
        return SecretStr(self.access_token)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: every demo site lives under it."""
        if self._server is None:
            raise RuntimeError("DemoSource is not started; call start() or use it in a with block")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DemoSource:
        """Serve in a daemon thread; port 0 picks a free port."""
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer((self._host, self._port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="earshot-demo-source", daemon=True
        )
        self._thread.start()
        logger.info("Demo sources (%s) at %s", ", ".join(self.sites), self.base_url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> DemoSource:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def target(self, name: str | None = None) -> Target:
        """The demo shop as a Target, with what every served site needs."""
        fields: dict[str, Any] = {}
        for site in self.sites.values():
            for key, value in site.target_fields(self.base_url).items():
                if isinstance(value, list):  # two sites may search the same keywords
                    value = list(dict.fromkeys([*fields.get(key, []), *value]))
                fields[key] = value
        return Target(name=name or self.business_name, **fields)

    def configure(self, settings: EarshotSettings, target_name: str | None = None) -> EarshotSettings:
        """A copy of ``settings`` whose only target is the demo shop and whose served sources point here."""
        updates = {
            name: getattr(settings.sources, name).model_copy(update=site.source_settings(self.base_url))
            for name, site in self.sites.items()
        }
        sources = settings.sources.model_copy(update=updates)
        return settings.model_copy(update={"targets": [self.target(target_name)], "sources": sources})

    def describe(self) -> dict[str, str]:
        """Per source, what is served: {"rss": "Google Alerts feed with 6 entries", ...}."""
        return {name: f"{site.label}: {site.describe()}" for name, site in self.sites.items()}

    def advance(self, now: datetime | None = None) -> dict[str, int]:
        """Move the demo on to its second act: every site serves its "later" items, timed before ``now``.

        New reviews and posts, an edited review and a reply in a social thread appear, so the next crawl
        has fresh activity to alert on. Returns, per site, how many items were added or changed (0 for a
        site without later data, and for every site on a second call). ``now`` defaults to the clock.
        """
        moment = now if now is not None else datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("advance() needs an aware datetime (UTC), not a naive one")
        changed = {name: site.advance(moment) for name, site in self.sites.items()}
        logger.info("Demo sources advanced: %s", ", ".join(f"{k}={v}" for k, v in changed.items()))
        return changed

    # -- dispatch ------------------------------------------------------------------------------------

    def handle(self, request: DemoRequest) -> Reply:
        """The answer to one GET (the HTTP handler only transports it)."""
        with self._lock:
            self.request_count += 1
        if request.path == "/robots.txt":
            return Reply(200, ROBOTS_TXT, "text/plain; charset=UTF-8")
        for pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is not None:
                return handler(request, match)
        return Reply.json(
            {"error": {"code": 404, "message": f"Not found: {request.path}", "status": "NOT_FOUND"}}, 404
        )


def _handler_for(source: DemoSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "EarshotDemo/2.0"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            request = DemoRequest(
                path=url.path,
                query=parse_qs(url.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            reply = source.handle(request)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("demo source: " + format, *args)

    return Handler
