"""Stories and comments on Hacker News that mention a target's keywords, from the HN Search API (Algolia).

``GET {base_url}/api/v1/search_by_date?query=K&tags=(story,comment)&numericFilters=created_at_i>T
&hitsPerPage=N&page=P`` returns the hits created after ``T``, newest first, ``nbPages`` pages of them.
Each keyword is one scope; its watermark is the newest ``created_at`` read.

Incremental and edits: HN lets authors edit a story or comment for two hours, and Algolia's filter knows
only the creation time. So a run asks for everything created after ``watermark - EDIT_WINDOW``: each item
is read once more by the first run that starts after its edit window closed (that run's watermark is
older than the window's end), and the upsert stores an edited text as a new version and an unchanged one
as unchanged. The first run of a keyword looks back ``FIRST_RUN_LOOKBACK`` only: a brand's whole HN
history would be old news, and an alert storm.

Algolia serves at most 1000 hits of one query (``nbPages`` stops there). When a window holds more, the
run goes on below the oldest hit read (``created_at_i<=oldest``) rather than losing the older ones. An
item found by two keywords is one mention (its objectID is the external id). No credentials.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from scrapy import Request
from scrapy.http import Response

from monitor.core.source_settings import HackerNewsSettings
from spiders.base import ScopeState, SourceError, SourceSpider, body_excerpt
from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, MentionItem, epoch_time, optional_timestamp, whole_count
from spiders.responses import error_object, json_object, key_list
from spiders.text import strip_html

SOURCE = "hackernews"
SEARCH_PATH = "/api/v1/search_by_date"
ITEM_URL = "https://news.ycombinator.com/item?id={id}"
TAGS = "(story,comment)"
EDIT_WINDOW = timedelta(hours=2)  # HN's edit window: items this much older than the watermark are re-read
FIRST_RUN_LOOKBACK = timedelta(days=30)
# Algolia's per-hit extras: the same text again with <em> marks, and scoring details; not kept in raw.
_NOT_RAW = frozenset({"_highlightResult", "_snippetResult", "_rankingInfo"})


class PagingStuck(ValueError):
    """More hits share one second than a query can return, so walking down in time cannot progress."""


@dataclass(frozen=True)
class SearchPage:
    hits: list[Any]
    nb_pages: int
    nb_hits: int
    hits_per_page: int


@dataclass(frozen=True)
class NextRequest:
    """Where the next request of a keyword's window starts: an Algolia page under an optional time cap."""

    page: int
    upper: int | None  # created_at_i <= upper, once the 1000-hit cap forced a walk down in time


def _count(data: dict[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedResponse(SOURCE, f"'{key}' is {repr(value)[:30]}, not a count")
    return value


def parse_search_page(body: bytes) -> SearchPage:
    """Read a search_by_date result, or raise MalformedResponse (a page without ``hits`` is not one)."""
    data = json_object(body, SOURCE)
    hits = data.get("hits")
    if not isinstance(hits, list):
        raise MalformedResponse(SOURCE, f"no 'hits' list in the response ({key_list(data)})")
    return SearchPage(
        hits=hits,
        nb_pages=_count(data, "nbPages", 1),
        nb_hits=_count(data, "nbHits", len(hits)),
        hits_per_page=_count(data, "hitsPerPage", max(len(hits), 1)),
    )


def _epoch(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def hit_created_at(hit: Any) -> datetime | None:
    """When the item was posted (aware UTC): ``created_at_i`` (exact), else ``created_at``; None if neither."""
    if not isinstance(hit, dict):
        return None
    return epoch_time(_epoch(hit.get("created_at_i"))) or optional_timestamp(hit.get("created_at"))


def _updated_at(hit: dict[str, Any], created: datetime | None) -> datetime | None:
    """Algolia's ``updated_at`` (its last change to the hit: an edit, or new points), when readable."""
    updated = optional_timestamp(hit.get("updated_at"))
    return updated if updated is None or created is None or updated >= created else None


def is_comment(hit: dict[str, Any]) -> bool:
    tags = hit.get("_tags")
    if isinstance(tags, list) and ("comment" in tags or "story" in tags):
        return "comment" in tags
    return hit.get("comment_text") is not None and hit.get("title") is None


def hit_text(hit: dict[str, Any]) -> Any:
    """Plain text of a comment, or a story's title followed by its text; HTML markup is removed."""
    if is_comment(hit):
        body = hit.get("comment_text")
        return strip_html(body) if isinstance(body, str) else body
    title, body = hit.get("title"), hit.get("story_text")
    title_text = " ".join(title.split()) if isinstance(title, str) else ""
    body_text = strip_html(body) if isinstance(body, str) else ""
    if title is not None and not isinstance(title, str):
        return title  # not text: validation rejects it with its reason
    return f"{title_text}\n\n{body_text}" if title_text and body_text else title_text or body_text


def item_url(object_id: Any) -> str | None:
    if not isinstance(object_id, str) or not object_id:
        return None
    return ITEM_URL.format(
        id=quote(object_id, safe="", errors="replace")
    )  # lone surrogates cannot be encoded


def _parent(hit: dict[str, Any]) -> str | None:
    if not is_comment(hit):
        return None
    parent = hit.get("parent_id")
    if isinstance(parent, int) and not isinstance(parent, bool):
        return str(parent)
    return parent if isinstance(parent, str) and parent else None


def hit_to_item(hit: Any, *, scope: str, target: str | None) -> MentionItem:
    """Map one Algolia hit to a MentionItem without judging values (validation does that).

    Raises InvalidItem only when ``hit`` is not an object at all.
    """
    if not isinstance(hit, dict):
        raise InvalidItem("not_an_object", f"hit is {type(hit).__name__}, not an object")
    created = hit_created_at(hit)
    object_id = hit.get("objectID")
    return MentionItem(
        source=SOURCE,
        external_id=object_id,
        url=item_url(object_id),
        author=hit.get("author"),
        text=hit_text(hit),
        lang=None,  # Algolia does not say; the sentiment stage detects it
        rating=None,
        reply_text=None,
        parent_id=_parent(hit),
        reach=whole_count(hit.get("points")),  # stories' points; a value that is not a count stays in raw
        created_at=created or hit.get("created_at"),
        updated_at=_updated_at(hit, created),
        target=target,
        raw={k: v for k, v in hit.items() if k not in _NOT_RAW},
        scope=scope,
    )


def lower_bound(watermark: datetime | None, now: datetime) -> int:
    """``created_at_i`` above which a run reads: the edit window before the watermark, or the lookback."""
    since = watermark - EDIT_WINDOW if watermark is not None else now - FIRST_RUN_LOOKBACK
    return math.floor(since.timestamp())


def numeric_filters(lower: int, upper: int | None) -> str:
    bounds = f"created_at_i>{lower}"
    return f"{bounds},created_at_i<={upper}" if upper is not None else bounds


def next_request(page: SearchPage, current: NextRequest) -> NextRequest | None:
    """The request after ``page`` (the answer to ``current``), or None when the window is read to its end.

    Past Algolia's last reachable page with hits left over (the 1000-hit cap), the walk continues from
    page 0 below the oldest hit read; the hits at that second are read again, not skipped. The page
    number comes from the request, not the answer, so a server repeating "page 0" cannot loop the run.
    """
    upper = current.upper
    if current.page + 1 < page.nb_pages:
        return NextRequest(current.page + 1, upper)
    if page.nb_hits <= (current.page + 1) * page.hits_per_page:
        return None
    stamps = (_epoch(h.get("created_at_i")) for h in page.hits if isinstance(h, dict))
    times = [t for t in stamps if t is not None]
    if not times:
        return None
    oldest = min(times)
    if upper is not None and oldest >= upper:
        raise PagingStuck(f"more than {page.nb_hits - 1} hits at created_at_i={oldest}; cannot page further")
    return NextRequest(0, oldest)


def parse_algolia_error(body: bytes) -> str:
    """The ``message`` of Algolia's ``{"message", "status"}`` error body, or the start of another body."""
    data = error_object(body)
    message = data.get("message") if data is not None else None
    return str(message)[:500] if message else body_excerpt(body)


def keyword_scope(keyword: str) -> str:
    """The watermark scope of a keyword: Algolia's search ignores case, so the scope does too."""
    return "search:" + " ".join(keyword.split()).casefold()


@dataclass
class SearchScope(ScopeState):
    """One keyword's progress: its query, the time window and page being read, the hits already taken."""

    keyword: str = ""
    lower: int = 0
    upper: int | None = None
    page: int = 0
    seen: set[str] = field(default_factory=set)


class HackerNewsSpider(SourceSpider[SearchScope]):
    """Read new (and recently edited) HN stories and comments for every target's keywords."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("keywords",)
    source_label = "Hacker News"
    scope_noun = "keyword"
    record_noun = "item"
    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # a documented public API, not a website
        "DEFAULT_REQUEST_HEADERS": {"Accept": "application/json"},
    }

    @property
    def api(self) -> HackerNewsSettings:
        return self.config.sources.hackernews

    def plan_scopes(self) -> Iterator[SearchScope]:
        for target in self.config.targets:
            for keyword in target.keywords:
                query = " ".join(keyword.split())
                if query:
                    yield SearchScope(scope=keyword_scope(query), target=target.name, keyword=query)

    def first_requests(self, state: SearchScope) -> Iterator[Request | None]:
        state.lower = lower_bound(state.watermark, datetime.now(UTC))
        yield self._search_request(state)

    def _search_request(self, state: SearchScope) -> Request | None:
        params = {
            "query": state.keyword,
            "tags": TAGS,
            "numericFilters": numeric_filters(state.lower, state.upper),
            "hitsPerPage": self.api.hits_per_page,
            "page": state.page,
        }
        base = self.api.base_url.rstrip("/")
        return self.scope_request(
            state, f"{base}{SEARCH_PATH}?{urlencode(params, quote_via=quote)}", callback=self.parse_search
        )

    def parse_search(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's hits not yet taken this run, then the next page or the keyword's end."""
        state = self.scopes[scope]
        page = self.read_page(state, lambda: parse_search_page(response.body))
        if page is None:
            return
        for hit in page.hits:
            object_id = hit.get("objectID") if isinstance(hit, dict) else None
            if isinstance(object_id, str) and object_id in state.seen:
                continue  # listed again: new items pushed it to the next page, or the time walk overlaps
            created = hit_created_at(hit)
            if isinstance(hit, dict) and created is None:
                self.reject_record(state, "missing_created_at", f"hit {str(object_id)[:40]!r} has no time")
                continue
            item = self.to_item(state, hit_to_item, hit, scope=scope, target=state.target)
            if item is None:
                continue
            if isinstance(object_id, str):
                state.seen.add(object_id)
            yield self.accept(state, item, created)
        try:
            step = next_request(page, NextRequest(state.page, state.upper))
        except PagingStuck as exc:
            self.fail_scope(state, str(exc))
            return
        if step is None:
            self.complete_scope(state)
            return
        state.page, state.upper = step.page, step.upper
        request = self._search_request(state)
        if request is not None:
            yield request

    def parse_error_response(self, response: Response) -> SourceError:
        """Algolia's error message; a refusal (401/403) ends the run: every keyword would get it too."""
        message = parse_algolia_error(response.body)
        refused = response.status in (401, 403)
        hint = {
            400: "Algolia refused the query; check the target's keywords",
            404: "check sources.hackernews.base_url",
        }.get(response.status, "")
        if refused:
            hint = (
                "HN Search refused this client (it needs no credential: the address may be blocked or "
                "the API changed); no further requests are sent this run"
            )
        return SourceError(response.status, "", message, auth=refused, hint=hint)
