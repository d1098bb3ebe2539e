"""Reddit's API answers as Earshot reads them: the token, Listings of posts and comments, and error bodies.

Pure functions over response bodies, apart from the spider (:mod:`spiders.spiders.reddit`), which decides
what to request and when to stop: :func:`parse_access_token` (the app-only OAuth answer),
:func:`parse_listing` (``{"kind": "Listing", "data": {"after", "children"}}``), :func:`parse_comment_page`
(a ``/r/{sub}/comments`` Listing, stricter because paging on from a bad child would guess),
:func:`thing_to_item` (a post ``t3`` or comment ``t1`` as a :class:`spiders.items.MentionItem`) and
:func:`parse_reddit_error`. A body that is not what the API documents raises
:class:`spiders.errors.MalformedResponse`; a child that cannot be a mention raises
:class:`spiders.items.InvalidItem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, MentionItem, epoch_time
from spiders.responses import error_object, error_text, json_object, key_list

SOURCE = "reddit"
WEB_ROOT = "https://www.reddit.com"  # permalinks are relative to the website, not to the API host
_REMOVED = frozenset({"[removed]", "[deleted]"})
_KINDS = {"t3": "post", "t1": "comment"}


class TokenRefused(ValueError):
    """The token endpoint answered 200 but with an OAuth error instead of a token."""


@dataclass(frozen=True)
class Listing:
    """One page of a Listing: its children (not yet judged, each may be bad) and the next page's cursor."""

    children: list[Any]
    after: str | None


def parse_access_token(body: bytes) -> str:
    """The bearer token from the token endpoint's answer, or TokenRefused / MalformedResponse."""
    data = json_object(body, SOURCE)
    if data.get("error"):
        raise TokenRefused(str(data["error"])[:100])
    token = data.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise MalformedResponse(SOURCE, "no access_token in the token response")
    kind = data.get("token_type")
    if isinstance(kind, str) and kind.lower() != "bearer":
        raise MalformedResponse(SOURCE, f"token_type is {kind[:40]!r}, not bearer")
    return token.strip()


def parse_listing(body: bytes) -> Listing:
    """Read a ``{"kind": "Listing", "data": {"after", "children"}}`` body, or raise MalformedResponse."""
    data = json_object(body, SOURCE)
    if data.get("kind") != "Listing":
        kind = data.get("kind")
        raise MalformedResponse(SOURCE, f"not a Listing (kind {str(kind)[:40]!r}; {key_list(data)})")
    inner = data.get("data")
    if not isinstance(inner, dict):
        raise MalformedResponse(SOURCE, "the Listing has no 'data' object")
    children = inner.get("children")
    if not isinstance(children, list):
        raise MalformedResponse(SOURCE, f"'children' is {type(children).__name__}, not a list")
    after = inner.get("after") or None
    if after is not None and not isinstance(after, str):
        raise MalformedResponse(SOURCE, "'after' is not a string")
    return Listing(children, after)


def thing_data(thing: Any) -> tuple[str, dict[str, Any]]:
    """``(kind, data)`` of a listing child, or InvalidItem when it is not a post or comment."""
    if not isinstance(thing, dict):
        raise InvalidItem("not_an_object", f"listing child is {type(thing).__name__}, not an object")
    kind, data = thing.get("kind"), thing.get("data")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise InvalidItem(
            "unexpected_kind", f"listing child of kind {str(kind)[:20]!r}, not a post or comment"
        )
    if not isinstance(data, dict):
        raise InvalidItem("not_an_object", f"{_KINDS[kind]} data is {type(data).__name__}, not an object")
    return kind, data


def thing_times(thing: Any) -> tuple[datetime | None, datetime | None]:
    """``(created, edited)`` of a listing child; created is None when missing or unreadable."""
    data = thing.get("data") if isinstance(thing, dict) else None
    if not isinstance(data, dict):
        return None, None
    return epoch_time(data.get("created_utc")), epoch_time(data.get("edited"))


@dataclass(frozen=True)
class Comment:
    """One comment of a ``/r/{sub}/comments`` listing: what filtering and paging need, and the thing itself."""

    name: str  # the fullname, t1_...
    created: datetime
    body: str
    thing: dict[str, Any]

    @property
    def removed(self) -> bool:
        return self.body.strip() in _REMOVED


@dataclass(frozen=True)
class CommentPage:
    comments: list[Comment]
    after: str | None


def parse_comment_page(body: bytes) -> CommentPage:
    """A page of ``/r/{sub}/comments`` (a Listing of t1), or MalformedResponse naming the bad child.

    That listing documents comments only, each with ``name``, ``created_utc`` and ``body``; a child without
    them means the answer is not that listing (or its format changed), and paging on from it would guess.
    """
    listing = parse_listing(body)
    comments = []
    for index, thing in enumerate(listing.children):
        if not isinstance(thing, dict) or thing.get("kind") != "t1":
            kind = thing.get("kind") if isinstance(thing, dict) else type(thing).__name__
            raise MalformedResponse(SOURCE, f"child {index} is not a comment (kind {str(kind)[:20]!r})")
        data = thing.get("data")
        if not isinstance(data, dict):
            raise MalformedResponse(SOURCE, f"comment {index} has no 'data' object")
        name, text, created = data.get("name"), data.get("body"), epoch_time(data.get("created_utc"))
        if not isinstance(name, str) or not name.startswith("t1_"):
            raise MalformedResponse(SOURCE, f"comment {index} has no t1_ fullname in 'name'")
        if created is None:
            raise MalformedResponse(SOURCE, f"comment {index} has no readable 'created_utc'")
        if not isinstance(text, str):
            raise MalformedResponse(SOURCE, f"comment {index} has no 'body' text")
        comments.append(Comment(name, created, text, thing))
    return CommentPage(comments, listing.after)


def _text(kind: str, data: dict[str, Any]) -> Any:
    if kind == "t1":
        return data.get("body")
    title, selftext = data.get("title"), data.get("selftext")
    if not isinstance(title, str):
        return title
    if isinstance(selftext, str) and selftext.strip():
        return f"{title}\n\n{selftext}"
    return title


def _permalink(data: dict[str, Any]) -> str | None:
    link = data.get("permalink")
    if not isinstance(link, str) or not link.startswith("/"):
        return None
    return WEB_ROOT + link


def thing_to_item(thing: Any, *, scope: str, target: str | None) -> MentionItem:
    """Map a post (t3) or comment (t1) to a MentionItem; validation judges the values.

    A removed or deleted record is refused (InvalidItem "removed"): it no longer says anything, and the
    version stored while it was visible is worth more than ``[removed]``.
    """
    kind, data = thing_data(thing)
    body = data.get("body") if kind == "t1" else data.get("selftext")
    if isinstance(body, str) and body.strip() in _REMOVED:
        raise InvalidItem("removed", f"the {_KINDS[kind]} was removed or deleted")
    created, edited = epoch_time(data.get("created_utc")), epoch_time(data.get("edited"))
    author = data.get("author")
    score = data.get("score")
    reach = max(score, 0) if isinstance(score, int) and not isinstance(score, bool) else None
    parent = data.get("link_id") if kind == "t1" else None
    return MentionItem(
        source=SOURCE,
        external_id=data.get("name"),  # the fullname, t3_... or t1_..., unique across posts and comments
        url=_permalink(data),
        author=None if isinstance(author, str) and author in _REMOVED else author,
        text=_text(kind, data),
        lang=None,  # Reddit does not say; the sentiment stage detects it
        rating=None,
        reply_text=None,
        parent_id=parent,
        reach=reach,
        created_at=created,
        updated_at=edited or created,
        target=target,
        raw=data,
        scope=scope,
    )


@dataclass(frozen=True)
class RedditError:
    code: str
    message: str


def parse_reddit_error(body: bytes) -> RedditError:
    """Reddit's error bodies: ``{"message", "error": 403, "reason"}``, OAuth's ``{"error": "..."}``, or HTML."""
    data = error_object(body)
    if data is None:
        return RedditError("", error_text(body))
    reason, error, message = data.get("reason"), data.get("error"), data.get("message")
    code = str(reason if isinstance(reason, str) else error if isinstance(error, str) else "")[:100]
    text = message if isinstance(message, str) and message else data.get("explanation") or code
    return RedditError(code, str(text or error_text(body))[:500])


def subreddit_name(value: str) -> str:
    """``Polska`` from ``Polska``, ``r/Polska`` or ``/r/Polska/``: config may use any form."""
    name = value.strip().strip("/")
    return name[2:] if name.lower().startswith("r/") else name
