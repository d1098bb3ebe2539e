"""Fixtures of the digest tests: no developer environment, the seeded database, a fake Slack."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from monitor.core.config import CONFIG_ENV
from tests.alerts.fake_slack import FakeSlack
from tests.monitor.digest.seed import seed


@pytest.fixture(autouse=True)
def _no_earshot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test alone, never from the developer's environment."""
    for name in list(os.environ):
        if name == CONFIG_ENV or name.startswith("EARSHOT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def seeded(engine: Engine) -> dict[str, int]:
    return seed(engine)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack
