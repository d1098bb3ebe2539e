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
    count,
    date_token,
    fallback_text,
    fit_escaped,
    payload_of,
    stars,
    truncate,
    untrusted,
)
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind

__all__ = ["build_storm", "build_storm_subsided", "storm_message"]

_TARGET_CHARS = 100
_EXAMPLE_CHARS = 200
_EXAMPLES = 3
_THEMES = 5
_SOURCES = 8


def storm_message(alert: Alert, settings: EarshotSettings, parent: Alert | None = None) -> SlackMessage:
    """The storm alert, or (for ``storm_subsided``) the thread reply under ``parent``, the storm alert."""
    if alert.kind == AlertKind.STORM_SUBSIDED:
        return build_storm_subsided(alert, parent)
    return build_storm(alert, settings)


def _target(alert: Alert, parent: Alert | None = None) -> tuple[str, str]:
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
    return "unknown target", "unknown target"


def _span(opened: datetime | None, closed: datetime | None) -> tuple[str, str]:
    """``from 13:05 to 15:40`` (dates too when it spans midnight), each in the reader's time zone."""
    same_day = opened is not None and closed is not None and opened.date() == closed.date()
    token, fmt = ("{time}", "%H:%M UTC") if same_day else ("{date_short_pretty} {time}", "%Y-%m-%d %H:%M UTC")
    start_md, start_plain = date_token(opened, token, fmt)
    end_md, end_plain = date_token(closed, token, fmt)
    return f"from {start_md} to {end_md}", f"from {start_plain} to {end_plain}"


def _themes(payload: dict[str, Any]) -> tuple[str, str] | None:
    themes = payload.get("themes")
    if not isinstance(themes, list):
        return None
    parts: list[tuple[str, str]] = []
    for theme in themes[:_THEMES]:
        if not isinstance(theme, dict) or not isinstance(theme.get("aspect"), str):
            continue
        md, plain = untrusted(aspect_label(clean_text(theme["aspect"])), 40)
        n = as_int(theme.get("count"))
        if md:
            suffix = f" ({n})" if n is not None else ""
            parts.append((md + suffix, plain + suffix))
    if not parts:
        return None
    return "*Top themes:* " + " · ".join(md for md, _ in parts), "Top themes: " + ", ".join(
        p for _, p in parts
    )


def _sources(payload: dict[str, Any]) -> tuple[str, str] | None:
    sources = payload.get("sources")
    if not isinstance(sources, dict):
        return None
    counted = [(name, as_int(n) or 0) for name, n in sources.items()]
    parts: list[tuple[str, str]] = []
    for name, n in sorted(counted, key=lambda pair: -pair[1])[:_SOURCES]:
        md, plain = untrusted(name, 30)
        if md:
            parts.append((f"{md} {n}", f"{plain} {n}"))
    if not parts:
        return None
    return "*Sources:* " + " · ".join(md for md, _ in parts), "Sources: " + ", ".join(p for _, p in parts)


def _example(
    i: int, example: object, storm_id: str, settings: EarshotSettings
) -> tuple[list[dict[str, Any]], list[str]]:
    if not isinstance(example, dict):
        return [], []
    rating = as_float(example.get("rating"))
    author_md, author_plain = untrusted(example.get("author"), 80, "unknown author")
    source_md, source_plain = untrusted(example.get("source"), 40, "unknown source")
    text_md, text_plain = excerpt_mrkdwn(str(example.get("text") or ""), _EXAMPLE_CHARS)
    lead_md = f"*{author_md}* on {source_md}"
    lead_plain = f"{author_plain} on {source_plain}"
    if rating is not None:
        lead_md, lead_plain = f"{stars(rating)} · {lead_md}", f"{stars(rating)} · {lead_plain}"
    blocks: list[dict[str, Any]] = [section(f"{lead_md}\n“{text_md}”")]
    mention_id = as_int(example.get("mention_id"))
    url = example.get("url") if isinstance(example.get("url"), str) else None
    links = links_block(mention_id, url, settings, block_id=f"earshot_storm_{storm_id}_example_{i}")
    if links is not None:
        blocks.append(links)
    return blocks, [f"  - {lead_plain}: “{text_plain}”"]


def build_storm(alert: Alert, settings: EarshotSettings) -> SlackMessage:
    """Header, how far above usual, themes, sources, up to three examples, and what happens meanwhile."""
    payload = payload_of(alert)
    target_md, target_plain = _target(alert)
    storm_id = str(as_int(payload.get("storm_id")) or alert.id or 0)
    window = as_float(payload.get("window_minutes"))
    n = as_int(payload.get("count"))
    baseline = as_float(payload.get("baseline"))
    opened, closed = (
        as_time(payload.get("since") or payload.get("opened_at")),
        as_time(payload.get("closed_at")),
    )
    usual = f" (usual {baseline:.1f})" if baseline is not None else ""
    in_window = (
        f"{n if n is not None else 'unknown'} negative mentions in {count(window) if window else '?'} min"
    )
    if payload.get("closed_at") is not None:
        title = f"✅ Storm over: {target_plain}"
        total = as_int(payload.get("total"))
        span_md, span_plain = _span(opened, closed)
        total_text = f"{total if total is not None else 'unknown number of'} negative mentions"
        summary_md = f"*{span_md}, {total_text}* · at the peak {in_window}{usual}"
        summary_plain = f"{span_plain}, {total_text} · at the peak {in_window}{usual}"
        note_md = note_plain = ""
    else:
        title = f"🌪 Negative storm: {target_plain}"
        since_md, since_plain = date_token(opened, "{time}", "%H:%M UTC")
        summary_md = f"*{in_window}*{usual} · since {since_md}"
        summary_plain = f"{in_window}{usual} · since {since_plain}"
        note_md = f"Individual alerts for {target_md} are folded into this storm until it subsides."
        note_plain = f"Individual alerts for {target_plain} are folded into this storm until it subsides."
    state = handling_lines(alert)
    blocks: list[dict[str, Any] | None] = [header_block(title), state_block(state), section(summary_md)]
    plain = [f"[Earshot] {truncate(title, 150)}", *(p for _, p in state), summary_plain]
    facts = [f for f in (_themes(payload), _sources(payload)) if f is not None]
    if facts:
        blocks.append(section("\n".join(md for md, _ in facts)))
        plain += [p for _, p in facts]
    examples = payload.get("examples")
    if isinstance(examples, list) and examples:
        plain.append("Examples:")
        for i, example in enumerate(examples[:_EXAMPLES]):
            example_blocks, example_plain = _example(i, example, storm_id, settings)
            blocks += example_blocks
            plain += example_plain
    if note_md:
        blocks.append(context_block(note_md))
        plain.append(note_plain)
    blocks.append(context_block(f"Alert #{alert.id if alert.id is not None else '?'} · storm #{storm_id}"))
    return SlackMessage(
        text=fallback_text(title, summary_plain, None, state),
        blocks=[b for b in blocks if b is not None],
        plain="\n".join(plain),
    )


def build_storm_subsided(alert: Alert, parent: Alert | None = None) -> SlackMessage:
    """The thread reply (also broadcast to the channel) that closes a storm: how many, from when to when."""
    payload = {**payload_of(parent), **payload_of(alert)}
    target_md, target_plain = _target(alert, parent)
    total = as_int(payload.get("total"))
    span_md, span_plain = _span(
        as_time(payload.get("since") or payload.get("opened_at")), as_time(payload.get("closed_at"))
    )
    total_text = f"{total if total is not None else 'an unknown number of'} negative mentions"
    md = f"✅ The storm for *{target_md}* has subsided: {total_text} {span_md}."
    plain = f"✅ The storm for {target_plain} has subsided: {total_text} {span_plain}."
    bits = [f"Alert #{alert.id if alert.id is not None else '?'}"]
    storm_id = as_int(payload.get("storm_id"))
    if storm_id is not None:
        bits.append(f"storm #{storm_id}")
    peak = as_int(payload.get("peak_count"))
    if peak is not None:
        bits.append(f"peak {peak} in the window")
    return SlackMessage(
        text=fit_escaped(plain, 1000, 3000),
        blocks=[section(md), context_block(" · ".join(bits))],
        plain=f"[Earshot] {plain}\n{' · '.join(bits)}",
    )
