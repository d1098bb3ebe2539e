"""Reading API response bodies: the JSON a page must be, and what an error body says.

Each spider has its own "malformed response" exception (its tests and errbacks name it), so the readers
here take the exception type to raise. Error bodies are never trusted to be JSON: proxies and gateways
answer in HTML or plain text.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from spiders.base import body_excerpt


def load_json(body: bytes, malformed: type[ValueError]) -> Any:
    """The body as JSON, or ``malformed("body is not JSON (...)")``."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed(f"body is not JSON ({exc})") from None


def json_object(body: bytes, malformed: type[ValueError]) -> dict[str, Any]:
    """The body as a JSON object, or ``malformed`` saying it is not JSON or not an object."""
    data = load_json(body, malformed)
    if not isinstance(data, dict):
        raise malformed(f"expected a JSON object, got {type(data).__name__}")
    return data


def as_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: for optional nested objects."""
    return value if isinstance(value, dict) else {}


def key_list(data: dict[Any, Any], ignore: Collection[str] = ()) -> str:
    """The object's keys for an error message ("count, offers"), short, or "no keys"."""
    return ", ".join(sorted(str(k) for k in data if k not in ignore))[:200] or "no keys"


def required_list(
    data: dict[str, Any], key: str, malformed: type[ValueError], known: Collection[str] = ()
) -> list[Any]:
    """``data[key]`` as a list, or ``malformed`` naming the keys that came instead (less the ``known``)."""
    value = data.get(key)
    if value is None:
        raise malformed(f"no {key!r} list in the response ({key_list(data, {key, *known})})")
    if not isinstance(value, list):
        raise malformed(f"{key!r} is {type(value).__name__}, not a list")
    return value


def error_object(body: bytes) -> dict[str, Any] | None:
    """An error body's JSON object, or None when the body is not one (then see :func:`error_text`)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def error_text(body: bytes) -> str:
    """One line for an error body whose fields say nothing readable: its JSON cut short, else its start."""
    try:
        return json.dumps(json.loads(body))[:300]
    except (ValueError, UnicodeDecodeError):
        return body_excerpt(body)
