"""The ``[sources.*]`` settings: each source's base URL, credentials, budget and interval.

Every source has the same shape (:class:`SourceSettings`) and names its secret fields, so ``earshot
sources`` can say which environment variable is missing without knowing the source.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import (
    Field,
    SecretStr,
)

from monitor.core.settings_base import Section


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


GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_OAUTH_FIELDS = ("client_id", "client_secret", "refresh_token")


class GoogleBusinessSettings(SourceSettings):
    """GBP: a fixed ``access_token`` (lives about an hour), or an OAuth client and refresh token that renew it.

    ``earshot auth google`` stores the client and refresh token encrypted in the database instead; the
    spider then counts as configured too (see :meth:`spiders.base.SourceSpider.missing_credentials`).
    """

    # All are secrets (redacted from errors); configured = access_token, or all three OAuth fields.
    credential_fields: ClassVar[tuple[str, ...]] = ("access_token", *GOOGLE_OAUTH_FIELDS)

    base_url: str = Field("https://mybusiness.googleapis.com", description="GBP API root.")
    access_token: SecretStr | None = Field(
        None,
        description="OAuth 2.0 bearer token (business.manage scope); expires in about 1 h: prefer "
        "client_id + client_secret + refresh_token, or `earshot auth google`.",
    )
    client_id: SecretStr | None = Field(
        None, description="OAuth client id (Google Cloud console, desktop app) for refreshing tokens."
    )
    client_secret: SecretStr | None = Field(None, description="That OAuth client's secret.")
    refresh_token: SecretStr | None = Field(
        None, description="Refresh token with the business.manage scope (`earshot auth google` gets one)."
    )
    token_uri: str = Field(GOOGLE_TOKEN_URI, description="Google's OAuth 2.0 token endpoint.")
    page_size: int = Field(50, ge=1, le=50, description="Reviews per page (API maximum 50).")
    max_pages: int = Field(100, ge=1, description="Request budget per location and run.")

    def missing_credentials(self) -> list[str]:
        """Nothing when an access token or the whole OAuth client is set; else what is still needed."""
        if self.credential("access_token"):
            return []
        oauth_missing = [name for name in GOOGLE_OAUTH_FIELDS if not self.credential(name)]
        if len(oauth_missing) < len(GOOGLE_OAUTH_FIELDS):
            return oauth_missing  # OAuth partly set: name the rest of it
        return ["access_token"]


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
    """A fixed access token (lives 12 hours), or the app's client id and secret: then ``earshot auth
    allegro`` stores a refresh token once and each run renews the access token itself."""

    credential_fields: ClassVar[tuple[str, ...]] = ("access_token", "client_id", "client_secret")

    base_url: str = Field("https://api.allegro.pl", description="Allegro REST API root.")
    auth_url: str = Field(
        "https://allegro.pl",
        description="Allegro OAuth root (device flow, token renewal); sandbox: https://allegro.pl.allegrosandbox.pl.",
    )
    access_token: SecretStr | None = Field(
        None,
        description="Fixed OAuth 2.0 bearer token of the seller account (allegro:api:ratings scope; lasts 12 h); "
        "not needed with client_id, client_secret and `earshot auth allegro`.",
    )
    client_id: SecretStr | None = Field(
        None, description="Client ID of your Allegro app (apps.developer.allegro.pl, device flow type)."
    )
    client_secret: SecretStr | None = Field(None, description="Client Secret of that Allegro app.")
    page_size: int = Field(100, ge=1, le=100, description="Ratings per page (API maximum 100).")

    def missing_credentials(self) -> list[str]:
        """A fixed access token, or both client credentials (the stored refresh token is the spider's
        to check); with none of them, the access token is what is missing."""
        if self.credential("access_token"):
            return []
        if self.credential("client_id") or self.credential("client_secret"):
            return [name for name in ("client_id", "client_secret") if not self.credential(name)]
        return ["access_token"]


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
    reply_refresh_token: SecretStr | None = Field(
        None,
        description="Refresh token of the Reddit account replies are posted as (authorisation code flow, "
        "submit scope, duration=permanent); with client_id and client_secret each reply gets a fresh token.",
    )
    reply_access_token: SecretStr | None = Field(
        None,
        description="Fixed user bearer token with the submit scope (lasts 1 h), for posting replies when no "
        "reply_refresh_token is set.",
    )
    comment_pages: int = Field(
        2,
        ge=0,
        le=10,
        description=(
            "Pages (100 comments each) of `/r/{sub}/comments` read per run for each of a target's "
            "subreddits, newest first down to the last run's newest comment; only comments matching the "
            "target's keywords are kept (search finds posts only). 0 = comments are not read."
        ),
    )


class MastodonSettings(SourceSettings):
    credential_fields: ClassVar[tuple[str, ...]] = ("access_token",)

    base_url: str = Field("https://mastodon.social", description="Mastodon instance root (any instance).")
    access_token: SecretStr | None = Field(
        None, description="Access token of an app on that instance (read:search scope for status search)."
    )
    reply_access_token: SecretStr | None = Field(
        None,
        description="Access token with the write:statuses scope on that instance, for posting replies from "
        "Slack or the item page; unset = access_token (which then needs write:statuses too).",
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
    client_id: SecretStr | None = Field(
        None, description="OAuth client id (Google Cloud console) that renews the reply token; replies only."
    )
    client_secret: SecretStr | None = Field(None, description="That OAuth client's secret.")
    reply_refresh_token: SecretStr | None = Field(
        None,
        description="Refresh token of the channel owner with the youtube.force-ssl scope; with client_id "
        "and client_secret each reply gets a fresh access token (an API key cannot post).",
    )
    reply_access_token: SecretStr | None = Field(
        None,
        description="Fixed OAuth bearer token (youtube.force-ssl scope, lasts about 1 h) for posting replies "
        "when no reply_refresh_token is set.",
    )
    token_uri: str = Field(GOOGLE_TOKEN_URI, description="Google's OAuth 2.0 token endpoint (reply tokens).")
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
