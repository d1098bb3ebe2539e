"""The Slack app manifest for Earshot: one paste into "Create an app → From an app manifest".

Why a generated manifest rather than a list of clicks in the README: the bot scopes must match the Web API
methods the code calls, and a hand-kept list drifts. :data:`METHOD_SCOPES` is that list, one row per
method; ``tests/monitor/test_slack_manifest.py`` greps the source tree for Slack calls and fails when a
call has no row here, so a new call cannot ship without its scope. The Request URL follows
``public_url``, because the web app serves the interactivity route
(:data:`alerts.interactivity.INTERACTIVITY_PATH`); with Socket Mode there is none.

JSON, not YAML: Slack accepts both, and JSON needs no extra dependency.
"""

from __future__ import annotations

from typing import Any, Final

from alerts.interactivity import INTERACTIVITY_PATH
from alerts.slack_events import COMMANDS_PATH, EVENTS_PATH
from alerts.slash_command import COMMAND
from monitor.core.config import EarshotSettings

__all__ = ["COMMAND_SCOPES", "METHOD_SCOPES", "bot_scopes", "interactivity_url", "slack_manifest"]

APP_NAME: Final = "Earshot"
APP_DESCRIPTION: Final = "Review and social-media monitoring: alerts, triage buttons and weekly digests."
APP_COLOR: Final = "#1d3557"

# Every Slack Web API method Earshot calls (named as the code passes it to SlackSender._call), with the
# bot scopes it needs per Slack's method docs. conversations.list is called with
# types=public_channel,private_channel, so it needs groups:read besides channels:read; the history
# lookups read private channels too (groups:history). files.upload_v2 is slack-sdk's wrapper around
# files.getUploadURLExternal + files.completeUploadExternal (files:write).
METHOD_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "conversations.list": ("channels:read", "groups:read"),
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.replies": ("channels:history", "groups:history"),
    "files.upload_v2": ("files:write",),
    "views.open": (),
    "views.publish": (),
}
# A slash command needs the ``commands`` scope although no Web API method is called for it.
COMMAND_SCOPES: Final[tuple[str, ...]] = ("commands",)


def bot_scopes() -> list[str]:
    """The bot token scopes every method in :data:`METHOD_SCOPES` needs, sorted, each once."""
    return sorted({scope for scopes in METHOD_SCOPES.values() for scope in scopes} | set(COMMAND_SCOPES))


def interactivity_url(settings: EarshotSettings) -> str:
    """Where Slack posts button clicks and modal submissions: the web app's route under ``public_url``."""
    return settings.public_url.rstrip("/") + INTERACTIVITY_PATH


def slack_manifest(settings: EarshotSettings, *, socket_mode: bool = False) -> dict[str, Any]:
    """The app manifest: display information, a bot user, its scopes, interactivity, the Home tab (its
    ``app_home_opened`` event) and the ``/earshot`` command.

    With ``socket_mode`` Slack delivers interactivity over the app-level token's WebSocket
    (``EARSHOT_SLACK__APP_TOKEN``, scope ``connections:write``, created in the app's Basic Information:
    a manifest cannot hold it), so there is no Request URL.
    """
    base = settings.public_url.rstrip("/")
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": ["app_home_opened"]}
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": "Your open alerts and the unassigned ones (only you see them)",
        "usage_hint": "[mine | moje | help]",
        "should_escape": False,
    }
    if not socket_mode:
        interactivity["request_url"] = interactivity_url(settings)
        events["request_url"] = base + EVENTS_PATH
        command["url"] = base + COMMANDS_PATH
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": APP_NAME,
            "description": APP_DESCRIPTION,
            "background_color": APP_COLOR,
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": False},
            "bot_user": {"display_name": APP_NAME, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": bot_scopes()}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
