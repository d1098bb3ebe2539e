"""The Slack message for a stalled stage of the distributed mode, and for its recovery.

A stage stalls when its oldest waiting item (a mention to score, an alert to post) has waited longer
than its limit: workers died, nobody consumes its queue, or a task keeps failing. Like a broken source,
that is said once, in the outbox, and closed by a "recovered" message. The alert names no mention and no
source; its dedupe key says which stage (``stage:<stage>:stalled:...``), and its reason is stored in
English in one fixed shape, so the message can be told again in the reader's language.
"""

from __future__ import annotations

import re
from typing import Any

from alerts.escaping import clean_text
from alerts.slack_format import SlackLimits, SlackMessage, fit_escaped, truncate
from alerts.slack_i18n import ENGLISH, SlackText
from monitor.core.models import Alert

__all__ = [
    "KIND_STAGE_RECOVERED",
    "KIND_STAGE_STALLED",
    "STAGE_KINDS",
    "build_stage_message",
    "recovered_reason",
    "stage_of",
    "stalled_reason",
]

KIND_STAGE_STALLED = "stage_stalled"
KIND_STAGE_RECOVERED = "stage_recovered"
STAGE_KINDS = {KIND_STAGE_STALLED: "Stage stalled", KIND_STAGE_RECOVERED: "Stage recovered"}

_STALLED = re.compile(
    r"^(?P<waiting>\d+) waiting; the oldest since (?P<minutes>\d+) min \(limit (?P<limit>\d+) min\)$"
)
_RECOVERED = re.compile(r"^nothing waits over (?P<limit>\d+) min any more \(stall of alert #(?P<id>\d+)\)$")
_STAGE_NAMES = {
    "score": "scoring",
    "alerts": "alert delivery",
    "crawl": "crawling",
    "digest": "weekly digest",
}


def stalled_reason(waiting: int, waited_minutes: float, limit_minutes: float) -> str:
    """The stored (English) reason of a stall; :func:`build_stage_message` reads it back."""
    return f"{waiting} waiting; the oldest since {int(waited_minutes)} min (limit {int(limit_minutes)} min)"


def recovered_reason(limit_minutes: float, stalled_alert_id: int | None) -> str:
    return f"nothing waits over {int(limit_minutes)} min any more (stall of alert #{stalled_alert_id or 0})"


def stage_of(alert: Alert) -> str:
    """``score`` from ``stage:score:stalled:...``."""
    parts = alert.dedupe_key.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "stage" else "?"


def _reason(alert: Alert, voice: SlackText) -> str:
    text = alert.reason or ""
    if match := _STALLED.match(text):
        return voice.t(
            "%(waiting)s waiting; the oldest for %(minutes)s min (limit %(limit)s min)",
            waiting=match["waiting"],
            minutes=match["minutes"],
            limit=match["limit"],
        )
    if match := _RECOVERED.match(text):
        return voice.t(
            "nothing waits over %(limit)s min any more (the stall of alert #%(id)s is over)",
            limit=match["limit"],
            id=match["id"],
        )
    return text


def build_stage_message(alert: Alert, voice: SlackText = ENGLISH) -> SlackMessage:
    """Header, why, next step and a context line; ``plain`` for the console."""
    stage = stage_of(alert)
    name = voice.t(_STAGE_NAMES.get(stage, stage))
    if alert.kind == KIND_STAGE_RECOVERED:
        title = voice.t("Stage working again: %(stage)s", stage=name)
        step = voice.t("No action needed.")
    else:
        title = voice.t("Stage stalled: %(stage)s", stage=name)
        step = voice.t(
            "Run `earshot status`: does a worker consume the %(stage)s queue? Start one with "
            "`earshot worker --queues %(stage)s`.",
            stage=stage,
        )
    title = truncate(clean_text(title), SlackLimits.HEADER_TEXT)
    reason = truncate(clean_text(_reason(alert, voice)), 500)
    why_label = voice.t("Why:")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{why_label}* {fit_escaped(reason, 500, 2500)}"},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": fit_escaped(step, 500, 2000)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": " · ".join((voice.t("Alert #%(id)s", id=alert.id), voice.t("distributed mode"))),
                }
            ],
        },
    ]
    text = f"{fit_escaped(title, SlackLimits.HEADER_TEXT, 600)}: {fit_escaped(reason, 500, 3000)}"
    plain = "\n".join((f"[Earshot] {title}", f"{why_label} {reason}", step))
    return SlackMessage(text=text, blocks=blocks, plain=plain)
