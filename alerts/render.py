"""One entry point from an alert row to its Slack message, whatever the alert's kind.

The outbox posts and re-renders (``chat.update`` after a click) through :func:`render`, so every kind
gets the same treatment: untrusted text cleaned and escaped, Slack's limits kept, a fallback text and a
console rendering. A kind this code does not know (a newer version wrote the row, a typo) still gets a
plain, safe message: an alert that cannot be rendered would be an alert nobody sees.
"""

from __future__ import annotations

from typing import Any

from alerts.escaping import clean_text
from alerts.mention_message import build_message
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
    SlackMessage,
    as_float,
    as_int,
    fallback_text,
    item_url,
    payload_of,
    safe_url,
    stars,
    truncate,
    untrusted,
)
from alerts.slack_i18n import ENGLISH, SlackText, localize_reason, severity_name, slack_text
from alerts.source_message import SOURCE_KINDS, build_source_message
from alerts.stage_message import STAGE_KINDS, build_stage_message
from alerts.storm_message import storm_message
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind

__all__ = ["build_escalation", "build_follow_up", "build_generic", "render"]

_PREVIOUS_TEXT_CHARS = 200
_NAME_CHARS = 100
_REASON_CHARS = 1500


def render(
    alert: Alert,
    mention: MentionView | None,
    score: ScoreView | None,
    settings: EarshotSettings,
    parent: Alert | None = None,
    language: str | None = None,
) -> SlackMessage:
    """The message for ``alert`` as its row stands now (handling state included).

    ``mention``/``score``: the item the alert is about (None for storms and source health). ``parent``:
    the alert a thread reply belongs under (follow-ups, storm subsided) or, for an SLA escalation, the
    overdue alert, whose state and id the escalation's buttons show and act on. ``language`` (pl/en)
    overrides the target's ``language`` setting (``earshot alerts preview --language``).
    """
    kind = alert.kind
    target = mention.target if mention is not None and mention.target else alert.target
    if target is None and parent is not None:
        target = parent.target
    voice = slack_text(settings, target, language)
    if kind in AlertKind.MENTION_KINDS and mention is not None:
        return build_message(alert, mention, score, settings, voice)
    if kind in AlertKind.FOLLOW_UP_KINDS:
        return build_follow_up(alert, mention, score, settings, parent, voice)
    if kind in (AlertKind.STORM, AlertKind.STORM_SUBSIDED):
        return storm_message(alert, settings, parent, voice)
    if kind == AlertKind.SLA_ESCALATION:
        return build_escalation(alert, mention, settings, parent, voice)
    if kind in SOURCE_KINDS:
        return build_source_message(alert, voice)
    if kind in STAGE_KINDS:
        return build_stage_message(alert, voice)
    return build_generic(alert, mention, settings, voice)


# -------------------------------------------------------------------------------------------- follow-ups


def _byline(mention: MentionView | None, voice: SlackText) -> tuple[str, str]:
    if mention is None:
        return "", ""
    author_md, author_plain = untrusted(mention.author, _NAME_CHARS, voice.t("unknown author"))
    source_md, source_plain = untrusted(mention.source, 40, voice.t("unknown source"))
    by = "by %(author)s on %(source)s"
    md = voice.t(by, author=f"*{author_md}*", source=source_md)
    plain = voice.t(by, author=author_plain, source=source_plain)
    if mention.rating is not None:
        md, plain = f"{md} · {stars(mention.rating)}", f"{plain} · {stars(mention.rating)}"
    return md, plain


def _rating_change(previous: float | None, now: float | None, voice: SlackText) -> str | None:
    if previous == now:
        return None
    before = stars(previous) if previous is not None else voice.t("no rating")
    after = stars(now) if now is not None else voice.t("no rating")
    return voice.t("Rating: %(before)s → %(after)s", before=before, after=after)


def _edited(
    alert: Alert, mention: MentionView | None, voice: SlackText
) -> tuple[str, str, list[str], list[str]]:
    """Heading and body lines (mrkdwn, plain) for an edited review: versions, rating change, before."""
    payload = payload_of(alert)
    before = as_int(payload.get("previous_version"))
    after = as_int(payload.get("version")) or (mention.version if mention else None)
    versions = f" (v{before if before is not None else '?'} → v{after if after is not None else '?'})"
    heading = voice.t("✏️ Review edited%(versions)s", versions=versions)
    md_lines: list[str] = []
    plain_lines: list[str] = []
    change = _rating_change(
        as_float(payload.get("previous_rating")), mention.rating if mention else None, voice
    )
    if change:
        md_lines.append(change)
        plain_lines.append(change)
    previous_md, previous_plain = untrusted(payload.get("previous_text"), _PREVIOUS_TEXT_CHARS)
    if previous_md:
        label = voice.t("Before:")
        md_lines.append(f"*{label}* “{previous_md}”")
        plain_lines.append(f"{label} “{previous_plain}”")
    return heading, heading, md_lines, plain_lines


def _follow_up_heading(alert: Alert, parent: Alert | None, voice: SlackText) -> tuple[str, str]:
    if alert.kind == AlertKind.THREAD_REPLY:
        line = voice.t("↩️ New reply in the thread")
        return line, line
    if alert.kind == AlertKind.REPEAT:
        line = voice.t("🔁 Same author complains again")
        return line, line
    rule = payload_of(alert).get("rule") or alert.rule or (parent.rule if parent else None)
    rule_md, rule_plain = untrusted(rule, 64, "?")
    again = "➕ Another match for rule %(rule)s"
    return voice.t(again, rule=f"*{rule_md}*"), voice.t(again, rule=rule_plain)


def build_follow_up(
    alert: Alert,
    mention: MentionView | None,
    score: ScoreView | None,
    settings: EarshotSettings,
    parent: Alert | None = None,
    voice: SlackText = ENGLISH,
) -> SlackMessage:
    """A compact thread reply: what happened since the parent alert, the item, and (for a new item) the
    same handling buttons as a mention alert."""
    if alert.kind == AlertKind.EDITED:
        heading_md, heading_plain, md_lines, plain_lines = _edited(alert, mention, voice)
    else:
        heading_md, heading_plain = _follow_up_heading(alert, parent, voice)
        md_lines, plain_lines = [], []
    byline_md, byline_plain = _byline(mention, voice)
    text = mention.text if mention else None
    excerpt_md, excerpt_plain = excerpt_mrkdwn(text, settings.alerts.excerpt_chars, voice)
    label = f"*{voice.t('Now:')}* " if alert.kind == AlertKind.EDITED else ""
    new_item = alert.kind in (AlertKind.REPEAT, AlertKind.COOLDOWN)
    state = handling_lines(alert, voice) if new_item else []
    head = "\n".join(x for x in (f"{heading_md} {byline_md}".strip(), *md_lines) if x)
    blocks: list[dict[str, Any] | None] = [
        section(head),
        state_block(state),
        section(f"{label}“{excerpt_md}”" if text and clean_text(text) else excerpt_md),
    ]
    if mention is not None:
        blocks.append(links_block(mention.id, mention.url, settings, voice))
    if new_item:
        blocks.append(actions_block(alert, voice, can_reply=mention is not None))
    blocks.append(context_block(_follow_up_context(alert, mention, parent, voice)))
    plain = [
        f"[Earshot] {heading_plain} {byline_plain}".strip(),
        *plain_lines,
        *(p for _, p in state),
        f"{label.strip('* ')} “{excerpt_plain}”".strip(),
    ]
    if mention is not None:
        plain += _links_plain(mention, settings, voice)
    return SlackMessage(
        text=fallback_text(f"{heading_plain} {byline_plain}".strip(), "", text, state),
        blocks=[b for b in blocks if b is not None],
        plain="\n".join(line for line in plain if line),
    )


def _follow_up_context(
    alert: Alert, mention: MentionView | None, parent: Alert | None, voice: SlackText
) -> str:
    bits = [voice.t("Alert #%(id)s", id=alert.id if alert.id is not None else "?")]
    parent_id = parent.id if parent is not None else alert.parent_id
    if parent_id is not None:
        bits.append(voice.t("follow-up to alert #%(id)s", id=parent_id))
    if mention is not None:
        bits.append(voice.t("mention #%(id)s v%(version)s", id=mention.id, version=mention.version))
    return " · ".join(bits)


def _links_plain(mention: MentionView, settings: EarshotSettings, voice: SlackText) -> list[str]:
    return [
        f"{voice.t('Review')}: {safe_url(mention.url) or voice.t('(no link)')}",
        f"Earshot: {item_url(settings, mention.id)}",
    ]


# ---------------------------------------------------------------------------------------- SLA escalation


def build_escalation(
    alert: Alert,
    mention: MentionView | None,
    settings: EarshotSettings,
    overdue: Alert | None = None,
    voice: SlackText = ENGLISH,
) -> SlackMessage:
    """An overdue alert raised again (usually in the critical channel) with everything needed to act on it
    there: what is overdue and by how much, the item, and the overdue alert's own handling buttons."""
    payload = payload_of(alert)
    overdue_id = as_int(payload.get("alert_id"))
    if overdue is not None and overdue.id is not None and overdue_id not in (None, overdue.id):
        overdue = None  # not the alert this escalation is about: act on the escalation itself
    severity = severity_name(str(payload.get("severity") or alert.severity or ""), voice)
    severity_md, severity_plain = untrusted(severity, 16, voice.t("unknown"))
    sla, late = as_float(payload.get("sla_minutes")), as_float(payload.get("overdue_minutes"))
    numbers = voice.t(
        "target %(sla)s, now %(late)s",
        sla=voice.minutes(sla) if sla is not None else "?",
        late=voice.minutes(late) if late is not None else "?",
    )
    number = overdue_id if overdue_id is not None else "?"
    head = voice.t("Unhandled past its response target:")
    which = voice.t("%(severity)s alert #%(id)s", severity=severity_md, id=number)
    which_plain = voice.t("%(severity)s alert #%(id)s", severity=severity_plain, id=number)
    line_md = f"⏰ *{head}* {which}, {numbers}"
    line_plain = f"⏰ {head} {which_plain}, {numbers}"
    subject_source = (mention.target or mention.source) if mention else (alert.target or alert.source)
    subject = untrusted(subject_source, _NAME_CHARS, voice.t("unknown target"))[1]
    title = voice.t("⏰ SLA escalation: %(subject)s", subject=subject)
    channel_md, channel_plain = untrusted(payload.get("original_channel"), 80)
    byline_md, byline_plain = _byline(mention, voice)
    state = handling_lines(overdue or alert, voice)
    text = mention.text if mention else None
    excerpt_md, excerpt_plain = excerpt_mrkdwn(text, settings.alerts.excerpt_chars, voice)
    blocks: list[dict[str, Any] | None] = [
        header_block(title),
        state_block(state),
        section("\n".join(x for x in (line_md, byline_md) if x)),
        section(excerpt_md),
    ]
    if mention is not None:
        blocks.append(links_block(mention.id, mention.url, settings, voice))
    blocks.append(actions_block(alert, voice, can_reply=mention is not None, state=overdue))
    bits = [voice.t("Alert #%(id)s", id=alert.id if alert.id is not None else "?"), voice.t("SLA escalation")]
    if channel_md:
        bits.append(voice.t("first posted in %(channel)s", channel=channel_md))
    blocks.append(context_block(" · ".join(bits)))
    plain = [
        f"[Earshot] {truncate(clean_text(title), 150)}",
        *(p for _, p in state),
        line_plain,
        byline_plain,
        f"“{excerpt_plain}”",
        voice.t("First posted in %(channel)s", channel=channel_plain) if channel_plain else "",
    ]
    if mention is not None:
        plain += _links_plain(mention, settings, voice)
    return SlackMessage(
        text=fallback_text(title, line_plain, text, state),
        blocks=[b for b in blocks if b is not None],
        plain="\n".join(line for line in plain if line),
    )


# -------------------------------------------------------------------------------------------- any other


def build_generic(
    alert: Alert, mention: MentionView | None, settings: EarshotSettings, voice: SlackText = ENGLISH
) -> SlackMessage:
    """A kind without its own layout (or a mention alert whose mention is gone): kind, subject, why."""
    kind = untrusted(alert.kind, 32, voice.t("alert"))[1].replace("_", " ")
    subject_source = (mention.target or mention.source) if mention else (alert.target or alert.source)
    subject = untrusted(subject_source, _NAME_CHARS)[1]
    title = f"Earshot {kind}: {subject}" if subject else f"Earshot {kind}"
    reason_md, reason_plain = untrusted(localize_reason(alert.reason, voice), _REASON_CHARS)
    state = handling_lines(alert, voice)
    text = mention.text if mention else None
    why = voice.t("Why:")
    blocks: list[dict[str, Any] | None] = [
        header_block(title),
        state_block(state),
        section(f"*{why}* {reason_md}" if reason_md else f"*{why}* _{voice.t('see Earshot')}_"),
    ]
    plain = [
        f"[Earshot] {truncate(clean_text(title), 150)}",
        *(p for _, p in state),
        f"{why} {reason_plain}" if reason_plain else "",
    ]
    if mention is not None:
        excerpt_md, excerpt_plain = excerpt_mrkdwn(text, settings.alerts.excerpt_chars, voice)
        blocks += [section(excerpt_md), links_block(mention.id, mention.url, settings, voice)]
        plain += [f"“{excerpt_plain}”", f"Earshot: {item_url(settings, mention.id)}"]
    blocks.append(context_block(voice.t("Alert #%(id)s", id=alert.id if alert.id is not None else "?")))
    return SlackMessage(
        text=fallback_text(title, reason_plain, text, state),
        blocks=[b for b in blocks if b is not None],
        plain="\n".join(line for line in plain if line),
    )
