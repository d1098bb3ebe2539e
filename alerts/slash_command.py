"""``/earshot``: the caller's open alerts and the unassigned ones, shown to the caller alone.

Slack posts a slash command as a form (``command``, ``text``, ``user_id``, ``channel_id``...) and shows
whatever JSON the app answers within 3 seconds; ``response_type: ephemeral`` makes it visible only to
whoever typed it, so listing work in a busy channel does not post into it. ``/earshot`` lists both lists,
``/earshot moje`` (or ``mine``) only the caller's, ``/earshot pomoc`` (``help``) says what it can do. The
lines are the App Home's (:mod:`alerts.app_home`), with the same buttons, in the team's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy.engine import Engine

from alerts.app_home import MESSAGE_PER_LIST, list_blocks
from alerts.open_alerts import open_alerts
from alerts.slack_blocks import context_block, section
from alerts.slack_i18n import SlackText, slack_text
from monitor.core.config import EarshotSettings
from monitor.core.timeutil import utcnow

__all__ = ["COMMAND", "MINE_WORDS", "command_response"]

COMMAND: Final = "/earshot"
MINE_WORDS: Final = frozenset({"moje", "mine", "my", "moj", "mój"})
_HELP_WORDS: Final = frozenset({"help", "pomoc", "?"})


def _help(voice: SlackText) -> dict[str, Any]:
    text = voice.t(
        "`/earshot` lists your open alerts and the unassigned ones; `/earshot mine` only yours. "
        "Only you see the answer."
    )
    return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}


def command_response(
    engine: Engine,
    settings: EarshotSettings,
    fields: dict[str, str],
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ephemeral answer to one ``/earshot`` call (``fields``: Slack's form fields)."""
    voice = slack_text(settings)
    user_id = fields.get("user_id", "")
    words = fields.get("text", "").strip().lower().split()
    if not user_id:
        text = voice.t("Slack did not say who called /earshot; try again.")
        return {"response_type": "ephemeral", "text": text}
    if words and words[0] in _HELP_WORDS:
        return _help(voice)
    if words and words[0] not in MINE_WORDS:
        return _help(voice)
    only_mine = bool(words)
    moment = now or utcnow()
    lists = open_alerts(engine, settings, user_id, MESSAGE_PER_LIST * (2 if only_mine else 1))
    blocks = [
        context_block(voice.t("Only you see this. As of %(time)s.", time=voice.when(moment))),
        *list_blocks(lists, settings, voice, moment, include_unassigned=not only_mine),
    ]
    if only_mine:
        summary = voice.t("Open alerts assigned to you: %(mine)s", mine=voice.number(lists.mine_total))
    else:
        summary = voice.t(
            "Open alerts assigned to you: %(mine)s; not assigned to anyone: %(unassigned)s",
            mine=voice.number(lists.mine_total),
            unassigned=voice.number(lists.unassigned_total),
        )
    return {"response_type": "ephemeral", "text": summary, "blocks": blocks}
