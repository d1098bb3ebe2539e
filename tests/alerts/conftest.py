"""Fixtures for the alert tests: a fake Slack server and settings pointing at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.core.config import CONFIG_ENV, EarshotSettings
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.helpers import make_settings


@pytest.fixture(autouse=True)
def _no_earshot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the developer's environment.

    One exception, set here: Slack messages default to English in UTC (the product's default is Polish
    in Europe/Warsaw), because most tests here check layout, escaping and delivery against English text.
    The language tests pass ``slack.language`` / ``targets[].language`` explicitly, which wins.
    """
    for name in list(os.environ):
        field = name.removeprefix("EARSHOT_").split("__")[0].lower()
        if name == CONFIG_ENV or (name.startswith("EARSHOT_") and field in EarshotSettings.model_fields):
            monkeypatch.delenv(name)
    monkeypatch.setenv("EARSHOT_SLACK__LANGUAGE", "en")
    monkeypatch.setenv("EARSHOT_SLACK__TIMEZONE", "UTC")


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def settings(tmp_path: Path, fake_slack: FakeSlack) -> EarshotSettings:
    """Settings with a bot token, posting to the fake Slack's #earshot-alerts."""
    return make_settings(tmp_path, bot_token=fake_slack.token, api_url=fake_slack.url)
