"""The Slack messages for a negative storm: one alert instead of dozens, and one reply when it is over.

A storm alert replaces the individual alerts of a target while it lasts, so it must say enough to act
on without them: how many, compared with what is usual, about what, where, and a few examples to open.
Its payload comes from the storm detector; every string in it started as review text, so it is
cleaned, escaped and cut like any other untrusted text, and odd values (a missing count, a broken
time) show as "unknown" instead of breaking the message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.escaping import clean_text
from alerts.slack_blocks import (
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
    as_time,
    aspect_label,
    fallback_text,
    fit_escaped,
    payload_of,
    stars,
    truncate,
    untrusted,
)
from alerts.slack_i18n import ENGLISH, SlackText
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind

__all__ = ["build_storm", "build_storm_subsided", "storm_message"]

_TARGET_CHARS = 100
_EXAMPLE_CHARS = 200
_EXAMPLES = 3
_THEMES = 5
_SOURCES = 8


def storm_message(
    alert: Alert, settings: EarshotSettings, parent: Alert | None = None, voice: SlackText = ENGLISH
) -> SlackMessage:
    """The storm alert, or (for ``storm_subsided``) the thread reply under ``parent``, the storm alert."""
    if alert.kind == AlertKind.STORM_SUBSIDED:
        return build_storm_subsided(alert, parent, voice)
    return build_storm(alert, settings, voice)


def _target(alert: Alert, voice: SlackText, parent: Alert | None = None) -> tuple[str, str]:
    candidates = (
        payload_of(alert).get("target"),
        alert.target,
        payload_of(parent).get("target"),
        parent.target if parent is not None else None,
    )
    for candidate in candidates:
        md, plain = untrusted(candidate, _TARGET_CHARS)
        if md:
            return md, plain
    missing = voice.t("unknown target")
    return missing, missing


def _span(opened: datetime | None, closed: datetime | None, voice: SlackText) -> str:
    """``from 1 May 2024, 15:05 CEST to 1 May 2024, 17:40 CEST``, in ``slack.timezone``, zone shown."""
    return voice.t("from %(start)s to %(end)s", start=voice.when(opened), end=voice.when(closed))


def _themes(payload: dict[str, Any], voice: SlackText) -> tuple[str, str] | None:
    themes = payload.get("themes")
    if not isinstance(themes, list):
        return None
    parts: list[tuple[str, str]] = []
    for theme in themes[:_THEMES]:
        if not isinstance(theme, dict) or not isinstance(theme.get("aspect"), str):
            continue
        md, plain = untrusted(aspect_label(clean_text(theme["aspect"]), voice.language), 40)
        n = as_int(theme.get("count"))
        if md:
            suffix = f" ({voice.number(n)})" if n is not None else ""
            parts.append((md + suffix, plain + suffix))
    if not parts:
        return None
    head = voice.t("Top themes:")
    return f"*{head}* " + " · ".join(md for md, _ in parts), f"{head} " + ", ".join(p for _, p in parts)


def _sources(payload: dict[str, Any], voice: SlackText) -> tuple[str, str] | None:
    sources = payload.get("sources")
    if not isinstance(sources, dict):
        return None
    counted = [(name, as_int(n) or 0) for name, n in sources.items()]
    parts: list[tuple[str, str]] = []
    for name, n in sorted(counted, key=lambda pair: -pair[1])[:_SOURCES]:
        md, plain = untrusted(name, 30)
        if md:
            parts.append((f"{md} {voice.number(n)}", f"{plain} {voice.number(n)}"))
    if not parts:
        return None
    head = voice.t("Sources:")
    return f"*{head}* " + " · ".join(md for md, _ in parts), f"{head} " + ", ".join(p for _, p in parts)


def _example(
    i: int, example: object, storm_id: str, settings: EarshotSettings, voice: SlackText
) -> tuple[list[dict[str, Any]], list[str]]:
    if not isinstance(example, dict):
        return [], []
    rating = as_float(example.get("rating"))
    author_md, author_plain = untrusted(example.get("author"), 80, voice.t("unknown author"))
    source_md, source_plain = untrusted(example.get("source"), 40, voice.t("unknown source"))
    text_md, text_plain = excerpt_mrkdwn(str(example.get("text") or ""), _EXAMPLE_CHARS, voice)
    lead_md = voice.t("%(author)s on %(source)s", author=f"*{author_md}*", source=source_md)
    lead_plain = voice.t("%(author)s on %(source)s", author=author_plain, source=source_plain)
    if rating is not None:
        lead_md, lead_plain = f"{stars(rating)} · {lead_md}", f"{stars(rating)} · {lead_plain}"
    blocks: list[dict[str, Any]] = [section(f"{lead_md}\n“{text_md}”")]
    mention_id = as_int(example.get("mention_id"))
    url = example.get("url") if isinstance(example.get("url"), str) else None
    links = links_block(mention_id, url, settings, voice, block_id=f"earshot_storm_{storm_id}_example_{i}")
    if links is not None:
        blocks.append(links)
    return blocks, [f"  - {lead_plain}: “{text_plain}”"]


def _count(n: int | None, voice: SlackText) -> str:
    """``23 negative mentions`` / ``23 negatywne wzmianki``; an unreadable count says so."""
    if n is None:
        return voice.t("an unknown number of negative mentions")
    return voice.n("%(count)s negative mention", "%(count)s negative mentions", n, count=voice.number(n))


def build_storm(alert: Alert, settings: EarshotSettings, voice: SlackText = ENGLISH) -> SlackMessage:
    """Header, how far above usual, themes, sources, up to three examples, and what happens meanwhile."""
    payload = payload_of(alert)
    target_md, target_plain = _target(alert, voice)
    storm_id = str(as_int(payload.get("storm_id")) or alert.id or 0)
    window = as_float(payload.get("window_minutes"))
    n = as_int(payload.get("count"))
    baseline = as_float(payload.get("baseline"))
    opened, closed = (
        as_time(payload.get("since") or payload.get("opened_at")),
        as_time(payload.get("closed_at")),
    )
    usual = (
        f" ({voice.t('usual %(baseline)s', baseline=voice.number(baseline, 1))})"
        if baseline is not None
        else ""
    )
    in_window = voice.t(
        "%(mentions)s in %(minutes)s",
        mentions=_count(n, voice),
        minutes=voice.minutes(window) if window else "?",
    )
    if payload.get("closed_at") is not None:
        title = voice.t("✅ Storm over: %(target)s", target=target_plain)
        span = _span(opened, closed, voice)
        total_text = _count(as_int(payload.get("total")), voice)
        peak = voice.t("at the peak %(in_window)s", in_window=in_window)
        summary_md = f"*{span}, {total_text}* · {peak}{usual}"
        summary_plain = f"{span}, {total_text} · {peak}{usual}"
        note_md = note_plain = ""
    else:
        title = voice.t("🌪 Negative storm: %(target)s", target=target_plain)
        since = voice.t("since %(time)s", time=voice.when(opened))
        summary_md = f"*{in_window}*{usual} · {since}"
        summary_plain = f"{in_window}{usual} · {since}"
        note = "Individual alerts for %(target)s are folded into this storm until it subsides."
        note_md = voice.t(note, target=target_md)
        note_plain = voice.t(note, target=target_plain)
    state = handling_lines(alert, voice)
    blocks: list[dict[str, Any] | None] = [header_block(title), state_block(state), section(summary_md)]
    plain = [f"[Earshot] {truncate(title, 150)}", *(p for _, p in state), summary_plain]
    facts = [f for f in (_themes(payload, voice), _sources(payload, voice)) if f is not None]
    if facts:
        blocks.append(section("\n".join(md for md, _ in facts)))
        plain += [p for _, p in facts]
    examples = payload.get("examples")
    if isinstance(examples, list) and examples:
        plain.append(voice.t("Examples:"))
        for i, example in enumerate(examples[:_EXAMPLES]):
            example_blocks, example_plain = _example(i, example, storm_id, settings, voice)
            blocks += example_blocks
            plain += example_plain
    if note_md:
        blocks.append(context_block(note_md))
        plain.append(note_plain)
    alert_no = voice.t("Alert #%(id)s", id=alert.id if alert.id is not None else "?")
    blocks.append(context_block(f"{alert_no} · {voice.t('storm #%(id)s', id=storm_id)}"))
    return SlackMessage(
        text=fallback_text(title, summary_plain, None, state),
        blocks=[b for b in blocks if b is not None],
        plain="\n".join(plain),
    )


def build_storm_subsided(
    alert: Alert, parent: Alert | None = None, voice: SlackText = ENGLISH
) -> SlackMessage:
    """The thread reply (also broadcast to the channel) that closes a storm: how many, from when to when."""
    payload = {**payload_of(parent), **payload_of(alert)}
    target_md, target_plain = _target(alert, voice, parent)
    total_text = _count(as_int(payload.get("total")), voice)
    span = _span(
        as_time(payload.get("since") or payload.get("opened_at")), as_time(payload.get("closed_at")), voice
    )
    over = "✅ The storm for %(target)s has subsided: %(total)s %(span)s."
    md = voice.t(over, target=f"*{target_md}*", total=total_text, span=span)
    plain = voice.t(over, target=target_plain, total=total_text, span=span)
    bits = [voice.t("Alert #%(id)s", id=alert.id if alert.id is not None else "?")]
    storm_id = as_int(payload.get("storm_id"))
    if storm_id is not None:
        bits.append(voice.t("storm #%(id)s", id=storm_id))
    peak = as_int(payload.get("peak_count"))
    if peak is not None:
        bits.append(voice.t("peak %(count)s in the window", count=voice.number(peak)))
    return SlackMessage(
        text=fit_escaped(plain, 1000, 3000),
        blocks=[section(md), context_block(" · ".join(bits))],
        plain=f"[Earshot] {plain}\n{' · '.join(bits)}",
    )
