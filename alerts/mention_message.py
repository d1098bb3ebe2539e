"""The Slack message for an alert about one mention: what happened, why it alerted, and what to do.

A mention alert has to be acted on from the channel: the header names the kind and the shop, the badges
say how bad (sentiment, urgency, severity, rule), the fields who wrote it where and when, then the
excerpt, the aspects, a suggested reply in the right language and form of address (with similar past
replies), the links and the handling buttons. Every value comes from a review or a payload, so each is
made safe with :mod:`alerts.slack_format` and shaped into the shared blocks of :mod:`alerts.slack_blocks`;
:mod:`alerts.render` picks this builder for the mention kinds.
"""

from __future__ import annotations

import math
from typing import Any

from alerts.escaping import clean_text, escape_control_chars, plain_text
from alerts.rules import MentionView, ScoreView
from alerts.slack_blocks import (
    actions_block,
    context_block,
    excerpt_mrkdwn,
    handling_lines,
    header_block,
    links_block,
    section,
    sentiment_name,
    state_block,
)
from alerts.slack_format import (
    REASON_CHARS,
    SENTIMENT_EMOJI,
    SlackLimits,
    SlackMessage,
    aspect_label,
    fallback_text,
    fit_escaped,
    item_url,
    safe_url,
    stars,
    truncate,
    untrusted,
)
from alerts.slack_i18n import ENGLISH, SlackText, localize_reason, severity_name, urgency_reason_name
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert

__all__ = ["build_message", "similar_replies"]

_FIELD_VALUE_CHARS = 200  # author names and targets are short; a 2,000-char "name" is abuse, not data
_REPLY_CHARS = 1500
_SIMILAR_CHARS = 200
_SIMILAR_SHOWN = 2

_KIND_TITLES = {
    "negative": "Negative mention: %(subject)s",
    "low_rating": "Low rating: %(subject)s",
    "urgent": "🚨 Urgent: %(subject)s",
    "keyword": "Keyword match: %(subject)s",
}


def _title(alert: Alert, mention: MentionView, voice: SlackText) -> str:
    subject = clean_text(mention.target or "") or clean_text(mention.source) or voice.t("unknown source")
    return voice.t(_KIND_TITLES.get(alert.kind, "Alert: %(subject)s"), subject=subject)


def _sentiment(score: ScoreView | None, voice: SlackText) -> tuple[str, str]:
    if score is None:
        missing = voice.t("not scored")
        return f"❔ {missing}", missing
    label_md, label_plain = untrusted(sentiment_name(score.label, voice), 16, "?")
    emoji = SENTIMENT_EMOJI.get(clean_text(score.label), "⚪")
    numbers = voice.t(
        "(%(score)s, confidence %(confidence)s)",
        score=voice.signed(score.score) if math.isfinite(score.score) else "?",
        confidence=voice.percent(score.confidence) if math.isfinite(score.confidence) else "?",
    )
    return f"{emoji} *{label_md}* {numbers}", f"{label_plain} {numbers}"


def _urgency(score: ScoreView | None, voice: SlackText) -> tuple[str, str] | None:
    if score is None or score.urgency not in ("critical", "elevated"):
        return None
    badge = voice.t("🚨 critical") if score.urgency == "critical" else voice.t("⚠️ elevated")
    labels = dict.fromkeys(urgency_reason_name(r.code, voice) for r in score.urgency_reasons)
    codes = [pair for pair in (untrusted(label, 40) for label in labels) if pair[0]][:8]
    if not codes:
        return badge, badge
    return f"{badge}: {', '.join(md for md, _ in codes)}", f"{badge}: {', '.join(p for _, p in codes)}"


def _badges(alert: Alert, score: ScoreView | None, voice: SlackText) -> tuple[str, str]:
    parts = [_sentiment(score, voice)]
    urgency = _urgency(score, voice)
    if urgency:
        parts.append(urgency)
    severity = untrusted(severity_name(alert.severity, voice), 16)
    if severity[0]:
        parts.append(
            (
                voice.t("severity %(severity)s", severity=f"*{severity[0]}*"),
                voice.t("severity %(severity)s", severity=severity[1]),
            )
        )
    rule = untrusted(alert.rule, 64)
    if rule[0]:
        parts.append((voice.t("rule %(rule)s", rule=f"*{rule[0]}*"), voice.t("rule %(rule)s", rule=rule[1])))
    return "  ·  ".join(md for md, _ in parts), " · ".join(p for _, p in parts)


def _aspects(score: ScoreView | None, voice: SlackText) -> tuple[str, str] | None:
    if score is None or not score.aspects:
        return None
    md_parts, plain_parts = [], []
    for aspect in score.aspects[:10]:
        name = aspect_label(clean_text(aspect.aspect), voice.language)
        label_md, label_plain = untrusted(name, 40, "?")
        emoji = SENTIMENT_EMOJI.get(aspect.sentiment or "", "")
        md_parts.append(f"{label_md} {emoji}".strip())
        feeling = sentiment_name(aspect.sentiment, voice) if aspect.sentiment else voice.t("unclear")
        plain_parts.append(f"{label_plain} ({untrusted(feeling, 16, '?')[1]})")
    head = voice.t("Aspects:")
    return f"*{head}* " + " · ".join(md_parts), f"{head} " + ", ".join(plain_parts)


def _reach(reach: int | None, voice: SlackText) -> str | None:
    return voice.number(reach) if isinstance(reach, int) and reach >= 0 else None


def _fields(mention: MentionView, posted: str, lang: str | None, voice: SlackText) -> list[str]:
    unknown = f"_{voice.t('unknown')}_"
    rating = stars(mention.rating) if mention.rating is not None else f"_{voice.t('no rating')}_"
    values = [
        (voice.t("Source"), untrusted(mention.source, _FIELD_VALUE_CHARS, unknown)[0]),
        (voice.t("Target"), untrusted(mention.target, _FIELD_VALUE_CHARS, f"_{voice.t('none')}_")[0]),
        (voice.t("Rating"), rating),
        (voice.t("Author"), untrusted(mention.author, _FIELD_VALUE_CHARS, unknown)[0]),
        (voice.t("Reach"), _reach(mention.reach, voice) or unknown),
        (voice.t("Posted"), posted),
        (voice.t("Language"), untrusted(lang, 16, unknown)[0]),
    ]
    return [f"*{name}*\n{value}" for name, value in values]


def _reply_tone(
    alert: Alert, mention: MentionView, score: ScoreView | None, settings: EarshotSettings, voice: SlackText
) -> str:
    """``pl, formal`` / ``en``: the language and (for Polish) the form of address the draft uses."""
    payload = alert.payload if isinstance(alert.payload, dict) else {}
    lang_value = payload.get("reply_lang") or (score.lang if score else None) or mention.lang or ""
    lang = clean_text(str(lang_value))[:8] or "?"
    if lang != "pl":
        return lang
    formal = payload.get("reply_formal")
    if not isinstance(formal, bool):
        target = next((t for t in settings.targets if t.name == mention.target), None)
        formal = True if target is None else target.reply.formal
    return f"{lang}, {voice.t('formal') if formal else voice.t('informal')}"


def _similarity(value: object, voice: SlackText) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    share = value / 100 if value > 1 else value
    return voice.percent(min(max(share, 0.0), 1.0))


def similar_replies(payload: object, voice: SlackText) -> list[tuple[str, str]]:
    """(mrkdwn, plain) for up to two past replies to similar items, from ``payload["similar_replies"]``."""
    items = payload.get("similar_replies") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return []
    shown: list[tuple[str, str]] = []
    for item in items:
        if len(shown) >= _SIMILAR_SHOWN:
            break
        if not isinstance(item, dict):
            continue
        text_md, text_plain = untrusted(item.get("text"), _SIMILAR_CHARS)
        if not text_md:
            continue
        share = _similarity(item.get("similarity"), voice)
        lead = voice.t("%(share)s similar item", share=share) if share else voice.t("similar item")
        shown.append((f"↪ {lead}: “{text_md}”", f"{lead}: “{text_plain}”"))
    return shown


def _suggested_reply(
    alert: Alert, mention: MentionView, score: ScoreView | None, settings: EarshotSettings, voice: SlackText
) -> tuple[list[dict[str, Any]], list[str]]:
    reply = clean_text(alert.suggested_reply or "")
    if not reply:
        return [], []
    tone = _reply_tone(alert, mention, score, settings, voice)
    body = fit_escaped(reply, _REPLY_CHARS, SlackLimits.SECTION_TEXT - 200)
    head = voice.t("Suggested reply")
    hint = voice.t("edit it in Reply")
    blocks = [section(f"*{head}* ({escape_control_chars(tone)}) — {hint}\n{body}")]
    plain = [f"{head} ({tone}):", truncate(reply, _REPLY_CHARS)]
    similar = similar_replies(alert.payload, voice)
    if similar:
        blocks.append(context_block(*(md for md, _ in similar)))
        plain += [f"  {p}" for _, p in similar]
    return blocks, plain


def _context(alert: Alert, mention: MentionView, voice: SlackText) -> dict[str, Any]:
    version = alert.mention_version or mention.version
    bits = [
        voice.t("Alert #%(id)s", id=alert.id if alert.id is not None else "?"),
        voice.t("mention #%(id)s v%(version)s", id=mention.id, version=version),
    ]
    rule = untrusted(alert.rule, 64)[0]
    if rule:
        bits.append(voice.t("rule %(rule)s", rule=rule))
    return context_block(" · ".join(bits))


def build_message(
    alert: Alert,
    mention: MentionView,
    score: ScoreView | None,
    settings: EarshotSettings,
    voice: SlackText = ENGLISH,
) -> SlackMessage:
    """The Slack message for ``alert`` about ``mention``: header, badges, facts, excerpt, suggested reply,
    links, the handling buttons and the handling state, plus a fallback text and a console rendering.
    ``voice``: the language and time zone (:func:`alerts.slack_i18n.slack_text`)."""
    title = truncate(plain_text(_title(alert, mention, voice)), SlackLimits.HEADER_TEXT)
    reason = truncate(clean_text(localize_reason(alert.reason, voice)), REASON_CHARS)
    posted = voice.when(mention.created_at)
    posted_md = posted if mention.created_at is not None else f"_{posted}_"
    lang = (score.lang if score else None) or mention.lang
    badges_md, badges_plain = _badges(alert, score, voice)
    why_label = voice.t("Why:")
    why = (
        f"*{why_label}* {fit_escaped(reason, REASON_CHARS, 2500)}"
        if reason
        else f"*{why_label}* _{voice.t('see details')}_"
    )
    excerpt_md, excerpt_plain = excerpt_mrkdwn(mention.text, settings.alerts.excerpt_chars, voice)
    state = handling_lines(alert, voice)
    blocks: list[dict[str, Any] | None] = [
        header_block(title),
        state_block(state),
        section(badges_md),
        section(why, _fields(mention, posted_md, lang, voice)),
    ]
    aspects = _aspects(score, voice)
    if aspects:
        blocks.append(context_block(aspects[0]))
    blocks.append(section(excerpt_md))
    reply_blocks, reply_plain = _suggested_reply(alert, mention, score, settings, voice)
    blocks += reply_blocks
    blocks.append(links_block(mention.id, mention.url, settings, voice))
    blocks.append(actions_block(alert, voice))
    blocks.append(_context(alert, mention, voice))

    unknown = voice.t("unknown")
    rating = stars(mention.rating) if mention.rating is not None else voice.t("no rating")
    facts = [
        (voice.t("Source"), untrusted(mention.source, _FIELD_VALUE_CHARS, unknown)[1]),
        (voice.t("Target"), untrusted(mention.target, _FIELD_VALUE_CHARS, voice.t("none"))[1]),
        (voice.t("Rating"), rating),
        (voice.t("Author"), untrusted(mention.author, _FIELD_VALUE_CHARS, unknown)[1]),
        (voice.t("Reach"), _reach(mention.reach, voice) or unknown),
        (voice.t("Posted"), posted),
        (voice.t("Language"), untrusted(lang, 16, unknown)[1]),
    ]
    plain_lines = [
        f"[Earshot] {title}",
        *(p for _, p in state),
        badges_plain,
        f"{why_label} {reason}" if reason else "",
        " | ".join(f"{name}: {value}" for name, value in facts[:3]),
        " | ".join(f"{name}: {value}" for name, value in facts[3:]),
        aspects[1] if aspects else "",
        f"“{excerpt_plain}”",
        *reply_plain,
        f"{voice.t('Review')}: {safe_url(mention.url) or voice.t('(no link)')}",
        f"Earshot: {item_url(settings, mention.id)}",
    ]
    return SlackMessage(
        text=fallback_text(title, reason, mention.text, state),
        blocks=[b for b in blocks if b is not None],
        plain="\n".join(line for line in plain_lines if line),
    )
