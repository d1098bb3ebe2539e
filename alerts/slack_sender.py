"""Talk to Slack (or the console): post, update and find alert messages again.

slack-sdk's own retry handlers are switched off (``retry_handlers=[]``): a retried ``chat.postMessage``
after a timeout can post twice, and a rate-limit sleep inside the SDK is invisible to the outbox. The
outbox owns retries instead, persisting the wait in ``next_attempt_at`` and checking
``conversations.history`` for the message before posting again. Every failure leaves here as one of
the errors of :mod:`alerts.slack_errors`, which say what the caller must do about it.

The bot token lives only inside the ``WebClient``; errors never carry it (see :mod:`alerts.slack_errors`).
Without a token, :class:`ConsoleSender` prints alerts instead, so a trial run shows something.
"""

from __future__ import annotations

import http.client
import logging
import math
import re
import sys
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TextIO
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from alerts.slack_errors import (
    SlackError,
    SlackPermanentError,
    SlackTransientError,
    classify_api_error,
    describe_network_error,
    permanent_hint,
    redact_token,
)
from alerts.slack_format import SlackMessage
from monitor.core.config import EarshotSettings
from monitor.core.models import AlertStatus
from monitor.core.timeutil import as_utc

__all__ = [
    "EVENT_TYPE",
    "AlertSender",
    "ConsoleSender",
    "SlackSender",
    "is_channel_id",
    "make_sender",
]

logger = logging.getLogger(__name__)

EVENT_TYPE = "earshot_alert"
HISTORY_PAGE_SIZE = 200
MAX_HISTORY_PAGES = 5  # 1,000 messages back from the alert's creation is plenty for a lookup

_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")


def is_channel_id(channel: str) -> bool:
    """``C…``/``G…``/``D…`` ids, as opposed to ``#name``: conversations.history accepts only ids."""
    return _CHANNEL_ID.fullmatch(channel) is not None


class AlertSender(Protocol):
    """Where alerts go; the outbox only needs these two calls and the status to record on success."""

    delivered_status: str

    def post(
        self,
        channel: str,
        message: SlackMessage,
        metadata: dict[str, Any],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> tuple[str | None, str | None]:
        """Deliver ``message`` (into thread ``thread_ts`` when given); return (channel id, ts) where known."""
        ...

    def update(self, channel_id: str, ts: str, message: SlackMessage) -> None:
        """Re-render a delivered message in place."""
        ...

    def find_in_thread(self, channel: str, thread_ts: str, alert_id: int) -> str | None:
        """The ts of an already delivered thread reply carrying ``alert_id``, if any."""
        ...

    def find_by_alert_id(self, channel: str, alert_id: int, oldest: datetime) -> str | None:
        """The ts of an already delivered message carrying ``alert_id`` in its metadata, if any."""
        ...

    def resolve_channel_id(self, channel: str) -> str | None:
        """The destination's id for a channel name, or ``None`` where lookups are impossible."""
        ...


class SlackSender:
    """Posts alerts with slack-sdk's ``WebClient`` and finds them again by their message metadata."""

    delivered_status: str = AlertStatus.SENT

    def __init__(self, settings: EarshotSettings, client: WebClient | None = None) -> None:
        token = settings.slack.bot_token
        if token is None or not token.get_secret_value():
            raise ValueError("SlackSender needs EARSHOT_SLACK__BOT_TOKEN; use ConsoleSender without one")
        self._token = token
        base_url = (
            settings.slack.api_url if settings.slack.api_url.endswith("/") else settings.slack.api_url + "/"
        )
        self._client = client or WebClient(
            token=token.get_secret_value(),
            base_url=base_url,
            # WebClient takes whole seconds; rounding up never cuts a call shorter than configured.
            timeout=max(1, math.ceil(settings.slack.timeout_seconds)),
            retry_handlers=[],
        )
        self._channel_ids: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SlackSender(base_url={self._client.base_url!r})"

    def _call(self, method: str, channel: str | None, call: Callable[[], SlackResponse]) -> SlackResponse:
        """Run one Web API call, turning every failure into one of the three outbox-facing errors.

        The SDK exception holds the request, Authorization header included, so it is neither chained nor
        left as context: the replacement is raised after the ``except`` block has let go of it.
        """
        error: SlackError
        try:
            return call()
        except SlackApiError as err:
            error = classify_api_error(err, method, channel, self._token)
        except (URLError, OSError, http.client.HTTPException) as err:
            # URLError: refused/unresolvable; OSError: timeouts and resets; HTTPException: truncated replies.
            detail = redact_token(describe_network_error(err), self._token)
            error = SlackTransientError(f"Slack {method} unreachable ({detail}); will retry")
        except SlackClientError as err:
            error = SlackPermanentError(
                "client_error",
                f"slack-sdk refused the call ({type(err).__name__}); check EARSHOT_SLACK__API_URL",
            )
        raise error

    def check_auth(self) -> str:
        """Who the token belongs to (``auth.test``), for a health check; raises like every call here."""
        resp = self._call("auth.test", None, self._client.auth_test)
        return f"{resp.get('user', '?')} in {resp.get('team', '?')}"

    def post(
        self,
        channel: str,
        message: SlackMessage,
        metadata: dict[str, Any],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> tuple[str, str]:
        """``chat.postMessage`` with blocks, fallback text and metadata; returns (channel id, ts).

        With ``thread_ts`` the message is a reply in that thread (``broadcast`` also shows it in the channel).
        """
        extra: dict[str, Any] = {}
        if thread_ts:
            extra = {"thread_ts": thread_ts, "reply_broadcast": broadcast}
        resp = self._call(
            "chat.postMessage",
            channel,
            lambda: self._client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
                link_names=False,
                parse="none",
                **extra,
            ),
        )
        channel_id, ts = resp.get("channel"), resp.get("ts")
        if not isinstance(channel_id, str) or not isinstance(ts, str):
            raise SlackTransientError(
                "Slack chat.postMessage answered ok without channel/ts; will look it up"
            )
        self._channel_ids[channel.lstrip("#")] = channel_id
        return channel_id, ts

    def update(self, channel_id: str, ts: str, message: SlackMessage) -> None:
        """``chat.update``: re-render a posted message in place (handled, assigned, storm subsided)."""
        self._call(
            "chat.update",
            channel_id,
            lambda: self._client.chat_update(
                channel=channel_id,
                ts=ts,
                text=message.text,
                blocks=message.blocks,
                link_names=False,
                parse="none",
            ),
        )

    def post_ephemeral(self, channel_id: str, user: str, text: str) -> None:
        """``chat.postEphemeral``: a note only ``user`` sees (e.g. a reply the source refused)."""
        self._call(
            "chat.postEphemeral",
            channel_id,
            lambda: self._client.chat_postEphemeral(channel=channel_id, user=user, text=text),
        )

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """``views.open``: show a modal; Slack accepts the trigger_id only within 3 s of the click."""
        self._call("views.open", None, lambda: self._client.views_open(trigger_id=trigger_id, view=view))

    def publish_view(self, user_id: str, view: dict[str, Any]) -> None:
        """``views.publish``: replace ``user_id``'s App Home tab with ``view`` (no trigger id needed)."""
        self._call("views.publish", None, lambda: self._client.views_publish(user_id=user_id, view=view))

    def upload_files(
        self, channel: str, files: list[tuple[str, bytes]], initial_comment: str, title: str | None = None
    ) -> None:
        """Share ``files`` (name, bytes) in ``channel`` with ``initial_comment`` as one post (files upload v2).

        Why v2: ``files.upload`` is retired; ``files_upload_v2`` gets an upload URL per file
        (``files.getUploadURLExternal``), POSTs the bytes there, then shares them all at once
        (``files.completeUploadExternal``), which wants a channel id, so ``#name`` is resolved first.
        ``title`` (default: each file's name) is shown above every file. Not idempotent: a retry after a
        transient error may share the files twice, so callers retry only on a person's request.
        """
        if not files:
            raise ValueError("upload_files needs at least one file")
        channel_id = self.resolve_channel_id(channel)
        uploads = [{"file": content, "filename": name, "title": title or name} for name, content in files]
        self._call(
            "files.upload_v2",
            channel,
            lambda: self._client.files_upload_v2(
                channel=channel_id, file_uploads=uploads, initial_comment=initial_comment
            ),
        )

    def find_in_thread(self, channel: str, thread_ts: str, alert_id: int) -> str | None:
        """The ts of a reply in thread ``thread_ts`` carrying ``alert_id`` in its metadata, if any.

        Thread replies are not in ``conversations.history`` (unless broadcast), so a retried thread
        reply is looked up with ``conversations.replies``.
        """
        channel_id = self.resolve_channel_id(channel)
        lookup = partial(self._client.conversations_replies, channel=channel_id, ts=thread_ts)
        return self._search_pages("conversations.replies", channel, lookup, alert_id)

    def _search_pages(
        self, method: str, channel: str, lookup: Callable[..., SlackResponse], alert_id: int
    ) -> str | None:
        """Page through a history-like method (newest first) for the message carrying ``alert_id``."""
        cursor: str | None = None
        for _ in range(MAX_HISTORY_PAGES):
            resp = self._call(
                method,
                channel,
                partial(lookup, include_all_metadata=True, limit=HISTORY_PAGE_SIZE, cursor=cursor),
            )
            for msg in resp.get("messages") or []:
                if _carries_alert(msg, alert_id):
                    return str(msg["ts"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not resp.get("has_more") or not cursor:
                return None
        logger.warning(
            "alert %s: stopped looking after %d pages of %s in %s",
            alert_id,
            MAX_HISTORY_PAGES,
            method,
            channel,
        )
        return None

    def resolve_channel_id(self, channel: str) -> str:
        """A channel id for ``#name``/``name``/id; history calls accept only ids. Uses conversations.list."""
        if is_channel_id(channel):
            return channel
        name = channel.lstrip("#")
        if name in self._channel_ids:
            return self._channel_ids[name]
        cursor: str | None = None
        while True:
            resp = self._call(
                "conversations.list",
                channel,
                partial(
                    self._client.conversations_list,
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=200,
                    cursor=cursor,
                ),
            )
            for conv in resp.get("channels") or []:
                if isinstance(conv, dict) and conv.get("name") == name and isinstance(conv.get("id"), str):
                    self._channel_ids[name] = conv["id"]
                    return str(conv["id"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                raise SlackPermanentError(
                    "channel_not_found", permanent_hint("channel_not_found", channel, None)
                )

    def find_by_alert_id(self, channel: str, alert_id: int, oldest: datetime) -> str | None:
        """Search the channel's history since ``oldest`` for our metadata with this ``alert_id``."""
        channel_id = self.resolve_channel_id(channel)
        moment = as_utc(oldest)
        lookup = partial(
            self._client.conversations_history, channel=channel_id, oldest=f"{moment.timestamp():.6f}"
        )
        return self._search_pages("conversations.history", channel, lookup, alert_id)


def _carries_alert(message: Any, alert_id: int) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("ts"), str):
        return False
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, dict) and str(payload.get("alert_id")) == str(alert_id)


class ConsoleSender:
    """Used when no bot token is configured: prints each alert readably so a trial run shows something."""

    delivered_status: str = AlertStatus.PRINTED

    def __init__(self, settings: EarshotSettings | None = None, stream: TextIO | None = None) -> None:
        self._stream = stream

    def post(
        self,
        channel: str,
        message: SlackMessage,
        metadata: dict[str, Any],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> tuple[None, None]:
        stream = self._stream or sys.stdout  # looked up per call so redirected stdout (and capsys) works
        body = message.plain or message.text
        alert_id = (metadata.get("event_payload") or {}).get("alert_id", "?")
        where = f"{channel}, in the thread of alert #{thread_ts}" if thread_ts else channel
        print(
            f"\n--- Earshot alert #{alert_id} for {where} (no Slack token: printed) ---\n{body}\n",
            file=stream,
        )
        stream.flush()
        return None, None

    def update(self, channel_id: str, ts: str, message: SlackMessage) -> None:
        """The console cannot edit what it printed; the web page shows the current state."""

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """There is no Slack to open a modal in: say what to configure."""
        raise SlackPermanentError(
            "not_authed", "the Reply modal needs Slack: set EARSHOT_SLACK__BOT_TOKEN to the app's bot token"
        )

    def publish_view(self, user_id: str, view: dict[str, Any]) -> None:
        """There is no Slack whose App Home could show it: say what to configure."""
        raise SlackPermanentError(
            "not_authed", "the App Home tab needs Slack: set EARSHOT_SLACK__BOT_TOKEN to the app's bot token"
        )

    def find_in_thread(self, channel: str, thread_ts: str, alert_id: int) -> str | None:
        return None

    def find_by_alert_id(self, channel: str, alert_id: int, oldest: datetime) -> str | None:
        """The console keeps no history; a crash right after printing may print the alert again."""
        return None

    def resolve_channel_id(self, channel: str) -> str | None:
        return None


def make_sender(settings: EarshotSettings) -> AlertSender:
    """A :class:`SlackSender` when a bot token is configured, else a :class:`ConsoleSender`."""
    token = settings.slack.bot_token
    if token is not None and token.get_secret_value():
        return SlackSender(settings)
    logger.info("no Slack bot token configured (EARSHOT_SLACK__BOT_TOKEN): alerts are printed to the console")
    return ConsoleSender(settings)
