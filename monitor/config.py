"""One typed settings object for the whole service, loaded once and passed down.

Sources, highest priority first: keyword arguments, environment variables (``EARSHOT_*``, nested
with ``__``, e.g. ``EARSHOT_SLACK__BOT_TOKEN``), the TOML file named by ``EARSHOT_CONFIG`` (or
``--config``), then the defaults below. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "EARSHOT_CONFIG"
# The file chosen by load_settings (``--config``), without mutating the process environment.
_config_file: ContextVar[str | None] = ContextVar("earshot_config_file", default=None)


class ConfigError(Exception):
    """The configuration is missing or malformed; the message names the setting and how to fix it."""


class Section(BaseModel):
    """A config section: unknown keys are errors, so a typo is reported instead of ignored."""

    model_config = ConfigDict(extra="forbid")


class Target(Section):
    """A monitored brand and where to find it on each source."""

    name: str = Field(min_length=1, description="Brand or shop name, unique.")
    google_account_id: str | None = Field(None, description="Google Business Profile account id.")
    google_location_ids: list[str] = Field(default_factory=list, description="GBP location ids to read.")
    place_ids: list[str] = Field(default_factory=list, description="Google Places ids (competitors).")
    keywords: list[str] = Field(default_factory=list, description="Search keywords for social sources.")


class SlackSettings(Section):
    bot_token: SecretStr | None = Field(None, description="xoxb- bot token; unset = print alerts to console.")
    default_channel: str = Field(
        "#earshot-alerts", description="Channel for alerts without a routed channel."
    )
    api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (tests use loopback).")
    max_attempts: int = Field(8, ge=1, description="Delivery attempts before an alert is marked failed.")
    timeout_seconds: float = Field(10.0, gt=0, description="HTTP timeout for one Slack call.")


class AlertSettings(Section):
    negative_threshold: float = Field(
        -0.5, ge=-1.0, le=1.0, description="Alert when the signed sentiment score is at or below this."
    )
    max_stars: int = Field(2, ge=0, le=5, description="Alert when the star rating is at or below this.")
    excerpt_chars: int = Field(600, ge=50, le=2900, description="Longest excerpt of the text in a message.")


class GoogleBusinessSettings(Section):
    base_url: str = Field("https://mybusiness.googleapis.com", description="GBP API root.")
    access_token: SecretStr | None = Field(
        None, description="OAuth 2.0 bearer token (business.manage scope)."
    )
    page_size: int = Field(50, ge=1, le=50, description="Reviews per page (API maximum 50).")
    max_pages: int = Field(100, ge=1, description="Request budget per location and run.")


class SourcesSettings(Section):
    google_business: GoogleBusinessSettings = Field(default_factory=GoogleBusinessSettings)


class SentimentSettings(Section):
    model: str = Field(
        "earshot-sentiment-v1",
        description="'earshot-sentiment-v1' (bundled) or any transformers text-classification name or path.",
    )
    model_cache_dir: Path = Field(
        Path("~/.cache/earshot/models"), description="Where the bundled model is built at install."
    )
    batch_size: int = Field(32, ge=1, le=512, description="Texts per forward pass.")
    max_length: int = Field(256, ge=16, le=512, description="Tokens per text (head + tail kept).")
    threads: int = Field(0, ge=0, description="torch threads; 0 = number of CPU cores.")

    @field_validator("model_cache_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()


class ScheduleSettings(Section):
    crawl_minutes: float = Field(30, gt=0, description="Minutes between crawls in `earshot run`.")
    score_minutes: float = Field(2, gt=0, description="Minutes between scoring passes.")
    alerts_minutes: float = Field(1, gt=0, description="Minutes between alert evaluation and delivery.")


class EarshotSettings(BaseSettings):
    """Everything configurable, with its default; see README 'Configuration'."""

    model_config = SettingsConfigDict(
        env_prefix="EARSHOT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(Path("./earshot-data"), description="SQLite file, reports and run files.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite under data_dir.")
    public_url: str = Field("http://127.0.0.1:8000", description="Base URL of Earshot's web pages.")
    log_level: str = Field("INFO", description="Python logging level.")
    targets: list[Target] = Field(default_factory=list, description="Monitored brands.")
    slack: SlackSettings = Field(default_factory=SlackSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)

    @field_validator("data_dir")
    @classmethod
    def _expand_dir(cls, v: Path) -> Path:
        return v.expanduser()

    @property
    def effective_database_url(self) -> str:
        """The URL actually used: explicit, or SQLite under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'earshot.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file.get() or os.environ.get(CONFIG_ENV)
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        env = "EARSHOT_" + "__".join(str(p).upper() for p in e["loc"] if not isinstance(p, int))
        lines.append(f"  setting '{loc}' (env {env}): {e['msg']}")
    return "\n".join(lines)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> EarshotSettings:
    """Load settings once; raise ConfigError naming the bad setting instead of a traceback."""
    path = str(config_file) if config_file is not None else os.environ.get(CONFIG_ENV)
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ConfigError(f"config file {p} (from {CONFIG_ENV} or --config) does not exist")
        try:
            with p.open("rb") as fh:
                tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
    token = _config_file.set(path)
    try:
        return EarshotSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError("invalid configuration:\n" + _describe(exc)) from None
    finally:
        _config_file.reset(token)


def _rows(model: type[BaseModel], prefix: tuple[str, ...]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        path = (*prefix, name)
        if isinstance(ann, type) and issubclass(ann, Section) and ann is not Target:
            rows.extend(_rows(ann, path))
            continue
        default = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
        if isinstance(default, BaseModel):
            continue
        shown = "unset" if default is None else ("[]" if default == [] else str(default))
        env = "EARSHOT_" + "__".join(p.upper() for p in path)
        rows.append((env, f"`{shown}`", f.description or ""))
    return rows


def settings_table() -> str:
    """Every setting as a Markdown table row (environment variable, default, meaning) for the README."""
    lines = ["| environment variable (TOML key) | default | meaning |", "|---|---|---|"]
    for env, default, desc in _rows(EarshotSettings, ()):
        toml = ".".join(p.lower() for p in env.removeprefix("EARSHOT_").split("__"))
        lines.append(f"| `{env}` (`{toml}`) | {default} | {desc} |")
    return "\n".join(lines)


def write_readme_table(readme: Path) -> None:
    """Refresh the settings table between the README's markers."""
    start, end = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{settings_table()}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    write_readme_table(Path(__file__).resolve().parents[1] / "README.md")
