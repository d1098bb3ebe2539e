"""Reading RSS 2.0 / RSS 1.0 / Atom 1.0 documents into plain-text entries, for the ``rss`` source.

Feeds are parsed with ``defusedxml``: entity declarations (billion laughs) and external entities are
refused, not expanded. Titles and content become plain text; Google Alerts' ``google.com/url?url=``
redirect links are unwrapped. External ids are the entry's id/guid, except Google Alerts' ids, which
are per alert: there the article's link is the id, so one article found by two alerts is one mention.
Dates may be RFC 3339 (Atom, ``dc:date``) or RFC 822 (RSS ``pubDate``), whichever the feed actually used.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urljoin, urlsplit

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from monitor.core.timeutil import as_utc
from spiders.errors import MalformedResponse
from spiders.items import optional_timestamp
from spiders.text import BLOCK_TAGS, SKIP_TAGS, bounded_id, normalise_space, primary_language, strip_html

SOURCE = "rss"  # the Earshot source that reads feeds
RAW_XML_MAX_CHARS = 20_000  # of one entry, kept for audit

ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
THREAD = "{http://purl.org/syndication/thread/1.0}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

_GOOGLE_ALERTS_ID = "tag:google.com,2013:googlealerts/"
_GOOGLE_HOST = re.compile(r"(?:www\.)?google\.[a-z]{2,3}(?:\.[a-z]{2})?", re.ASCII)


class FeedError(MalformedResponse):
    """A feed body that cannot be read; ``reason`` is a short slug for stats."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(SOURCE, message)
        self.reason = reason


@dataclass(frozen=True)
class FeedEntry:
    """One entry or item, already in plain text with its link unwrapped; times are aware UTC."""

    entry_id: str | None
    link: str | None
    title: str
    content: str
    author: str | None = None
    lang: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    in_reply_to: str | None = None
    bad_dates: tuple[str, ...] = ()  # date values present but unreadable
    raw_xml: str = ""

    @property
    def changed_at(self) -> datetime | None:
        """When the entry last changed, as far as the feed says."""
        return self.updated or self.published

    @property
    def external_id(self) -> str | None:
        """The entry's id, or its link where the id is per alert (Google Alerts) or missing."""
        key = self.entry_id
        if not key or key.startswith(_GOOGLE_ALERTS_ID):
            key = self.link or key
        return bounded_id(key) if key else None

    @property
    def text(self) -> str:
        if not self.content or self.content == self.title:
            return self.title
        return f"{self.title}\n\n{self.content}" if self.title else self.content


@dataclass(frozen=True)
class Feed:
    kind: str  # "atom", "rss" (2.0 and older) or "rdf" (RSS 1.0)
    title: str
    entries: list[FeedEntry]
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (reason, message) per unusable entry


# -- links -------------------------------------------------------------------------------------------


def unwrap_link(url: str) -> str:
    """The article behind a Google redirect (``https://www.google.com/url?...&url=<real>``), else ``url``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if (
        parts.scheme not in ("http", "https")
        or parts.path != "/url"
        or not _GOOGLE_HOST.fullmatch(parts.netloc)
    ):
        return url
    query = parse_qs(parts.query)
    for key in ("url", "q"):
        for candidate in query.get(key, []):
            if candidate.startswith(("http://", "https://")):
                return candidate
    return url


# -- XML helpers -------------------------------------------------------------------------------------


def _text(element: ET.Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _construct(element: ET.Element | None) -> str:
    """An Atom text construct (type text, html or xhtml), or RSS markup, as plain text."""
    if element is None:
        return ""
    kind = element.get("type", "text").lower()
    if "xhtml" in kind:
        return _xhtml_text(element)
    if kind == "text" or kind == "text/plain":
        return normalise_space(_text(element))
    return strip_html(_text(element))  # html, text/html, and RSS (which is HTML in practice)


def _xhtml_text(element: ET.Element) -> str:
    """Plain text of inline XHTML, walked without recursion so deep nesting cannot exhaust the stack."""
    parts: list[str] = []
    stack: list[ET.Element | str] = [element]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            parts.append(node)
            continue
        tag = node.tag.rsplit("}", 1)[-1] if isinstance(node.tag, str) else ""
        if tag in SKIP_TAGS:
            continue
        block = "\n" if tag in BLOCK_TAGS else ""
        parts.append(block + (node.text or ""))
        stack.append(block)  # popped after all the children
        for child in reversed(list(node)):
            stack.append(child.tail or "")
            stack.append(child)
    return normalise_space("".join(parts))


def _parse_date(value: str) -> datetime | None:
    """RFC 3339 (Atom, dc:date) or RFC 822 (RSS pubDate), whichever the feed actually used."""
    value = value.strip()
    rfc3339 = optional_timestamp(value)
    if rfc3339 is not None:
        return rfc3339
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    try:
        return as_utc(parsed)  # RFC 822's "-0000" (no zone known) is read as UTC
    except OverflowError:
        return None


def _dates(element: ET.Element, *tags: str) -> tuple[datetime | None, list[str]]:
    """The first readable date among ``tags``, and the values that were present but unreadable."""
    bad: list[str] = []
    for tag in tags:
        value = _text(element.find(tag))
        if not value:
            continue
        parsed = _parse_date(value)
        if parsed is not None:
            return parsed, bad
        bad.append(value[:60])
    return None, bad


def _lang(element: ET.Element | None, default: str | None) -> str | None:
    """The primary language subtag ("pl-PL" -> "pl"), which is what the sentiment stage compares."""
    value = element.get(XML_LANG) if element is not None else None
    return primary_language(value or default or "")


def _raw_xml(element: ET.Element) -> str:
    text = ET.tostring(element, encoding="unicode")
    return text if len(text) <= RAW_XML_MAX_CHARS else text[:RAW_XML_MAX_CHARS] + "…[truncated]"


def _link(href: str | None, feed_url: str) -> str | None:
    href = (href or "").strip()
    if not href:
        return None
    try:
        return unwrap_link(urljoin(feed_url, href))
    except ValueError:  # a malformed IPv6 host and the like
        return None


# -- feeds -------------------------------------------------------------------------------------------


def _base(element: ET.Element, parent_base: str) -> str:
    """The element's xml:base resolved against its parent's (Atom feeds may use relative links)."""
    value = element.get(XML_BASE)
    if not value:
        return parent_base
    try:
        return urljoin(parent_base, value.strip())
    except ValueError:
        return parent_base


def _atom_entry(
    entry: ET.Element, parent_base: str, feed_lang: str | None, feed_author: str | None
) -> FeedEntry:
    base = _base(entry, parent_base)
    link = None
    for candidate in entry.findall(f"{ATOM}link"):
        if candidate.get("rel", "alternate") == "alternate":
            link = _link(candidate.get("href"), _base(candidate, base))
            break
    published, bad_published = _dates(entry, f"{ATOM}published")
    updated, bad_updated = _dates(entry, f"{ATOM}updated")
    content = entry.find(f"{ATOM}content")
    if content is not None and content.get("src"):
        content = None  # out-of-line content: only the summary is here
    if content is None:
        content = entry.find(f"{ATOM}summary")
    reply = entry.find(f"{THREAD}in-reply-to")
    return FeedEntry(
        entry_id=_text(entry.find(f"{ATOM}id")) or None,
        link=link,
        title=_construct(entry.find(f"{ATOM}title")),
        content=_construct(content),
        author=_text(entry.find(f"{ATOM}author/{ATOM}name")) or feed_author,
        lang=_lang(content if content is not None and content.get(XML_LANG) else entry, feed_lang),
        published=published,
        updated=updated,
        in_reply_to=(reply.get("ref") or None) if reply is not None else None,
        bad_dates=(*bad_published, *bad_updated),
        raw_xml=_raw_xml(entry),
    )


def _rss_item(item: ET.Element, feed_url: str, ns: str) -> FeedEntry:
    """An RSS item. The channel's <language> is ignored: alert services state their own UI language there,
    not the language of the items they collect, and a wrong hint is worse than none (detection follows).
    """
    published, bad_published = _dates(item, f"{ns}pubDate", f"{DC}date")
    updated, bad_updated = _dates(item, f"{ATOM}updated")
    guid_element = item.find(f"{ns}guid")
    guid = _text(guid_element) or item.get(f"{RDF}about") or None
    body = item.find(f"{CONTENT}encoded")
    if body is None or not _text(body):
        body = item.find(f"{ns}description")
    link = _link(_text(item.find(f"{ns}link")), feed_url)
    permalink = guid_element is not None and guid_element.get("isPermaLink", "true").strip().lower() == "true"
    if link is None and guid and permalink:
        link = _link(guid, feed_url)  # RSS 2.0: a guid is the item's URL unless isPermaLink="false"
    return FeedEntry(
        entry_id=guid,
        link=link,
        title=strip_html(_text(item.find(f"{ns}title"))),
        content=strip_html(_text(body)),
        author=_text(item.find(f"{DC}creator")) or _text(item.find(f"{ns}author")) or None,
        lang=_lang(None, _text(item.find(f"{DC}language"))),
        published=published,
        updated=updated,
        bad_dates=(*bad_published, *bad_updated),
        raw_xml=_raw_xml(item),
    )


def _entries(
    elements: list[ET.Element], convert: Callable[[ET.Element], FeedEntry]
) -> tuple[list[FeedEntry], list[tuple[str, str]]]:
    entries: list[FeedEntry] = []
    rejected: list[tuple[str, str]] = []
    for index, element in enumerate(elements):
        try:
            entries.append(convert(element))
        except RecursionError:  # markup nested thousands deep: a hostile or broken entry
            rejected.append(("too_deep", f"entry {index + 1} is nested too deeply to read"))
    return entries, rejected


def parse_feed(body: bytes, feed_url: str) -> Feed:
    """Read an Atom 1.0, RSS 2.0 (or 0.9x) or RSS 1.0 document, or raise :class:`FeedError`.

    Hostile XML (entity declarations, external entities) raises FeedError("hostile_xml") before any
    expansion. Relative links resolve against ``feed_url``.
    """
    try:
        root = SafeET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedError("hostile_xml", f"refused XML with {type(exc).__name__}: {exc}") from None
    except ET.ParseError as exc:
        raise FeedError("not_xml", f"body is not well-formed XML ({exc})") from None
    except (ValueError, LookupError, UnicodeError) as exc:  # e.g. an unknown encoding declaration
        raise FeedError("not_xml", f"body is not readable XML ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise FeedError("not_xml", "body is nested too deeply to read") from None
    if root.tag == f"{ATOM}feed":
        lang = _lang(root, None)
        author = _text(root.find(f"{ATOM}author/{ATOM}name")) or None
        base = _base(root, feed_url)
        entries, rejected = _entries(
            root.findall(f"{ATOM}entry"), lambda e: _atom_entry(e, base, lang, author)
        )
        return Feed("atom", _construct(root.find(f"{ATOM}title")), entries, rejected)
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise FeedError("not_a_feed", "an <rss> document without a <channel>")
        entries, rejected = _entries(channel.findall("item"), lambda e: _rss_item(e, feed_url, ""))
        return Feed("rss", strip_html(_text(channel.find("title"))), entries, rejected)
    if root.tag == f"{RDF}RDF":
        entries, rejected = _entries(root.findall(f"{RSS1}item"), lambda e: _rss_item(e, feed_url, RSS1))
        return Feed("rdf", strip_html(_text(root.find(f"{RSS1}channel/{RSS1}title"))), entries, rejected)
    tag = root.tag if isinstance(root.tag, str) else type(root.tag).__name__
    raise FeedError("not_a_feed", f"the document is <{tag[:80]}>, not an Atom or RSS feed")
