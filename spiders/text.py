"""Plain text and identifiers as Earshot stores them, whatever markup or length a source sends.

Every source that gives HTML (feeds, Mastodon statuses, HN comments, YouTube's ``textDisplay``, Ceneo's
pages) is turned into text by :func:`strip_html`, so the sentiment stage sees the same kind of text from
all of them.
"""

from __future__ import annotations

import hashlib
import re
from html import unescape
from html.parser import HTMLParser

MAX_ID_CHARS = 512  # mentions.external_id and watermarks.scope

# Tags that break a line when HTML becomes text, and tags whose content is never text.
BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})
_TAG = re.compile(r"<[^>]*>?")
_SPACES = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r"\s*\n\s*")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP_TAGS:
            self._skipping += 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def normalise_space(text: str) -> str:
    """Runs of spaces to one, blank lines dropped, ends trimmed; NBSP counts as a space."""
    return _NEWLINES.sub("\n", _SPACES.sub(" ", text.replace("\r", "\n"))).strip()


def strip_html(markup: str) -> str:
    """Plain text of an HTML fragment: tags dropped (scripts and styles with their content), entities
    decoded, whitespace tidied. Never raises on any string.
    """
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except AssertionError:  # CPython's markup parser asserts on some broken declarations ("<![ ]>")
        return normalise_space(unescape(_TAG.sub(" ", markup)))
    return normalise_space("".join(parser.parts))


def bounded_id(value: str) -> str:
    """``value``, or a stable digest of it when it is too long for an id column."""
    if len(value) <= MAX_ID_CHARS:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def primary_language(tag: str) -> str | None:
    """The primary subtag of a language tag ("pl-PL", "pt_BR" -> "pl", "pt"), which is what the sentiment
    stage compares; None when it is not a plausible subtag (sources send free text here too).
    """
    primary = tag.strip().split("-")[0].split("_")[0].strip().lower()
    return primary if primary.isascii() and primary.isalpha() and len(primary) <= 8 else None
