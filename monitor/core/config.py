"""One typed settings object for the whole service, loaded once and passed down.

Sources, highest priority first: keyword arguments, environment variables (``EARSHOT_*``, nested
with ``__``, e.g. ``EARSHOT_SLACK__BOT_TOKEN``), the TOML file named by ``EARSHOT_CONFIG`` (or
``--config``), then the defaults below. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from datetime import time
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
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


def _known_zone(name: str) -> str:
    """An IANA time zone name, checked at load time so a typo is not found at 08:00 on a Monday."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Warsaw") from exc
    return name


class Section(BaseModel):
    """A config section: unknown keys are errors, so a typo is reported instead of ignored."""

    model_config = ConfigDict(extra="forbid")


class ReplySettings(Section):
    """A brand's voice for suggested replies: only what is written here is ever promised or named."""

    formal: bool = Field(
        True, description="Polish replies address the customer as Pan/Pani (True) or informally (False)."
    )
    contact_email: str | None = Field(None, description="Contact e-mail a reply may point the customer to.")
    contact_phone: str | None = Field(None, description="Contact phone a reply may point the customer to.")
    contact_url: str | None = Field(None, description="Contact or help-centre page a reply may link.")
    signature: str | None = Field(None, description="Sign-off, e.g. 'Zespół Obsługi Klienta Sklepu X'.")
    next_steps: dict[str, str] = Field(
        default_factory=dict,
        description="Per aspect (delivery, returns, ...), a promise the team really makes, in the reply's language "
        "keyed 'aspect' or 'aspect.pl'/'aspect.en'; without one, replies promise only to look into it.",
    )


class Target(Section):
    """A monitored brand and where to find it on each source."""

    name: str = Field(min_length=1, description="Brand or shop name, unique.")
    google_account_id: str | None = Field(None, description="Google Business Profile account id.")
    google_location_ids: list[str] = Field(default_factory=list, description="GBP location ids to read.")
    place_ids: list[str] = Field(
        default_factory=list,
        description="Google Places place ids read by `google_places` (competitors, locations you do not own).",
    )
    keywords: list[str] = Field(default_factory=list, description="Search keywords for social sources.")
    feeds: list[str] = Field(
        default_factory=list,
        description="RSS 2.0 / Atom feed URLs read by `rss` (Google Alerts, Talkwalker Alerts, blogs, news).",
    )
    ceneo_urls: list[str] = Field(
        default_factory=list,
        description="Ceneo product or shop opinion pages read by `ceneo` (URL or path under sources.ceneo.base_url).",
    )
    allegro_user_ids: list[str] = Field(
        default_factory=list, description="Allegro seller user ids whose ratings `allegro` reads."
    )
    trustpilot_business_unit_ids: list[str] = Field(
        default_factory=list, description="Trustpilot business unit ids read by `trustpilot`."
    )
    subreddits: list[str] = Field(
        default_factory=list, description="Limit `reddit` keyword search to these subreddits (empty = all)."
    )
    hashtags: list[str] = Field(
        default_factory=list, description="Hashtags (without #) whose timelines `mastodon` reads."
    )
    youtube_channel_ids: list[str] = Field(
        default_factory=list, description="YouTube channel ids whose comment threads `youtube` reads."
    )
    channel: str | None = Field(
        None, description="Slack channel for this target's alerts; unset = slack.default_channel."
    )
    reply: ReplySettings = Field(
        default_factory=ReplySettings,
        description="How suggested replies for this target address customers and where they point them.",
    )

    @field_validator("feeds")
    @classmethod
    def _feed_urls(cls, feeds: list[str]) -> list[str]:
        """Catch a pasted non-URL at load time rather than as a failed crawl hours later."""
        cleaned = [feed.strip() for feed in feeds]
        for feed in cleaned:
            scheme = feed.split(":", 1)[0].lower() if ":" in feed else ""
            if not feed or (scheme and scheme not in ("http", "https")):
                raise ValueError(f"feed {feed!r} is not an http(s) URL or a path under sources.rss.base_url")
        return cleaned


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
    interactivity_host: str = Field("127.0.0.1", description="Address the interactivity endpoint binds to.")
    interactivity_port: int = Field(
        3000, ge=0, le=65535, description="Port of the interactivity endpoint (POST /slack/interactivity)."
    )
    per_channel_interval_seconds: float = Field(
        1.0, ge=0, description="Least time between two messages to one channel (Slack allows about 1/s)."
    )


Severity = Literal["urgent", "negative", "info"]
UrgencyLevel = Literal["elevated", "critical"]


class AlertRule(Section):
    """One alert rule: its triggers (any one fires, or all with ``match = "all"``) narrowed by its filters.

    Triggers: ``max_sentiment``, ``max_stars``, ``urgency``, ``keywords``. Filters (all must hold):
    ``targets``, ``sources``, ``languages``, ``min_reach``. A rule without a trigger is a config error.
    """

    name: str = Field(min_length=1, max_length=64, description="Rule name, shown in the alert ('why').")
    max_sentiment: float | None = Field(
        None, ge=-1.0, le=1.0, description="Fires when the signed sentiment score is at or below this."
    )
    max_stars: float | None = Field(
        None, ge=0, le=5, description="Fires when the star rating is at or below this."
    )
    urgency: UrgencyLevel | None = Field(
        None, description="Fires when the sentiment package rates the item at least this urgent."
    )
    keywords: list[str] = Field(
        default_factory=list,
        description="Words or phrases; Polish inflections match ('zwrot' finds 'zwrotu', 'zwrotem'); "
        "'word*' matches any ending, '\"exact\"' only the form written.",
    )
    match: Literal["any", "all"] = Field(
        "any", description="Fire when any trigger holds, or only when all do."
    )
    targets: list[str] = Field(default_factory=list, description="Only these targets (empty = all).")
    sources: list[str] = Field(default_factory=list, description="Only these sources (empty = all).")
    languages: list[str] = Field(
        default_factory=list, description="Only these languages, e.g. ['pl'] (empty = all)."
    )
    min_reach: int | None = Field(None, ge=0, description="Only items whose author reach is at least this.")
    channel: str | None = Field(
        None, description="Channel for this rule's alerts; unset = the target's channel."
    )
    severity: Severity | None = Field(
        None,
        description="Force a severity; unset = urgent if the item is urgent, negative if negative, else info.",
    )
    cooldown_minutes: float = Field(
        0,
        ge=0,
        description="After an alert, further matches for the same target within this many minutes go into "
        "that alert's thread instead of new messages (urgent items always get their own).",
    )

    @model_validator(mode="after")
    def _has_trigger(self) -> AlertRule:
        if (
            self.max_sentiment is None
            and self.max_stars is None
            and self.urgency is None
            and not self.keywords
        ):
            raise ValueError(
                f"alert rule {self.name!r} needs a trigger: max_sentiment, max_stars, urgency or keywords"
            )
        return self


class QuietHours(Section):
    """Hours when non-urgent alerts wait; they are delivered when the quiet hours end, none is dropped."""

    start: time = Field(description="Local time quiet hours begin, e.g. 22:00.")
    end: time = Field(description="Local time quiet hours end, e.g. 07:00 (may be on the next day).")
    timezone: str = Field("Europe/Warsaw", description="IANA time zone of start and end.")
    days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4, 5, 6],
        description="Weekdays (0 = Monday) on which quiet hours start.",
    )

    _zone = field_validator("timezone")(staticmethod(_known_zone))


class StormSettings(Section):
    """When negative volume for a target jumps far above its usual level, send one storm alert instead of N."""

    enabled: bool = Field(True, description="Detect storms at all.")
    window_minutes: float = Field(60, gt=0, description="Sliding window whose negative items are counted.")
    baseline_days: int = Field(
        7,
        ge=1,
        description="Baseline: the mean count in the same window of the day over this many past days.",
    )
    min_count: int = Field(
        8, ge=1, description="A storm needs at least this many negative items in the window."
    )
    factor: float = Field(
        4.0, ge=1, description="... and at least this many times the baseline (baseline floor 1)."
    )
    subside_count: int = Field(
        2, ge=0, description="The storm subsides when the window holds at most this many negative items..."
    )
    subside_minutes: float = Field(
        60, ge=0, description="... for this long; then one 'subsided' message closes it."
    )
    channel: str | None = Field(None, description="Channel for storm alerts; unset = the target's channel.")


class SlaSettings(Section):
    """Response targets per severity; an unhandled alert past its target is escalated once."""

    urgent_minutes: float | None = Field(
        60, gt=0, description="Response target for urgent alerts (unset = none)."
    )
    negative_minutes: float | None = Field(
        1440, gt=0, description="Response target for negative alerts (unset = none)."
    )
    info_minutes: float | None = Field(
        None, gt=0, description="Response target for info alerts (unset = none)."
    )

    def minutes_for(self, severity: str) -> float | None:
        """The response target of ``severity`` in minutes, or None when it has none."""
        return {
            "urgent": self.urgent_minutes,
            "negative": self.negative_minutes,
            "info": self.info_minutes,
        }.get(severity)


class AlertSettings(Section):
    negative_threshold: float = Field(
        -0.5, ge=-1.0, le=1.0, description="Built-in 'negative' rule: sentiment score at or below this."
    )
    max_stars: int = Field(
        2, ge=0, le=5, description="Built-in 'negative' rule: star rating at or below this."
    )
    excerpt_chars: int = Field(600, ge=50, le=2900, description="Longest excerpt of the text in a message.")
    rules: list[AlertRule] = Field(
        default_factory=list,
        description="Alert rules ([[alerts.rules]]); empty = the built-in 'urgent' (urgency elevated, to "
        "slack.critical_channel) and 'negative' (negative_threshold, max_stars) rules.",
    )
    quiet_hours: QuietHours | None = Field(
        None, description="Hold non-urgent alerts during these hours ([alerts.quiet_hours]); unset = never."
    )
    max_age_hours: float | None = Field(
        168,
        gt=0,
        description="Items already older than this when first crawled (a source's backlog) never alert; "
        "unset = all do.",
    )
    repeat_days: float = Field(
        30,
        gt=0,
        description="A negative item by the author of an alerted one within this many days goes into its thread.",
    )
    storm: StormSettings = Field(default_factory=StormSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)

    def effective_rules(self) -> list[AlertRule]:
        """The configured rules, or the built-in pair when none are configured."""
        if self.rules:
            return list(self.rules)
        return [
            AlertRule(name="urgent", urgency="elevated"),
            AlertRule(name="negative", max_sentiment=self.negative_threshold, max_stars=self.max_stars),
        ]


class SourceSettings(Section):
    """What every source section has: where its API lives, how much one run may ask of it, how often.

    Subclasses name their secret fields in ``credential_fields``; a source is configured when all of
    them are set (or it needs none), which is what ``earshot sources`` reports.
    """

    credential_fields: ClassVar[tuple[str, ...]] = ()

    base_url: str | None = Field(None, description="API root (or site root) of the source.")
    max_requests: int = Field(
        1000, ge=1, description="Request budget per run; the rest waits for the next run."
    )
    interval_minutes: float | None = Field(
        None,
        gt=0,
        description="Minutes between crawls of this source in `earshot run`; unset = schedule.crawl_minutes.",
    )

    def credential(self, name: str) -> str:
        """The secret's value, stripped; "" when unset. Accepts a plain str (set by ``model_copy(update=...)``)."""
        value: Any = getattr(self, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return str(value or "").strip()

    def missing_credentials(self) -> list[str]:
        """Names of the credential fields that are unset or blank."""
        return [name for name in self.credential_fields if not self.credential(name)]

    @property
    def is_configured(self) -> bool:
        """All credentials present, or none needed."""
        return not self.missing_credentials()


class GoogleBusinessSettings(SourceSettings):
    credential_fields: ClassVar[tuple[str, ...]] = ("access_token",)

    base_url: str = Field("https://mybusiness.googleapis.com", description="GBP API root.")
    access_token: SecretStr | None = Field(
        None, description="OAuth 2.0 bearer token (business.manage scope)."
    )
    page_size: int = Field(50, ge=1, le=50, description="Reviews per page (API maximum 50).")
    max_pages: int = Field(100, ge=1, description="Request budget per location and run.")


class GooglePlacesSettings(SourceSettings):
    credential_fields: ClassVar[tuple[str, ...]] = ("api_key",)

    base_url: str = Field("https://places.googleapis.com", description="Places API (New) root.")
    api_key: SecretStr | None = Field(
        None, description="Google Cloud API key with the Places API (New) enabled (sent as X-Goog-Api-Key)."
    )
    language_code: str | None = Field(
        None,
        description="languageCode for Google's translated review text; the original text is stored anyway.",
    )
    max_requests: int = Field(
        100, ge=1, description="Request budget per run (one request per place; each is billed by Google)."
    )
    interval_minutes: float | None = Field(
        720,
        gt=0,
        description="Minutes between crawls: the API returns only 5 reviews per place and bills every call.",
    )


class RssSettings(SourceSettings):
    base_url: str | None = Field(
        None,
        description="Root that relative entries in targets' feeds resolve against (e.g. a self-hosted RSS-Bridge).",
    )
    max_requests: int = Field(500, ge=1, description="Request budget per run (one request per feed).")
    max_items_per_feed: int = Field(
        200,
        ge=1,
        description="Most entries read from one feed per run, oldest new ones first; the rest next run.",
    )


class CeneoSettings(SourceSettings):
    base_url: str = Field("https://www.ceneo.pl", description="Ceneo site root.")
    max_requests: int = Field(
        300, ge=1, description="Request budget per run (HTML pages, robots.txt obeyed)."
    )
    max_pages: int = Field(20, ge=1, description="Opinion pages read per product or shop and run.")
    interval_minutes: float | None = Field(
        360, gt=0, description="Minutes between crawls (a website: be gentle)."
    )


class AllegroSettings(SourceSettings):
    credential_fields: ClassVar[tuple[str, ...]] = ("access_token",)

    base_url: str = Field("https://api.allegro.pl", description="Allegro REST API root.")
    access_token: SecretStr | None = Field(
        None, description="OAuth 2.0 bearer token of the seller account (allegro:api:ratings scope)."
    )
    page_size: int = Field(100, ge=1, le=100, description="Ratings per page (API maximum 100).")


class TrustpilotSettings(SourceSettings):
    credential_fields: ClassVar[tuple[str, ...]] = ("api_key",)

    base_url: str = Field("https://api.trustpilot.com", description="Trustpilot API root.")
    api_key: SecretStr | None = Field(None, description="Trustpilot API key (sent as the apikey header).")
    page_size: int = Field(100, ge=1, le=100, description="Reviews per page (API maximum 100).")
    access_token: SecretStr | None = Field(
        None, description="Business user OAuth token; needed only to post replies from Slack or the web page."
    )
    business_user_id: str | None = Field(
        None, description="Trustpilot business user id replies are posted as (authorBusinessUserId)."
    )


class RedditSettings(SourceSettings):
    credential_fields: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")

    base_url: str = Field("https://oauth.reddit.com", description="Reddit OAuth API root.")
    auth_url: str = Field(
        "https://www.reddit.com", description="Where the app-only OAuth token is requested."
    )
    client_id: SecretStr | None = Field(None, description="Reddit app client id (script or web app).")
    client_secret: SecretStr | None = Field(None, description="Reddit app client secret.")
    user_agent: str = Field(
        "earshot/0.1 (brand monitoring)", description="Reddit requires a descriptive User-Agent."
    )


class MastodonSettings(SourceSettings):
    credential_fields: ClassVar[tuple[str, ...]] = ("access_token",)

    base_url: str = Field("https://mastodon.social", description="Mastodon instance root (any instance).")
    access_token: SecretStr | None = Field(
        None, description="Access token of an app on that instance (read:search scope for status search)."
    )


class BlueskySettings(SourceSettings):
    credential_fields: ClassVar[tuple[str, ...]] = ("identifier", "app_password")

    base_url: str = Field("https://bsky.social", description="Bluesky PDS / XRPC root.")
    identifier: SecretStr | None = Field(None, description="Account handle or DID used to log in.")
    app_password: SecretStr | None = Field(None, description="An app password of that account.")


class HackerNewsSettings(SourceSettings):
    base_url: str = Field("https://hn.algolia.com", description="Hacker News Algolia search API root.")
    hits_per_page: int = Field(100, ge=1, le=1000, description="Hits per page.")


class YouTubeSettings(SourceSettings):
    credential_fields: ClassVar[tuple[str, ...]] = ("api_key",)

    base_url: str = Field("https://www.googleapis.com", description="YouTube Data API v3 root.")
    api_key: SecretStr | None = Field(None, description="Google Cloud API key with YouTube Data API v3.")
    max_requests: int = Field(
        200, ge=1, description="Request budget per run (each commentThreads call costs 1 quota unit)."
    )


class SourcesSettings(Section):
    google_business: GoogleBusinessSettings = Field(default_factory=GoogleBusinessSettings)
    google_places: GooglePlacesSettings = Field(default_factory=GooglePlacesSettings)
    rss: RssSettings = Field(default_factory=RssSettings)
    ceneo: CeneoSettings = Field(default_factory=CeneoSettings)
    allegro: AllegroSettings = Field(default_factory=AllegroSettings)
    trustpilot: TrustpilotSettings = Field(default_factory=TrustpilotSettings)
    reddit: RedditSettings = Field(default_factory=RedditSettings)
    mastodon: MastodonSettings = Field(default_factory=MastodonSettings)
    bluesky: BlueskySettings = Field(default_factory=BlueskySettings)
    hackernews: HackerNewsSettings = Field(default_factory=HackerNewsSettings)
    youtube: YouTubeSettings = Field(default_factory=YouTubeSettings)

    def by_name(self) -> dict[str, SourceSettings]:
        """Every source section by its name (the spider's name), for listing and lookup."""
        return {name: getattr(self, name) for name in type(self).model_fields}


def source_env_var(source: str, field: str) -> str:
    """The environment variable that sets ``sources.<source>.<field>``."""
    return f"EARSHOT_SOURCES__{source.upper()}__{field.upper()}"


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
    score_minutes: float = Field(2, gt=0, description="Minutes between scoring passes.")
    alerts_minutes: float = Field(1, gt=0, description="Minutes between alert evaluation and delivery.")


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

    _zone = field_validator("timezone")(staticmethod(_known_zone))


class WebUser(Section):
    """A person who may sign in to the web pages; the password is stored only as a hash."""

    username: str = Field(min_length=1, max_length=64, description="Login name.")
    password_hash: SecretStr = Field(
        description="Hash from `earshot web hash-password` (scrypt); never the password itself."
    )


class WebSettings(Section):
    """The web pages for agents and managers (inbox, item pages, digests)."""

    host: str = Field(
        "127.0.0.1", description="Address `earshot web` / `earshot run` binds the web pages to."
    )
    port: int = Field(8000, ge=0, le=65535, description="Port of the web pages.")
    enabled: bool = Field(True, description="Serve the web pages inside `earshot run`.")
    users: list[WebUser] = Field(default_factory=list, description="Users who may sign in ([[web.users]]).")
    shared_token: SecretStr | None = Field(
        None, description="A shared sign-in token for a start, instead of (or besides) users; env only."
    )
    session_secret: SecretStr | None = Field(
        None,
        description="Key that signs session cookies; unset = a random key kept in data_dir/web-session.key.",
    )
    session_hours: float = Field(12, gt=0, description="Hours a sign-in lasts.")
    page_size: int = Field(50, ge=5, le=500, description="Mentions per inbox page.")


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
    source_health: SourceHealthSettings = Field(default_factory=SourceHealthSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    web: WebSettings = Field(default_factory=WebSettings)

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


def _section_in(ann: Any) -> tuple[type[Section] | None, bool]:
    """(Section class, is a list) for ``X``, ``X | None`` and ``list[X]`` annotations; (None, False) else."""
    if isinstance(ann, type) and issubclass(ann, Section):
        return ann, False
    for arg in getattr(ann, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, Section):
            return arg, getattr(ann, "__origin__", None) is list
    return None, False


def _shown(default: Any) -> str:
    return "unset" if default is None else str(default)


def _rows(model: type[BaseModel], prefix: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(TOML key, default, meaning) per setting; list items appear as ``rules[].name`` (TOML only)."""
    rows: list[tuple[str, str, str]] = []
    for name, f in model.model_fields.items():
        path = (*prefix, name)
        section, is_list = _section_in(f.annotation)
        if section is not None and section is not Target:
            default = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
            if is_list or default is None:
                rows.append((".".join(path), f"`{_shown(default)}`", f.description or ""))
            rows.extend(_rows(section, (*path[:-1], path[-1] + ("[]" if is_list else ""))))
            continue
        if section is Target:
            rows.append((".".join(path), "`[]`", f.description or ""))
            rows.extend(_rows(Target, (*path[:-1], path[-1] + "[]")))
            continue
        if f.is_required():
            shown = "required"
        else:
            default = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
            shown = _shown(default)
        rows.append((".".join(path), f"`{shown}`", f.description or ""))
    return rows


def _env_name(key: str) -> str:
    """The environment variable of a TOML key; list items (``[]``) are set in the TOML file only."""
    if "[]" in key:
        return "(TOML only)"
    return "`EARSHOT_" + "__".join(p.upper() for p in key.split(".")) + "`"


def settings_table() -> str:
    """Every setting as a Markdown table row (environment variable, default, meaning) for the README."""
    lines = ["| environment variable (TOML key) | default | meaning |", "|---|---|---|"]
    for key, default, desc in _rows(EarshotSettings, ()):
        lines.append(f"| {_env_name(key)} (`{key}`) | {default} | {desc} |")
    return "\n".join(lines)


def write_readme_table(readme: Path) -> None:
    """Refresh the settings table between the README's markers."""
    start, end = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{settings_table()}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    write_readme_table(Path(__file__).resolve().parents[2] / "README.md")
