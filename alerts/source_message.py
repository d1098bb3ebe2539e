"""The Slack message for a source-health alert: a source is failing, has gone quiet, or works again.

Such an alert has no mention, so it is short: what happened to which source, why Earshot thinks so,
and where to look next. The text goes through the same cleaning, escaping and limits as mention alerts.
"""

from __future__ import annotations

from typing import Any

from alerts.escaping import clean_text, plain_text
from alerts.slack_format import SlackLimits, SlackMessage, fit_escaped, truncate
from alerts.slack_i18n import ENGLISH, SlackText, localize_reason
from monitor.core.models import Alert

__all__ = ["KIND_FAILING", "KIND_QUIET", "KIND_RECOVERED", "SOURCE_KINDS", "build_source_message"]

KIND_FAILING = "source_failing"
KIND_QUIET = "source_quiet"
KIND_RECOVERED = "source_recovered"
SOURCE_KINDS = {
    KIND_FAILING: "Source failing",
    KIND_QUIET: "Source quiet",
    KIND_RECOVERED: "Source recovered",
}

_REASON_CHARS = 1500
_TITLES = {
    KIND_FAILING: "Source failing: %(source)s",
    KIND_QUIET: "Source quiet: %(source)s",
    KIND_RECOVERED: "Source recovered: %(source)s",
}
_NEXT_STEP = {
    KIND_FAILING: "Run `earshot sources` for the last runs, and `earshot crawl --source %(source)s` to see the "
    "error.",
    KIND_QUIET: "Check that the source still has new posts and that the spider still reads them "
    "(`earshot crawl --source %(source)s`).",
    KIND_RECOVERED: "No action needed.",
}


def _title(alert: Alert, voice: SlackText) -> str:
    source = clean_text(alert.source or "") or voice.t("unknown source")
    return plain_text(voice.t(_TITLES.get(alert.kind, "Source health: %(source)s"), source=source))


def build_source_message(alert: Alert, voice: SlackText = ENGLISH) -> SlackMessage:
    """Header, why, next step and a context line; ``plain`` for the console."""
    title = truncate(_title(alert, voice), SlackLimits.HEADER_TEXT)
    reason = truncate(clean_text(localize_reason(alert.reason, voice)), _REASON_CHARS)
    step_text = _NEXT_STEP.get(alert.kind)
    step = voice.t(step_text, source=clean_text(alert.source or "")) if step_text else ""
    why_label = voice.t("Why:")
    why = (
        f"*{why_label}* {fit_escaped(reason, _REASON_CHARS, 2500)}"
        if reason
        else f"*{why_label}* _{voice.t('see `earshot sources`')}_"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}},
        {"type": "section", "text": {"type": "mrkdwn", "text": why}},
    ]
    if step:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": fit_escaped(step, 500, 2000)}})
    context = " · ".join(
        (
            voice.t("Alert #%(id)s", id=alert.id),
            voice.t("source health"),
            fit_escaped(clean_text(alert.source or ""), 64, 320),
        )
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    text = fit_escaped(title, SlackLimits.HEADER_TEXT, 600)
    if reason:
        text += f": {fit_escaped(reason, _REASON_CHARS, 3000)}"
    plain = "\n".join(
        line for line in (f"[Earshot] {title}", f"{why_label} {reason}" if reason else "", step) if line
    )
    return SlackMessage(text=text, blocks=blocks, plain=plain)
