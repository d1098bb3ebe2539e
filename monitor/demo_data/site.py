"""What every demo site is made of: a route table of handlers answering ``DemoRequest`` with ``Reply``.

The bottom of the demo: each ``monitor/demo_data/<source>.py`` builds its site from these pieces and
:mod:`monitor.demo_source` (the HTTP server) imports the sites, so the sites never import the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Self

from monitor.core.timeutil import utcnow

__all__ = ["DATA_DIR", "NEWEST_AGE", "DemoRequest", "DemoSite", "Handler", "Reply", "Route", "shift_delta"]

DATA_DIR = Path(__file__).parent
NEWEST_AGE = timedelta(minutes=90)  # with shift_to_now, each site's newest item is this old


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, body, content type and any extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Reply:
        payload = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
        return cls(status, payload, headers=tuple(headers))


@dataclass(frozen=True)
class DemoRequest:
    """A GET request as the routes see it; header names are lower case."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    def arg(self, name: str, default: str = "") -> str:
        """The last value of query parameter ``name``."""
        values = self.query.get(name)
        return values[-1] if values else default

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header."""
        scheme, _, token = (self.header("authorization") or "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None


Handler = Callable[[DemoRequest, "re.Match[str]"], Reply]
Route = tuple["re.Pattern[str]", Handler]


def shift_delta(newest: datetime, now: datetime | None = None) -> timedelta:
    """Whole seconds that move ``newest`` to NEWEST_AGE before ``now``: the demo always looks live."""
    delta = (now or utcnow()) - NEWEST_AGE - newest
    return timedelta(seconds=int(delta.total_seconds()))


class DemoSite:
    """One source's stand-in: a route table over one data file (see monitor/demo_data/)."""

    name: ClassVar[str]  # the source (spider) it stands in for
    label: ClassVar[str]  # for people: "Google Business Profile"
    data_file: ClassVar[str]  # under monitor/demo_data/

    def __init__(self, data: dict[str, Any], *, token: str, shift_to_now: bool) -> None:
        self.data = data
        self.token = token

    @classmethod
    def load(cls, *, token: str, shift_to_now: bool, data_file: Path | str | None = None) -> Self:
        path = Path(data_file) if data_file is not None else DATA_DIR / cls.data_file
        return cls(json.loads(path.read_text(encoding="utf-8")), token=token, shift_to_now=shift_to_now)

    def routes(self) -> list[Route]:
        """(path pattern, handler) pairs; the first full match answers."""
        raise NotImplementedError

    def target_fields(self, base_url: str) -> dict[str, Any]:
        """What the demo target needs for this source (Target fields)."""
        raise NotImplementedError

    def source_settings(self, base_url: str) -> dict[str, Any]:
        """Updates to ``sources.<name>``: at least the base URL, plus any credential."""
        return {"base_url": base_url}

    def describe(self) -> str:
        """What it serves, for the demo's output: "12 reviews in 2 locations"."""
        raise NotImplementedError

    def advance(self, now: datetime) -> int:
        """Serve the data file's "later" items, timed relative to ``now``, so a second crawl finds news.

        Returns how many items were added or changed; the demo's second act calls it once (a later call
        adds nothing). A site without "later" data has nothing to add.
        """
        return 0
