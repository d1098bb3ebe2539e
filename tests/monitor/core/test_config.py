"""Settings load from environment and TOML, and a bad value names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.core.config import load_settings
from monitor.core.settings_base import ConfigError


def test_defaults_use_sqlite_under_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EARSHOT_CONFIG", raising=False)
    s = load_settings(data_dir=tmp_path)
    assert s.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'earshot.db'}"
    assert s.slack.bot_token is None


def test_toml_file_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "earshot.toml"
    cfg.write_text(
        '[slack]\ndefault_channel = "#cs"\n\n[[targets]]\nname = "Sklep"\n'
        'google_account_id = "123"\ngoogle_location_ids = ["456"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("EARSHOT_SLACK__BOT_TOKEN", "xoxb-test-secret")
    monkeypatch.setenv("EARSHOT_ALERTS__MAX_STARS", "1")
    s = load_settings(cfg)
    assert s.slack.default_channel == "#cs"
    assert s.targets[0].google_location_ids == ["456"]
    assert s.alerts.max_stars == 1
    assert s.slack.bot_token is not None
    assert "xoxb-test-secret" not in repr(s)


def test_malformed_value_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EARSHOT_CONFIG", raising=False)
    monkeypatch.setenv("EARSHOT_ALERTS__NEGATIVE_THRESHOLD", "very negative")
    with pytest.raises(ConfigError, match=r"alerts\.negative_threshold.*EARSHOT_ALERTS__NEGATIVE_THRESHOLD"):
        load_settings()


def test_missing_or_broken_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EARSHOT_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[slack\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)


def test_unknown_setting_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "earshot.toml"
    cfg.write_text('[slack]\nchanel = "#typo"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"slack\.chanel"):
        load_settings(cfg)
