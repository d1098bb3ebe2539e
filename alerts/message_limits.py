"""Check a built message against Slack's documented limits before Slack does.

Slack answers a message that breaks one limit with ``invalid_blocks`` and drops all of it, and it says
little about which block was wrong. :func:`limit_violations` lists every broken limit of
:class:`~alerts.slack_format.SlackLimits` (and our own rule that plain_text carries ``emoji: false``) in
words, so tests can throw hostile text at every message builder and name the block that would be
refused, without a Slack workspace.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alerts.escaping import slack_len
from alerts.slack_format import SlackLimits, SlackMessage, is_slack_user_id

__all__ = ["limit_violations"]


def _text_too_long(where: str, obj: dict[str, Any], limit: int) -> list[str]:
    text = obj.get("text", "")
    if not isinstance(text, str):
        return [f"{where}: text is not a string"]
    if not text.strip():
        return [f"{where}: text is empty"]
    return [f"{where}: {slack_len(text)} > {limit}"] if slack_len(text) > limit else []


def _plain_too_long(where: str, obj: Any, limit: int) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") != "plain_text":
        return [f"{where}: must be a plain_text object"]
    return _text_too_long(where, obj, limit)


def _button_violations(where: str, el: dict[str, Any]) -> list[str]:
    problems = _plain_too_long(f"{where} text", el.get("text"), SlackLimits.BUTTON_TEXT)
    if slack_len(el.get("url", "")) > SlackLimits.BUTTON_URL:
        problems.append(f"{where}: url too long")
    if slack_len(el.get("value", "")) > SlackLimits.BUTTON_VALUE:
        problems.append(f"{where}: value too long")
    if el.get("style") not in (None, "primary", "danger"):
        problems.append(f"{where}: unknown style {el.get('style')!r}")
    return problems


def _select_violations(where: str, el: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if "placeholder" in el:
        problems += _plain_too_long(f"{where} placeholder", el["placeholder"], SlackLimits.PLACEHOLDER_TEXT)
    if el["type"] == "users_select" and "initial_user" in el and not is_slack_user_id(el["initial_user"]):
        problems.append(f"{where}: initial_user is not a user id")
    if el["type"] == "static_select":
        options = el.get("options", [])
        if not 1 <= len(options) <= SlackLimits.SELECT_OPTIONS:
            problems.append(f"{where}: {len(options)} options (1..{SlackLimits.SELECT_OPTIONS})")
        for option in options:
            problems += _plain_too_long(f"{where} option", option.get("text"), SlackLimits.OPTION_TEXT)
            value = option.get("value", "")
            if not value or slack_len(value) > SlackLimits.OPTION_VALUE:
                problems.append(f"{where}: option value empty or > {SlackLimits.OPTION_VALUE}")
        if "initial_option" in el and el["initial_option"] not in options:
            problems.append(f"{where}: initial_option is not one of the options")
    return problems


def _element_violations(where: str, el: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if slack_len(el.get("action_id", "")) > SlackLimits.ACTION_ID:
        problems.append(f"{where}: action_id too long")
    kind = el.get("type")
    if kind == "button":
        problems += _button_violations(where, el)
    elif kind in {"users_select", "static_select"}:
        problems += _select_violations(where, el)
    else:
        problems.append(f"{where}: unexpected element type {kind!r}")
    return problems


def _actions_violations(where: str, block: dict[str, Any]) -> list[str]:
    elements = block.get("elements", [])
    problems: list[str] = []
    if not 1 <= len(elements) <= SlackLimits.ACTION_ELEMENTS:
        problems.append(f"{where}: {len(elements)} elements (1..{SlackLimits.ACTION_ELEMENTS})")
    action_ids_seen = [el.get("action_id") for el in elements if el.get("action_id")]
    if len(action_ids_seen) != len(set(action_ids_seen)):
        problems.append(f"{where}: duplicate action_id")
    for j, el in enumerate(elements):
        problems += _element_violations(f"{where} element {j} ({el.get('type')})", el)
    return problems


def _block_violations(i: int, block: dict[str, Any]) -> list[str]:
    where = f"block {i} ({block.get('type')})"
    problems: list[str] = []
    if slack_len(block.get("block_id", "")) > SlackLimits.BLOCK_ID:
        problems.append(f"{where}: block_id too long")
    kind = block.get("type")
    if kind == "header":
        problems += _plain_too_long(where, block.get("text"), SlackLimits.HEADER_TEXT)
    elif kind == "section":
        fields = block.get("fields", [])
        if "text" in block:
            problems += _text_too_long(where, block["text"], SlackLimits.SECTION_TEXT)
        elif not fields:
            problems.append(f"{where}: needs text or fields")
        if len(fields) > SlackLimits.SECTION_FIELDS:
            problems.append(f"{where}: {len(fields)} fields > {SlackLimits.SECTION_FIELDS}")
        for f in fields:
            problems += _text_too_long(f"{where} field", f, SlackLimits.FIELD_TEXT)
        if "accessory" in block:
            problems += _element_violations(f"{where} accessory", block["accessory"])
    elif kind == "actions":
        problems += _actions_violations(where, block)
    elif kind == "context":
        elements = block.get("elements", [])
        if not 1 <= len(elements) <= SlackLimits.CONTEXT_ELEMENTS:
            problems.append(f"{where}: {len(elements)} elements (1..{SlackLimits.CONTEXT_ELEMENTS})")
        for el in elements:
            problems += _text_too_long(f"{where} element", el, SlackLimits.CONTEXT_TEXT)
    elif kind != "divider":
        problems.append(f"{where}: unexpected block type")
    return problems


def _plain_texts(node: object) -> Iterable[dict[str, Any]]:
    """Every plain_text object anywhere in the blocks."""
    if isinstance(node, dict):
        if node.get("type") == "plain_text":
            yield node
        for value in node.values():
            yield from _plain_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _plain_texts(value)


def limit_violations(message: SlackMessage) -> list[str]:
    """Every way ``message`` breaks a documented Slack limit (or our own rule that plain_text carries
    ``emoji: false``); empty means Slack will accept its shape."""
    problems: list[str] = []
    if not message.text.strip():
        problems.append("fallback text is empty")
    if slack_len(message.text) > SlackLimits.FALLBACK_TEXT:
        problems.append(f"fallback text: {slack_len(message.text)} > {SlackLimits.FALLBACK_TEXT}")
    if len(message.blocks) > SlackLimits.BLOCKS:
        problems.append(f"{len(message.blocks)} blocks > {SlackLimits.BLOCKS}")
    block_ids = [b["block_id"] for b in message.blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        problems.append("duplicate block_id")
    for i, block in enumerate(message.blocks):
        problems += _block_violations(i, block)
    for obj in _plain_texts(message.blocks):
        if obj.get("emoji") is not False:
            problems.append(f"plain_text {obj.get('text', '')[:30]!r} without emoji: false")
    return problems
