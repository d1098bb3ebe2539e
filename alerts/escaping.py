"""Make untrusted review text safe to show in Slack.

Review text, author names and even target names come from the internet. Slack parses ``&``, ``<`` and
``>`` in ``mrkdwn`` text as control characters: ``<!channel>`` pings a whole channel, ``<@U123>`` pings a
person, ``<https://evil|Your order>`` shows a harmless label over a hostile link. Slack's documented rule
is to escape exactly those three characters as ``&amp;``, ``&lt;`` and ``&gt;`` (and nothing else, or the
entities show up literally). Once no raw ``<`` is left, no control sequence can form, so that escape is
the real defence; the cleaning steps before it only make the displayed text faithful and readable:

* HTML entities for these characters (``&lt;!channel&gt;``, ``&#60;``) are decoded first and then
  escaped again, so already-escaped control sequences show as text and stay inert;
* HTML tags (``<b>``, ``<br>``, ``<script>...</script>``) that scraped pages leave behind are removed;
* zero-width and bidirectional control characters are removed, so text cannot hide or reorder what a
  reader sees (``@\u200bchannel``, right-to-left overrides);
* nothing else is touched: Polish letters (ąćęłńóśźż), emoji and mrkdwn punctuation pass through.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["clean_text", "escape_control_chars", "escape_mrkdwn", "plain_text", "slack_len"]

# Entities that can spell Slack's control characters (or quotes, which scraped text often carries).
# Only these are decoded: html.unescape would also turn innocent text such as "&not" into "¬".
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|apos|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});", re.IGNORECASE)

# script/style elements are removed with their content; their text is never meant for people.
_SCRIPT_STYLE = re.compile(r"<\s*(script|style)\b[^>]*>.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)

# Tags that become a line break, so paragraphs stay apart after the markup is gone.
_BREAK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|li|/h[1-6]|hr)(?:[\s/][^<>]*)?>", re.IGNORECASE)

# Known HTML element names only: a generic "<word ...>" pattern would also eat Slack links such as
# "<https://evil|click>" (which we want to keep visible, escaped) or ordinary text like "<y and z>".
# As in HTML, the name ends at whitespace, "/" or ">": "<a?Ó>" is text, not a tag, and keeps its letters.
_HTML_TAG = re.compile(
    r"<\s*/?\s*(?:a|abbr|article|audio|b|big|blockquote|body|br|button|center|cite|code|del|div|em|embed"
    r"|figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|label|li"
    r"|link|mark|meta|nav|object|ol|p|picture|pre|q|s|section|small|source|span|strike|strong|sub|sup"
    r"|svg|table|tbody|td|tfoot|th|thead|title|tr|tt|u|ul|video)(?:[\s/][^<>]*)?>",
    re.IGNORECASE,
)

# Zero-width characters, soft hyphen, word joiners, BOM and bidirectional controls.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def _decode_entity(match: re.Match[str]) -> str:
    decoded = html.unescape(match.group(0))
    # A numeric entity may name a control character or an unpaired surrogate; drop those.
    if len(decoded) == 1 and (unicodedata.category(decoded) in {"Cc", "Cs"} and decoded not in "\n\t"):
        return ""
    return decoded


def _drop_control_chars(text: str) -> str:
    """Remove C0/C1 control characters (except newline and tab) and unpaired surrogates."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cs"})


def clean_text(text: str) -> str:
    """Untrusted text as a person should read it: entities decoded, markup and invisible characters gone.

    The result is *not* yet safe for ``mrkdwn``; use :func:`escape_mrkdwn` for that.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ENTITY.sub(_decode_entity, text)
    text = _SCRIPT_STYLE.sub("", text)
    text = _BREAK_TAG.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    text = _INVISIBLE.sub("", text)
    text = _drop_control_chars(text)
    return _MANY_BLANK_LINES.sub("\n\n", text).strip()


def escape_control_chars(text: str) -> str:
    """Escape Slack's three control characters exactly as Slack documents (``&`` first)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_mrkdwn(text: str) -> str:
    """Untrusted text made inert for a ``mrkdwn`` text object or a message's fallback ``text``.

    The output contains no raw ``<`` or ``>``, so it can never ping (``<!here>``, ``<@U…>``,
    ``<!subteam^…>``), link a channel (``<#C…>``) or form a masked link (``<https://…|label>``).
    """
    return escape_control_chars(clean_text(text))


def plain_text(text: str) -> str:
    """Untrusted text for a ``plain_text`` object (headers, button labels).

    Slack does not parse control sequences in ``plain_text`` and shows entities literally, so the text is
    cleaned but not escaped; callers also set ``"emoji": false`` so ``:shortcodes:`` stay text.
    """
    return clean_text(text)


def slack_len(text: str) -> int:
    """Length as Slack's limits count it, conservatively: UTF-16 code units (an emoji may count as 2)."""
    return len(text.encode("utf-16-le")) // 2
