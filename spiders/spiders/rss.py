"""Entries of RSS 2.0 / RSS 1.0 / Atom 1.0 feeds: Google Alerts, Talkwalker Alerts, blogs, news sites.

Each feed URL in a target's ``feeds`` is one scope, fetched once per run (robots.txt obeyed: these are
websites). An entry is new when its updated (or published) time is past the feed's watermark; an edit is
the same entry with a newer ``updated``. The request carries ``If-Modified-Since`` a day before the
watermark, so a quiet feed answers 304 and costs nothing, while a feed whose entry times run ahead of its
server's clock (a wrong time zone, common in hand-made feeds) is not wrongly answered 304.

How a feed document is read (safely, into plain-text entries with unwrapped links and stable ids) is
:mod:`spiders.feeds`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.http import Response

from monitor.core.source_settings import RssSettings
from spiders.base import ScopeState, SourceError, SourceSpider
from spiders.feeds import SOURCE, FeedEntry, FeedError, parse_feed
from spiders.items import MentionItem
from spiders.text import bounded_id, strip_html

CONDITIONAL_GET_MARGIN = timedelta(hours=24)
ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class Selection:
    entries: list[FeedEntry]
    deferred: int  # new dated entries left for the next run by the per-feed limit


def _changed_at(entry: FeedEntry) -> datetime:
    assert entry.changed_at is not None
    return entry.changed_at


def select_new(entries: list[FeedEntry], watermark: datetime | None, limit: int) -> Selection:
    """The entries past ``watermark``, oldest first, at most ``limit`` dated ones (plus ties at the cut).

    Taking the oldest first means a cut never skips anything for good: the watermark moves only to the
    newest entry taken, and the rest come next run. Undated entries cannot be placed and are always taken
    (storage deduplicates them), up to ``limit``.
    """
    dated = sorted(
        (e for e in entries if e.changed_at is not None and (watermark is None or e.changed_at > watermark)),
        key=_changed_at,
    )
    undated = [e for e in entries if e.changed_at is None][:limit]
    cut = min(limit, len(dated))
    while 0 < cut < len(dated) and dated[cut].changed_at == dated[cut - 1].changed_at:
        cut += 1  # entries sharing the boundary time go together, or the watermark would skip one
    return Selection(dated[:cut] + undated, len(dated) - cut)


def entry_to_item(entry: FeedEntry, *, feed_url: str, scope: str, target: str | None) -> MentionItem:
    """Map a feed entry to a MentionItem (validation judges it; no id -> rejected there)."""
    return MentionItem(
        source=SOURCE,
        external_id=entry.external_id,
        url=entry.link,
        author=entry.author,
        text=entry.text,
        lang=entry.lang,
        rating=None,
        reply_text=None,
        parent_id=entry.in_reply_to,
        reach=None,
        created_at=entry.published or entry.updated,
        updated_at=entry.updated or entry.published,
        target=target,
        raw={
            "feed": without_credentials(feed_url),
            "id": entry.entry_id,
            "link": entry.link,
            "xml": entry.raw_xml,
        },
        scope=scope,
    )


def without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part, which must not reach the database."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return parts.geturl()


def feed_scope(url: str) -> str:
    """The watermark scope of a feed: its URL without credentials, bounded in length."""
    return bounded_id(without_credentials(url))


# -- spider ------------------------------------------------------------------------------------------


@dataclass
class FeedScope(ScopeState):
    url: str = ""


class RssFeedSpider(SourceSpider[FeedScope]):
    """Read new and updated entries of every target's feeds."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("feeds",)
    source_label = "RSS/Atom"
    scope_noun = "feed"
    record_noun = "entry"
    custom_settings = {
        "ROBOTSTXT_OBEY": True,  # feeds live on websites
        "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,  # far above any real feed; stops a runaway body
        "DOWNLOAD_WARNSIZE": 4 * 1024 * 1024,
        "DEFAULT_REQUEST_HEADERS": {"Accept": ACCEPT, "Accept-Language": "pl, en;q=0.8"},
    }

    @property
    def api(self) -> RssSettings:
        return self.config.sources.rss

    def plan_scopes(self) -> Iterator[FeedScope]:
        for target in self.config.targets:
            for feed in target.feeds:
                url = urljoin(self.api.base_url, feed) if self.api.base_url else feed
                if urlsplit(url).scheme not in ("http", "https"):
                    self.record_error(
                        f"feed {feed!r} of {target.name!r} is a relative path but sources.rss.base_url is unset"
                    )
                    continue
                yield FeedScope(scope=feed_scope(url), target=target.name, url=url)

    def first_requests(self, state: FeedScope) -> Iterator[Request | None]:
        headers = {}
        if state.watermark is not None:
            since = state.watermark - CONDITIONAL_GET_MARGIN
            headers["If-Modified-Since"] = format_datetime(since.astimezone(UTC), usegmt=True)
        yield self.scope_request(
            state,
            state.url,
            headers=headers,
            meta={"handle_httpstatus_list": [304]},
            callback=self.parse_feed,
        )

    def parse_feed(self, response: Response, scope: str) -> Iterator[MentionItem]:
        """Yield the feed's new and updated entries, oldest first, then end the scope."""
        state = self.scopes[scope]
        state.pages += 1
        if response.status == 304:
            self.stats_inc("earshot/rss/not_modified")
            self.complete_scope(state)
            return
        try:
            feed = parse_feed(response.body, response.url)
        except FeedError as exc:
            self.stats_inc(f"earshot/rss/feed_errors/{exc.reason}")
            self.malformed_response(state, f"malformed feed: {exc}")
            return
        for reason, message in feed.rejected:
            self.reject_record(state, reason, message)
        selection = select_new(feed.entries, state.watermark, self.api.max_items_per_feed)
        for entry in selection.entries:
            if entry.bad_dates:
                self.stats_inc("earshot/rss/unreadable_dates")
                self.logger.debug("%s: unreadable date(s) %r in %s", scope, entry.bad_dates, entry.entry_id)
            item = entry_to_item(entry, feed_url=state.url, scope=scope, target=state.target)
            yield self.accept(state, item, entry.changed_at)
        if selection.deferred:
            self.stats_inc("earshot/rss/entries_deferred", selection.deferred)
            self.logger.warning(
                "%s: %d newer entries left for the next run (sources.rss.max_items_per_feed=%d)",
                scope,
                selection.deferred,
                self.api.max_items_per_feed,
            )
        self.complete_scope(state)

    def parse_error_response(self, response: Response) -> SourceError:
        hint = {
            401: "the feed needs a login; Earshot reads public feeds",
            403: "the site refuses the request (a private feed, or it blocks bots)",
            404: "check the feed URL",
            410: "the feed is gone; remove it from the target's feeds",
        }.get(response.status, "")
        text = " ".join(strip_html(response.body[:4000].decode("utf-8", "replace")).split())
        excerpt = text[:200] or "(empty body)"
        return SourceError(response.status, "", excerpt, hint=hint)
