"""Reading token endpoints' JSON answers without Scrapy, for code the ``earshot auth`` commands share.

Why a module of its own: :mod:`spiders.responses` sits on :mod:`spiders.base` and so loads Scrapy, which
every ``earshot`` command would then pay for at start. The protocol modules that ``earshot auth`` imports
(:mod:`spiders.allegro_oauth`, :mod:`spiders.bluesky_session`) read their answers with these instead.
"""

from __future__ import annotations

import json
from typing import Any

from spiders.errors import MalformedResponse

__all__ = ["answer_object", "answer_text", "error_answer", "keys_of"]


def answer_object(body: bytes, source: str) -> dict[str, Any]:
    """The body as a JSON object, or MalformedResponse saying what it is instead."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse(source, f"body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MalformedResponse(source, f"expected a JSON object, got {type(data).__name__}")
    return data


def error_answer(body: bytes) -> dict[str, Any] | None:
    """An error body's JSON object, or None when it is not one (a proxy's page)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def answer_text(body: bytes, limit: int = 300) -> str:
    """An error body whose fields say nothing readable, on one line: its JSON cut short, else its start."""
    try:
        return json.dumps(json.loads(body))[:limit]
    except (ValueError, UnicodeDecodeError):
        text = " ".join(body[: limit * 4].decode("utf-8", "replace").split())
        return text[:limit] or "(empty body)"


def keys_of(data: dict[Any, Any]) -> str:
    """The object's keys for an error message, short (never its values: they may be secrets)."""
    return ", ".join(sorted(str(k) for k in data))[:200] or "no keys"
