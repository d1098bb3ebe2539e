"""Demo Ceneo.pl opinion pages: a shop (``/sklepy/<name>-s<id>``) and a product (``/<id>``), in Ceneo's markup.

Page 1 is the shop or product page itself, later pages are ``<path>/opinie-N``, linked by
``a.pagination__next``; opinions are newest first, ``page_size`` to a page. Each opinion is a
``div.user-post`` with ``data-entry-id``, author, recommendation, ``4,5/5`` score, publication and
purchase ``<time datetime="YYYY-MM-DD HH:MM:SS">`` (Warsaw local time), text, pros and cons, votes and a
"confirmed purchase" badge, as Ceneo's opinion pages have them. Data: ceneo_opinions.json.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from monitor.demo_data.site import DemoRequest, DemoSite, Reply, Route, shift_delta

WARSAW = ZoneInfo("Europe/Warsaw")
LOCAL_TIME = "%Y-%m-%d %H:%M:%S"
HTML = "text/html; charset=utf-8"
_PAGE = re.compile(r"(?P<path>/sklepy/[a-z0-9.\-]+-s\d+|/\d+)(?:/opinie-(?P<n>\d+))?")


def _local(value: str) -> datetime:
    return datetime.strptime(value, LOCAL_TIME).replace(tzinfo=WARSAW)


def _time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(WARSAW).strftime(LOCAL_TIME)
    return f'<time datetime="{local}">{escape(local[:10])}</time>'


def render_opinion(opinion: dict[str, Any]) -> str:
    """One opinion block in Ceneo's markup."""
    oid = escape(opinion["id"])
    recommended = opinion.get("recommended")
    recommendation = ""
    if recommended is not None:
        cls, word = ("recommended", "Polecam") if recommended else ("not-recommended", "Nie polecam")
        recommendation = f'<span class="user-post__author-recomendation"><em class="{cls}">{word}</em></span>'
    features = ""
    for title_class, title, items in (
        ("positives", "Zalety", opinion.get("pros") or []),
        ("negatives", "Wady", opinion.get("cons") or []),
    ):
        if items:
            rows = "".join(f'<div class="review-feature__item">{escape(i)}</div>' for i in items)
            features += (
                f'<div class="review-feature__col"><div class="review-feature__title '
                f'review-feature__title--{title_class}">{title}</div>{rows}</div>'
            )
    badge = (
        '<div class="review-pz"><em>Opinia potwierdzona zakupem</em></div>' if opinion.get("verified") else ""
    )
    votes = "".join(
        f'<button class="vote-{kind} js_product-review-vote js_vote-{kind}" data-total-vote="{count}" '
        f'data-review-id="{oid}"><i></i><span id="votes-{kind}-{oid}">{count}</span></button>'
        for kind, count in (("yes", opinion.get("helpful", 0)), ("no", opinion.get("unhelpful", 0)))
    )
    return (
        f'<div class="user-post user-post__card js_product-review" data-entry-id="{oid}">'
        '<div class="user-post__header"><div class="user-post__author">'
        f'<span class="user-post__author-name">{escape(opinion["author"])}</span>{recommendation}</div>'
        '<div class="user-post__info"><span class="user-post__score"><span class="user-post__score-unit">'
        f'<span class="user-post__score-count">{escape(opinion["score"])}</span></span></span>'
        f'<span class="user-post__published">{_time(opinion["published"])}{_time(opinion.get("purchased"))}'
        "</span></div></div>"
        f'<div class="user-post__content"><div class="user-post__text">{escape(opinion["text"])}</div>'
        f'<div class="review-feature">{features}</div></div>'
        f'<div class="user-post__footer">{badge}<div class="js_product-review-usefulness vote">{votes}</div></div>'
        "</div>"
    )


def render_page(page: dict[str, Any], n: int, page_size: int) -> str:
    """Opinions page ``n`` (1-based) of a shop or product, with the link to the next page if any."""
    opinions = page["opinions"][(n - 1) * page_size : n * page_size]
    pages = max(1, math.ceil(len(page["opinions"]) / page_size))
    next_link = ""
    if n < pages:
        href = escape(f"{page['path']}/opinie-{n + 1}")
        next_link = f'<a class="pagination__item pagination__next" href="{href}">Następna</a>'
    return (
        '<!DOCTYPE html><html lang="pl"><head><meta charset="utf-8">'
        f"<title>{escape(page['title'])}</title></head><body>"
        f'<div class="product-top"><h1 class="product-top__title">{escape(page["title"])}</h1></div>'
        '<div class="js_product-reviews product-reviews" id="reviews">'
        + "".join(render_opinion(o) for o in opinions)
        + f'<div class="pagination">{next_link}</div></div></body></html>'
    )


class CeneoSite(DemoSite):
    name = "ceneo"
    label = "Ceneo.pl opinion pages"
    data_file = "ceneo_opinions.json"

    def __init__(self, data: dict[str, Any], *, token: str, shift_to_now: bool) -> None:
        super().__init__(data, token=token, shift_to_now=shift_to_now)
        self.page_size = int(data.get("page_size", 10))
        self.pages: dict[str, dict[str, Any]] = {}
        for page in data["pages"]:
            opinions = [
                dict(
                    o,
                    published=_local(o["published"]),
                    purchased=_local(o["purchased"]) if o.get("purchased") else None,
                )
                for o in page["opinions"]
            ]
            self.pages[page["path"]] = dict(page, opinions=opinions)
        if shift_to_now:
            all_opinions = [o for p in self.pages.values() for o in p["opinions"]]
            delta = shift_delta(max(o["published"] for o in all_opinions))
            for o in all_opinions:
                o["published"] += delta
                if o["purchased"] is not None:
                    o["purchased"] += delta
        for page in self.pages.values():
            page["opinions"].sort(key=lambda o: o["published"], reverse=True)

    def routes(self) -> list[Route]:
        return [(_PAGE, self._page)]

    def target_fields(self, base_url: str) -> dict[str, Any]:
        return {"ceneo_urls": list(self.pages)}

    def describe(self) -> str:
        count = sum(len(p["opinions"]) for p in self.pages.values())
        return f"{count} opinions on {len(self.pages)} shop/product pages ({self.page_size} a page)"

    def _page(self, request: DemoRequest, match: re.Match[str]) -> Reply:
        page = self.pages.get(match["path"])
        n = int(match["n"] or 1)
        if page is None or n < 1 or (n > 1 and (n - 1) * self.page_size >= len(page["opinions"])):
            body = "<!DOCTYPE html><html><head><title>Nie znaleziono strony - Ceneo.pl</title></head></html>"
            return Reply(404, body.encode("utf-8"), HTML)
        return Reply(200, render_page(page, n, self.page_size).encode("utf-8"), HTML)


SITE = CeneoSite
