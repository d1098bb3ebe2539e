"""Mastodon statuses in a target's hashtags and matching its keywords, from one instance's REST API.

Each target's ``hashtags`` are read from ``GET {base_url}/api/v1/timelines/tag/{hashtag}?limit=40`` (paging
with the ``Link`` header's ``rel="next"``), and its ``keywords`` from the status search
``GET {base_url}/api/v2/search?q=...&type=statuses&resolve=false&limit=40`` (paging with ``offset``; it
needs a token and an instance with full-text search, and finds only posts their authors made searchable).
Both list statuses newest first. The access token goes in ``Authorization: Bearer``.

Incremental: the watermark is the newest ``created_at`` read. Mastodon ids are snowflakes whose high bits
are the creation time in milliseconds, so a time converts into an id bound: the timeline is asked for
``since_id`` and the search for ``min_id`` (which Mastodon turns into an ``after:`` date filter) at the
watermark minus ``EDIT_LOOKBACK``. The server then returns only that window, newest first, and a run reads
it to its end. ``since_id`` rather than ``min_id`` on the timeline: with ``min_id`` Mastodon returns the
*oldest* page above the bound and pages forwards through ``rel="prev"``, a second paging mode for no
gain. Statuses created after the watermark are new; older ones in the window are handed on only when their
``edited_at`` is after the watermark (an edit).

A status is stored under its ``uri``, the ActivityPub id that names it on every instance: the same post
found by a hashtag and a keyword is one mention, and stays one if ``base_url`` moves to another instance.
``in_reply_to_id`` (the parent) is this instance's id, which is all the API gives. Boosts are unwrapped: the
boosted status is stored, once. ``content`` is HTML and is stored as plain text, after the content
warning. Reach is the author's follower count.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from scrapy import Request
from scrapy.http import Response

from monitor.core.source_settings import MastodonSettings, source_env_var
from spiders.base import ScopeState, SourceError
from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, MentionItem, optional_timestamp, whole_count
from spiders.middlewares import RateLimitStatus, header_float
from spiders.responses import error_object, error_text, key_list, load_json
from spiders.social import SocialSearchSpider
from spiders.text import bounded_id, primary_language, strip_html

SOURCE = "mastodon"
TOKEN_ENV = source_env_var(SOURCE, "access_token")
PAGE_LIMIT = 40  # Mastodon's maximum for timelines and search
MAX_PAGES = 10
EDIT_LOOKBACK = timedelta(hours=24)
# One link-value of RFC 8288: <uri> then ;-parameters, whose quoted values may hold ";" and ",".
_LINK = re.compile(r'<([^<>]*)>((?:\s*;\s*[^;,"]*(?:"[^"]*"[^;,"]*)*)*)')
_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))', re.IGNORECASE)


def snowflake_floor(when: datetime) -> int:
    """The smallest status id Mastodon can give a status created at ``when`` (its second, 0 ms).

    Mastodon ids are ``milliseconds << 16`` plus a sequence; for backdated statuses it draws the
    milliseconds at random within the second, hence the floor to the second.
    """
    return (int(when.timestamp()) * 1000) << 16


def parse_link_header(value: str) -> dict[str, str]:
    """``{rel: url}`` from an RFC 8288 ``Link`` header such as Mastodon's ``<...>; rel="next", <...>; rel="prev"``."""
    links: dict[str, str] = {}
    for match in _LINK.finditer(value):
        url, params = match.group(1).strip(), match.group(2)
        for rel_match in _REL.finditer(params):
            for rel in (rel_match.group(1) or rel_match.group(2) or "").split():
                links.setdefault(rel.lower(), url)
    return links


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the configured instance; the bearer token must not go anywhere else."""
    try:
        a, b = urlsplit(url), urlsplit(base_url)
        return (a.scheme.lower(), a.hostname, a.port) == (b.scheme.lower(), b.hostname, b.port)
    except ValueError:
        return False


def with_param(url: str, name: str, value: str) -> str:
    """``url`` with query parameter ``name`` set to ``value`` (replacing any earlier value)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def parse_statuses(body: bytes) -> list[Any]:
    """A timeline: a JSON array of statuses, or MalformedResponse."""
    data = load_json(body, SOURCE)
    if not isinstance(data, list):
        detail = f" (error: {str(data['error'])[:200]})" if isinstance(data, dict) and "error" in data else ""
        raise MalformedResponse(
            SOURCE, f"expected a JSON array of statuses, got {type(data).__name__}{detail}"
        )
    return data


def parse_search(body: bytes) -> list[Any]:
    """A v2 search result ``{"accounts", "statuses", "hashtags"}``: its statuses, or MalformedResponse."""
    data = load_json(body, SOURCE)
    if not isinstance(data, dict):
        raise MalformedResponse(SOURCE, f"expected a search result object, got {type(data).__name__}")
    statuses = data.get("statuses")
    if not isinstance(statuses, list):
        raise MalformedResponse(SOURCE, f"no 'statuses' list in the search result ({key_list(data)})")
    return statuses


def original(status: Any) -> Any:
    """The boosted status of a boost, else the status itself."""
    if isinstance(status, dict) and isinstance(status.get("reblog"), dict):
        return status["reblog"]
    return status


def status_times(status: Any) -> tuple[datetime | None, datetime | None]:
    """``(created, edited)``: the listing's own created_at (its order) and the original's edited_at."""
    if not isinstance(status, dict):
        return None, None
    source = original(status)
    edited = optional_timestamp(source.get("edited_at")) if isinstance(source, dict) else None
    return optional_timestamp(status.get("created_at")), edited


def status_text(status: dict[str, Any]) -> Any:
    """Plain text of the status: its content warning, then its HTML content without tags."""
    content = status.get("content")
    if not isinstance(content, str):
        return content
    text = strip_html(content)
    warning = status.get("spoiler_text")
    if isinstance(warning, str) and warning.strip():
        return f"{warning.strip()}\n\n{text}" if text else warning.strip()
    return text


def status_to_item(status: Any, *, scope: str, target: str | None) -> MentionItem:
    """Map a Status (a boost maps to the boosted status) to a MentionItem; validation judges values."""
    source = original(status)
    if not isinstance(source, dict):
        raise InvalidItem("not_an_object", f"status is {type(source).__name__}, not an object")
    account = source.get("account")
    account = account if isinstance(account, dict) else {}
    name = account.get("display_name")
    author = name if isinstance(name, str) and name.strip() else account.get("acct")
    lang = source.get("language")
    url = source.get("url") or source.get("uri")
    parent = source.get("in_reply_to_id")
    return MentionItem(
        source=SOURCE,
        external_id=source.get("uri"),
        url=url,
        author=author,
        text=status_text(source),
        lang=primary_language(lang) if isinstance(lang, str) else None,
        rating=None,
        reply_text=None,
        parent_id=str(parent) if isinstance(parent, str | int) and not isinstance(parent, bool) else None,
        reach=whole_count(account.get("followers_count")),
        created_at=source.get("created_at"),
        updated_at=source.get("edited_at") or source.get("created_at"),
        target=target,
        raw=source,
        scope=scope,
    )


def parse_mastodon_error(body: bytes) -> tuple[str, str]:
    """``(code, message)`` from Mastodon's ``{"error": "...", "error_description"?}`` or a proxy's page."""
    data = error_object(body)
    if data is not None and isinstance(data.get("error"), str):
        description = data.get("error_description")
        if isinstance(description, str) and description:
            return data["error"][:100], description[:500]
        return "", data["error"][:500]
    return "", error_text(body)


def hashtag_name(value: str) -> str:
    """``allegro`` from ``#Allegro``: Mastodon matches hashtags case-insensitively."""
    return value.strip().lstrip("#").strip().lower()


@dataclass
class MastodonScope(ScopeState):
    kind: str = "tag"  # "tag" (hashtag timeline) or "search" (status search)
    term: str = ""
    bound: str | None = None  # since_id / min_id derived from the watermark
    offset: int = 0
    next_urls: set[str] = field(default_factory=set)


class MastodonSpider(SocialSearchSpider[MastodonScope]):
    """Read new and recently edited statuses of every target's hashtags and keywords."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("hashtags", "keywords")
    source_label = "Mastodon"
    scope_noun = "hashtag or search"
    record_noun = "status"
    credential_help = {
        "access_token": "the access token of an application on that instance (read scope)",
    }

    max_pages = MAX_PAGES
    listing_noun = "statuses"
    created_field = "created_at"

    @property
    def api(self) -> MastodonSettings:
        return self.config.sources.mastodon

    def plan_scopes(self) -> Iterator[MastodonScope]:
        for target in self.config.targets:
            for tag in (hashtag_name(h) for h in target.hashtags):
                if tag:
                    yield MastodonScope(
                        scope=bounded_id(f"{target.name}|#{tag}"), target=target.name, term=tag
                    )
            for keyword in (k.strip() for k in target.keywords):
                if keyword:
                    yield MastodonScope(
                        scope=bounded_id(f"{target.name}|q={keyword}"),
                        target=target.name,
                        kind="search",
                        term=keyword,
                    )

    # -- requests ------------------------------------------------------------------------------------

    def first_requests(self, state: MastodonScope) -> Iterator[Request | None]:
        if state.watermark is not None:
            state.bound = str(snowflake_floor(state.watermark - EDIT_LOOKBACK) - 1)
        base = self.api.base_url.rstrip("/")
        if state.kind == "tag":
            params: dict[str, Any] = {"limit": PAGE_LIMIT}
            if state.bound:
                params["since_id"] = state.bound
            url = f"{base}/api/v1/timelines/tag/{quote(state.term, safe='')}?{urlencode(params)}"
            yield self._request(state, url, self.parse_timeline)
        else:
            yield self._search_request(state)

    def _search_request(self, state: MastodonScope) -> Request | None:
        params: dict[str, Any] = {
            "q": state.term,
            "type": "statuses",
            "resolve": "false",
            "limit": PAGE_LIMIT,
        }
        if state.bound:
            params["min_id"] = state.bound
        if state.offset:
            params["offset"] = state.offset
        url = f"{self.api.base_url.rstrip('/')}/api/v2/search?{urlencode(params, quote_via=quote)}"
        return self._request(state, url, self.parse_search)

    def _request(self, state: MastodonScope, url: str, callback: Callable[..., Any]) -> Request | None:
        return self.scope_request(
            state,
            url,
            headers={"Authorization": f"Bearer {self.credential('access_token')}"},
            callback=callback,
        )

    # -- callbacks -----------------------------------------------------------------------------------

    def parse_timeline(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield a hashtag page's new and freshly edited statuses, then follow ``rel="next"``."""
        state = self.scopes[scope]
        statuses = yield from self._changed_statuses(state, response, parse_statuses)
        if statuses is None:
            return
        link = response.headers.get("Link")
        next_url = parse_link_header(link.decode("latin-1")).get("next") if link else None
        if not statuses or not next_url:
            self.complete_scope(state)
            return
        if not same_origin(next_url, self.api.base_url):
            self.fail_scope(
                state, f"refused to follow a Link to another host ({urlsplit(next_url).netloc[:100]})"
            )
            return
        if state.bound:  # Mastodon drops since_id from its next links; keep the window
            next_url = with_param(next_url, "since_id", state.bound)
        yield from self.follow_token(
            state,
            next_url,
            state.next_urls,
            lambda url: self._request(state, url, self.parse_timeline),
            loop_message="Mastodon returned a next link it had already returned (paging loop)",
            at_cap=self.page_cap_reached,
        )

    def parse_search(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield a search page's new and freshly edited statuses, then ask for the next ``offset``."""
        state = self.scopes[scope]
        statuses = yield from self._changed_statuses(state, response, parse_search)
        if statuses is None:
            return
        # A short page is not the end: Mastodon drops statuses it hides after applying the limit.
        if not statuses:
            self.complete_scope(state)
        elif not self.page_cap_reached(state):
            state.offset += PAGE_LIMIT
            request = self._search_request(state)
            if request is not None:
                yield request

    def _changed_statuses(
        self, state: MastodonScope, response: Response, parse: Callable[[bytes], list[Any]]
    ) -> Generator[MentionItem, None, list[Any] | None]:
        """Yield the page's new and freshly edited statuses; return the page's statuses, or None when the
        scope ended on this page (unreadable, or past the lookback window)."""
        statuses = self.read_page(state, lambda: parse(response.body))
        if statuses is None:
            return None
        yield from self.changed_records(state, statuses, EDIT_LOOKBACK)
        return None if state.finished else statuses

    def record_to_item(self, state: MastodonScope, record: Any) -> MentionItem:
        item = status_to_item(record, scope=state.scope, target=state.target)
        if isinstance(record, dict) and isinstance(record.get("reblog"), dict):
            self.stats_inc("earshot/mastodon/boosts_unwrapped")
        return item

    def record_times(self, record: Any) -> tuple[datetime | None, datetime | None]:
        return status_times(record)

    # -- errors and rate limits ----------------------------------------------------------------------

    def parse_error_response(self, response: Response) -> SourceError:
        """Mastodon's ``{"error"}`` body; a refused token (401, 403) ends the run."""
        code, message = parse_mastodon_error(response.body)
        auth = response.status in (401, 403)
        if auth:
            hint = f"the access token was refused: check {TOKEN_ENV} and that the token has the read scope"
        elif response.status in (400, 422):
            hint = "check the target's hashtags and keywords"
        else:
            hint = ""
        return SourceError(response.status, code, message, auth=auth, hint=hint)

    def rate_limit_status(self, response: Response) -> RateLimitStatus | None:
        """``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (an ISO 8601 time) as Mastodon sends them."""
        remaining = header_float(response.headers, "X-RateLimit-Remaining")
        reset_at = response.headers.get("X-RateLimit-Reset")
        reset = None
        if reset_at:
            when = optional_timestamp(reset_at.decode("latin-1").strip())
            if when is not None:
                reset = max(0.0, when.timestamp() - time.time())
        if remaining is None and reset is None:
            return None
        return RateLimitStatus(remaining, reset)
