"""``earshot alerts preview FILE.jsonl``: the exact Slack payload an alert for each mention would post.

The stable interface for reviewing message layout and escaping without a Slack workspace: each input
line is a mention (``{"id", "source", "text", "author", "rating", "url", "lang"}``, optionally ``target``,
``reach``, ``created_at``); each output line is ``{"id", "alert", "rule", "kind", "severity", "reason",
"payload": {"channel", "text", "blocks", ...}}`` where ``payload`` is what ``chat.postMessage`` receives,
or ``{"id", "error"}`` for a line that cannot be read. A line without a firing rule is still rendered
(``"alert": false``) so any text's layout can be reviewed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.render import render
from alerts.replies import suggest_reply
from alerts.rules import MentionView, ScoreView, evaluate
from alerts.views import score_view_from_dict
from monitor.core.config import EarshotSettings, ReplySettings
from monitor.core.models import Alert, AlertKind
from monitor.core.timeutil import as_utc

__all__ = ["PreviewError", "parse_line", "preview", "slack_payload"]

Analyze = Callable[[Sequence[MentionView]], Sequence[dict[str, Any]]]

_MAX_LINE_CHARS = 1_000_000


class PreviewError(ValueError):
    """A preview input line that is not a usable mention; the message says what is wrong."""


@dataclass(frozen=True)
class _Line:
    key: Any
    view: MentionView


def _rating(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PreviewError(f"rating must be a number from 0 to 5, not {value!r}")
    if not 0 <= value <= 5:
        raise PreviewError(f"rating must be from 0 to 5, not {value}")
    return float(value)


def _opt_str(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PreviewError(f"{name} must be a string, not {type(value).__name__}")
    return value


def _created(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PreviewError("created_at must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PreviewError(f"created_at is not ISO 8601: {value!r}") from exc
    return as_utc(moment)


def parse_line(line: str, number: int) -> _Line:
    """One JSONL line as a mention; ``number`` (1-based) stands in for a missing or non-integer id."""
    if len(line) > _MAX_LINE_CHARS:
        raise PreviewError(f"line is longer than {_MAX_LINE_CHARS:,} characters")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PreviewError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise PreviewError("JSON nested too deeply to read; a mention is one flat object") from None
    if not isinstance(obj, dict):
        raise PreviewError("a line must be a JSON object")
    text = obj.get("text")
    if not isinstance(text, str):
        raise PreviewError("text (a string) is required")
    key = obj.get("id", number)
    reach = obj.get("reach")
    if reach is not None and (isinstance(reach, bool) or not isinstance(reach, int) or reach < 0):
        raise PreviewError("reach must be a non-negative integer")
    view = MentionView(
        id=key if isinstance(key, int) and not isinstance(key, bool) and key > 0 else number,
        source=_opt_str(obj, "source") or "unknown",
        target=_opt_str(obj, "target"),
        text=text,
        author=_opt_str(obj, "author"),
        url=_opt_str(obj, "url"),
        rating=_rating(obj.get("rating")),
        lang=_opt_str(obj, "lang"),
        created_at=_created(obj.get("created_at")),
        version=1,
        reach=reach,
    )
    return _Line(key=key, view=view)


def slack_payload(channel: str, text: str, blocks: list[dict[str, Any]], alert_id: int) -> dict[str, Any]:
    """The chat.postMessage arguments the outbox sends (see alerts.slack_sender.SlackSender.post)."""
    return {
        "channel": channel,
        "text": text,
        "blocks": blocks,
        "metadata": {"event_type": "earshot_alert", "event_payload": {"alert_id": alert_id}},
        "unfurl_links": False,
        "unfurl_media": False,
        "link_names": False,
        "parse": "none",
    }


def _reply_settings(settings: EarshotSettings, target: str | None) -> ReplySettings:
    return settings.reply_for(target)


def _render(
    line: _Line, score: ScoreView | None, settings: EarshotSettings, language: str | None = None
) -> dict[str, Any]:
    view = line.view
    decision = evaluate(view, score, settings)
    severity = decision.severity if decision else "info"
    reply = suggest_reply(
        view, score, _reply_settings(settings, view.target), severity=severity, brand=view.target
    )
    alert = Alert(
        id=view.id,
        dedupe_key=f"preview:{view.id}",
        mention_id=view.id,
        mention_version=1,
        source=view.source,
        target=view.target,
        kind=decision.kind if decision else AlertKind.NEGATIVE,
        rule=decision.rule if decision else None,
        severity=severity,
        reason=decision.reason if decision else "no rule fires (preview only)",
        channel=decision.channel if decision else settings.slack.default_channel,
        suggested_reply=reply.text,
        payload={"reply_lang": reply.lang, "reply_formal": reply.formal, "reply_limit": reply.max_chars},
    )
    message = render(alert, view, score, settings, language=language)
    return {
        "id": line.key,
        "alert": decision is not None,
        "rule": alert.rule,
        "kind": alert.kind,
        "severity": severity,
        "reason": alert.reason,
        "payload": slack_payload(alert.channel, message.text, message.blocks, view.id),
    }


def preview(
    lines: Iterable[str],
    settings: EarshotSettings,
    analyze: Analyze | None,
    batch_size: int = 32,
    *,
    language: str | None = None,
) -> Iterator[dict[str, Any]]:
    """One output object per non-blank input line, in order; ``analyze`` scores (None = unscored).

    ``language`` (pl/en) renders every message in it, whatever the targets' ``language`` says, so a
    layout can be checked in both before a team switches.
    """
    pending: list[tuple[int, _Line]] = []

    def flush() -> Iterator[dict[str, Any]]:
        views = [line.view for _, line in pending]
        scores: Sequence[ScoreView | None] = (
            [score_view_from_dict(d) for d in analyze(views)] if analyze else [None] * len(views)
        )
        for (_, line), score in zip(pending, scores, strict=True):
            yield _render(line, score, settings, language)
        pending.clear()

    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            pending.append((number, parse_line(raw, number)))
        except PreviewError as exc:
            yield from flush()
            yield {"id": _line_id(raw, number), "error": str(exc)}
            continue
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()


def _line_id(raw: str, number: int) -> Any:
    """The line's own id when it can be read, for matching errors to input; else the line number."""
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return number
    return obj.get("id", number) if isinstance(obj, dict) else number
