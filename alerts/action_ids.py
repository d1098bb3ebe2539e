"""The ids that tie Slack messages, modals and the interactivity handler together.

Messages (``alerts.slack_blocks``) put these ids on their buttons and inputs; the interactivity
handler (``alerts.actions``) dispatches on them. Keeping them in one module means a renamed button
cannot silently stop working. A button's ``value`` is always the alert id as a decimal string.
"""

from __future__ import annotations

from typing import Final

OPEN_SOURCE: Final = "earshot_open_review"  # link button: the item on its source
OPEN_ITEM: Final = "earshot_open_item"  # link button: the item's page in Earshot
MARK_HANDLED: Final = "earshot_mark_handled"  # button
REOPEN: Final = "earshot_reopen"  # button, shown once handled
ASSIGN: Final = "earshot_assign"  # users_select; selected_user is the assignee
REPLY: Final = "earshot_reply"  # button: opens the reply modal
WRONG_SENTIMENT: Final = "earshot_wrong_sentiment"  # static_select; option values are sentiment labels

REPLY_MODAL: Final = "earshot_reply_modal"  # view callback_id; private_metadata = {"alert_id": id}
REPLY_BLOCK: Final = "earshot_reply_block"  # input block holding the reply text
REPLY_INPUT: Final = "earshot_reply_text"  # plain_text_input action_id inside REPLY_BLOCK

ACTIONS_BLOCK_PREFIX: Final = "earshot_actions_"  # + alert id
LINKS_BLOCK_PREFIX: Final = "earshot_links_"  # + mention id

SENTIMENT_LABELS: Final = ("negative", "neutral", "positive")
