"""The Slack App Home tab and the ``/earshot`` list: an agent's open alerts and the unassigned ones.

An agent opening Earshot's Home tab (Slack sends ``app_home_opened``) sees what is waiting for them and
what nobody has taken, each line with its response-target clock and the same buttons as the alert
message (:func:`alerts.slack_blocks.actions_block`, so the existing interactivity handler serves them).
``/earshot`` posts the same lines to the caller alone (:mod:`alerts.slash_command`). Both are in the
team's language (``slack.language``) and its time zone; the Home tab is re-published after a click on
one of its buttons, so a handled alert leaves the list.

Slack caps a Home view at 100 blocks and a message at 50, so each list shows at most
:data:`HOME_PER_LIST` / :data:`MESSAGE_PER_LIST` alerts (two blocks each) and says how many more wait
in the web inbox.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable

from sqlalchemy.engine import Engine

from alerts.escaping import clean_text
from alerts.open_alerts import OpenAlert, OpenLists, open_alerts
from alerts.slack_blocks import actions_block, context_block, header_block, section
from alerts.slack_format import SlackLimits, fit_escaped, truncate, untrusted
from alerts.slack_i18n import SlackText, severity_name, slack_text
from monitor.core.config import EarshotSettings
from monitor.core.timeutil import as_utc, utcnow

__all__ = [
    "HOME_PER_LIST",
    "MESSAGE_PER_LIST",
    "HomePublisher",
    "alert_lines",
    "home_view",
    "list_blocks",
    "publish_home",
    "sla_clock",
]

logger = logging.getLogger(__name__)

HOME_PER_LIST: Final = 20  # 2 blocks each, two lists, plus headings: within a Home view's 100 blocks
MESSAGE_PER_LIST: Final = 10  # within a message's 50 blocks
_EXCERPT_CHARS: Final = 200


@runtime_checkable
class HomePublisher(Protocol):
    """The one Slack call the Home tab needs (``SlackSender.publish_view`` in production)."""

    def publish_view(self, user_id: str, view: dict[str, Any]) -> None: ...


def sla_clock(item: OpenAlert, now: datetime, voice: SlackText) -> str:
    """``⏱ 35 min left (until 1 maj 2024, 17:03 CEST)`` / ``⏰ 2 h 10 min overdue (…)`` / no target."""
    if item.due_at is None:
        return voice.t("no response target")
    left = (as_utc(item.due_at) - as_utc(now)).total_seconds() / 60
    deadline = voice.when(item.due_at)
    if left >= 0:
        return voice.t("⏱ %(span)s left (until %(deadline)s)", span=voice.minutes(left), deadline=deadline)
    return voice.t("⏰ %(span)s overdue (since %(deadline)s)", span=voice.minutes(-left), deadline=deadline)


def _kind_name(kind: str, voice: SlackText) -> str:
    names = {
        "negative": voice.t("Negative mention"),
        "low_rating": voice.t("Low rating"),
        "urgent": voice.t("🚨 Urgent"),
        "keyword": voice.t("Keyword match"),
    }
    return names.get(kind, kind.replace("_", " "))


def alert_lines(item: OpenAlert, now: datetime, voice: SlackText) -> list[dict[str, Any]]:
    """Two blocks for one open alert: what and where with its clock and an excerpt, then its buttons."""
    alert = item.alert
    subject_md = untrusted(item.target or item.source, 100, voice.t("unknown target"))[0]
    severity_md = untrusted(severity_name(alert.severity, voice), 16, voice.t("unknown"))[0]
    head = f"*{_kind_name(alert.kind, voice)}: {subject_md}* · {severity_md} · {sla_clock(item, now, voice)}"
    byline = ""
    if item.author or item.source:
        author_md = untrusted(item.author, 80, voice.t("unknown author"))[0]
        source_md = untrusted(item.source, 40, voice.t("unknown source"))[0]
        byline = voice.t("by %(author)s on %(source)s", author=author_md, source=source_md)
    clean = clean_text(item.text or "")
    excerpt = f"“{fit_escaped(clean, _EXCERPT_CHARS, 1200)}”" if clean else f"_{voice.t('(no text)')}_"
    alert_no = voice.t("Alert #%(id)s", id=alert.id)
    text = "\n".join(x for x in (f"{head}", f"{byline} · {alert_no}" if byline else alert_no, excerpt) if x)
    blocks: list[dict[str, Any]] = [section(truncate(text, SlackLimits.SECTION_TEXT))]
    buttons = actions_block(alert, voice, can_reply=alert.mention_id is not None)
    if buttons is not None:
        blocks.append(buttons)
    return blocks


def _list_blocks(
    title: str, items: list[OpenAlert], total: int, empty: str, now: datetime, voice: SlackText, inbox: str
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        section(f"*{title}* ({voice.number(total)})"),
    ]
    if not items:
        blocks.append(context_block(empty))
        return blocks
    for item in items:
        blocks += alert_lines(item, now, voice)
    hidden = total - len(items)
    if hidden > 0:
        more = voice.n(
            "%(count)s more in the inbox: %(url)s",
            "%(count)s more in the inbox: %(url)s",
            hidden,
            count=voice.number(hidden),
            url=inbox,
        )
        blocks.append(context_block(more))
    return blocks


def list_blocks(
    lists: OpenLists,
    settings: EarshotSettings,
    voice: SlackText,
    now: datetime,
    *,
    include_unassigned: bool = True,
) -> list[dict[str, Any]]:
    """The two lists (or only the caller's) as blocks, shared by the Home tab and ``/earshot``."""
    inbox = f"<{settings.public_url.rstrip('/')}/inbox|{voice.t('Earshot inbox')}>"
    blocks = _list_blocks(
        voice.t("Assigned to you"),
        lists.mine,
        lists.mine_total,
        voice.t("Nothing is assigned to you. 🎉"),
        now,
        voice,
        inbox,
    )
    if include_unassigned:
        blocks += _list_blocks(
            voice.t("Not assigned to anyone"),
            lists.unassigned,
            lists.unassigned_total,
            voice.t("Every open alert has someone on it."),
            now,
            voice,
            inbox,
        )
    return blocks


def home_view(lists: OpenLists, settings: EarshotSettings, voice: SlackText, now: datetime) -> dict[str, Any]:
    """The Home tab: a heading, when it was drawn, the two lists."""
    blocks = [
        header_block(voice.t("Earshot: open alerts")),
        context_block(voice.t("As of %(time)s. Open this tab again to refresh.", time=voice.when(now))),
        *list_blocks(lists, settings, voice, now),
    ]
    return {"type": "home", "blocks": blocks}


def publish_home(
    engine: Engine,
    settings: EarshotSettings,
    sender: object,
    user_id: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Build ``user_id``'s Home tab from the database and publish it (``views.publish``); returns the view.

    Raises :class:`TypeError` when ``sender`` cannot publish, and the sender's
    :class:`~alerts.slack_errors.SlackError` when Slack refuses.
    """
    if not isinstance(sender, HomePublisher):
        raise TypeError(f"{type(sender).__name__} cannot publish an App Home view (no publish_view)")
    moment = now or utcnow()
    voice = slack_text(settings)
    lists = open_alerts(engine, settings, user_id, HOME_PER_LIST)
    view = home_view(lists, settings, voice, moment)
    sender.publish_view(user_id, view)
    logger.info(
        "App Home published for %s: %d assigned, %d unassigned",
        user_id,
        lists.mine_total,
        lists.unassigned_total,
    )
    return view
