"""Demo Mastodon instance: hashtag timelines and status search, as Mastodon's REST API answers them.

* ``GET /api/v1/timelines/tag/{hashtag}``: public; newest first; ``limit`` (20, at most 40), ``max_id``,
  ``since_id``, ``min_id``; a ``Link`` header with the next (older) and previous (newer) page;
* ``GET /api/v2/search?q=...&type=statuses``: full-text status search needs a signed-in user, so it
  answers statuses only with the bearer token (none: an empty list, a wrong one: 401); same paging
  parameters plus ``offset``.

Ids are snowflakes built from the creation time, so id order is time order, as on a real instance.
Data: mastodon_statuses.json; its "later" statuses (a reply in a thread) appear after
:meth:`MastodonSite.advance`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr

from monitor.demo_data.site import DemoRequest, DemoSite, Reply, Route, shift_delta

_TAG_TIMELINE = re.compile(r"/api/v1/timelines/tag/(?P<tag>[^/]+)")
_SEARCH = re.compile(r"/api/v2/search")
_TAGS = re.compile(r"<[^>]*>")
HASHTAG = "dobrakuchnia"
KEYWORD = "DobraKuchnia"
DEFAULT_LIMIT, MAX_LIMIT = 20, 40


class Unauthorized(Exception):
    """The request carried a token this instance does not know."""


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def snowflake(moment: datetime, sequence: int) -> str:
    """Mastodon's id scheme: milliseconds since the epoch shifted left 16 bits, plus a sequence."""
    return str((int(moment.timestamp() * 1000) << 16) | (sequence & 0xFFFF))


def plain(html: str) -> str:
    return " ".join(unescape(_TAGS.sub(" ", html)).split())


class MastodonSite(DemoSite):
    name = "mastodon"
    label = "Mastodon instance (REST API)"
    data_file = "mastodon_statuses.json"

    def __init__(self, data: dict[str, Any], *, token: str, shift_to_now: bool) -> None:
        super().__init__(data, token=token, shift_to_now=shift_to_now)
        self.instance = str(data["instance"]).rstrip("/")
        raw = [dict(s, created_at=_parse(s["created_at"])) for s in data["statuses"]]
        if shift_to_now:
            delta = shift_delta(max(s["created_at"] for s in raw))
            for status in raw:
                status["created_at"] += delta
        statuses = [self._status(s, i) for i, s in enumerate(raw)]
        # "later" data names a status by its author and its created_at as written in the file.
        self._ids = {
            _data_key(d["account"]["username"], d["created_at"]): s["id"]
            for d, s in zip(data["statuses"], statuses, strict=True)
        }
        self.statuses = sorted(statuses, key=lambda s: int(s["id"]), reverse=True)
        self.advanced = False

    def _account(self, account: dict[str, Any]) -> dict[str, Any]:
        username = account["username"]
        domain = account.get("acct_domain")
        home = f"https://{domain}" if domain else self.instance
        return {
            "id": str(int(hashlib.sha256(username.encode()).hexdigest()[:13], 16)),
            "username": username,
            "acct": f"{username}@{domain}" if domain else username,
            "display_name": account.get("display_name", username),
            "locked": False,
            "bot": False,
            "discoverable": True,
            "created_at": "2022-11-07T00:00:00.000Z",
            "note": "",
            "url": f"{home}/@{username}",
            "avatar": f"{home}/avatars/original/missing.png",
            "followers_count": account.get("followers_count", 0),
            "following_count": account.get("following_count", 0),
            "statuses_count": account.get("statuses_count", 100),
        }

    def _status(self, status: dict[str, Any], sequence: int) -> dict[str, Any]:
        """A full Status entity."""
        account = self._account(status["account"])
        sid = snowflake(status["created_at"], sequence)
        home = account["url"].rsplit("/@", 1)[0]
        return {
            "id": sid,
            "created_at": _iso(status["created_at"]),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": status.get("language"),
            "uri": f"{home}/users/{account['username']}/statuses/{sid}",
            "url": f"{home}/@{account['username']}/{sid}",
            "replies_count": status.get("replies_count", 0),
            "reblogs_count": status.get("reblogs_count", 0),
            "favourites_count": status.get("favourites_count", 0),
            "edited_at": None,
            "content": status["content"],
            "reblog": None,
            "account": account,
            "media_attachments": [],
            "mentions": [],
            "tags": [{"name": t, "url": f"{self.instance}/tags/{t}"} for t in status.get("tags", [])],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def routes(self) -> list[Route]:
        return [(_TAG_TIMELINE, self._timeline), (_SEARCH, self._search)]

    def target_fields(self, base_url: str) -> dict[str, Any]:
        return {"hashtags": [HASHTAG], "keywords": [KEYWORD]}

    def source_settings(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "access_token": SecretStr(self.token)}

    def describe(self) -> str:
        tagged = sum(1 for s in self.statuses if _has_tag(s, HASHTAG))
        return f"{len(self.statuses)} statuses, {tagged} tagged #{HASHTAG}"

    def advance(self, now: datetime) -> int:
        """Post the "later" statuses, created ``minutes_ago`` before ``now``; once only.

        A status with ``in_reply_to`` is a reply: it carries the parent's id and account id and mentions
        its author, and the parent's ``replies_count`` goes up, as on a real instance. The list is rebuilt
        and swapped in, newest first, so a request being served sees the old or the new state.
        """
        later = (self.data.get("later") or {}).get("statuses", [])
        if self.advanced or not later:
            return 0
        self.advanced = True
        by_id = {s["id"]: s for s in self.statuses}
        for offset, entry in enumerate(later):
            created = now.astimezone(UTC) - timedelta(minutes=float(entry["minutes_ago"]))
            status = self._status(dict(entry, created_at=created), len(self._ids) + offset)
            parent_ref = entry.get("in_reply_to")
            if parent_ref:
                parent_id = self._ids.get(_data_key(parent_ref["username"], parent_ref["created_at"]))
                if parent_id is None:
                    raise ValueError(f"demo data replies to an unknown status {parent_ref!r}")
                parent = dict(by_id[parent_id], replies_count=by_id[parent_id]["replies_count"] + 1)
                by_id[parent_id] = parent
                author = parent["account"]
                status["in_reply_to_id"] = parent["id"]
                status["in_reply_to_account_id"] = author["id"]
                status["mentions"] = [{k: author[k] for k in ("id", "username", "url", "acct")}]
            by_id[status["id"]] = status
        self.statuses = sorted(by_id.values(), key=lambda s: int(s["id"]), reverse=True)
        return len(later)

    # -- the API -------------------------------------------------------------------------------------

    def _signed_in(self, request: DemoRequest) -> bool:
        token = request.bearer
        if token is not None and token != self.token:
            raise Unauthorized
        return token is not None

    def _timeline(self, request: DemoRequest, match: re.Match[str]) -> Reply:
        try:
            self._signed_in(request)
            found = [s for s in self.statuses if _has_tag(s, match["tag"])]
            return self._paged(request, found, list_body=True)
        except Unauthorized:
            return Reply.json({"error": "The access token is invalid"}, 401)
        except ValueError as exc:
            return Reply.json({"error": str(exc)}, 422)

    def _search(self, request: DemoRequest, match: re.Match[str]) -> Reply:
        try:
            signed_in = self._signed_in(request)
            if request.arg("offset") and not signed_in:
                return Reply.json(
                    {"error": "Search queries with offset are not supported without authentication"}, 401
                )
            kind = request.arg("type")
            query = request.arg("q").strip()
            found = []
            if signed_in and kind in ("", "statuses") and query:
                found = [s for s in self.statuses if _matches(s, query)]
            return self._paged(request, found, list_body=False)
        except Unauthorized:
            return Reply.json({"error": "The access token is invalid"}, 401)
        except ValueError as exc:
            return Reply.json({"error": str(exc)}, 422)

    def _paged(self, request: DemoRequest, statuses: list[dict[str, Any]], *, list_body: bool) -> Reply:
        """One page of ``statuses`` (newest first) by Mastodon's paging parameters; ValueError if unreadable."""
        limit = min(max(int(request.arg("limit") or DEFAULT_LIMIT), 1), MAX_LIMIT)
        max_id, since_id, min_id = (int(request.arg(k) or 0) for k in ("max_id", "since_id", "min_id"))
        offset = int(request.arg("offset") or 0)
        window = [s for s in statuses if (not max_id or int(s["id"]) < max_id)]
        window = [s for s in window if int(s["id"]) > max(since_id, min_id)]
        # A timeline's min_id asks for the oldest page above it (paging forwards); search turns min_id
        # into a date filter and pages newest first by offset.
        page = window[-limit:] if min_id and list_body else window[offset : offset + limit]
        if not list_body:
            return Reply.json({"accounts": [], "statuses": page, "hashtags": []})
        headers = []
        if page:
            base = f"http://{request.header('host') or '127.0.0.1'}{request.path}"
            older = urlencode({"limit": limit, "max_id": page[-1]["id"]})
            newer = urlencode({"limit": limit, "min_id": page[0]["id"]})
            headers.append(("Link", f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'))
        return Reply.json(page, headers=headers)


def _data_key(username: str, created_at: str) -> tuple[str, datetime]:
    return username, _parse(created_at)


def _has_tag(status: dict[str, Any], tag: str) -> bool:
    return any(t["name"].lower() == tag.lower() for t in status["tags"])


def _matches(status: dict[str, Any], query: str) -> bool:
    if query.startswith("#"):
        return _has_tag(status, query[1:])
    text = plain(status["content"]).lower()
    return all(word in text for word in query.lower().split())


SITE = MastodonSite
