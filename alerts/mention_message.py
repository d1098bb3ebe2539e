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
    state_block,
)
from alerts.slack_format import (
    REASON_CHARS,
    SENTIMENT_EMOJI,
    SlackLimits,
    SlackMessage,
    aspect_label,
    date_token,
    fallback_text,
    fit_escaped,
    item_url,
    safe_url,
    stars,
    truncate,
    untrusted,
    urgency_reason_label,
)
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert

__all__ = ["build_message", "similar_replies"]

_FIELD_VALUE_CHARS = 200  # author names and targets are short; a 2,000-char "name" is abuse, not data
_REPLY_CHARS = 1500
_SIMILAR_CHARS = 200
_SIMILAR_SHOWN = 2

_KIND_TITLES = {
    "negative": "Negative mention",
    "low_rating": "Low rating",
    "urgent": "🚨 Urgent",
    "keyword": "Keyword match",
}
_URGENCY_BADGE = {"critical": "🚨 critical", "elevated": "⚠️ elevated"}


def _title(alert: Alert, mention: MentionView) -> str:
    subject = clean_text(mention.target or "") or clean_text(mention.source) or "unknown source"
    return f"{_KIND_TITLES.get(alert.kind, 'Alert')}: {subject}"


def _sentiment(score: ScoreView | None) -> tuple[str, str]:
    if score is None:
        return "❔ not scored", "not scored"
    label_md, label_plain = untrusted(score.label, 16, "?")
    emoji = SENTIMENT_EMOJI.get(clean_text(score.label), "⚪")
    numbers = f"({score.score:.2f}, confidence {score.confidence:.0%})"
    return f"{emoji} *{label_md}* {numbers}", f"{label_plain} {numbers}"


def _urgency(score: ScoreView | None) -> tuple[str, str] | None:
    if score is None or score.urgency not in _URGENCY_BADGE:
        return None
    badge = _URGENCY_BADGE[score.urgency]
    labels = dict.fromkeys(urgency_reason_label(r.code) for r in score.urgency_reasons)
    codes = [pair for pair in (untrusted(label, 40) for label in labels) if pair[0]][:8]
    if not codes:
        return badge, badge
    return f"{badge}: {', '.join(md for md, _ in codes)}", f"{badge}: {', '.join(p for _, p in codes)}"


def _badges(alert: Alert, score: ScoreView | None) -> tuple[str, str]:
    parts = [_sentiment(score)]
    urgency = _urgency(score)
    if urgency:
        parts.append(urgency)
    severity = untrusted(alert.severity, 16)
    if severity[0]:
        parts.append((f"severity *{severity[0]}*", f"severity {severity[1]}"))
    rule = untrusted(alert.rule, 64)
    if rule[0]:
        parts.append((f"rule *{rule[0]}*", f"rule {rule[1]}"))
    return "  ·  ".join(md for md, _ in parts), " · ".join(p for _, p in parts)


def _aspects(score: ScoreView | None) -> tuple[str, str] | None:
    if score is None or not score.aspects:
        return None
    md_parts, plain_parts = [], []
    for aspect in score.aspects[:10]:
        label_md, label_plain = untrusted(aspect_label(clean_text(aspect.aspect)), 40, "?")
        emoji = SENTIMENT_EMOJI.get(aspect.sentiment or "", "")
        md_parts.append(f"{label_md} {emoji}".strip())
        plain_parts.append(f"{label_plain} ({aspect.sentiment or 'unclear'})")
    return "*Aspects:* " + " · ".join(md_parts), "Aspects: " + ", ".join(plain_parts)


def _reach(reach: int | None) -> str | None:
    return f"{reach:,}" if isinstance(reach, int) and reach >= 0 else None


def _fields(mention: MentionView, posted: str, lang: str | None) -> list[str]:
    rating = stars(mention.rating) if mention.rating is not None else "_no rating_"
    values = [
        ("Source", untrusted(mention.source, _FIELD_VALUE_CHARS, "_unknown_")[0]),
        ("Target", untrusted(mention.target, _FIELD_VALUE_CHARS, "_none_")[0]),
        ("Rating", rating),
        ("Author", untrusted(mention.author, _FIELD_VALUE_CHARS, "_unknown_")[0]),
        ("Reach", _reach(mention.reach) or "_unknown_"),
        ("Posted", posted),
        ("Language", untrusted(lang, 16, "_unknown_")[0]),
    ]
    return [f"*{name}*\n{value}" for name, value in values]


def _reply_tone(
    alert: Alert, mention: MentionView, score: ScoreView | None, settings: EarshotSettings
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
    return f"{lang}, {'formal' if formal else 'informal'}"


def _similarity(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    share = value / 100 if value > 1 else value
    return f"{min(max(share, 0.0), 1.0):.0%}"


def similar_replies(payload: object) -> list[tuple[str, str]]:
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
        share = _similarity(item.get("similarity"))
        lead = f"{share} similar item" if share else "similar item"
        shown.append((f"↪ {lead}: “{text_md}”", f"{lead}: “{text_plain}”"))
    return shown


def _suggested_reply(
    alert: Alert, mention: MentionView, score: ScoreView | None, settings: EarshotSettings
) -> tuple[list[dict[str, Any]], list[str]]:
    reply = clean_text(alert.suggested_reply or "")
    if not reply:
        return [], []
    tone = _reply_tone(alert, mention, score, settings)
    body = fit_escaped(reply, _REPLY_CHARS, SlackLimits.SECTION_TEXT - 200)
    blocks = [section(f"*Suggested reply* ({escape_control_chars(tone)}) — edit it in Reply\n{body}")]
    plain = [f"Suggested reply ({tone}):", truncate(reply, _REPLY_CHARS)]
    similar = similar_replies(alert.payload)
    if similar:
        blocks.append(context_block(*(md for md, _ in similar)))
        plain += [f"  {p}" for _, p in similar]
    return blocks, plain


def _context(alert: Alert, mention: MentionView) -> dict[str, Any]:
    version = alert.mention_version or mention.version
    bits = [f"Alert #{alert.id if alert.id is not None else '?'}", f"mention #{mention.id} v{version}"]
    rule = untrusted(alert.rule, 64)[0]
    if rule:
        bits.append(f"rule {rule}")
    return context_block(" · ".join(bits))


def build_message(
    alert: Alert, mention: MentionView, score: ScoreView | None, settings: EarshotSettings
) -> SlackMessage:
    """The Slack message for ``alert`` about ``mention``: header, badges, facts, excerpt, suggested reply,
    links, the handling buttons and the handling state, plus a fallback text and a console rendering."""
    title = truncate(plain_text(_title(alert, mention)), SlackLimits.HEADER_TEXT)
    reason = truncate(clean_text(alert.reason), REASON_CHARS)
    posted_md, posted_plain = date_token(mention.created_at)
    lang = (score.lang if score else None) or mention.lang
    badges_md, badges_plain = _badges(alert, score)
    why = f"*Why:* {fit_escaped(reason, REASON_CHARS, 2500)}" if reason else "*Why:* _see details_"
    excerpt_md, excerpt_plain = excerpt_mrkdwn(mention.text, settings.alerts.excerpt_chars)
    state = handling_lines(alert)
    blocks: list[dict[str, Any] | None] = [
        header_block(title),
        state_block(state),
        section(badges_md),
        section(why, _fields(mention, posted_md, lang)),
    ]
    aspects = _aspects(score)
    if aspects:
        blocks.append(context_block(aspects[0]))
    blocks.append(section(excerpt_md))
    reply_blocks, reply_plain = _suggested_reply(alert, mention, score, settings)
    blocks += reply_blocks
    blocks.append(links_block(mention.id, mention.url, settings))
    blocks.append(actions_block(alert))
    blocks.append(_context(alert, mention))

    rating = stars(mention.rating) if mention.rating is not None else "no rating"
    plain_lines = [
        f"[Earshot] {title}",
        *(p for _, p in state),
        badges_plain,
        f"Why: {reason}" if reason else "",
        f"Source: {untrusted(mention.source, _FIELD_VALUE_CHARS, 'unknown')[1]}"
        f" | Target: {untrusted(mention.target, _FIELD_VALUE_CHARS, 'none')[1]} | Rating: {rating}",
        f"Author: {untrusted(mention.author, _FIELD_VALUE_CHARS, 'unknown')[1]}"
        f" | Reach: {_reach(mention.reach) or 'unknown'} | Posted: {posted_plain}"
        f" | Language: {untrusted(lang, 16, 'unknown')[1]}",
        aspects[1] if aspects else "",
        f"“{excerpt_plain}”",
        *reply_plain,
        f"Review: {safe_url(mention.url) or '(no link)'}",
        f"Earshot: {item_url(settings, mention.id)}",
    ]
    return SlackMessage(
        text=fallback_text(title, reason, mention.text, state),
        blocks=[b for b in blocks if b is not None],
        plain="\n".join(line for line in plain_lines if line),
    )
