"""A local stand-in for the Google Business Profile API (v4), serving bundled demo reviews.

``earshot demo`` points the ``google_business`` spider at it, so the whole pipeline (crawl, scoring,
alerts) runs offline against realistic data: a small threaded HTTP server on 127.0.0.1 that speaks the
real ``accounts.locations.reviews.list`` / ``get`` formats, with paging and a bearer-token check.

    with DemoSource() as demo:
        settings = demo.configure(load_settings())
        run_crawl(settings)
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import SecretStr

from monitor.config import EarshotSettings, Target

logger = logging.getLogger(__name__)

DATA_FILE = Path(__file__).with_name("demo_data") / "google_business_reviews.json"
DEFAULT_ACCESS_TOKEN = "earshot-demo-token"
MAX_PAGE_SIZE = 50
_ORDERS = ("updateTime desc", "rating", "rating desc")
_STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
_NEWEST_AGE = timedelta(minutes=90)  # with shift_to_now, the newest review is this old


class DemoRequestError(Exception):
    """An API error to answer in Google's ``{"error": {...}}`` format."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def _shift_timestamp(value: str, delta: timedelta) -> str:
    """Move an RFC 3339 'Z' time by whole seconds, keeping its fractional digits as they were."""
    base = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S") + delta
    return base.strftime("%Y-%m-%dT%H:%M:%S") + value[19:]


def _update_time(review: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(review.get("updateTime") or review["createTime"]))


class DemoSource:
    """The demo API server. Use as a context manager, or ``start()`` / ``stop()``.

    ``shift_to_now`` moves all review times so the newest is 90 minutes old, keeping the demo "live".
    """

    def __init__(
        self,
        data_file: Path | str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        shift_to_now: bool = True,
    ) -> None:
        data = json.loads(Path(data_file or DATA_FILE).read_text(encoding="utf-8"))
        self.business_name: str = str(data.get("business") or "Demo shop")
        self.account_id: str = str(data["account_id"])
        self.access_token = access_token
        self.request_count = 0
        self._host, self._port = host, port
        self._locations: dict[str, list[dict[str, Any]]] = {}
        for location in data["locations"]:
            reviews = [self._complete(dict(r), str(location["location_id"])) for r in location["reviews"]]
            self._locations[str(location["location_id"])] = reviews
        if shift_to_now:
            self._shift_to_now()
        for reviews in self._locations.values():
            reviews.sort(key=_update_time, reverse=True)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def location_ids(self) -> list[str]:
        return list(self._locations)

    @property
    def token(self) -> SecretStr:
        """The bearer token the server accepts, ready for sources.google_business.access_token."""
        return SecretStr(self.access_token)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the value for sources.google_business.base_url."""
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
        logger.info("Demo Google Business Profile API at %s", self.base_url)
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
        """A Target for the demo business, with its account and locations."""
        return Target(
            name=name or self.business_name,
            google_account_id=self.account_id,
            google_location_ids=self.location_ids,
        )

    def configure(self, settings: EarshotSettings, target_name: str | None = None) -> EarshotSettings:
        """A copy of ``settings`` crawling only this demo source (its target, URL and token)."""
        google = settings.sources.google_business.model_copy(
            update={"base_url": self.base_url, "access_token": self.token}
        )
        sources = settings.sources.model_copy(update={"google_business": google})
        return settings.model_copy(update={"targets": [self.target(target_name)], "sources": sources})

    # --- the API -----------------------------------------------------------------------------------

    def respond(self, path: str, query: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for one GET request (the HTTP handler only transports this)."""
        with self._lock:
            self.request_count += 1
        try:
            self._check_token(authorization)
            parts = [unquote(p) for p in path.strip("/").split("/")]
            if len(parts) == 6 and parts[0] == "v4" and parts[1] == "accounts" and parts[5] == "reviews":
                return 200, self._list(parts[2], parts[4], parse_qs(query, keep_blank_values=True))
            if len(parts) == 7 and parts[0] == "v4" and parts[1] == "accounts" and parts[5] == "reviews":
                return 200, self._get(parts[2], parts[4], parts[6])
            raise DemoRequestError(404, "NOT_FOUND", f"Method not found: {path}")
        except DemoRequestError as exc:
            return exc.code, exc.body()

    def _check_token(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.access_token:
            raise DemoRequestError(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                "cookie or other valid authentication credential.",
            )

    def _reviews(self, account_id: str, location_id: str) -> list[dict[str, Any]]:
        if account_id != self.account_id or location_id not in self._locations:
            raise DemoRequestError(404, "NOT_FOUND", "Requested entity was not found.")
        return self._locations[location_id]

    def _list(self, account_id: str, location_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        reviews = self._reviews(account_id, location_id)
        page_size = _page_size(query.get("pageSize", [""])[-1])
        order = query.get("orderBy", ["updateTime desc"])[-1] or "updateTime desc"
        if order not in _ORDERS:
            raise DemoRequestError(400, "INVALID_ARGUMENT", f"Invalid orderBy: {order!r}")
        offset = _decode_page_token(query.get("pageToken", [""])[-1], location_id, order)
        ordered = reviews if order == "updateTime desc" else _by_rating(reviews, order == "rating desc")
        body: dict[str, Any] = {}
        page = ordered[offset : offset + page_size]
        if page:  # like Google, omit the list when it is empty
            body["reviews"] = page
        rated = [_STARS[r["starRating"]] for r in reviews if r.get("starRating") in _STARS]
        body["averageRating"] = round(sum(rated) / len(rated), 1) if rated else 0
        body["totalReviewCount"] = len(reviews)
        if offset + page_size < len(ordered):
            body["nextPageToken"] = _encode_page_token(location_id, order, offset + page_size)
        return body

    def _get(self, account_id: str, location_id: str, review_id: str) -> dict[str, Any]:
        for review in self._reviews(account_id, location_id):
            if review["reviewId"] == review_id:
                return review
        raise DemoRequestError(404, "NOT_FOUND", "Requested entity was not found.")

    def _complete(self, review: dict[str, Any], location_id: str) -> dict[str, Any]:
        review.setdefault(
            "name", f"accounts/{self.account_id}/locations/{location_id}/reviews/{review['reviewId']}"
        )
        review.setdefault("updateTime", review["createTime"])
        return review

    def _shift_to_now(self) -> None:
        newest = max(_update_time(r) for reviews in self._locations.values() for r in reviews)
        delta = datetime.now(UTC) - _NEWEST_AGE - newest
        delta = timedelta(seconds=int(delta.total_seconds()))
        for reviews in self._locations.values():
            for review in reviews:
                for holder in (review, review.get("reviewReply") or {}):
                    for key in ("createTime", "updateTime"):
                        if holder.get(key):
                            holder[key] = _shift_timestamp(holder[key], delta)


def _page_size(value: str) -> int:
    if not value:
        return MAX_PAGE_SIZE
    try:
        size = int(value)
    except ValueError:
        raise DemoRequestError(400, "INVALID_ARGUMENT", f"Invalid pageSize: {value!r}") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise DemoRequestError(400, "INVALID_ARGUMENT", f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    return size


def _encode_page_token(location_id: str, order: str, offset: int) -> str:
    raw = json.dumps([location_id, order, offset]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str, location_id: str, order: str) -> int:
    """The offset a page token stands for; 0 without one. Tokens are tied to location and order."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        loc, tok_order, offset = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise DemoRequestError(400, "INVALID_ARGUMENT", "Invalid page token.") from None
    if loc != location_id or tok_order != order or not isinstance(offset, int) or offset < 0:
        raise DemoRequestError(400, "INVALID_ARGUMENT", "Page token does not match the request.")
    return offset


def _by_rating(reviews: list[dict[str, Any]], descending: bool) -> list[dict[str, Any]]:
    return sorted(reviews, key=lambda r: _STARS.get(str(r.get("starRating")), 0), reverse=descending)


def _handler_for(source: DemoSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "EarshotDemoGBP/1.0"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            status, body = source.respond(url.path, url.query, self.headers.get("Authorization"))
            payload = json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("demo source: " + format, *args)

    return Handler
