"""Reading API response bodies: the JSON a page must be, and what an error body says.

The readers raise :class:`spiders.errors.MalformedResponse` with the source's name and what was wrong with
the body. Error bodies are never trusted to be JSON: proxies and gateways answer in HTML or plain text.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from spiders.base import body_excerpt
from spiders.errors import MalformedResponse


def load_json(body: bytes, source: str) -> Any:
    """The body as JSON, or ``MalformedResponse("body is not JSON (...)")``."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse(source, f"body is not JSON ({exc})") from None


def json_object(body: bytes, source: str) -> dict[str, Any]:
    """The body as a JSON object, or MalformedResponse saying it is not JSON or not an object."""
    data = load_json(body, source)
    if not isinstance(data, dict):
        raise MalformedResponse(source, f"expected a JSON object, got {type(data).__name__}")
    return data


def as_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: for optional nested objects."""
    return value if isinstance(value, dict) else {}


def key_list(data: dict[Any, Any], ignore: Collection[str] = ()) -> str:
    """The object's keys for an error message ("count, offers"), short, or "no keys"."""
    return ", ".join(sorted(str(k) for k in data if k not in ignore))[:200] or "no keys"


def required_list(data: dict[str, Any], key: str, source: str, known: Collection[str] = ()) -> list[Any]:
    """``data[key]`` as a list, or MalformedResponse naming the keys that came instead (less the ``known``)."""
    value = data.get(key)
    if value is None:
        raise MalformedResponse(source, f"no {key!r} list in the response ({key_list(data, {key, *known})})")
    return _as_list(value, key, source)


def omitted_list(
    data: dict[str, Any], key: str, source: str, known: Collection[str], due: str | None = None
) -> list[Any]:
    """``data[key]`` as a list, from an API that leaves empty lists out (Google's): a missing one is empty.

    Unless the object holds keys other than ``known`` (it is some other answer), or ``due`` says why items
    were expected (a next page, a review count): then MalformedResponse, naming those keys or ``due``.
    """
    value = data.get(key)
    if value is None:
        unknown = [k for k in data if k != key and k not in known]
        if unknown or due:
            reason = key_list(data, {key, *known}) if unknown else due
            raise MalformedResponse(source, f"no {key!r} list in the response ({reason})")
        return []
    return _as_list(value, key, source)


def _as_list(value: Any, key: str, source: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedResponse(source, f"{key!r} is {type(value).__name__}, not a list")
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
