"""``earshot config check``: what is wrong with a config file, each problem with its TOML line.

Loading the settings already rejects bad syntax, unknown keys and malformed values; this adds the
mistakes that load fine and fail later, quietly: two targets with one name, a rule filtering on a target
or source that does not exist (it never fires), a ``next_steps`` promise keyed by a word that is not an
aspect (never used), a channel name Slack will not resolve, and a secret written into the file (secrets
belong in ``EARSHOT_*`` environment variables, so the file can be shared and versioned). Every problem
names the key and, where the file has it, its line, so a shop can fix the file without reading code.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, SecretStr

from monitor.core.config import ENV_PREFIX, EarshotSettings, load_settings
from monitor.core.settings_base import ConfigError
from sentiment.vocabulary import ASPECT_KEYS
from spiders.catalogue import source_catalogue

__all__ = ["CheckResult", "Problem", "TomlLines", "channel_problem", "check_config"]

Path_ = tuple[str | int, ...]

# Slack channel names: lowercase letters, digits, hyphens and underscores, at most 80 characters; ids
# are what alerts.slack_sender.is_channel_id accepts. The sender strips a leading '#' before looking a
# name up, so 'name' works as well as '#name'.
_CHANNEL_NAME = re.compile(r"#?[a-z0-9_-]{1,80}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
REPLY_LANGUAGES = ("pl", "en")
# SecretStr fields that hold no secret: a scrypt hash is meant to be written into [[web.users]].
NOT_SECRETS = frozenset({"password_hash"})


@dataclass(frozen=True)
class Problem:
    """One thing to fix: the setting's dotted name, what is wrong, and its line in the file (if found)."""

    key: str
    message: str
    line: int | None = None

    def render(self, file: str) -> str:
        """``file:line: key: message``, the shape editors and CI logs link to the line."""
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass(frozen=True)
class CheckResult:
    """The problems found and, when the file loaded, what it configures (for the summary line)."""

    problems: list[Problem]
    settings: EarshotSettings | None = None

    def summary(self) -> str:
        if self.settings is None or self.problems:
            return f"{len(self.problems)} problem(s)"
        settings = self.settings
        sources = sum(info.runnable for info in source_catalogue(settings))
        rules = len(settings.alerts.effective_rules())
        return f"config OK: {len(settings.targets)} targets, {sources} sources configured, {rules} rules"


class TomlLines:
    """Where each key of a TOML file is written: line numbers by path, e.g. ``("targets", 1, "name")``.

    A small line scanner rather than a TOML parser (tomllib keeps no positions): it follows ``[table]``
    and ``[[array]]`` headers and ``key =`` lines, which is how config files are written. A key inside an
    inline table or a multi-line value is found by its nearest enclosing key instead.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
    _KEY = re.compile(
        r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
    )
    _PART = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|$)""")

    def __init__(self, text: str) -> None:
        self._lines: dict[Path_, int] = {}
        counts: dict[Path_, int] = {}
        table: Path_ = ()
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if line.count(in_string) % 2:
                    in_string = None
                continue
            header = self._HEADER.match(line)
            if header and not self._KEY.match(line):
                parent = self._resolve(self._parts(header.group(2))[:-1], counts)
                name = self._parts(header.group(2))[-1:]
                table = (*parent, *name)
                if header.group(1) == "[[":
                    counts[table] = counts.get(table, 0) + 1
                    table = (*table, counts[table] - 1)
                for end in range(1, len(table) + 1):  # [a.b.c] also opens a.b where not written before
                    self._lines.setdefault(table[:end], number)
                continue
            key = self._KEY.match(line)
            if key:
                self._lines.setdefault((*table, *self._parts(key.group(1))), number)
                for quote in ('"""', "'''"):
                    if line.count(quote) % 2:
                        in_string = quote

    @classmethod
    def _parts(cls, dotted: str) -> list[str]:
        return [part.strip("\"'") for part in cls._PART.findall(dotted)]

    @staticmethod
    def _resolve(parts: Sequence[str], counts: Mapping[Path_, int]) -> Path_:
        """A header's parent path, with the current item of every array of tables on the way."""
        path: Path_ = ()
        for part in parts:
            path = (*path, part)
            if path in counts:
                path = (*path, counts[path] - 1)
        return path

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest enclosing key written in the file; None if neither."""
        for end in range(len(path), 0, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return None


def dotted(path: Path_) -> str:
    """``("targets", 1, "name")`` as ``targets[1].name``, the way load errors name settings."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def parse_dotted(name: str) -> Path_:
    """The inverse of :func:`dotted`."""
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", name))


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def channel_problem(channel: str) -> str | None:
    """Why Slack would not find ``channel``, or None when it is a valid ``#name`` or channel id."""
    if _CHANNEL_ID.fullmatch(channel) or _CHANNEL_NAME.fullmatch(channel):
        return None
    fixed = "#" + re.sub(r"[^a-z0-9_-]+", "-", channel.lstrip("#").strip().lower()).strip("-")[:80]
    hint = f"; did you mean {fixed!r}?" if _CHANNEL_NAME.fullmatch(fixed) else ""
    return (
        f"{channel!r} is not a Slack channel: write '#name' (lowercase letters, digits, - and _, at most 80 "
        f"characters) or a channel id like C0123ABCD{hint}"
    )


def _channels(settings: EarshotSettings) -> Iterator[tuple[Path_, str]]:
    yield ("slack", "default_channel"), settings.slack.default_channel
    optional: list[tuple[Path_, str | None]] = [
        (("slack", "critical_channel"), settings.slack.critical_channel),
        (("alerts", "storm", "channel"), settings.alerts.storm.channel),
        (("source_health", "channel"), settings.source_health.channel),
        (("digest", "channel"), settings.digest.channel),
    ]
    optional += [(("targets", i, "channel"), t.channel) for i, t in enumerate(settings.targets)]
    optional += [(("alerts", "rules", i, "channel"), r.channel) for i, r in enumerate(settings.alerts.rules)]
    for path, channel in optional:
        if channel is not None:
            yield path, channel


def _target_problems(settings: EarshotSettings) -> Iterator[tuple[Path_, str]]:
    """Duplicate target names, and next_steps keys that are no aspect (or name an unknown language)."""
    first: dict[str, int] = {}
    for i, target in enumerate(settings.targets):
        if target.name in first:
            why = f"{target.name!r} is also the name of targets[{first[target.name]}]; names must be unique"
            yield ("targets", i, "name"), why
        first.setdefault(target.name, i)
        for key in target.reply.next_steps:
            aspect, _, lang = key.strip().lower().partition(".")
            path: Path_ = ("targets", i, "reply", "next_steps", key)
            if aspect not in ASPECT_KEYS:
                aspects = ", ".join(ASPECT_KEYS)
                why = f"{key!r} is not an aspect, so this step is never used (aspects: {aspects})"
                yield path, why + _did_you_mean(aspect, ASPECT_KEYS)
            elif lang and lang not in REPLY_LANGUAGES:
                yield path, f"{key!r}: the language after the dot must be 'pl' or 'en' (or none, for both)"


def _rule_problems(settings: EarshotSettings) -> Iterator[tuple[Path_, str]]:
    """Rules filtering on a target or source that does not exist: such a rule never fires."""
    targets = [target.name for target in settings.targets]
    sources = [info.name for info in source_catalogue(settings)]
    for i, rule in enumerate(settings.alerts.rules):
        for j, name in enumerate(rule.targets):
            if name not in targets:
                why = f"rule {rule.name!r} names target {name!r}, which is not in [[targets]] (so it never fires)"
                yield ("alerts", "rules", i, "targets", j), why + _did_you_mean(name, targets)
        for j, name in enumerate(rule.sources):
            if name not in sources:
                why = f"rule {rule.name!r} names source {name!r}, which does not exist ({', '.join(sources)})"
                yield ("alerts", "rules", i, "sources", j), why + _did_you_mean(name, sources)


def _meaning_problems(settings: EarshotSettings) -> Iterator[tuple[Path_, str]]:
    yield from _target_problems(settings)
    yield from _rule_problems(settings)
    for path, channel in _channels(settings):
        problem = channel_problem(channel)
        if problem:
            yield path, problem


def _holds_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_holds_secret(arg) for arg in get_args(annotation))


def _section(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        model = _section(arg)
        if model is not None:
            return model
    return None


def secrets_in(data: Mapping[str, Any], model: type[BaseModel], prefix: Path_ = ()) -> Iterator[Path_]:
    """The paths of secret (``SecretStr``) settings that ``data``, a parsed TOML file, writes."""
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            continue
        if _holds_secret(field.annotation) and key not in NOT_SECRETS:
            yield (*prefix, key)
            continue
        section = _section(field.annotation)
        if section is None:
            continue
        if isinstance(value, Mapping):
            yield from secrets_in(value, section, (*prefix, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    yield from secrets_in(item, section, (*prefix, key, i))


def _secret_problem(path: Path_) -> str:
    if any(isinstance(p, int) for p in path):
        return "is a secret: keep it out of the file (set it in the environment)"
    env = ENV_PREFIX + "__".join(str(p).upper() for p in path)
    return f"is a secret: remove it from the file and set {env} in the environment instead"


_LOAD_ERROR = re.compile(r"^\s*setting '([^']+)' \([^)]*\): (.*)$")
_TOML_ERROR_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _load_problems(error: ConfigError, lines: TomlLines) -> list[Problem]:
    """The load error's lines as problems, with the file line of each setting it names."""
    problems = []
    for text in str(error).splitlines():
        found = _LOAD_ERROR.match(text)
        if found:
            path = parse_dotted(found.group(1))
            problems.append(Problem(found.group(1), found.group(2), lines.line_of(path)))
        elif text.strip() and text.strip() != "invalid configuration:":
            syntax = _TOML_ERROR_LINE.search(text)
            problems.append(Problem("", text.strip(), int(syntax.group(1)) if syntax else None))
    return problems


def check_config(path: str | Path) -> CheckResult:
    """Every problem of the config file at ``path`` (the environment applies, as when Earshot runs)."""
    file = Path(path).expanduser()
    try:
        settings = load_settings(file)
    except ConfigError as exc:
        try:
            lines = TomlLines(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            lines = TomlLines("")
        return CheckResult(_load_problems(exc, lines))
    text = file.read_text(encoding="utf-8")
    lines = TomlLines(text)
    found = [
        Problem(dotted(where), message, lines.line_of(where))
        for where, message in _meaning_problems(settings)
    ]
    found += [
        Problem(dotted(where), _secret_problem(where), lines.line_of(where))
        for where in secrets_in(tomllib.loads(text), EarshotSettings)
    ]
    found.sort(key=lambda p: (p.line or 0, p.key))
    return CheckResult(found, settings)
