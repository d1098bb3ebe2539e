"""Items exactly as the spiders store them, from the spiders' own fixtures, for tests that reply to them.

Why through the spiders' mapping functions: a reply is addressed from ``mention.raw`` (Mastodon's status
id, Bluesky's uri + cid and thread root, YouTube's thread id, Reddit's fullname, Allegro's rating id), so
the tests must use the shape a crawl really stores, not one written for the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.rules import MentionView
from monitor.core.models import Mention, TargetRow
from spiders.reddit_listing import thing_to_item
from spiders.spiders.allegro import rating_to_item
from spiders.spiders.bluesky import post_to_item
from spiders.spiders.mastodon import status_to_item
from spiders.spiders.youtube import comment_to_item, thread_comments

__all__ = ["store_mention", "stored_item", "view"]

SPIDER_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spiders"
TARGET = "Sklep Kowalski"


def _load(source: str, name: str) -> Any:
    return json.loads((SPIDER_FIXTURES / source / name).read_text(encoding="utf-8"))


def stored_item(kind: str) -> dict[str, Any]:
    """The MentionItem fields a crawl stores for ``kind``.

    Kinds: ``allegro``, ``mastodon``, ``bluesky`` (a top-level post), ``bluesky_reply`` (a post replying in
    someone's thread), ``youtube`` (a top-level comment), ``youtube_reply`` (a reply in a thread), ``reddit``.
    """
    scope = "test"
    if kind == "allegro":
        item = rating_to_item(
            _load("allegro", "ratings_seller_a_offset0.json")["ratings"][0], scope=scope, target=TARGET
        )
    elif kind == "mastodon":
        item = status_to_item(
            _load("mastodon", "search_sklep.json")["statuses"][0], scope=scope, target=TARGET
        )
    elif kind in ("bluesky", "bluesky_reply"):
        posts = _load("bluesky", "search_sklep_page1.json")["posts"]
        post = next(p for p in posts if ("reply" in p["record"]) == (kind == "bluesky_reply"))
        item = post_to_item(post, scope=scope, target=TARGET)
    elif kind in ("youtube", "youtube_reply"):
        thread = _load("youtube", "channel_a_page1.json")["items"][0]
        top, replies = thread_comments(thread)
        if kind == "youtube":
            item = comment_to_item(top, thread=thread, top_id=None, scope=scope, target=TARGET)
        else:
            item = comment_to_item(replies[0], thread=thread, top_id=top["id"], scope=scope, target=TARGET)
    elif kind == "reddit":
        child = _load("reddit", "comments_polska_page1.json")["data"]["children"][0]
        item = thing_to_item(child, scope=scope, target=TARGET)
    else:
        raise ValueError(kind)
    fields = ("source", "external_id", "url", "author", "text", "lang", "parent_id", "raw")
    return {name: item.get(name) for name in fields}


def view(kind: str, mention_id: int = 7) -> MentionView:
    item = stored_item(kind)
    return MentionView(
        id=mention_id,
        source=item["source"],
        target=TARGET,
        text=item["text"] or "",
        author=item["author"],
        url=item["url"],
        rating=None,
        lang=item["lang"],
        created_at=None,
        version=1,
        external_id=item["external_id"],
        parent_id=item["parent_id"],
    )


def store_mention(engine: Engine, kind: str) -> int:
    """Insert the crawled item as a stored mention of ``TARGET``; return its id."""
    item = stored_item(kind)
    with Session(engine) as session:
        target = session.exec(select(TargetRow).where(TargetRow.name == TARGET)).first()
        if target is None:
            target = TargetRow(name=TARGET)
            session.add(target)
            session.flush()
        mention = Mention(
            source=item["source"],
            external_id=item["external_id"],
            target_id=target.id,
            url=item["url"],
            author=item["author"],
            text=item["text"] or "",
            lang=item["lang"],
            parent_id=item["parent_id"],
            raw=item["raw"],
        )
        session.add(mention)
        session.commit()
        assert mention.id is not None
        return mention.id
