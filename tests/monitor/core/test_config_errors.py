"""Every bad configuration ends in one `earshot: ...` line saying what is wrong and exit code 2, no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.cli import main

COMMANDS = [["sources"], ["config", "show"]]


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("EARSHOT_DATA_DIR", str(tmp_path / "data"))


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI in-process; it must exit 2 with a one-message error, and return that message."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("earshot: ")
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("command", COMMANDS)
def test_config_file_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    cfg = tmp_path / "earshot.toml"
    cfg.write_bytes(b'[slack]\ndefault_channel = "#caf\xe9"\n')  # Latin-1, not UTF-8
    err = _fails(["--config", str(cfg), *command], capsys)
    assert "not UTF-8" in err and "save it as UTF-8" in err


@pytest.mark.parametrize("command", COMMANDS)
def test_env_json_that_does_not_parse(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.setenv("EARSHOT_TARGETS", "[{")
    err = _fails(command, capsys)
    assert "EARSHOT_TARGETS is not valid JSON" in err


def test_nested_env_json_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EARSHOT_WEB__USERS", "[{")
    err = _fails(["config", "show"], capsys)
    assert "EARSHOT_WEB__USERS is not valid JSON" in err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("nonsense://", "no database dialect or driver 'nonsense'"),
        ("postgresql://earshot:hunter2@db:notaport/earshot", "not a valid SQLAlchemy URL"),
    ],
)
def test_bad_database_url(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    url: str,
    words: str,
) -> None:
    monkeypatch.setenv("EARSHOT_DATABASE_URL", url)
    err = _fails(command, capsys)
    assert "EARSHOT_DATABASE_URL" in err and words in err and "hunter2" not in err


def test_missing_database_driver(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sqlalchemy.dialects.mysql.pymysql")
    if _installed("pymysql"):
        pytest.skip("pymysql is installed here")
    monkeypatch.setenv("EARSHOT_DATABASE_URL", "mysql+pymysql://earshot:hunter2@127.0.0.1/earshot")
    err = _fails(["sources"], capsys)
    assert "driver is not installed" in err and "hunter2" not in err


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("command", COMMANDS)
def test_data_dir_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("EARSHOT_DATA_DIR", str(blocker))
    err = _fails(command, capsys)
    assert "EARSHOT_DATA_DIR" in err and "is a file, not a folder" in err


def test_sqlite_database_under_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{blocker}/earshot.db")
    err = _fails(["sources"], capsys)
    assert "cannot create the folder" in err and str(blocker) in err


@pytest.mark.parametrize("command", COMMANDS)
def test_config_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    err = _fails(["--config", str(tmp_path), *command], capsys)
    assert "is a folder, not a file" in err and "does not exist" not in err


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_log_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    monkeypatch.setenv("EARSHOT_LOG_LEVEL", "LOUD")
    err = _fails(command, capsys)
    assert "EARSHOT_LOG_LEVEL" in err and "'LOUD'" in err
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in err


def test_log_level_any_case(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EARSHOT_LOG_LEVEL", "warning")
    assert main(["config", "show"]) == 0
    assert '"log_level": "WARNING"' in capsys.readouterr().out


def test_list_item_names_the_toml_key_and_a_close_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "earshot.toml"
    cfg.write_text(
        'log_levl = "DEBUG"\n\n[slack]\nbot_tokn = "x"\n\n[[targets]]\nname = "Sklep"\nplace_id = "abc"\n',
        encoding="utf-8",
    )
    err = _fails(["--config", str(cfg), "config", "show"], capsys)
    assert "'targets[0].place_id' (TOML only)" in err and "did you mean 'place_ids'?" in err
    assert "EARSHOT_TARGETS__PLACE_ID" not in err
    assert "'slack.bot_tokn'" in err and "did you mean 'bot_token'?" in err
    assert "did you mean 'log_level'?" in err
