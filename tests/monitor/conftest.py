"""Fixtures for the top-floor tests: the service's text scorer, loaded once for the whole session."""

from __future__ import annotations

import pytest

from monitor.core.config import load_settings
from monitor.pipeline import TextScorer, load_scorer


@pytest.fixture(scope="session")
def scorer() -> TextScorer:
    """The default model with urgency and aspects, as ``earshot run`` loads it (seconds; shared, read-only)."""
    return load_scorer(load_settings())
