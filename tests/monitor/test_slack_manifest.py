"""The Slack app manifest grants a scope for every Web API call in the code, and follows the settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from slack_sdk import WebClient

from monitor.cli import main
from monitor.core.config import EarshotSettings
from monitor.slack_manifest import METHOD_SCOPES, bot_scopes, slack_manifest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("alerts", "monitor", "spiders", "sentiment")
# `client.chat_postMessage(`, `partial(self._client.conversations_list, ...)`, `client.api_call("x.y")`
_CLIENT_ATTR = re.compile(r"\b_?client\.([A-Za-z_][A-Za-z0-9_]*)")
_API_CALL = re.compile(r"""\.api_call\(\s*["']([A-Za-z.]+)["']""")


def _web_api_method(sdk_name: str) -> str:
    """slack-sdk's ``chat_postMessage`` as Slack's ``chat.postMessage`` (``files_upload_v2`` as ``files.upload_v2``)."""
    return sdk_name.replace("_", ".", 1)


def called_methods() -> set[str]:
    """Every Slack Web API method the source tree calls through a WebClient."""
    methods: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for name in _CLIENT_ATTR.findall(text):
                if name != "api_call" and callable(getattr(WebClient, name, None)):
                    methods.add(_web_api_method(name))
            methods.update(_API_CALL.findall(text))
    return methods


def test_the_scan_finds_the_calls_we_know() -> None:
    found = called_methods()
    assert {"chat.postMessage", "chat.update", "conversations.list", "files.upload_v2"} <= found


def test_every_slack_call_in_the_code_has_a_row_in_the_scope_table() -> None:
    missing = called_methods() - set(METHOD_SCOPES)
    assert not missing, f"add these Web API methods and their bot scopes to METHOD_SCOPES: {sorted(missing)}"


def test_every_row_of_the_scope_table_is_still_called() -> None:
    stale = set(METHOD_SCOPES) - called_methods()
    assert not stale, f"METHOD_SCOPES grants scopes for methods nothing calls: {sorted(stale)}"


def test_the_manifest_asks_for_exactly_the_scopes_of_the_table() -> None:
    scopes = slack_manifest(EarshotSettings())["oauth_config"]["scopes"]["bot"]
    assert scopes == bot_scopes()
    assert {"chat:write", "channels:read", "groups:read", "channels:history", "files:write"} <= set(scopes)


def test_the_request_url_follows_public_url() -> None:
    settings = EarshotSettings(public_url="https://earshot.example.pl/")
    manifest = slack_manifest(settings)
    assert manifest["settings"]["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://earshot.example.pl/slack/interactivity",
    }
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["features"]["bot_user"]["display_name"]
    assert manifest["display_information"]["name"]


def test_socket_mode_has_no_request_url() -> None:
    manifest = slack_manifest(EarshotSettings(public_url="https://earshot.example.pl"), socket_mode=True)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}
    assert manifest["settings"]["event_subscriptions"] == {"bot_events": ["app_home_opened"]}
    assert "url" not in manifest["features"]["slash_commands"][0]


def test_the_manifest_has_the_home_tab_its_event_and_the_earshot_command() -> None:
    manifest = slack_manifest(EarshotSettings(public_url="https://earshot.example.pl/"))
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["event_subscriptions"] == {
        "bot_events": ["app_home_opened"],
        "request_url": "https://earshot.example.pl/slack/events",
    }
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/earshot"
    assert command["url"] == "https://earshot.example.pl/slack/commands"
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"]


@pytest.fixture
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)


@pytest.mark.usefixtures("_clean_env")
def test_the_command_prints_the_manifest_as_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EARSHOT_PUBLIC_URL", "https://cs.sklep.pl")
    assert main(["slack", "manifest"]) == 0
    captured = capsys.readouterr()
    manifest = json.loads(captured.out)
    assert manifest["settings"]["interactivity"]["request_url"] == "https://cs.sklep.pl/slack/interactivity"
    assert captured.err == ""


@pytest.mark.usefixtures("_clean_env")
def test_the_command_warns_about_a_local_public_url_unless_socket_mode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["slack", "manifest"]) == 0
    assert "https" in capsys.readouterr().err
    assert main(["slack", "manifest", "--socket-mode"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["settings"]["socket_mode_enabled"] is True
    assert captured.err == ""
