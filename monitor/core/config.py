"""One typed settings object for the whole service, loaded once and passed down.

Sources, highest priority first: keyword arguments, environment variables (``EARSHOT_*``, nested
with ``__``, e.g. ``EARSHOT_SLACK__BOT_TOKEN``), the TOML file named by ``EARSHOT_CONFIG`` (or
``--config``), then the defaults below. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from monitor.core.alert_settings import (
    AlertSettings,
)
from monitor.core.settings_base import ConfigError, Section, known_zone
from monitor.core.source_settings import SourcesSettings
from monitor.core.target_settings import ReplySettings as ReplySettings
from monitor.core.target_settings import Target as Target
from monitor.core.web_settings import WebSettings as WebSettings
from monitor.core.web_settings import WebUser as WebUser

CONFIG_ENV = "EARSHOT_CONFIG"
ENV_PREFIX = "EARSHOT_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The file chosen by load_settings (``--config``), without mutating the process environment.
_config_file: ContextVar[str | None] = ContextVar("earshot_config_file", default=None)


class SlackSettings(Section):
    bot_token: SecretStr | None = Field(None, description="xoxb- bot token; unset = print alerts to console.")
    default_channel: str = Field(
        "#earshot-alerts", description="Channel for alerts without a routed channel."
    )
    api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (tests use loopback).")
    max_attempts: int = Field(8, ge=1, description="Delivery attempts before an alert is marked failed.")
    timeout_seconds: float = Field(10.0, gt=0, description="HTTP timeout for one Slack call.")
    critical_channel: str | None = Field(
        None, description="Channel for urgent alerts and SLA escalations; unset = the alert's own channel."
    )
    signing_secret: SecretStr | None = Field(
        None, description="Slack app signing secret; verifies interactivity requests (buttons, modals)."
    )
    app_token: SecretStr | None = Field(
        None, description="xapp- app-level token: receive interactivity over Socket Mode instead of HTTP."
    )
    interactivity_host: str = Field(
        "127.0.0.1",
        description="Address `earshot slack serve` binds to (`run` and `web` serve Slack on web.host:port).",
    )
    interactivity_port: int = Field(
        3000,
        ge=0,
        le=65535,
        description="Port of `earshot slack serve` (POST /slack/interactivity); `run` and `web` use web.port.",
    )
    per_channel_interval_seconds: float = Field(
        1.0, ge=0, description="Least time between two messages to one channel (Slack allows about 1/s)."
    )
    language: Literal["pl", "en"] = Field(
        "pl",
        description="Language of Slack messages not tied to a target's own setting (source health, App "
        "Home, /earshot): pl or en.",
    )
    timezone: str = Field(
        "Europe/Warsaw", description="IANA time zone of the dates and times Slack messages show (zone shown)."
    )

    _zone = field_validator("timezone")(staticmethod(known_zone))


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
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description=(
            "auto: bf16 where the CPU has AMX or AVX-512 BF16 (bf16/fp16 on CUDA), else fp32; "
            "fp32 forces full precision."
        ),
    )
    high_reach_threshold: int = Field(
        10_000,
        ge=0,
        description="Reach (followers/views) from which a mention counts as urgent (high reach).",
    )

    @field_validator("model_cache_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()


class ScheduleSettings(Section):
    crawl_minutes: float = Field(
        30, gt=0, description="Minutes between crawls of a source without its own interval_minutes."
    )
    crawl_jitter_seconds: float = Field(
        60,
        ge=0,
        description="Up to this many seconds added to each crawl's start, so sources do not all fire at once.",
    )
    score_minutes: float = Field(
        2,
        gt=0,
        description="Minutes between scoring passes; a safety net, since a crawl that stored items starts one at once.",
    )
    alerts_minutes: float = Field(
        1,
        gt=0,
        description="Minutes between alert passes; a safety net, since a score pass that scored items starts one at once.",
    )
    event_driven: bool = Field(
        True,
        description="A crawl that stored items starts a score pass, and a pass that scored items an alert pass, at once; false = intervals only.",
    )


class SourceHealthSettings(Section):
    """When a source counts as broken: failed runs in a row, or silence much longer than its usual gap."""

    failed_runs: int = Field(
        3, ge=1, description="Alert when this many crawls of a source in a row fail (error, auth, crash)."
    )
    min_quiet_hours: float = Field(
        24, gt=0, description="Never call a source quiet before this many hours without a new item."
    )
    quiet_factor: float = Field(
        3, gt=0, description="Quiet = no new item for this many times the source's median gap between items."
    )
    min_history: int = Field(
        10, ge=2, description="Items within history_days a source needs before silence is judged at all."
    )
    history_days: float = Field(30, gt=0, description="Days of items the usual gap is measured over.")
    channel: str | None = Field(
        None, description="Slack channel for source-health alerts; unset = slack.default_channel."
    )


class DigestSettings(Section):
    """The weekly digest for managers: when it is made, in which language, where it is posted."""

    enabled: bool = Field(True, description="Make and post the digest on schedule in `earshot run`.")
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        "mon", description="Day the digest of the previous ISO week is made."
    )
    time: str = Field("08:00", pattern=r"^\d{2}:\d{2}$", description="Local time (HH:MM) it is made.")
    timezone: str = Field(
        "Europe/Warsaw", description="IANA time zone of weekday/time and of the report's days."
    )
    language: Literal["pl", "en"] = Field(
        "pl", description="Language of the digest (Slack summary, charts, report)."
    )
    channel: str | None = Field(
        None, description="Slack channel for the digest; unset = slack.default_channel."
    )
    top_aspects: int = Field(
        5, ge=1, le=20, description="Negative aspects listed, each with two example quotes."
    )
    top_urgent: int = Field(5, ge=1, le=50, description="Most urgent items listed with their status.")

    _zone = field_validator("timezone")(staticmethod(known_zone))


class DistributedSettings(Section):
    """Scale-out mode: Celery workers on a broker, PostgreSQL as the only state (`earshot worker`/`scheduler`)."""

    broker_url: SecretStr | None = Field(
        None,
        description="amqp://user:pw@host:5672// (RabbitMQ) or redis://host:6379/0; set = distributed mode "
        "(`earshot scheduler` + `earshot worker`), unset = `earshot run` on one machine.",
    )
    queue_prefix: str = Field(
        "earshot",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Prefix of the queue and control-exchange names, so several installations share one broker.",
    )
    queues: list[Literal["crawl", "score", "alerts", "digest"]] = Field(
        ["crawl", "score", "alerts", "digest"],
        description="Queues an `earshot worker` consumes unless --queues names others.",
    )
    concurrency: int = Field(
        0, ge=0, le=64, description="Tasks one worker runs at once (prefork processes); 0 = CPU cores."
    )
    score_fanout: int = Field(
        2,
        ge=1,
        le=64,
        description="Score tasks a crawl that stored items enqueues, so that many workers share the scoring.",
    )
    leader_poll_seconds: float = Field(
        5,
        gt=0,
        le=300,
        description="A standby `earshot scheduler` tries to take over this often; the leader checks its lock too.",
    )
    score_stall_minutes: float = Field(
        15, gt=0, description="A mention unscored this long means the score stage is stalled (status, alert)."
    )
    alerts_stall_minutes: float = Field(
        10,
        gt=0,
        description="An alert due this long and not posted means delivery is stalled (status, alert).",
    )
    stall_channel: str | None = Field(
        None, description="Slack channel for stalled-stage alerts; unset = source_health.channel or default."
    )
    stall_check_seconds: float = Field(
        60,
        gt=0,
        le=3600,
        description="How often the active `earshot scheduler` looks for stalled stages (and alerts on them).",
    )


class EarshotSettings(BaseSettings):
    """Everything configurable, with its default; see README 'Configuration'."""

    model_config = SettingsConfigDict(
        env_prefix="EARSHOT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(Path("./earshot-data"), description="SQLite file, reports and run files.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite under data_dir.")
    public_url: str = Field("http://127.0.0.1:8000", description="Base URL of Earshot's web pages.")
    log_level: str = Field(
        "INFO", description="Python logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Fernet key that encrypts stored source credentials (`earshot auth`); env only. "
        "Comma-separated keys: the first encrypts, all decrypt (key rotation).",
    )
    console_language: Literal["en", "pl"] = Field(
        "en",
        description="Language of what the console prints (crawl lines and failure reasons, the `sources` "
        "table, `score` / `alerts` summaries, the `demo` narration): en or pl.",
    )
    crawl_logs_keep: int = Field(
        20,
        ge=1,
        description="Scrapy log files kept per source in data_dir/logs/ (one per crawl; older ones are deleted).",
    )
    targets: list[Target] = Field(default_factory=list, description="Monitored brands.")
    reply: ReplySettings = Field(
        default_factory=ReplySettings,
        description="Reply defaults for every target (contact e-mail/phone/page, signature, tone, next steps); "
        "a value set in a target's own reply section wins.",
    )
    slack: SlackSettings = Field(default_factory=SlackSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    source_health: SourceHealthSettings = Field(default_factory=SourceHealthSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    distributed: DistributedSettings = Field(default_factory=DistributedSettings)

    def reply_for(self, target: str | None) -> ReplySettings:
        """``target``'s reply settings: what its own ``reply`` section sets, the top-level ``reply`` for the
        rest (next steps merged per key, the target's winning); the defaults alone for an unknown target."""
        own = next((t.reply for t in self.targets if t.name == target), None)
        if own is None:
            return self.reply
        values = {name: getattr(own, name) for name in own.model_fields_set}
        if "next_steps" in values:
            values["next_steps"] = {**self.reply.next_steps, **own.next_steps}
        return self.reply.model_copy(update=values)

    @field_validator("data_dir")
    @classmethod
    def _expand_dir(cls, v: Path) -> Path:
        v = v.expanduser()
        if v.exists() and not v.is_dir():
            raise ValueError(f"{v} is a file, not a folder; point it at a folder (it is created if missing)")
        return v

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, v: str | None) -> str | None:
        """Parse the URL and load its dialect now, so a typo is a config error, not a crash at first use."""
        if not v:
            return v
        # SQLAlchemy (0.15 s) is imported only when a URL is set: `earshot model predict` never needs it.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        example = (
            "e.g. sqlite:////var/lib/earshot/earshot.db or postgresql+psycopg://user:pw@host:5432/earshot"
        )
        try:
            url = make_url(v)
        except (ArgumentError, ValueError):
            # The parser's own message may repeat the whole URL, password included: say what is wrong instead.
            raise ValueError(
                "not a valid SQLAlchemy URL (dialect+driver://user:password@host:port/database, "
                f"port a number); {example}"
            ) from None
        try:
            url.get_dialect()
        except NoSuchModuleError:
            raise ValueError(
                f"SQLAlchemy has no database dialect or driver {url.drivername!r}; {example}"
            ) from None
        return v

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        level = v.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {v!r}; use one of {', '.join(LOG_LEVELS)} (any case)")
        return level

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


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings section an annotation holds (``Target`` in ``list[Target]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        model = _model_in(arg)
        if model is not None:
            return model
    return None


def _section_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the section holding the setting at ``loc`` (empty if it is not a section)."""
    model: type[BaseModel] | None = EarshotSettings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an item of a list keeps the list's section type
        field = model.model_fields.get(part) if model is not None else None
        model = _model_in(field.annotation) if field is not None else None
        if model is None:
            return []
    return list(model.model_fields) if model is not None else []


def _describe(err: ValidationError) -> str:
    """One line per bad setting: where to set it (env variable, or TOML key inside a list) and what is wrong."""
    lines = []
    for e in err.errors():
        loc = e["loc"]
        name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(root)"
        if any(isinstance(p, int) for p in loc):
            where = "TOML only"  # an item of a list has no env variable of its own
        else:
            where = "env " + ENV_PREFIX + "__".join(str(p).upper() for p in loc)
        msg = e["msg"]
        if e["type"] == "extra_forbidden" and loc:
            close = difflib.get_close_matches(str(loc[-1]), _section_keys(loc), n=1)
            if close:
                msg += f"; did you mean {close[0]!r}?"
        lines.append(f"  setting '{name}' ({where}): {msg}")
    return "\n".join(lines)


def _describe_env_error(exc: SettingsError) -> str:
    """Name the env variable whose JSON value (a list or a section) did not parse, and show the form."""
    found = re.search(r'field "(\w+)"', str(exc))
    field = found.group(1).upper() if found else ""
    var = ENV_PREFIX + field
    bad = []
    for key, value in os.environ.items():
        key = key.upper()
        if key == var or key.startswith(var + "__"):
            try:
                json.loads(value)
            except ValueError:
                if value.lstrip()[:1] in ("[", "{"):
                    bad.append(key)
    names = ", ".join(sorted(bad)) or (
        f"{var} (or one of {var}__*)" if field else f"an {ENV_PREFIX}* variable"
    )
    cause = f" ({exc.__cause__})" if isinstance(exc.__cause__, ValueError) else ""
    return (
        f"{names} is not valid JSON{cause}; a list or section in an env variable is written as JSON, "
        f'e.g. {ENV_PREFIX}TARGETS=\'[{{"name": "Shop"}}]\', or set it in the TOML config file instead'
    )


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> EarshotSettings:
    """Load settings once; raise ConfigError naming the bad setting instead of a traceback."""
    path = str(config_file) if config_file is not None else os.environ.get(CONFIG_ENV)
    if path:
        p = Path(path).expanduser()
        if p.is_dir():
            raise ConfigError(
                f"config file {p} (from {CONFIG_ENV} or --config) is a folder, not a file; name the TOML file"
            )
        if not p.is_file():
            raise ConfigError(f"config file {p} (from {CONFIG_ENV} or --config) does not exist")
        try:
            with p.open("rb") as fh:
                tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config file {p} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                "save it as UTF-8"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {p}: {exc.strerror}; check its permissions") from None
    token = _config_file.set(path)
    try:
        return EarshotSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError("invalid configuration:\n" + _describe(exc)) from None
    except SettingsError as exc:
        raise ConfigError(_describe_env_error(exc)) from None
    finally:
        _config_file.reset(token)
