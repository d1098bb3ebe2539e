"""Comments on the monitored brands' YouTube channels, from the YouTube Data API v3 ``commentThreads``.

``GET {base_url}/youtube/v3/commentThreads?part=snippet,replies&allThreadsRelatedToChannelId=C
&order=time&maxResults=100&textFormat=plainText&pageToken=T`` lists a channel's comment threads
(comments on its videos and on the channel), newest first, each with its top-level comment and the
replies YouTube includes. Each channel is one scope; its watermark is the newest ``updatedAt`` read.

Incremental: every comment (top-level or reply) changed after the watermark is yielded; a run reads
whole pages and stops paging after the first page holding a thread with nothing new, so new replies and
edits on the newest threads are caught without re-reading the channel's history. An edit is a newer
``updatedAt``; the upsert keeps the earlier text as a revision. Replies are stored with the top-level
comment's id as parent. YouTube includes only some replies of a busy thread in ``replies``; the rest are
counted (``earshot/youtube/replies_not_listed``), not fetched, which would cost a request per thread.

The API key goes in the ``X-Goog-Api-Key`` header (Google's documented equivalent of ``?key=``), so it
is never part of a URL: not in Scrapy's request log lines, errors, stats or stored mentions.
``quotaExceeded`` (HTTP 403: the project's daily quota is spent) stops the run as ``quota_exceeded``
with every unread channel keeping its watermark; a refused key stops it as ``auth_failed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from monitor.core.source_settings import YouTubeSettings, source_env_var
from spiders.base import ScopeState, SourceError, SourceSpider
from spiders.errors import MalformedResponse
from spiders.google import list_page, parse_google_error
from spiders.items import InvalidItem, MentionItem, optional_timestamp, whole_count
from spiders.responses import error_object, key_list
from spiders.text import strip_html

SOURCE = "youtube"
KEY_ENV = source_env_var(SOURCE, "api_key")
KEY_HEADER = "X-Goog-Api-Key"
THREADS_PATH = "/youtube/v3/commentThreads"
LIST_KIND = "youtube#commentThreadListResponse"
MAX_RESULTS = 100  # the API's maximum for commentThreads
WATCH_URL = "https://www.youtube.com/watch"

# errors[].reason values (and google.rpc.ErrorInfo reasons) by what they mean for the run.
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
KEY_REASONS = frozenset(
    {
        "keyInvalid",
        "keyExpired",
        "accessNotConfigured",
        "ipRefererBlocked",
        "API_KEY_INVALID",
        "API_KEY_EXPIRED",
        "API_KEY_SERVICE_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED",
        "API_KEY_IP_ADDRESS_BLOCKED",
        "SERVICE_DISABLED",
    }
)
QUOTA_HINT = (
    "the Google Cloud project's daily YouTube Data API quota is spent; it resets at midnight Pacific "
    "Time. The run stops here and the next one continues from the stored watermarks"
)


@dataclass(frozen=True)
class ThreadsPage:
    threads: list[Any]
    next_page_token: str | None


@dataclass(frozen=True)
class YouTubeApiError:
    """Google's error body: code, status, message, and every ``reason`` it names."""

    code: int
    status: str
    message: str
    reasons: tuple[str, ...] = ()

    @property
    def quota_exceeded(self) -> bool:
        return bool(QUOTA_REASONS.intersection(self.reasons))


def parse_threads_page(body: bytes) -> ThreadsPage:
    """Read a CommentThreadListResponse, or raise MalformedResponse.

    A response of the right ``kind`` without ``items`` is an empty page; any other object without an
    ``items`` list is not this API's answer.
    """
    data, token = list_page(body, SOURCE)
    kind = data.get("kind")
    if kind is not None and kind != LIST_KIND:
        raise MalformedResponse(SOURCE, f"kind is {str(kind)[:60]!r}, not {LIST_KIND}")
    threads = data.get("items")
    if threads is None:
        if kind is None or token is not None:
            raise MalformedResponse(SOURCE, f"no 'items' list in the response ({key_list(data)})")
        threads = []
    if not isinstance(threads, list):
        raise MalformedResponse(SOURCE, f"'items' is {type(threads).__name__}, not a list")
    return ThreadsPage(threads, token)


def _snippet(resource: Any) -> dict[str, Any]:
    snippet = resource.get("snippet") if isinstance(resource, dict) else None
    return snippet if isinstance(snippet, dict) else {}


def thread_comments(thread: Any) -> tuple[dict[str, Any], list[Any]]:
    """The thread's top-level comment and the replies included with it, or InvalidItem("bad_thread")."""
    if not isinstance(thread, dict):
        raise InvalidItem("bad_thread", f"comment thread is {type(thread).__name__}, not an object")
    top = _snippet(thread).get("topLevelComment")
    if not isinstance(top, dict):
        raise InvalidItem(
            "bad_thread", f"comment thread {str(thread.get('id'))[:40]!r} has no topLevelComment"
        )
    replies = thread.get("replies")
    comments = replies.get("comments") if isinstance(replies, dict) else None
    return top, comments if isinstance(comments, list) else []


def comment_changed_at(comment: Any) -> datetime | None:
    """When the comment was last edited (``updatedAt``), else posted; None when neither is readable."""
    snippet = _snippet(comment)
    return optional_timestamp(snippet.get("updatedAt")) or optional_timestamp(snippet.get("publishedAt"))


def watch_url(video_id: Any, comment_id: Any) -> str | None:
    """The comment's link: its video with ``lc=`` highlighting it (channel comments have no video)."""
    if not isinstance(video_id, str) or not video_id or not isinstance(comment_id, str) or not comment_id:
        return None
    query = urlencode({"v": video_id, "lc": comment_id}, quote_via=quote, errors="replace")
    return f"{WATCH_URL}?{query}"


def _text(snippet: dict[str, Any]) -> Any:
    """``textOriginal`` (the author's own text), else ``textDisplay`` without markup."""
    original = snippet.get("textOriginal")
    if isinstance(original, str):
        return original
    display = snippet.get("textDisplay")
    return strip_html(display) if isinstance(display, str) else display


def comment_to_item(
    comment: Any, *, thread: dict[str, Any], top_id: Any, scope: str, target: str | None
) -> MentionItem:
    """Map a top-level comment (``top_id`` None) or a reply to a MentionItem; validation judges values.

    Raises InvalidItem only when ``comment`` is not an object at all.
    """
    if not isinstance(comment, dict):
        raise InvalidItem("not_an_object", f"comment is {type(comment).__name__}, not an object")
    snippet = _snippet(comment)
    thread_snippet = _snippet(thread)
    comment_id = comment.get("id")
    video_id = snippet.get("videoId") or thread_snippet.get("videoId")
    parent = None
    if top_id is not None:
        parent = snippet.get("parentId") if isinstance(snippet.get("parentId"), str) else top_id
    return MentionItem(
        source=SOURCE,
        external_id=comment_id,
        url=watch_url(video_id, comment_id),
        author=snippet.get("authorDisplayName"),
        text=_text(snippet),
        lang=None,  # YouTube does not say; the sentiment stage detects it
        rating=None,
        reply_text=None,
        parent_id=parent,
        reach=whole_count(snippet.get("likeCount")),
        created_at=snippet.get("publishedAt"),
        updated_at=snippet.get("updatedAt"),
        target=target,
        raw={
            "comment": comment,
            "thread": {k: v for k, v in thread_snippet.items() if k != "topLevelComment"}
            | {"id": thread.get("id")},
        },
        scope=scope,
    )


def _reasons(error: Any) -> list[str]:
    """``errors[].reason`` of a Google error object (YouTube's own error detail)."""
    details = error.get("errors") if isinstance(error, dict) else None
    if not isinstance(details, list):
        return []
    return [str(d["reason"])[:100] for d in details if isinstance(d, dict) and d.get("reason")]


def parse_youtube_error(body: bytes, http_status: int) -> YouTubeApiError:
    """The error YouTube sent: Google's envelope plus YouTube's ``errors[].reason`` list."""
    google = parse_google_error(body, http_status)
    data = error_object(body)
    reasons = _reasons(data.get("error") if data is not None else None)
    if google.reason and google.reason not in reasons:
        reasons.append(google.reason)
    message = " ".join(strip_html(google.message).split())  # quota messages link to the docs in HTML
    return YouTubeApiError(google.code, google.status, message, tuple(reasons))


def channel_scope(channel_id: str) -> str:
    """``channels/UC...`` for a bare id, a ``channels/`` name or a ``youtube.com/channel/`` URL."""
    value = channel_id.strip().rstrip("/")
    if "/channel/" in value:
        value = value.rsplit("/channel/", 1)[1]
    value = value.strip("/").removeprefix("channels/")
    return f"channels/{value}"


@dataclass
class ChannelScope(ScopeState):
    """One channel's progress, with the page tokens seen (to catch paging loops)."""

    channel_id: str = ""
    page_tokens: set[str] = field(default_factory=set)


class YouTubeCommentsSpider(SourceSpider[ChannelScope]):
    """Read new and edited comments on every target's YouTube channels."""

    name = SOURCE
    settings_section = SOURCE
    target_fields = ("youtube_channel_ids",)
    source_label = "YouTube"
    scope_noun = "channel"
    record_noun = "comment"
    credential_help = {"api_key": "a Google Cloud API key with the YouTube Data API v3 enabled"}
    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # an authenticated API, not a website
        "DEFAULT_REQUEST_HEADERS": {"Accept": "application/json"},
    }

    @property
    def api(self) -> YouTubeSettings:
        return self.config.sources.youtube

    def plan_scopes(self) -> Iterator[ChannelScope]:
        for target in self.config.targets:
            for channel in target.youtube_channel_ids:
                scope = channel_scope(channel)
                if scope != "channels/":
                    yield ChannelScope(
                        scope=scope, target=target.name, channel_id=scope.removeprefix("channels/")
                    )

    def first_requests(self, state: ChannelScope) -> Iterator[Request | None]:
        yield self._page_request(state, None)

    def _page_request(self, state: ChannelScope, page_token: str | None) -> Request | None:
        params = {
            "part": "snippet,replies",
            "allThreadsRelatedToChannelId": state.channel_id,
            "order": "time",
            "maxResults": MAX_RESULTS,
            "textFormat": "plainText",
        }
        if page_token:
            params["pageToken"] = page_token
        base = self.api.base_url.rstrip("/")
        return self.scope_request(
            state,
            f"{base}{THREADS_PATH}?{urlencode(params, quote_via=quote)}",
            headers={KEY_HEADER: self.credential("api_key")},
            callback=self.parse_threads,
        )

    def parse_threads(self, response: Response, scope: str) -> Iterator[MentionItem | Request]:
        """Yield the page's comments changed after the watermark, then the next page or the channel's end."""
        state = self.scopes[scope]
        page = self.read_page(state, lambda: parse_threads_page(response.body))
        if page is None:
            return
        reached_old = False
        for thread in page.threads:
            try:
                top, replies = thread_comments(thread)
            except InvalidItem as exc:
                self.reject_record(state, exc.reason, str(exc))
                continue
            fresh = False
            for comment, top_id in [(top, None), *((reply, top.get("id")) for reply in replies)]:
                changed = comment_changed_at(comment)
                if not state.is_new(changed):
                    continue
                fresh = True
                item = self.to_item(
                    state,
                    comment_to_item,
                    comment,
                    thread=thread,
                    top_id=top_id,
                    scope=scope,
                    target=state.target,
                )
                if item is not None:
                    yield self.accept(state, item, changed)
            if fresh:
                self._count_unlisted_replies(thread, len(replies))
            else:
                reached_old = True  # threads come newest first: past one with nothing new, the rest is read
        token = None if reached_old else page.next_page_token
        yield from self.follow_token(
            state, token, state.page_tokens, lambda next_token: self._page_request(state, next_token)
        )

    def _count_unlisted_replies(self, thread: dict[str, Any], listed: int) -> None:
        total = _snippet(thread).get("totalReplyCount")
        if isinstance(total, int) and not isinstance(total, bool) and total > listed:
            self.stats_inc("earshot/youtube/replies_not_listed", total - listed)

    def parse_error_response(self, response: Response) -> SourceError:
        """YouTube's error; a refused key ends the run as auth_failed, a spent quota as quota_exceeded."""
        error = parse_youtube_error(response.body, response.status)
        reasons = set(error.reasons)
        auth = response.status == 401 or bool(KEY_REASONS & reasons)
        if error.quota_exceeded:
            hint = QUOTA_HINT
        elif auth:
            hint = f"the API key was refused: check {KEY_ENV}, its API restrictions and that YouTube Data API v3 is enabled"
        elif "commentsDisabled" in reasons:
            hint = "the channel has comments turned off"
        elif response.status in (400, 404):
            hint = "check the target's youtube_channel_ids"
        else:
            hint = ""
        code = ", ".join(error.reasons) or error.status
        return SourceError(response.status, code, error.message, auth=auth, hint=hint)

    def on_error(self, failure: Failure) -> None:
        """As the base does; a spent quota then stops the run, leaving the unread channels for next time."""
        value = failure.value
        quota = (
            isinstance(value, HttpError)
            and parse_youtube_error(value.response.body, value.response.status).quota_exceeded
        )
        super().on_error(failure)
        if not quota:
            return
        self.stats_inc("earshot/youtube/quota_exceeded")
        for state in self.scopes.values():
            self.truncate_scope(state, "not read: the YouTube quota is spent; read next run", quiet=True)
        raise CloseSpider("quota_exceeded")
