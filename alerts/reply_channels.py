"""What kind of place each source is, so a reply reads right there: one table, read by the reply builder.

A review site (Google, Ceneo, Allegro, Trustpilot) shows the business's answer under a customer's review,
like a short letter: a polite greeting, the answer, a sign-off. A social network (Mastodon, Bluesky, Reddit,
YouTube) shows a reply in a thread, where a letter greeting ("Szanowna Pani,") reads as a form letter and
a long text is skipped: no greeting line, no signature, and short.

The contact route must exist where the reply is read. Only some platforms let the business write to the
author privately (Mastodon's direct posts, Bluesky's chat, Reddit's chat and messages); on review sites
there is no such thing, and a reply saying "send us a private message" sends the customer nowhere. There
a reply offers the brand's configured e-mail, phone or page, and without any it asks the customer to
contact customer service, never a private message. On a thread without private messages (YouTube, Hacker
News) it asks for a reply in the thread.

The table lists every source the spiders know (``spiders.catalogue``; a test keeps them in step); an
unknown source gets the review-site profile, which never promises a channel that may not exist.

Platform facts behind the table (checked against each platform's help pages):
  * Google Business Profile: an owner reply per review; Google ended Business Messages (chat) in 2024.
  * Google Places (Maps reviews of places read-only to us), Ceneo, Trustpilot, Allegro ratings: a public
    answer under the review, no way to message the reviewer from it.
  * Mastodon: a reply with "direct" visibility is a private message; Bluesky: chat (DMs) since 2024;
    Reddit: chat and private messages.
  * YouTube: private messages were removed in 2019; Hacker News has none; RSS items (blogs, news) are
    answered, if at all, where they were published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "CHANNELS",
    "SOCIAL_SOFT_LIMIT",
    "ChannelProfile",
    "ContactRoute",
    "channel_profile",
    "contact_route",
]

ContactRoute = Literal["channels", "private_message", "thread", "service"]

# Social replies are read in a feed: past ~280 characters they are skimmed, whatever the platform allows.
SOCIAL_SOFT_LIMIT: Final = 280


@dataclass(frozen=True)
class ChannelProfile:
    """How a reply reads on one source.

    ``kind``: ``review`` (an answer under a review), ``social`` (a reply in a thread), ``feed`` (an
    article elsewhere). ``private_messages``: the business can write to the author privately there.
    ``greeting``: a letter greeting line opens the reply. ``sign_off``: the configured signature closes
    it. ``soft_limit``: the length the reply aims for (characters), below the source's hard limit.
    """

    source: str
    label: str
    kind: Literal["review", "social", "feed"]
    private_messages: bool
    greeting: bool
    sign_off: bool
    soft_limit: int | None = None

    @property
    def is_social(self) -> bool:
        return self.kind == "social"


def _review(source: str, label: str) -> ChannelProfile:
    return ChannelProfile(source, label, "review", private_messages=False, greeting=True, sign_off=True)


def _social(source: str, label: str, *, private_messages: bool) -> ChannelProfile:
    return ChannelProfile(
        source,
        label,
        "social",
        private_messages=private_messages,
        greeting=False,
        sign_off=False,
        soft_limit=SOCIAL_SOFT_LIMIT,
    )


CHANNELS: Final[dict[str, ChannelProfile]] = {
    p.source: p
    for p in (
        _review("google_business", "Google Business Profile"),
        _review("google_places", "Google Maps"),
        _review("ceneo", "Ceneo"),
        _review("allegro", "Allegro"),
        _review("trustpilot", "Trustpilot"),
        _social("mastodon", "Mastodon", private_messages=True),
        _social("bluesky", "Bluesky", private_messages=True),
        _social("reddit", "Reddit", private_messages=True),
        _social("youtube", "YouTube", private_messages=False),
        _social("hackernews", "Hacker News", private_messages=False),
        ChannelProfile("rss", "RSS/Atom", "feed", private_messages=False, greeting=True, sign_off=True),
    )
}


def channel_profile(source: str) -> ChannelProfile:
    """``source``'s profile; an unknown source reads like a review site (no private messages promised)."""
    return CHANNELS.get(source) or _review(source, source)


def contact_route(profile: ChannelProfile, has_configured_contact: bool) -> ContactRoute:
    """Where a reply sends the customer: the brand's configured channels when there are any; else a private
    message where the platform has them, a reply in the thread on social sites without them, and the
    brand's customer service (no address: none is configured) on review sites."""
    if has_configured_contact:
        return "channels"
    if profile.private_messages:
        return "private_message"
    if profile.is_social:
        return "thread"
    return "service"
