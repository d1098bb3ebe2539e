"""Demo Hacker News Search API (Algolia): ``/api/v1/search_by_date``, no credentials.

Understands what the ``hackernews`` spider sends: ``query`` (every word must occur in the title, text,
URL or author), ``tags`` (``story``, ``comment`` or an OR group ``(story,comment)``), ``numericFilters``
on ``created_at_i`` (``>``, ``>=``, ``<``, ``<=``, ``=``, comma = AND), ``hitsPerPage`` and ``page``;
hits come newest first with Algolia's ``nbHits``/``nbPages`` paging fields. Data: hackernews_hits.json.
"""

from __future__ import annotations

import math
import operator
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from monitor.demo_data.site import DemoRequest, DemoSite, Reply, Route, shift_delta

_SEARCH = re.compile(r"/api/v1/search_by_date")
_FILTER = re.compile(r"\s*(?P<field>[a-z_]+)\s*(?P<op><=|>=|<|>|=)\s*(?P<value>-?\d+)\s*")
KEYWORD = "DobraKuchnia"
MAX_HITS_PER_PAGE = 1000
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq}


class BadQuery(ValueError):
    """A parameter Algolia would refuse with 400."""


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def tag_groups(tags: str) -> list[set[str]]:
    """``story,(a,b)`` → [{story}, {a, b}]: every group must match, any tag within one."""
    groups: list[set[str]] = []
    for part in re.findall(r"\([^)]*\)|[^,()]+", tags):
        names = {t.strip() for t in part.strip("()").split(",") if t.strip()}
        if names:
            groups.append(names)
    return groups


def numeric_filters(value: str) -> list[tuple[str, str, int]]:
    """``created_at_i>5,created_at_i<=9`` → [("created_at_i", ">", 5), ...]; BadQuery if unreadable."""
    filters = []
    for part in (p for p in value.split(",") if p.strip()):
        match = _FILTER.fullmatch(part)
        if match is None:
            raise BadQuery(f"invalid numericFilters: {part.strip()!r}")
        filters.append((match["field"], match["op"], int(match["value"])))
    return filters


class HackerNewsSite(DemoSite):
    name = "hackernews"
    label = "Hacker News search (Algolia)"
    data_file = "hackernews_hits.json"

    def __init__(self, data: dict[str, Any], *, token: str, shift_to_now: bool) -> None:
        super().__init__(data, token=token, shift_to_now=shift_to_now)
        items = [dict(h, created_at=_parse(h["created_at"])) for h in data["hits"]]
        if shift_to_now:
            delta = shift_delta(max(h["created_at"] for h in items))
            for item in items:
                item["created_at"] += delta
        self.hits = sorted((self._hit(h) for h in items), key=lambda h: h["created_at_i"], reverse=True)

    def _hit(self, item: dict[str, Any]) -> dict[str, Any]:
        """An Algolia hit: the item plus ``_tags``, ``created_at_i`` and ``updated_at``."""
        created: datetime = item["created_at"]
        kind = item["kind"]
        hit = {k: v for k, v in item.items() if k not in ("kind", "created_at")}
        hit["created_at"] = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        hit["created_at_i"] = int(created.timestamp())
        hit["updated_at"] = hit["created_at"]
        story = item.get("story_id", item["objectID"])
        hit["_tags"] = [kind, f"author_{item['author']}", f"story_{story}"]
        if kind == "story":
            hit.setdefault("story_id", int(item["objectID"]))
            hit.setdefault("children", [])
        return hit

    def routes(self) -> list[Route]:
        return [(_SEARCH, self._search)]

    def target_fields(self, base_url: str) -> dict[str, Any]:
        return {"keywords": [KEYWORD]}

    def describe(self) -> str:
        matching = sum(1 for h in self.hits if _matches(h, KEYWORD.lower().split()))
        return f"{len(self.hits)} stories and comments, {matching} mentioning {KEYWORD}"

    def _search(self, request: DemoRequest, match: re.Match[str]) -> Reply:
        try:
            return Reply.json(self.search(request))
        except BadQuery as exc:
            return Reply.json({"message": str(exc), "status": 400}, 400)

    def search(self, request: DemoRequest) -> dict[str, Any]:
        """The search_by_date answer for ``request``."""
        query = request.arg("query")
        try:
            per_page = int(request.arg("hitsPerPage") or 20)
            page = int(request.arg("page") or 0)
        except ValueError as exc:
            raise BadQuery(f"invalid paging parameter: {exc}") from None
        if not 0 <= per_page <= MAX_HITS_PER_PAGE or page < 0:
            raise BadQuery("hitsPerPage must be 0..1000 and page >= 0")
        words = query.lower().split()
        groups = tag_groups(request.arg("tags"))
        filters = numeric_filters(request.arg("numericFilters"))
        found = [
            h
            for h in self.hits
            if _matches(h, words)
            and all(group & set(h["_tags"]) for group in groups)
            and all(_OPS[op](h.get(field, math.nan), value) for field, op, value in filters)
        ]
        pages = math.ceil(len(found) / per_page) if per_page else 0
        params = {k: v[-1] for k, v in request.query.items()}
        return {
            "hits": found[page * per_page : (page + 1) * per_page],
            "nbHits": len(found),
            "page": page,
            "nbPages": pages,
            "hitsPerPage": per_page,
            "exhaustiveNbHits": True,
            "query": query,
            "params": urlencode(params),
            "processingTimeMS": 1,
        }


def _matches(hit: dict[str, Any], words: list[str]) -> bool:
    fields = ("title", "story_text", "comment_text", "url", "author")
    haystack = " ".join(str(hit.get(f) or "") for f in fields).lower()
    return all(word in haystack for word in words)


SITE = HackerNewsSite
