"""Suggested replies: a draft an agent can send as is, in the item's language and the brand's tone.

A reply is assembled from fixed phrases (``alerts.reply_templates``) and the brand's own configuration
(``ReplySettings``: contact channels, next steps, signature). It never quotes the customer: the item's text
is read only to pick phrases (which aspects, whether a delivery is late), so nothing a customer wrote can be
injected back into the source, and no order number, amount or deadline appears unless the brand configured
it. Urgent items (legal threats, health, data leaks) get a short, careful reply that admits nothing and
moves the conversation to a private channel.

Each source caps a reply's length (``reply_limit``); a draft that is too long loses optional sentences
first (greeting, closing, a second aspect), then falls back to shorter variants, and only as a last resort
is cut at a word boundary.

The reply fits its channel (:mod:`alerts.reply_channels`): a review answer opens with a greeting and
closes with the signature; a social reply has neither and aims at a short text. It points the customer to
a contact route that exists there: the configured e-mail/phone/page, else a private message only where the
platform has them. A formal Polish reply says "Pani"/"Pan" only when the text shows the writer's gender
(:mod:`alerts.reply_gender`), else it uses forms that need none. When the team saved a reply template for
the item's target, aspect and language (:mod:`alerts.reply_template_store`), that text is the suggestion,
its placeholders filled, except for urgent items, which always get the careful reply.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from alerts.reply_channels import ChannelProfile, channel_profile, contact_route
from alerts.reply_gender import writer_gender
from alerts.reply_template_store import POSITIVE_ASPECT, TemplateKey, fill_template
from alerts.reply_templates import ASPECT_ORDER, Phrases, phrases_for
from alerts.rules import AspectView, MentionView, ScoreView
from monitor.core.config import ReplySettings

__all__ = ["REPLY_LIMITS", "SuggestedReply", "reply_length", "reply_limit", "reply_unit", "suggest_reply"]


@dataclass(frozen=True)
class SuggestedReply:
    """A reply draft in the item's language; ``max_chars`` is the source's reply limit (None = no API limit)."""

    text: str
    lang: str
    formal: bool
    max_chars: int | None
    from_template: bool = False  # the team's saved template for this target, aspect and language


# Each source's documented limit on a reply (None: no reply API, or no documented limit).
#   google_business: ReviewReply.comment, "The maximum length is 4096 bytes" (accounts.locations.reviews.updateReply)
#   bluesky: app.bsky.feed.post text maxGraphemes 300 (maxLength 3000 bytes)
#   mastodon: 500 characters, the default of an instance's configuration.statuses.max_characters
#   youtube: comments.insert textOriginal, 10,000 characters (commentTextTooLong beyond)
#   reddit: a comment body is at most 10,000 characters
#   trustpilot, allegro: the reply endpoints document no length limit
#   google_places, hackernews, ceneo, rss: no reply API
REPLY_LIMITS: Final[dict[str, int | None]] = {
    "google_business": 4096,
    "google_places": None,
    "trustpilot": None,
    "allegro": None,
    "mastodon": 500,
    "bluesky": 300,
    "youtube": 10_000,
    "reddit": 10_000,
    "hackernews": None,
    "ceneo": None,
    "rss": None,
}

# How a source counts: Google counts UTF-8 bytes; Bluesky graphemes (code points are counted instead, which
# is never fewer, so a reply that fits in code points fits in graphemes); the rest characters.
_BYTE_SOURCES: Final = frozenset({"google_business"})
_URGENT_CODES: Final = frozenset({"legal_threat", "health_safety", "data_leak"})
_ELLIPSIS: Final = "…"
_DELAY = re.compile(
    r"op[oó][zź]n|sp[oó][zź]n|p[oó][zź]no|czekam|czeka[lł]|nie dotar|nie dosz|nie przysz|wci[aą][zż] nie ma"
    r"|delay|late\b|still waiting|waiting for|not arrived|hasn'?t arrived|never arrived|not received|never came",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def reply_limit(source: str) -> int | None:
    """The longest reply the source accepts, in characters (None when unknown/unlimited).

    For ``google_business`` the unit is UTF-8 bytes (see :func:`reply_unit`); every other limit counts
    characters.
    """
    return REPLY_LIMITS.get(source)


def reply_unit(source: str) -> str:
    """What ``reply_limit(source)`` counts: ``bytes`` or ``characters``."""
    return "bytes" if source in _BYTE_SOURCES else "characters"


def reply_length(source: str, text: str) -> int:
    """``text``'s length as ``source`` counts it against its limit."""
    if source in _BYTE_SOURCES:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text)


def _clean_config(value: str | None) -> str:
    """A configured string on one line: control characters removed, whitespace collapsed."""
    if not value:
        return ""
    kept = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Cs"} else ch for ch in value)
    return _SPACES.sub(" ", kept).strip()


def _sentence(value: str) -> str:
    """A configured phrase ending like a sentence."""
    return value if not value or value[-1] in ".!?…" else f"{value}."


def _join(items: Sequence[str], word: str) -> str:
    """``a``, ``a i b``, ``a, b i c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _reply_lang(mention: MentionView, score: ScoreView | None) -> str:
    """``pl`` for Polish items, ``en`` for everything else."""
    raw = (score.lang if score is not None and score.lang else None) or mention.lang or ""
    return "pl" if re.split(r"[-_]", raw.strip().lower(), maxsplit=1)[0] == "pl" else "en"


def _ordered(aspects: Sequence[AspectView], keep: Callable[[AspectView], bool]) -> list[AspectView]:
    """Known aspects passing ``keep``, one per aspect name, in the order the model reported them."""
    seen: set[str] = set()
    out: list[AspectView] = []
    for aspect in aspects:
        if aspect.aspect in ASPECT_ORDER and aspect.aspect not in seen and keep(aspect):
            seen.add(aspect.aspect)
            out.append(aspect)
    return out


def _is_positive(mention: MentionView, score: ScoreView | None) -> bool:
    """The customer is pleased: the model says positive, or (unscored) the stars are high."""
    if score is not None:
        return score.label.lower() == "positive" or score.score >= 0.5
    return mention.rating is not None and mention.rating >= 4


def _is_careful(severity: str, score: ScoreView | None) -> bool:
    """Urgent items, and any legal, health or data-leak reason, get the careful reply."""
    if severity == "urgent":
        return True
    return score is not None and any(r.code in _URGENT_CODES for r in score.urgency_reasons)


def _problem(aspect: AspectView, phrases: Phrases, mention_text: str) -> str:
    """What went wrong with ``aspect``; a late delivery is named as a delay (read, never quoted)."""
    if aspect.aspect == "delivery" and _DELAY.search(aspect.evidence or mention_text[:5000]):
        return phrases.delivery_delay
    return phrases.problem[aspect.aspect]


@dataclass
class _Part:
    """One sentence of a reply with its shorter variants (longest first; ``""`` means left out)."""

    name: str
    variants: list[str]
    index: int = 0

    @property
    def text(self) -> str:
        return self.variants[self.index]

    def shorten(self) -> bool:
        """Move to the next shorter variant; False when there is none."""
        if self.index + 1 >= len(self.variants):
            return False
        self.index += 1
        return True


@dataclass
class _Draft:
    """A reply as a greeting line, body sentences and a signature line, shortened part by part."""

    greeting: _Part
    body: list[_Part]
    signature: _Part
    shorten_order: tuple[str, ...] = field(default=())

    def render(self) -> str:
        body = " ".join(p.text for p in self.body if p.text)
        return "\n".join(line for line in (self.greeting.text, body, self.signature.text) if line)

    def parts(self) -> dict[str, _Part]:
        return {p.name: p for p in (self.greeting, *self.body, self.signature)}


def _contact_channels(reply: ReplySettings, phrases: Phrases) -> list[str]:
    """The configured contact channels as they read in a sentence: e-mail, phone, page."""
    channels = [
        _clean_config(reply.contact_email),
        _clean_config(reply.contact_phone),
        _clean_config(reply.contact_url),
    ]
    if channels[1]:
        channels[1] = f"{phrases.phone_prefix}{channels[1]}"
    return [c for c in channels if c]


def _contact_variants(
    channels: list[str], phrases: Phrases, profile: ChannelProfile, *, urgent: bool = False
) -> list[str]:
    """All channels, then only the shortest one, then the route the source itself has (a private message
    only where the platform has them; customer service on review sites; the thread on social sites)."""
    full = phrases.urgent_contact if urgent else phrases.contact
    variants: list[str] = []
    if channels:
        variants.append(full.format(channels=_join(channels, phrases.or_word)))
        if len(channels) > 1:
            variants.append(full.format(channels=min(channels, key=len)))
    route = contact_route(profile, has_configured_contact=False)
    if route == "private_message":
        variants.append(phrases.urgent_contact_private if urgent else phrases.contact_private)
    elif route == "thread" and not urgent:
        variants.append(phrases.contact_thread)
    else:
        variants.append(phrases.urgent_contact_service if urgent else phrases.contact_service)
    return variants


def _next_step_variants(
    problems: list[AspectView], reply: ReplySettings, lang: str, phrases: Phrases
) -> list[str]:
    """What the team will do: only configured promises, else 'we will look into it'."""
    steps = {key.strip().lower(): value for key, value in reply.next_steps.items()}
    configured: list[str] = []
    missing = not problems
    for aspect in problems:
        step = _clean_config(steps.get(f"{aspect.aspect}.{lang}") or steps.get(aspect.aspect))
        if step:
            configured.append(_sentence(step))
        else:
            missing = True
    variants: list[str] = []
    if configured:
        tail = [phrases.look_into] if missing else []
        variants.append(" ".join([*configured, *tail]))
        if len(configured) > 1:
            variants.append(configured[0])
    variants.append(phrases.look_into)
    return list(dict.fromkeys(variants))


def _careful_draft(phrases: Phrases, channels: list[str], signature: str, profile: ChannelProfile) -> _Draft:
    return _Draft(
        greeting=_Part("greeting", [phrases.greeting, ""]),
        body=[
            _Part("intro", [phrases.urgent_intro]),
            _Part("contact", _contact_variants(channels, phrases, profile, urgent=True)),
            _Part("privacy", [phrases.urgent_privacy, ""]),
        ],
        signature=_Part("signature", [signature, ""] if signature else [""]),
        shorten_order=("greeting", "privacy", "signature", "contact", "contact"),
    )


def _positive_draft(phrases: Phrases, good: list[str], brand: str, signature: str) -> _Draft:
    glad = [phrases.glad.format(things=_join(good, phrases.and_word))] if good else []
    if len(good) > 1:
        glad.append(phrases.glad.format(things=good[0]))
    closing = [phrases.closing_brand.format(brand=brand)] if brand else []
    return _Draft(
        greeting=_Part("greeting", [phrases.greeting, ""]),
        body=[
            _Part("thanks", [phrases.thanks_positive]),
            _Part("glad", [*glad, ""]),
            _Part("closing", [*closing, phrases.closing_positive, ""]),
        ],
        signature=_Part("signature", [signature, ""] if signature else [""]),
        shorten_order=("closing", "closing", "greeting", "glad", "glad", "signature"),
    )


def _info_draft(phrases: Phrases, topics: list[str], contact: list[str], signature: str) -> _Draft:
    remarks = [phrases.remarks.format(topics=_join(topics, phrases.and_word))] if topics else []
    if len(topics) > 1:
        remarks.append(phrases.remarks.format(topics=topics[0]))
    return _Draft(
        greeting=_Part("greeting", [phrases.greeting, ""]),
        body=[
            _Part("thanks", [phrases.thanks_feedback]),
            _Part("remarks", [*remarks, phrases.look_into]),
            _Part("contact", [*contact, ""]),
        ],
        signature=_Part("signature", [signature, ""] if signature else [""]),
        shorten_order=("greeting", "remarks", "remarks", "contact", "contact", "contact", "signature"),
    )


def _negative_draft(
    phrases: Phrases,
    problems: list[str],
    steps: list[str],
    good: list[str],
    contact: list[str],
    signature: str,
) -> _Draft:
    apology = [phrases.apology.format(problems=_join(problems, phrases.and_word))] if problems else []
    if len(problems) > 1:
        apology.append(phrases.apology.format(problems=problems[0]))
    if not problems:
        apology.append(phrases.apology_generic)
    despite = [phrases.glad_despite.format(things=_join(good, phrases.and_word))] if good else []
    return _Draft(
        greeting=_Part("greeting", [phrases.greeting, ""]),
        body=[
            _Part("apology", apology),
            _Part("steps", steps),
            _Part("despite", [*despite, ""]),
            _Part("contact", contact),
            _Part("closing", [phrases.thanks_feedback, ""]),
        ],
        signature=_Part("signature", [signature, ""] if signature else [""]),
        shorten_order=(
            "closing",
            "despite",
            "greeting",
            "steps",
            "steps",
            "apology",
            "signature",
            "contact",
            "contact",
        ),
    )


def _cut_at_word(text: str, fits: Callable[[str], bool]) -> str:
    """The longest run of whole words of ``text`` that fits, with an ellipsis; never a part of a word."""
    tokens = re.findall(r"\S+\s*", text)
    kept = ""
    for token in tokens:
        candidate = kept + token
        if not fits(candidate.rstrip() + _ELLIPSIS):
            break
        kept = candidate
    kept = kept.rstrip().rstrip(",;:–-").rstrip()
    return f"{kept}{_ELLIPSIS}" if kept else ""


def _fit(draft: _Draft, source: str, limit: int | None, soft_limit: int | None = None) -> str:
    """Render ``draft`` within ``limit``: shorten parts in the draft's order, then cut at a word.

    ``soft_limit`` (a social reply's aim) only drops optional parts: a reply that is still longer once
    every part is at its shortest stays whole when it fits ``limit``.
    """
    aim = limit if soft_limit is None else (soft_limit if limit is None else min(limit, soft_limit))

    def within(bound: int | None) -> Callable[[str], bool]:
        return lambda text: bound is None or reply_length(source, text) <= bound

    fits, fits_hard = within(aim), within(limit)
    text = draft.render()
    if fits(text):
        return text
    parts = draft.parts()
    for name in draft.shorten_order:
        part = parts.get(name)
        if part is not None and part.shorten():
            text = draft.render()
            if fits(text):
                break
    else:
        return text if fits_hard(text) else _cut_at_word(text, fits_hard)
    # Shortening a late part may have freed room for an earlier one: give back what fits, most important first.
    for name in dict.fromkeys(reversed(draft.shorten_order)):
        part = parts[name]
        while part.index > 0:
            part.index -= 1
            if not fits(draft.render()):
                part.index += 1
                break
    return draft.render()


def _template_keys(positive: bool, aspects: Sequence[AspectView]) -> list[str]:
    """The template aspects to try, most specific first: praise, or each complained-of aspect then any."""
    if positive:
        return [POSITIVE_ASPECT]
    return [*(a.aspect for a in aspects), ""]


def _from_template(
    template: str,
    mention: MentionView,
    phrases: Phrases,
    profile: ChannelProfile,
    channels: list[str],
    signature: str,
    brand: str,
    limit: int | None,
) -> str:
    """A saved template with its placeholders filled for this item and source, within the source's limit."""
    contact = _contact_variants(channels, phrases, profile)[0]
    text = fill_template(
        template,
        greeting=phrases.greeting if profile.greeting else "",
        author=mention.author or "",
        contact=contact,
        brand=brand,
        signature=signature if profile.sign_off else "",
    )

    def fits(value: str) -> bool:
        return limit is None or reply_length(mention.source, value) <= limit

    return text if fits(text) else _cut_at_word(text, fits)


def suggest_reply(
    mention: MentionView,
    score: ScoreView | None,
    reply: ReplySettings,
    *,
    severity: str = "negative",
    brand: str | None = None,
    templates: Mapping[TemplateKey, str] | None = None,
) -> SuggestedReply:
    """A reply for ``mention`` in its language, the brand's tone and the source's manner, within the source's
    length limit. ``templates``: the saved templates of the item's target, by (aspect, language)
    (:func:`alerts.reply_template_store.templates_for`)."""
    lang = _reply_lang(mention, score)
    formal = reply.formal if lang == "pl" else True
    gender = writer_gender(mention.text or "") if lang == "pl" and formal else None
    phrases = phrases_for(lang, reply.formal, gender)
    profile = channel_profile(mention.source)
    limit = reply_limit(mention.source)
    sev = severity.strip().lower()
    aspects = score.aspects if score is not None else ()
    signature = _clean_config(reply.signature) if profile.sign_off else ""
    channels = _contact_channels(reply, phrases)
    careful = _is_careful(sev, score)
    positive = sev == "positive" or (sev == "info" and _is_positive(mention, score))

    if templates and not careful:
        keyed = _ordered(aspects, lambda a: a.is_complaint if sev != "info" else a.sentiment != "positive")
        for key in _template_keys(positive, keyed):
            template = templates.get((key, lang))
            if template:
                text = _from_template(
                    template, mention, phrases, profile, channels, signature, _clean_config(brand), limit
                )
                return SuggestedReply(text, lang, formal, limit, from_template=True)

    if careful:
        draft = _careful_draft(phrases, channels, signature, profile)
    elif positive:
        good = [
            phrases.good[a.aspect] for a in _ordered(aspects, lambda a: a.sentiment in (None, "positive"))
        ]
        draft = _positive_draft(phrases, good, _clean_config(brand), signature)
    elif sev == "info":
        topics = [phrases.topic[a.aspect] for a in _ordered(aspects, lambda a: a.sentiment != "positive")]
        contact = _contact_variants(channels, phrases, profile)
        draft = _info_draft(phrases, topics, contact if channels else [], signature)
    else:
        problems = _ordered(aspects, lambda a: a.is_complaint)
        good = [phrases.good[a.aspect] for a in _ordered(aspects, lambda a: a.sentiment == "positive")]
        draft = _negative_draft(
            phrases,
            [_problem(a, phrases, mention.text or "") for a in problems],
            _next_step_variants(problems, reply, lang, phrases),
            good,
            _contact_variants(channels, phrases, profile),
            signature,
        )
    if not profile.greeting:
        draft.greeting = _Part("greeting", [""])
    text = _fit(draft, mention.source, limit, profile.soft_limit)
    return SuggestedReply(text=text, lang=lang, formal=formal, max_chars=limit)
