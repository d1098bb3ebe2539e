"""The feed parser: Atom/RSS mapping, hostile XML, HTML to text, Google redirect links, entry selection."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spiders.feeds import FeedEntry, FeedError, parse_feed, unwrap_link
from spiders.items import to_mention_in
from spiders.spiders.rss import entry_to_item, feed_scope, select_new
from spiders.text import normalise_space, strip_html
from tests.spiders.replay_server import SPIDER_FIXTURES

FIXTURES = SPIDER_FIXTURES / "rss"
FEED_URL = "https://feeds.example.pl/sklep/feed.xml"
ATOM_NS = 'xmlns="http://www.w3.org/2005/Atom"'


def atom(*entries: str, attrs: str = "") -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?><feed {ATOM_NS} {attrs}><title>T</title>{"".join(entries)}</feed>'.encode()


def rss(*items: str, namespaces: str = "") -> bytes:
    return (
        f'<rss version="2.0" {namespaces}><channel><title>T</title>{"".join(items)}</channel></rss>'.encode()
    )


# -- documents ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_hostile_xml_is_refused_without_expanding_it(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(FeedError) as caught:
        parse_feed((FIXTURES / name).read_bytes(), FEED_URL)
    assert caught.value.reason == "hostile_xml"
    assert time.monotonic() - started < 1.0  # refused up front, not after expanding 10^9 "lol"s


def test_an_internal_entity_declaration_is_refused_too() -> None:
    body = b'<!DOCTYPE rss [<!ENTITY brand "Sklep">]><rss version="2.0"><channel><item><title>&brand;</title></item></channel></rss>'
    with pytest.raises(FeedError, match="EntitiesForbidden"):
        parse_feed(body, FEED_URL)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not_xml"),
        (b"<rss><channel>", "not_xml"),
        (b'{"items": []}', "not_xml"),
        (b"<html><body>Not found</body></html>", "not_a_feed"),
        (b'<rss version="2.0"></rss>', "not_a_feed"),
        (b'<?xml version="1.0" encoding="klingon"?><rss/>', "not_xml"),
    ],
)
def test_documents_that_are_not_feeds(body: bytes, reason: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(body, FEED_URL)
    assert caught.value.reason == reason


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_parser_raises_only_its_own_error_on_arbitrary_bytes(body: bytes) -> None:
    try:
        feed = parse_feed(body, FEED_URL)
    except FeedError as exc:
        assert exc.reason in {"not_xml", "not_a_feed", "hostile_xml"}
    else:
        assert isinstance(feed.entries, list)


_xml_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("<>&\"'\n\t "), max_size=40
)
_fragment = st.one_of(
    _xml_text.map(xml_escape),
    st.sampled_from(
        [
            "<b>",
            "</b>",
            "<entry>",
            "</entry>",
            "<item>",
            "</item>",
            "<title type='html'>",
            "<title type='xhtml'>",
            "</title>",
            "<link href='",
            "'/>",
            "<updated>",
            "</updated>",
            "<pubDate>",
            "</pubDate>",
            "2026-11-01T10:00:00Z",
            "Tue, 10 Nov 2026 21:05:00 +0100",
            "<![CDATA[<p>x</p>]]>",
            "&amp;",
            "&lt;",
            "&#0;",
            "&#x1F600;",
            "<guid>",
            "</guid>",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["atom", "rss"]), st.lists(_fragment, max_size=30))
def test_parser_raises_only_its_own_error_on_feed_shaped_noise(kind: str, fragments: list[str]) -> None:
    inner = "".join(fragments)
    body = atom(f"<entry>{inner}</entry>") if kind == "atom" else rss(f"<item>{inner}</item>")
    try:
        feed = parse_feed(body, FEED_URL)
    except FeedError:
        return
    for entry in feed.entries:  # whatever was read maps to an item without raising
        entry_to_item(entry, feed_url=FEED_URL, scope=feed_scope(FEED_URL), target="T")


@settings(max_examples=200, deadline=None)
@given(title=_xml_text, body=_xml_text)
def test_atom_text_constructs_round_trip(title: str, body: str) -> None:
    entry = (
        f"<entry><id>urn:e:1</id><title type='text'>{xml_escape(title)}</title>"
        f"<content type='html'>{xml_escape(escape(body))}</content></entry>"
    )
    [parsed] = parse_feed(atom(entry), FEED_URL).entries
    assert parsed.title == normalise_space(title)
    assert parsed.content == normalise_space(body)


def test_deeply_nested_markup_costs_one_entry_not_the_feed() -> None:
    deep = "<div>" * 3000 + "x" + "</div>" * 3000
    body = atom(
        "<entry><id>urn:e:deep</id><title>Deep</title><content type='xhtml'>"
        f"<div xmlns='http://www.w3.org/1999/xhtml'>{deep}</div></content></entry>",
        "<entry><id>urn:e:ok</id><title>Fine</title></entry>",
    )
    feed = parse_feed(body, FEED_URL)
    assert [e.entry_id for e in feed.entries] + [r for r, _ in feed.rejected] in (
        ["urn:e:deep", "urn:e:ok"],  # deep enough for Python to read after all
        ["urn:e:ok", "too_deep"],
    )


# -- mapping -----------------------------------------------------------------------------------------


def test_google_alerts_entries_are_keyed_by_the_article_link() -> None:
    feed = parse_feed((FIXTURES / "alert_sklep.atom").read_bytes(), FEED_URL)
    assert feed.kind == "atom" and feed.title == "Alert Google – „Sklep Testowy”"
    first = feed.entries[0]
    assert first.entry_id == "tag:google.com,2013:googlealerts/feed:10487665210000000003"
    assert (
        first.external_id
        == first.link
        == "https://news.example.com/retail/polish-ecommerce-2026?utm_source=rss"
    )
    assert first.title == "Polish e-commerce: Sklep Testowy expands to Czechia"
    assert first.author is None and first.lang is None
    assert first.published == first.updated == datetime(2026, 11, 10, 9, 30, tzinfo=UTC)


def test_rss_items_keep_their_guid_and_drop_markup_and_scripts() -> None:
    feed = parse_feed((FIXTURES / "talkwalker.rss").read_bytes(), FEED_URL)
    first, second, anonymous = feed.entries
    assert first.external_id == "talkwalker:5f1e3c7a9b2d4e60"
    assert first.content == (
        "I ordered a blender from Sklep Testowy and it arrived quickly.\n"
        "Returning it, however, took six weeks & four emails."
    )
    assert first.lang is None  # the channel's "en-us" describes Talkwalker, not the items
    assert second.title == 'Wątek: "Sklep Testowy" a gwarancja producenta'
    assert second.published == datetime(2026, 11, 10, 20, 5, tzinfo=UTC)
    assert anonymous.external_id is None
    with pytest.raises(ValueError, match="external_id is missing"):
        to_mention_in(entry_to_item(anonymous, feed_url=FEED_URL, scope="s", target="T"))


def test_rss_permalink_guid_is_the_link_and_dates_are_tolerated() -> None:
    body = rss(
        "<item><guid>https://blog.example.pl/?p=7</guid><title>A</title>"
        "<pubDate>Mon, 09 Nov 2026 10:00:00 GMT</pubDate></item>",
        "<item><guid isPermaLink='false'>id-8</guid><title>B</title><pubDate>wczoraj</pubDate></item>",
        "<item><guid>id-9</guid><dc:date>2026-11-09T10:00:00+02:00</dc:date><title>C</title></item>",
        namespaces='xmlns:dc="http://purl.org/dc/elements/1.1/"',
    )
    a, b, c = parse_feed(body, FEED_URL).entries
    assert (a.link, a.changed_at) == ("https://blog.example.pl/?p=7", datetime(2026, 11, 9, 10, tzinfo=UTC))
    assert (b.link, b.changed_at, b.bad_dates) == (None, None, ("wczoraj",))
    assert c.changed_at == datetime(2026, 11, 9, 8, tzinfo=UTC)


def test_rss_1_0_is_read() -> None:
    body = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
      xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="https://news.example.pl/"><title>Wiadomo\xc5\x9bci</title></channel>
      <item rdf:about="https://news.example.pl/a/1"><title>Sklep Testowy</title><link>https://news.example.pl/a/1</link>
        <dc:date>2026-11-09T10:00:00Z</dc:date><dc:creator>Redakcja</dc:creator><dc:language>pl</dc:language></item>
    </rdf:RDF>"""
    feed = parse_feed(body, FEED_URL)
    [item] = feed.entries
    assert (feed.kind, feed.title, item.external_id, item.author, item.lang) == (
        "rdf",
        "Wiadomości",
        "https://news.example.pl/a/1",
        "Redakcja",
        "pl",
    )


def test_atom_comment_threads_and_out_of_line_content() -> None:
    body = atom(
        "<entry><id>urn:c:1</id><title>Re: dostawa</title><updated>2026-11-09T10:00:00Z</updated>"
        "<thr:in-reply-to xmlns:thr='http://purl.org/syndication/thread/1.0' ref='urn:post:412'/>"
        "<summary>Krótko</summary><content src='https://blog.example.pl/c/1' type='text/html'/></entry>",
        attrs='xml:lang="en-GB"',
    )
    [entry] = parse_feed(body, FEED_URL).entries
    item = entry_to_item(entry, feed_url=FEED_URL, scope="s", target="T")
    assert (item["parent_id"], item["text"], item["lang"]) == ("urn:post:412", "Re: dostawa\n\nKrótko", "en")


def test_an_overlong_id_becomes_a_stable_digest() -> None:
    long_id = "urn:x:" + "a" * 600
    [entry] = parse_feed(atom(f"<entry><id>{long_id}</id><title>x</title></entry>"), FEED_URL).entries
    assert entry.external_id is not None and entry.external_id.startswith("sha256:")
    assert len(entry.external_id) == 71
    assert (
        to_mention_in(entry_to_item(entry, feed_url=FEED_URL, scope="s", target=None)).external_id
        == entry.external_id
    )


def test_credentials_in_a_feed_url_stay_out_of_scope_and_raw_data() -> None:
    url = "https://user:s3cret@feeds.example.pl/x.xml"
    assert feed_scope(url) == "https://feeds.example.pl/x.xml"
    [entry] = parse_feed(atom("<entry><id>urn:e:1</id><title>x</title></entry>"), url).entries
    item = entry_to_item(entry, feed_url=url, scope=feed_scope(url), target=None)
    assert "s3cret" not in str(to_mention_in(item).raw)


# -- text and links ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_escaped_text_survives_html_stripping(text: str) -> None:
    assert strip_html(escape(text)) == normalise_space(text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=120)
    | st.lists(st.sampled_from(["<![ ]>", "<!", "<p>", "</", "&#", "<script>", "x"])).map("".join)
)
def test_strip_html_never_raises_and_leaves_no_tags(markup: str) -> None:
    text = strip_html(markup)
    assert "<p>" not in text and "<script>" not in text


def test_strip_html_drops_scripts_and_keeps_paragraphs() -> None:
    markup = "<p>Dostawa&nbsp;w 2 dni</p><script>var x = '<p>';</script><style>p{}</style><p>Zwrot &amp; reklamacja</p>"
    assert strip_html(markup) == "Dostawa w 2 dni\nZwrot & reklamacja"


_urls = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}/{path}" + (f"?{query}" if query else ""),
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z]{1,10}\.(pl|com|example)", fullmatch=True),
    st.text(st.characters(min_codepoint=33, max_codepoint=0x17F, blacklist_characters="#?"), max_size=30),
    st.from_regex(r"([a-z]{1,5}=[a-z0-9%]{0,8}(&[a-z]{1,5}=[a-z0-9]{0,8}){0,2})?", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(_urls, st.sampled_from(["www.google.com", "google.pl", "www.google.co.uk"]))
def test_google_redirects_unwrap_to_the_article(url: str, host: str) -> None:
    wrapped = f"https://{host}/url?rct=j&sa=t&url={quote(url, safe='')}&ct=ga&usg=AOvVaw0x"
    assert unwrap_link(wrapped) == url
    assert unwrap_link(url) == url  # anything else is left alone


@pytest.mark.parametrize(
    "url",
    [
        "https://www.google.com/search?q=https://example.pl",  # not the redirect path
        "https://evil.example/url?url=https://example.pl",  # not Google
        "https://www.google.com/url?url=javascript:alert(1)",  # not a web link
        "https://www.google.com.evil.example/url?url=https://example.pl",
    ],
)
def test_only_real_google_redirects_are_unwrapped(url: str) -> None:
    assert unwrap_link(url) == url


# -- selection ---------------------------------------------------------------------------------------


def _entry(key: str, hours: int | None) -> FeedEntry:
    when = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=hours) if hours is not None else None
    return FeedEntry(entry_id=key, link=None, title=key, content="", published=when)


def test_select_new_takes_the_oldest_new_entries_and_keeps_ties_together() -> None:
    entries = [
        _entry("e5", 5),
        _entry("e4", 4),
        _entry("e3b", 3),
        _entry("e3a", 3),
        _entry("e1", 1),
        _entry("u", None),
    ]
    watermark = datetime(2026, 11, 1, 1, tzinfo=UTC)  # e1 was read already
    picked = select_new(entries, watermark, limit=2)
    assert [e.entry_id for e in picked.entries] == ["e3b", "e3a", "u"]
    assert picked.deferred == 2
    everything = select_new(entries, None, limit=10)
    assert [e.entry_id for e in everything.entries] == ["e1", "e3b", "e3a", "e4", "e5", "u"]
    assert everything.deferred == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 20) | st.none(), max_size=25), st.integers(0, 20) | st.none(), st.integers(1, 6)
)
def test_select_new_never_loses_an_entry_across_runs(
    hours: list[int | None], start: int | None, limit: int
) -> None:
    """Re-running with the watermark moved to the newest entry taken eventually reads every newer entry."""
    entries = [_entry(f"e{i}", h) for i, h in enumerate(hours)]
    watermark = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=start) if start is not None else None
    expected = {
        e.entry_id
        for e in entries
        if e.changed_at is not None and (watermark is None or e.changed_at > watermark)
    }
    seen: set[str | None] = set()
    for _ in range(len(entries) + 1):
        picked = select_new(entries, watermark, limit)
        dated = [e.changed_at for e in picked.entries if e.changed_at is not None]
        seen |= {e.entry_id for e in picked.entries if e.changed_at is not None}
        if not dated:
            break
        watermark = max(dated)
    assert seen == expected
