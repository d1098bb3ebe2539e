"""Opinions about products and shops on Ceneo.pl, read from its HTML pages (Ceneo has no public API).

Each entry of a target's ``ceneo_urls`` (a URL, or a path under ``sources.ceneo.base_url``) is one scope:
the product (``/142071337``) or shop (``/sklepy/sklep-testowy.pl-s40321``) whose opinions are read.
Page 1 is the configured page; later pages (``/142071337/opinie-2``...) are found through the
``a.pagination__next`` link, never guessed. Ceneo lists opinions newest first, so a run stops paging at
the first page that reaches back to the scope's watermark (the newest publication time stored): new
opinions are read, older pages are not requested again.

Ceneo shows no edit time, so change detection is by content: every opinion on the pages a run reads
(always at least page 1) goes to the pipeline, whose upsert stores an unchanged one as unchanged and an
edited one (new text or score) as an edit with the old version kept; helpful-vote counts are refreshed on
the way. Edits to opinions that have moved past page 1 are not seen.

This is a website: robots.txt is obeyed, requests carry the project User-Agent, one at a time per host,
with AutoThrottle on. Times on the page are Polish local time (Europe/Warsaw) and are stored as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from parsel import Selector
from scrapy import Request
from scrapy.http import Response, TextResponse

from monitor.core.source_settings import CeneoSettings
from spiders.base import ScopeState, SourceError, SourceSpider
from spiders.errors import MalformedResponse
from spiders.items import MentionItem, optional_timestamp, parse_timestamp
from spiders.text import normalise_space, strip_html

SOURCE = "ceneo"
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

OPINION = "div.user-post"
# The opinions tab of a product or shop page; present (and empty) when nothing has been reviewed yet.
REVIEWS_SECTION = "div.js_product-reviews, div.product-reviews, #reviews"
POSITIVES = "review-feature__title--positives"
NEGATIVES = "review-feature__title--negatives"
FEATURE_ITEMS = (
    ".//div[contains(concat(' ', normalize-space(@class), ' '), ' {title} ')]"
    "/following-sibling::div[contains(concat(' ', normalize-space(@class), ' '), ' review-feature__item ')]"
)
PROS_LABEL, CONS_LABEL = "Zalety", "Wady"

_PAGE_SUFFIX = re.compile(r"/opinie-\d+$")
_SCORE = re.compile(r"(\d{1,3}(?:[.,]\d{1,3})?)\s*/\s*(\d{1,3})", re.ASCII)
_COUNT = re.compile(r"\d{1,9}", re.ASCII)
_LOCAL_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class CeneoOpinion:
    """One opinion block as the page shows it; times are aware UTC, unreadable values kept as text."""

    entry_id: str | None
    author: str | None
    score: float | str | None  # 4.5 from "4,5/5"; the text itself when it cannot be read
    text: str
    pros: tuple[str, ...] = ()
    cons: tuple[str, ...] = ()
    published: datetime | None = None
    purchased: datetime | None = None
    helpful: int | None = None  # "Przydatna" / vote-yes
    unhelpful: int | None = None  # "Nieprzydatna" / vote-no
    verified_purchase: bool = False
    recommendation: str | None = None  # "Polecam" / "Nie polecam"
    raw_dates: tuple[str, ...] = ()

    @property
    def full_text(self) -> str:
        """The opinion followed by its pros and cons, as a reader would take them in."""
        parts = [self.text] if self.text else []
        if self.pros:
            parts.append(f"{PROS_LABEL}: " + ", ".join(self.pros))
        if self.cons:
            parts.append(f"{CONS_LABEL}: " + ", ".join(self.cons))
        if len(parts) > 1 and self.text:
            return parts[0] + "\n\n" + "\n".join(parts[1:])
        return "\n".join(parts)


@dataclass(frozen=True)
class OpinionsPage:
    opinions: list[CeneoOpinion]
    next_url: str | None


# -- values ------------------------------------------------------------------------------------------


def parse_score(text: str | None) -> float | str | None:
    """``"4,5/5"`` -> 4.5; other scales are brought to 0-5. Unreadable text is returned as it is.

    None when there is no score at all. Never raises.
    """
    if text is None or not text.strip():
        return None
    match = _SCORE.search(text)
    if match is None:
        return text.strip()[:40]
    value, scale = float(match.group(1).replace(",", ".")), int(match.group(2))
    if scale <= 0:
        return text.strip()[:40]
    return round(value * 5 / scale, 3) if scale != 5 else value


def parse_count(text: str | None) -> int | None:
    """The first whole number in ``text`` ("14", "Tak 14"), or None."""
    match = _COUNT.search(text or "")
    return int(match.group()) if match else None


@cache
def warsaw() -> ZoneInfo:
    """Poland's time zone, looked up on first use: a system without tz data (install ``tzdata``) then fails
    only Ceneo's crawl, not the loading of every spider."""
    return ZoneInfo("Europe/Warsaw")


def parse_local_time(value: str | None) -> datetime | None:
    """Ceneo's ``datetime="2026-11-08 21:14:09"`` (Warsaw local time) as aware UTC; None if unreadable.

    A value with an explicit offset is taken as it is.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    explicit = optional_timestamp(text)
    if explicit is not None:
        return explicit
    try:
        naive = datetime.strptime(text, _LOCAL_TIME)
    except ValueError:
        try:
            naive = datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            return None
    return parse_timestamp(naive.replace(tzinfo=warsaw()))


def _text_of(node: Selector, css: str) -> str | None:
    found = node.css(css)
    if not found:
        return None
    return normalise_space(strip_html(found[0].get())) or None


def _features(node: Selector, title_class: str) -> tuple[str, ...]:
    items = (
        normalise_space(strip_html(item.get()))
        for item in node.xpath(FEATURE_ITEMS.format(title=title_class))
    )
    return tuple(item for item in items if item)


def _votes(node: Selector, kind: str) -> int | None:
    total = node.css(f"button.vote-{kind}::attr(data-total-vote)").get()
    if total is None:
        total = node.css(f"span[id^='votes-{kind}']::text").get()
    return parse_count(total)


def parse_opinion(node: Selector) -> CeneoOpinion:
    """Read one ``div.user-post`` block; missing parts become None or empty, never an exception."""
    times = [t.strip() for t in node.css("span.user-post__published time::attr(datetime)").getall()]
    entry_id = (node.attrib.get("data-entry-id") or "").strip() or None
    verified = bool(node.css("div.review-pz")) or "potwierdzon" in (
        _text_of(node, "div.user-post__footer") or ""
    )
    return CeneoOpinion(
        entry_id=entry_id,
        author=_text_of(node, "span.user-post__author-name"),
        score=parse_score(_text_of(node, "span.user-post__score-count")),
        text=_text_of(node, "div.user-post__text") or "",
        pros=_features(node, POSITIVES),
        cons=_features(node, NEGATIVES),
        published=parse_local_time(times[0]) if times else None,
        purchased=parse_local_time(times[1]) if len(times) > 1 else None,
        helpful=_votes(node, "yes"),
        unhelpful=_votes(node, "no"),
        verified_purchase=verified,
        recommendation=_text_of(node, "span.user-post__author-recomendation em"),
        raw_dates=tuple(times),
    )


def parse_opinions_page(body: str, page_url: str, *, first_page: bool) -> OpinionsPage:
    """Read an opinions page, or raise MalformedResponse when it is not one (a bot check, a consent wall,
    a redesigned layout).

    Page 1 of a product or shop nobody has reviewed has the opinions tab and no opinion in it; that is an
    empty page. A page with neither opinions nor the tab, or a later page without opinions, is malformed.
    """
    page = Selector(text=body or "<html></html>", type="html")
    nodes = page.css(OPINION)
    if not nodes:
        if not first_page:
            raise MalformedResponse(SOURCE, "a later opinions page without any opinion (div.user-post)")
        if not page.css(REVIEWS_SECTION):
            title = normalise_space(" ".join(page.css("title::text").getall()))[:120] or "no title"
            raise MalformedResponse(SOURCE, f"no opinions and no opinions section on the page ({title!r})")
    href = page.css("a.pagination__next::attr(href)").get()
    next_url = urljoin(page_url, href.strip()) if href and href.strip() else None
    return OpinionsPage([parse_opinion(node) for node in nodes], next_url)


def parse_opinions(response: Response, *, first_page: bool) -> OpinionsPage:
    """:func:`parse_opinions_page` of an HTML response; MalformedResponse for anything else (an image, a PDF)."""
    if not isinstance(response, TextResponse):
        raise MalformedResponse(SOURCE, "not an HTML page")
    return parse_opinions_page(response.text, response.url, first_page=first_page)


def error_page_summary(body: bytes) -> str:
    """What an error page says, on one line: its title and first heading, else the start of its text."""
    text = body[:20_000].decode("utf-8", "replace")
    page = Selector(text=text or "<html></html>", type="html")
    parts = [normalise_space(" ".join(page.css(css).getall())) for css in ("title::text", "h1 ::text")]
    summary = " – ".join(part for part in parts if part) or " ".join(strip_html(text[:4000]).split())
    return summary[:200] or "(empty body)"


# -- scopes and items --------------------------------------------------------------------------------


def scope_path(url: str) -> str:
    """The product or shop path a URL belongs to: ``/142071337`` for ``.../142071337/opinie-3#tab=reviews``.

    Host, query and fragment are dropped, so a URL and a path for the same product are one scope.
    """
    path = urlsplit(url).path.rstrip("/") or "/"
    return _PAGE_SUFFIX.sub("", path) or "/"


def same_scope(url: str, page_url: str, scope: str) -> bool:
    """Whether a pagination link stays on the page's host and under the same product or shop."""
    target, start = urlsplit(url), urlsplit(page_url)
    if target.scheme not in ("http", "https") or target.netloc != start.netloc:
        return False
    return target.path == scope or target.path.startswith(scope.rstrip("/") + "/")


def opinion_to_item(opinion: CeneoOpinion, *, scope: str, target: str | None, url: str | None) -> MentionItem:
    """Map an opinion to a MentionItem (validation judges it: no entry id -> rejected there).

    No language: the page's ``lang`` is Ceneo's interface language, not the opinion's (foreign buyers write
    in English); the sentiment stage detects it.
    """
    return MentionItem(
        source=SOURCE,
        external_id=opinion.entry_id,
        url=url,
        author=opinion.author,
        text=opinion.full_text,
        lang=None,
        rating=opinion.score,
        reply_text=None,
        parent_id=None,
        reach=opinion.helpful,
        created_at=opinion.published,
        updated_at=opinion.published,
        target=target,
        raw=opinion_raw(opinion, scope),
        scope=scope,
    )


def opinion_raw(opinion: CeneoOpinion, scope: str) -> dict[str, Any]:
    """What the page said about the opinion, for audit (times as the page wrote them)."""
    return {
        "entry_id": opinion.entry_id,
        "scope": scope,
        "score": opinion.score,
        "text": opinion.text,
        "pros": list(opinion.pros),
        "cons": list(opinion.cons),
        "dates": list(opinion.raw_dates),
        "purchased_at": opinion.purchased.isoformat() if opinion.purchased else None,
        "helpful": opinion.helpful,
        "unhelpful": opinion.unhelpful,
        "verified_purchase": opinion.verified_purchase,
        "recommendation": opinion.recommendation,
    }


# -- spider ------------------------------------------------------------------------------------------


@dataclass
class CeneoScope(ScopeState):
    """One product or shop: where its pages start, and what this run has read of it."""

    url: str = ""
    visited: set[str] = field(default_factory=set)
    seen_ids: set[str] = field(default_factory=set)


class CeneoOpinionsSpider(SourceSpider[CeneoScope]):
    """Read new opinions (and re-check those on page 1) of every target's Ceneo products and shops."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("ceneo_urls",)
    source_label = "Ceneo"
    scope_noun = "product or shop"
    record_noun = "opinion"
    custom_settings = {
        "ROBOTSTXT_OBEY": True,  # a website, not an API
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": 2.0,
        "DOWNLOAD_MAXSIZE": 8 * 1024 * 1024,
        "DEFAULT_REQUEST_HEADERS": {"Accept": ACCEPT, "Accept-Language": "pl-PL,pl;q=0.9"},
    }

    @property
    def api(self) -> CeneoSettings:
        return self.config.sources.ceneo

    def plan_scopes(self) -> Iterator[CeneoScope]:
        base = self.api.base_url.rstrip("/") + "/"
        for target in self.config.targets:
            for entry in target.ceneo_urls:
                entry = entry.strip()
                if not entry:
                    continue
                url = urljoin(base, entry).split("#", 1)[0]
                if urlsplit(url).scheme not in ("http", "https"):
                    self.record_error(f"ceneo url {entry!r} of {target.name!r} is not an http(s) URL or path")
                    continue
                scope = scope_path(url)
                if scope == "/":
                    self.record_error(f"ceneo url {entry!r} of {target.name!r} names no product or shop")
                    continue
                yield CeneoScope(scope=scope, target=target.name, url=url)

    def first_requests(self, state: CeneoScope) -> Iterator[Request | None]:
        yield self._page_request(state, state.url)

    def _page_request(self, state: CeneoScope, url: str) -> Request | None:
        state.visited.add(url)
        return self.scope_request(state, url, callback=self.parse_page)

    def parse_page(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Hand every opinion on the page to the pipeline; follow the next page until the watermark."""
        state = self.scopes[scope]
        page = self.read_page(
            state,
            lambda: parse_opinions(response, first_page=state.pages == 1),
            f"unrecognised page {response.url}",
        )
        if page is None:
            return
        served = scope_path(response.url)
        if state.pages == 1 and served != scope:
            self.logger.warning(
                "%s: Ceneo now serves it at %s (a merged product?); update the target's ceneo_urls",
                scope,
                served,
            )
        product_url = urljoin(response.url, served) + "#tab=reviews"
        reached_watermark = False
        for opinion in page.opinions:
            if opinion.published is not None and not state.is_new(opinion.published):
                reached_watermark = True
            if opinion.entry_id is None:
                self.reject_record(state, "missing_external_id", "an opinion without data-entry-id")
                continue
            if opinion.entry_id in state.seen_ids:
                continue  # moved to the next page by a new opinion while this run was reading
            state.seen_ids.add(opinion.entry_id)
            item = opinion_to_item(opinion, scope=scope, target=state.target, url=product_url)
            yield self.accept(state, item, opinion.published)
        yield from self._next_page(state, page, response.url, reached_watermark)

    def _next_page(
        self, state: CeneoScope, page: OpinionsPage, page_url: str, reached_watermark: bool
    ) -> Iterator[Request]:
        """Follow ``a.pagination__next`` while it stays under the product or shop of the page read."""
        if reached_watermark or page.next_url is None:
            self.complete_scope(state)
        elif not same_scope(page.next_url, page_url, scope_path(page_url)):
            self.fail_scope(state, f"the next-page link leads elsewhere ({page.next_url[:200]})")
        elif page.next_url in state.visited:
            self.fail_scope(state, f"the next-page link points back to {page.next_url[:200]} (paging loop)")
        elif not self.max_pages_reached(state, self.api.max_pages):
            request = self._page_request(state, page.next_url)
            if request is not None:
                yield request

    def parse_error_response(self, response: Response) -> SourceError:
        """What Ceneo's error page says; nothing here is a credential problem, so only the scope fails."""
        hint = {
            403: "Ceneo refused the request (bot protection); lower the crawl frequency",
            404: "the product or shop is gone; check the target's ceneo_urls",
            410: "the product or shop is gone; remove it from the target's ceneo_urls",
        }.get(response.status, "")
        return SourceError(response.status, "", error_page_summary(response.body), hint=hint)
