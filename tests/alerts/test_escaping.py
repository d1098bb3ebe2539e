"""Untrusted text can neither ping nor link in Slack, and Polish text survives escaping intact."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.escaping import clean_text, escape_mrkdwn, plain_text

POLISH = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"
INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0123|@support>",
    "<@U123>",
    "<@W0ABC|jan>",
    "<#C1>",
    "<#C0GENERAL|general>",
    "<https://evil.example|click>",
    "<mailto:x@evil.example|mail>",
    "&lt;!here&gt;",
    "&lt;!channel&gt;",
    "&#60;!channel&#62;",
    "&#x3C;@U1&#x3E;",
    "&amp;lt;!here&amp;gt;",
    "<\u200b!channel>",
    "<!\u200bhere>",
    "\u202e>lennahc!<",
    "<b>bold</b>",
    "<script>alert(1)</script>",
    "&",
    "<",
    ">",
]
_ENTITY_OR_TEXT = re.compile(r"&(?!amp;|lt;|gt;)")


def assert_inert(escaped: str) -> None:
    for bad in ("<!", "<@", "<#", "<", ">"):
        assert bad not in escaped, (bad, escaped)
    # Every & starts one of Slack's three entities; nothing else can be decoded into a control character.
    assert not _ENTITY_OR_TEXT.search(escaped), escaped


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<!channel> pilne", "&lt;!channel&gt; pilne"),
        ("<@U123> zobacz", "&lt;@U123&gt; zobacz"),
        ("<#C1|general>", "&lt;#C1|general&gt;"),
        ("<https://evil.example|Zwrot pieniędzy>", "&lt;https://evil.example|Zwrot pieniędzy&gt;"),
        ("&lt;!here&gt;", "&lt;!here&gt;"),
        ("&#60;!channel&#62;", "&lt;!channel&gt;"),
        ("AT&T i M&M's", "AT&amp;T i M&amp;M's"),
        ("&not; a &copy", "&amp;not; a &amp;copy"),
        ("<b>pogrubione</b> <i>i</i>", "pogrubione i"),
        ("przed<script>alert('x')</script>po", "przedpo"),
        ("linia 1<br>linia 2", "linia 1\nlinia 2"),
        ("<\u200b!channel>", "&lt;!channel&gt;"),
        ("@\u200bchannel \ufeffhej\u202e", "@channel hej"),
        ("2 < 3 > 1", "2 &lt; 3 &gt; 1"),
    ],
)
def test_examples(raw: str, expected: str) -> None:
    assert escape_mrkdwn(raw) == expected


def test_polish_letters_pass_through_untouched() -> None:
    text = "Zażółć gęślą jaźń — ZAŻÓŁĆ GĘŚLĄ JAŹŃ"
    assert escape_mrkdwn(text) == text
    assert plain_text(text) == text


def test_plain_text_is_cleaned_but_not_entity_escaped() -> None:
    assert plain_text("Sklep <b>Zielony</b> & syn\u200b") == "Sklep Zielony & syn"


def test_control_characters_are_dropped_but_newlines_and_tabs_kept() -> None:
    assert clean_text("a\x00b\x1bc\nd\te\x85") == "abc\nd\te"


def test_entities_cannot_smuggle_control_or_invisible_characters() -> None:
    assert clean_text("a&#27;b&#8203;c&#x202E;d") == "abcd"


injected_text = st.lists(
    st.one_of(
        st.sampled_from(INJECTIONS), st.text(max_size=20), st.text(alphabet=POLISH + " <>&!@#|^", max_size=20)
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(injected_text)
def test_escaped_output_is_always_inert(text: str) -> None:
    assert_inert(escape_mrkdwn(text))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_unicode_is_inert(text: str) -> None:
    assert_inert(escape_mrkdwn(text))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            # Only balanced injections: a stray "<" and a later ">" with letters between them form a tag
            # ("<a Ó>"), which is removed by design; balanced ones cannot join with their neighbours.
            st.sampled_from([i for i in INJECTIONS if i not in ("<", ">", "\u202e>lennahc!<")]),
            st.text(alphabet=POLISH + "abc XYZ.,!?", max_size=15),
        ),
        max_size=10,
    )
)
def test_polish_letters_round_trip_next_to_injections(parts: list[str]) -> None:
    text = "".join(parts)
    escaped = escape_mrkdwn(text)
    for letter in POLISH:
        assert escaped.count(letter) == text.count(letter), letter


def test_text_that_only_looks_like_a_tag_keeps_its_letters() -> None:
    """Found by the property above: "<a?Ó>" was read as an <a> tag and the letter lost; as in HTML, a tag
    name ends at whitespace, "/" or ">"."""
    assert "Ó" in escape_mrkdwn("<a?Ó>") and "b!" in escape_mrkdwn("<b!>")
    assert escape_mrkdwn('<a href="x">Żółw</a>') == "Żółw"
