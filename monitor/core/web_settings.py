"""The web pages' settings: where they are served, who may sign in, and how they show language and time.

Kept apart from :mod:`monitor.core.config` so each settings file stays one concern; the config module
re-exports both names.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from monitor.core.settings_base import Section, known_zone

__all__ = ["WebSettings", "WebUser"]


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
    port: int = Field(
        8000, ge=0, le=65535, description="Port of the web pages and of POST /slack/interactivity."
    )
    enabled: bool = Field(
        True, description="Serve the web pages inside `earshot run` (Slack's endpoint is served either way)."
    )
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
    language: Literal["pl", "en"] = Field(
        "en",
        description="Language of the pages when the signed-in user chose none and the browser's "
        "Accept-Language names neither pl nor en: pl or en.",
    )
    timezone: str = Field(
        "Europe/Warsaw", description="IANA time zone the pages show times in (the zone is always shown)."
    )

    _zone = field_validator("timezone")(staticmethod(known_zone))
