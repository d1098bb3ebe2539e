"""What Earshot watches: a monitored brand (:class:`Target`), where to find it on each source, and its
voice in suggested replies (:class:`ReplySettings`).

Kept apart from :mod:`monitor.core.config` (the settings object and how it is loaded) because a target is
what a shop edits most and reads most; the config module re-exports both names.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from monitor.core.settings_base import Section

__all__ = ["ReplySettings", "Target"]


class ReplySettings(Section):
    """A brand's voice for suggested replies: only what is written here is ever promised or named."""

    formal: bool = Field(
        True,
        description="Polish replies address the customer formally (True: Pani/Pan when the text shows the "
        "writer's gender, else forms that need none) or informally (False).",
    )
    contact_email: str | None = Field(
        None,
        description="Contact e-mail a reply may point the customer to (on review sites, which have no private "
        "messages, the contact a reply offers).",
    )
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
        default_factory=list,
        description=(
            "Limit `reddit` keyword search to these subreddits (empty = all); their new comments are "
            "read too (sources.reddit.comment_pages; 0 turns that off)."
        ),
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
    language: Literal["pl", "en"] | None = Field(
        None,
        description="Language of this target's Slack messages (alerts, buttons, modals): pl or en; "
        "unset = slack.language.",
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
