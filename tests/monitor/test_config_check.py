"""`earshot config check` finds what loads fine but fails later, each problem with its line in the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config_check import TomlLines, channel_problem, check_config
from monitor.core.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "earshot.example.toml"

BASE = """\
[[targets]]
name = "Sklep Kowalski"
keywords = ["sklep kowalski"]

[[targets]]
name = "Kowalski Outlet"
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("EARSHOT_"):
            monkeypatch.delenv(key)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "earshot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _line(text: str, needle: str) -> int:
    """The 1-based line of the last line containing ``needle``."""
    return max(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_example_config_loads_and_passes_the_check(capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(EXAMPLE)
    assert [t.name for t in settings.targets] == ["Sklep Kowalski", "Kowalski Outlet"]
    assert settings.slack.bot_token is None  # secrets live in the environment, not in the example
    result = check_config(EXAMPLE)
    assert result.problems == []
    assert main(["config", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("config OK: 2 targets, ") and out.rstrip().endswith(" 4 rules")


def test_a_clean_base_passes(tmp_path: Path) -> None:
    assert check_config(_write(tmp_path, BASE)).problems == []


def test_two_targets_with_one_name(tmp_path: Path) -> None:
    text = BASE + '\n[[targets]]\nname = "Sklep Kowalski"\n'
    (problem,) = check_config(_write(tmp_path, text)).problems
    assert problem.key == "targets[2].name" and "unique" in problem.message
    assert problem.line == _line(text, 'name = "Sklep Kowalski"')


def test_a_rule_naming_an_unknown_target(tmp_path: Path) -> None:
    text = BASE + '\n[[alerts.rules]]\nname = "r"\nmax_stars = 2\ntargets = ["Sklep Kowalsky"]\n'
    (problem,) = check_config(_write(tmp_path, text)).problems
    assert problem.key == "alerts.rules[0].targets[0]"
    assert "'Sklep Kowalsky'" in problem.message and "did you mean 'Sklep Kowalski'" in problem.message
    assert problem.line == _line(text, "targets = [")


def test_a_rule_naming_an_unknown_source(tmp_path: Path) -> None:
    text = BASE + '\n[[alerts.rules]]\nname = "r"\nmax_stars = 2\nsources = ["ceneo", "alegro"]\n'
    (problem,) = check_config(_write(tmp_path, text)).problems
    assert problem.key == "alerts.rules[0].sources[1]"
    assert "did you mean 'allegro'" in problem.message
    assert problem.line == _line(text, "sources = [")


def test_next_steps_keyed_by_a_non_aspect(tmp_path: Path) -> None:
    text = BASE + '\n[targets.reply.next_steps]\n"delivery.pl" = "Sprawdzimy."\n"dostawa" = "Sprawdzimy."\n'
    (problem,) = check_config(_write(tmp_path, text)).problems
    assert problem.key == "targets[1].reply.next_steps.dostawa"
    assert "not an aspect" in problem.message
    assert problem.line == _line(text, '"dostawa"')


def test_next_steps_did_you_mean_and_language(tmp_path: Path) -> None:
    text = BASE + '\n[targets.reply]\nnext_steps = { "delivry.pl" = "A.", "returns.de" = "B." }\n'
    problems = check_config(_write(tmp_path, text)).problems
    messages = " | ".join(p.message for p in problems)
    assert len(problems) == 2
    assert "did you mean 'delivery'" in messages and "'pl' or 'en'" in messages
    assert {p.line for p in problems} == {_line(text, "next_steps")}  # the inline table's line


@pytest.mark.parametrize("channel", ["#cs-alerty", "cs_alerty", "C0123ABCD", "G01ABC", "#" + "a" * 80])
def test_valid_channels(channel: str) -> None:
    assert channel_problem(channel) is None


@pytest.mark.parametrize(
    "channel", ["#CS-Alerty", "#cs alerty", "#zwroty.pl", "", "#" + "a" * 81, "#obsługa"]
)
def test_invalid_channels(channel: str) -> None:
    assert channel_problem(channel) is not None


def test_an_invalid_slack_channel_name(tmp_path: Path) -> None:
    text = (
        BASE
        + '\n[[alerts.rules]]\nname = "r"\nmax_stars = 2\nchannel = "#CS Pilne"\n\n[digest]\nchannel = "#raporty"\n'
    )
    (problem,) = check_config(_write(tmp_path, text)).problems
    assert problem.key == "alerts.rules[0].channel"
    assert "did you mean '#cs-pilne'" in problem.message
    assert problem.line == _line(text, "#CS Pilne")


def test_an_invalid_default_channel(tmp_path: Path) -> None:
    text = BASE + '\n[slack]\ndefault_channel = "alerts channel"\n'
    (problem,) = check_config(_write(tmp_path, text)).problems
    assert problem.key == "slack.default_channel" and problem.line == _line(text, "default_channel")


def test_shared_token_in_the_file(tmp_path: Path) -> None:
    text = BASE + '\n[web]\nshared_token = "let-me-in"\n'
    (problem,) = check_config(_write(tmp_path, text)).problems
    assert problem.key == "web.shared_token"
    assert "EARSHOT_WEB__SHARED_TOKEN" in problem.message and "let-me-in" not in problem.message
    assert problem.line == _line(text, "shared_token")


def test_any_secret_in_the_file_but_not_a_password_hash(tmp_path: Path) -> None:
    text = (
        BASE
        + '\n[slack]\nbot_token = "xoxb-1-2"\n\n[sources.reddit]\nclient_secret = "s3cret"\n'
        + '\n[[web.users]]\nusername = "anna"\npassword_hash = "scrypt$16384$8$1$AA$BB"\n'
    )
    problems = check_config(_write(tmp_path, text)).problems
    assert [p.key for p in problems] == ["slack.bot_token", "sources.reddit.client_secret"]
    assert "EARSHOT_SLACK__BOT_TOKEN" in problems[0].message
    assert "EARSHOT_SOURCES__REDDIT__CLIENT_SECRET" in problems[1].message
    assert [p.line for p in problems] == [_line(text, "bot_token"), _line(text, "client_secret")]


def test_load_errors_get_their_line(tmp_path: Path) -> None:
    text = BASE + '\n[[alerts.rules]]\nname = "r"\nmax_stars = "two"\n'
    (problem,) = check_config(_write(tmp_path, text)).problems
    assert problem.key == "alerts.rules[0].max_stars" and problem.line == _line(text, "max_stars")
    assert check_config(_write(tmp_path, BASE + "\n[slack\n")).problems[0].line == _line(BASE, "Outlet") + 2


def test_the_command_prints_every_problem_with_its_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = BASE + '\n[[targets]]\nname = "Kowalski Outlet"\nchannel = "#Outlet"\n'
    path = _write(tmp_path, text)
    assert main(["config", "check", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    duplicate = _line(text, "Kowalski Outlet")
    assert lines == [
        f"{path}:{duplicate}: targets[2].name: "
        "'Kowalski Outlet' is also the name of targets[1]; names must be unique",
        f"{path}:{_line(text, '#Outlet')}: targets[2].channel: " + str(channel_problem("#Outlet")),
    ]
    assert "2 problem(s)" in captured.err
    assert main(["--config", str(path), "config", "check"]) == 2  # the file from --config


def test_the_command_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check"]) == 2
    assert "config check FILE" in capsys.readouterr().err


def test_toml_lines_follow_arrays_of_tables_and_subtables() -> None:
    lines = TomlLines(
        '[[targets]]\nname = "a"\n[targets.reply]\nformal = true\n[[targets]]\nname = "b"\n'
        "[targets.reply.next_steps]\ndelivery = 'x'\n"
        'description = """\nname = "not a key"\n"""\n'
    )
    assert lines.line_of(("targets", 0, "reply", "formal")) == 4
    assert lines.line_of(("targets", 1, "name")) == 6
    assert lines.line_of(("targets", 1, "reply", "next_steps", "delivery")) == 8
    assert lines.line_of(("targets", 1, "reply", "contact_email")) == 7  # the enclosing table
    assert lines.line_of(("targets", 1, "reply", "next_steps", "name")) == 7  # inside a """ string: no key
    assert lines.line_of(("web", "port")) is None
