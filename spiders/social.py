"""What the social-network search spiders (Reddit, Mastodon, Bluesky) share.

Their scopes are searches (a keyword or a hashtag of one target) over newest-first listings, so:

- one post can match several scopes of a run; it is handed on once, and still counts as read for every
  scope that met it, so each scope's watermark moves past it;
- none of them can list by edit time, so a run reads past the watermark for a lookback window: records
  created after the watermark are new, older ones in the window only when edited after it;
- a scope reads at most ``max_pages`` pages a run. On a first run that is the end of it (older history is
  never fetched); later, the scope is truncated and keeps its watermark, to be read again next run;
- Reddit and Bluesky log in once per run (a token or a session), with the first scope's requests while
  the base class holds the other scopes back, so a refused login costs one request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

from scrapy import Request

from spiders.base import SourceSpider, StateT
from spiders.items import MentionItem


def is_changed(created: datetime, edited: datetime | None, watermark: datetime | None) -> bool:
    """Whether a record is new (created after the watermark) or was edited after it."""
    if watermark is None or created > watermark:
        return True
    return edited is not None and edited > watermark


def is_past_lookback(created: datetime, watermark: datetime | None, lookback: timedelta) -> bool:
    """Whether a newest-first listing has gone past anything that can still be new or freshly edited."""
    return watermark is not None and created <= watermark - lookback


class SocialSearchSpider(SourceSpider[StateT]):
    """A source spider whose scopes search one social network; see the module doc."""

    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # authenticated APIs, not websites
        "DEFAULT_REQUEST_HEADERS": {"Accept": "application/json"},
    }
    max_pages: ClassVar[int] = 10
    listing_noun: ClassVar[str] = "results"  # what a page lists, for log lines: "statuses", "posts"
    created_field: ClassVar[str] = "creation time"  # the source's name for it, for log lines
    login_noun: ClassVar[str] = "login"  # what the run's login brings: "access token", "session"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: set[str] = set()  # external ids handed on in this run
        self.login_token: str | None = None  # the bearer token of the run's login, once it is in
        self._login_sent = False

    def login_request(self, state: StateT) -> Request | None:
        """The run's one login request, for a spider that logs in (see :meth:`search_after_login`)."""
        raise NotImplementedError

    def search_request(self, state: StateT, page: str | None) -> Request | None:
        """The scope's search request for ``page`` (None: the first page)."""
        raise NotImplementedError

    def search_after_login(self, state: StateT) -> Iterator[Request | None]:
        """The scope's first search once the run is logged in; the first scope sends the login instead.

        The login's callback calls :meth:`logged_in`. The base class holds the other scopes back until an
        answer arrives; once it did without a token, they fail without a request.
        """
        if self.login_token:
            yield self.search_request(state, None)
        elif self._login_sent:
            self.fail_scope(state, f"not read: no {self.login_noun} (the login failed, see above)")
        else:
            self._login_sent = True
            yield self.login_request(state)

    def logged_in(self, state: StateT, token: str) -> list[Request]:
        """Keep the run's token, then the first search of the scope that logged in.

        Login callbacks return this from a plain function, not a generator: it runs as soon as the answer
        arrives, before the scopes held back by the base class build their requests with the token.
        """
        self.login_token = token
        request = self.search_request(state, None)
        return [] if request is None else [request]

    def record_to_item(self, state: StateT, record: Any) -> MentionItem:
        """Map one listed record to an item, or raise InvalidItem saying why it cannot be one."""
        raise NotImplementedError

    def record_times(self, record: Any) -> tuple[datetime | None, datetime | None]:
        """``(created, edited)`` of one listed record; created is None when missing or unreadable."""
        raise NotImplementedError

    def item_once(self, state: StateT, record: Any, read_at: datetime) -> MentionItem | None:
        """The record as an item, or None when refused or already handed on by another scope this run.

        A duplicate still counts as read at ``read_at`` for this scope's watermark: another scope carries it.
        """
        item = self.to_item(state, self.record_to_item, state, record)
        if item is None:
            return None
        key = item.get("external_id")
        if isinstance(key, str):
            if key in self._seen:
                self.stats_inc(f"earshot/{self.name}/duplicates_skipped")
                if state.newest is None or read_at > state.newest:
                    state.newest = read_at
                return None
            self._seen.add(key)
        return item

    def changed_records(
        self, state: StateT, records: Iterable[Any], lookback: timedelta
    ) -> Iterator[MentionItem]:
        """The page's new and freshly edited records; completes the scope once past the lookback window."""
        for record in records:
            created, edited = self.record_times(record)
            if created is None:
                message = f"a {self.record_noun} without a readable {self.created_field}"
                self.reject_record(state, "bad_timestamp", message)
                continue
            if is_changed(created, edited, state.watermark):
                item = self.item_once(state, record, created)
                if item is not None:
                    yield self.accept(state, item, created)
            if is_past_lookback(created, state.watermark, lookback):
                self.complete_scope(state)
                return

    def next_search(
        self, state: StateT, listed: bool, cursor: str | None, seen: set[str]
    ) -> Iterator[Request]:
        """The scope's next page after one that ``listed`` records and named ``cursor``, or the scope's end.

        ``seen`` holds the cursors this scope followed: one the source names again would loop forever.
        """
        yield from self.follow_token(
            state,
            cursor if listed else None,
            seen,
            lambda page: self.search_request(state, page),
            loop_message=f"{self.source_label} returned a cursor it had already returned (paging loop)",
            at_cap=self.page_cap_reached,
        )

    def page_cap_reached(self, state: StateT) -> bool:
        """End the scope at ``max_pages`` (complete on a first run, else truncate); True when it ended."""
        if state.pages < self.max_pages:
            return False
        if state.watermark is None:  # a first run: older history is not fetched, and never will be
            self.logger.info(
                "%s: first run read the newest %d pages; older %s are not fetched",
                state.scope,
                self.max_pages,
                self.listing_noun,
            )
            self.complete_scope(state)
        else:
            self.truncate_scope(
                state,
                f"more than {self.max_pages} pages of new {self.listing_noun} since the last run; its "
                "watermark stays and the next run reads it again",
            )
        return True
