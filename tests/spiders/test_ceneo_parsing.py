"""The Ceneo page parser: opinion blocks, scores, Warsaw times, pros/cons text, scopes and paging links."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parsel import Selector

from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, to_mention_in
from spiders.spiders.ceneo import (
    CeneoOpinion,
    CeneoOpinionsSpider,
    error_page_summary,
    opinion_to_item,
    parse_count,
    parse_local_time,
    parse_opinion,
    parse_opinions_page,
    parse_score,
    same_scope,
    scope_path,
)
from spiders.text import normalise_space
from tests.spiders.replay_server import SPIDER_FIXTURES

FIXTURES = SPIDER_FIXTURES / "ceneo"
PAGE_URL = "https://www.ceneo.pl/142071337"
SCOPE = "/142071337"

# Printable text as a user could type it; control characters cannot appear in an HTML text node.
TYPED = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn")), max_size=200)


def block(
    *, entry_id: str = "1", author: str = "Ala", score: str = "4/5", text: str = "Dobrze", extra: str = ""
) -> str:
    return (
        f'<div class="user-post" data-entry-id="{escape(entry_id)}">'
        f'<span class="user-post__author-name">{escape(author)}</span>'
        f'<span class="user-post__score-count">{escape(score)}</span>'
        f'<span class="user-post__published"><time datetime="2026-11-08 21:14:09">wczoraj</time></span>'
        f'<div class="user-post__text">{escape(text)}</div>{extra}</div>'
    )


def one(markup: str) -> CeneoOpinion:
    return parse_opinion(Selector(text=markup).css("div.user-post")[0])


# -- pages -------------------------------------------------------------------------------------------


def test_a_first_page_is_read_with_its_next_link() -> None:
    page = parse_opinions_page((FIXTURES / "product_page1.html").read_text(), PAGE_URL, first_page=True)
    assert [o.entry_id for o in page.opinions] == ["18734021", "18729655", None, "18701377"]
    assert page.next_url == "https://www.ceneo.pl/142071337/opinie-2"
    marta = page.opinions[0]
    assert (marta.author, marta.score, marta.helpful, marta.unhelpful) == ("Marta K.", 4.5, 14, 2)
    assert marta.pros == ("cichy", "długo trzyma bateria") and marta.cons == ("mały pojemnik na kurz",)
    assert marta.verified_purchase and marta.recommendation == "Polecam"
    assert marta.published == datetime(2026, 11, 8, 20, 14, 9, tzinfo=UTC)
    assert marta.purchased == datetime(2026, 10, 30, 11, 2, 44, tzinfo=UTC)
    anonymous = page.opinions[1]
    assert (anonymous.verified_purchase, anonymous.purchased, anonymous.pros) == (False, None, ())


def test_the_last_page_has_no_next_link() -> None:
    page = parse_opinions_page(
        (FIXTURES / "product_page2.html").read_text(), PAGE_URL + "/opinie-2", first_page=False
    )
    assert page.next_url is None and len(page.opinions) == 3


def test_a_product_nobody_reviewed_is_an_empty_page_not_a_malformed_one() -> None:
    page = parse_opinions_page((FIXTURES / "product_no_opinions.html").read_text(), PAGE_URL, first_page=True)
    assert (page.opinions, page.next_url) == ([], None)


@pytest.mark.parametrize(
    ("body", "first_page", "message"),
    [
        ((FIXTURES / "malformed_bot_check.html").read_text(), True, r"no opinions section .*weryfikacja"),
        (
            (FIXTURES / "product_no_opinions.html").read_text(),
            False,
            "a later opinions page without any opinion",
        ),
        ('{"error": "not html"}', True, "no opinions and no opinions section"),
        ("", True, "no opinions"),
        ("<html><body><div class='user-post__text'>loose text</div></body></html>", True, "no opinions"),
    ],
)
def test_pages_that_are_not_opinion_pages_are_malformed(body: str, first_page: bool, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_opinions_page(body, PAGE_URL, first_page=first_page)


# -- values ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4,5/5", 4.5),
        ("5/5", 5.0),
        ("0,5/5", 0.5),
        (" 3 / 5 ", 3.0),
        ("Ocena: 4.5/5", 4.5),
        ("8/10", 4.0),
        ("brak oceny", "brak oceny"),
        ("4/0", "4/0"),
        ("", None),
        (None, None),
    ],
)
def test_scores(text: str | None, expected: float | str | None) -> None:
    assert parse_score(text) == expected


@given(st.integers(min_value=0, max_value=10), st.sampled_from(["{},{}/5", "{}.{}/5", " {},{} / 5"]))
def test_every_half_star_score_reads_back_as_written(halves: int, template: str) -> None:
    whole, half = divmod(halves, 2)
    assert parse_score(template.format(whole, 5 if half else 0)) == halves / 2


@given(st.text(max_size=60))
def test_any_score_text_is_read_without_raising(text: str) -> None:
    score = parse_score(text)
    assert score is None or isinstance(score, float) or score == text.strip()[:40]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-08 21:14:09", datetime(2026, 11, 8, 20, 14, 9, tzinfo=UTC)),  # CET, UTC+1
        ("2026-07-15 10:00:00", datetime(2026, 7, 15, 8, 0, tzinfo=UTC)),  # CEST, UTC+2
        ("2026-03-29 03:30:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),  # just after the spring change
        ("2026-11-08", datetime(2026, 11, 7, 23, 0, tzinfo=UTC)),
        ("2026-11-08T21:14:09+01:00", datetime(2026, 11, 8, 20, 14, 9, tzinfo=UTC)),
        ("2026-11-08T20:14:09Z", datetime(2026, 11, 8, 20, 14, 9, tzinfo=UTC)),
        ("wczoraj", None),
        ("2026-13-01 10:00:00", None),
        ("", None),
        (None, None),
    ],
)
def test_times_are_warsaw_local_time(value: str | None, expected: datetime | None) -> None:
    assert parse_local_time(value) == expected


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_any_written_local_time_reads_back_as_utc_within_two_hours(moment: datetime) -> None:
    parsed = parse_local_time(moment.strftime("%Y-%m-%d %H:%M:%S"))
    assert parsed is not None and parsed.tzinfo == UTC
    offset = moment.replace(microsecond=0) - parsed.replace(tzinfo=None)
    assert offset.total_seconds() in (3600, 7200)  # Warsaw is UTC+1, or UTC+2 in summer


@pytest.mark.parametrize(
    ("text", "expected"), [("14", 14), ("Tak 14", 14), ("", None), (None, None), ("brak", None)]
)
def test_vote_counts(text: str | None, expected: int | None) -> None:
    assert parse_count(text) == expected


@settings(max_examples=150, deadline=None)
@given(author=TYPED, text=TYPED, pro=TYPED, con=TYPED)
def test_escaped_opinion_text_reads_back_as_written(author: str, text: str, pro: str, con: str) -> None:
    features = (
        '<div class="review-feature"><div class="review-feature__col">'
        f'<div class="review-feature__title review-feature__title--positives">Zalety</div>'
        f'<div class="review-feature__item">{escape(pro)}</div></div>'
        '<div class="review-feature__col">'
        f'<div class="review-feature__title review-feature__title--negatives">Wady</div>'
        f'<div class="review-feature__item">{escape(con)}</div></div></div>'
    )
    opinion = one(block(author=author, text=text, extra=features))
    assert opinion.author == (normalise_space(author) or None)
    assert opinion.text == normalise_space(text)
    assert opinion.pros == ((normalise_space(pro),) if normalise_space(pro) else ())
    assert opinion.cons == ((normalise_space(con),) if normalise_space(con) else ())
    for part in (text, pro, con):
        assert normalise_space(part) in opinion.full_text


def test_line_breaks_in_an_opinion_survive_and_markup_does_not() -> None:
    opinion = one(block(text="x").replace(">x<", "><b>Pierwsza</b> linia<br>druga &amp; ostatnia<"))
    assert opinion.text == "Pierwsza linia\ndruga & ostatnia"


@pytest.mark.parametrize(
    ("text", "pros", "cons", "expected"),
    [
        ("Dobry.", ("tani",), ("głośny", "ciężki"), "Dobry.\n\nZalety: tani\nWady: głośny, ciężki"),
        ("Dobry.", (), (), "Dobry."),
        ("", ("tani",), (), "Zalety: tani"),
        ("", ("tani",), ("głośny",), "Zalety: tani\nWady: głośny"),
        ("", (), (), ""),
    ],
)
def test_pros_and_cons_are_appended_readably(
    text: str, pros: tuple[str, ...], cons: tuple[str, ...], expected: str
) -> None:
    assert CeneoOpinion("1", None, 4.0, text, pros, cons).full_text == expected


def test_a_confirmed_purchase_is_recognised_by_its_wording_too() -> None:
    footer = '<div class="user-post__footer"><span class="badge">Zakup potwierdzony</span></div>'
    assert one(block(extra=footer)).verified_purchase is True
    assert one(block()).verified_purchase is False


def test_votes_fall_back_to_the_counter_spans() -> None:
    extra = '<span id="votes-yes-1">7</span><span id="votes-no-1">2</span>'
    opinion = one(block(extra=extra))
    assert (opinion.helpful, opinion.unhelpful) == (7, 2)


# -- items -------------------------------------------------------------------------------------------


def test_an_opinion_maps_to_a_valid_mention() -> None:
    page = parse_opinions_page((FIXTURES / "product_page1.html").read_text(), PAGE_URL, first_page=True)
    item = opinion_to_item(page.opinions[0], scope=SCOPE, target="Sklep", url=PAGE_URL + "#tab=reviews")
    mention = to_mention_in(item)
    assert (mention.source, mention.external_id, mention.rating, mention.reach) == (
        "ceneo",
        "18734021",
        4.5,
        14,
    )
    assert mention.lang is None  # the page's lang is Ceneo's, not the opinion's
    assert mention.created_at == mention.updated_at == datetime(2026, 11, 8, 20, 14, 9, tzinfo=UTC)
    assert mention.raw is not None and mention.raw["dates"] == ["2026-11-08 21:14:09", "2026-10-30 12:02:44"]
    assert item["scope"] == SCOPE


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        (block(entry_id=""), "missing_external_id"),
        (block(score="dużo gwiazdek"), "bad_rating"),
        (block(score="6/5"), "rating_out_of_range"),
    ],
)
def test_unusable_opinions_are_rejected_by_validation(markup: str, reason: str) -> None:
    item = opinion_to_item(one(markup), scope=SCOPE, target=None, url=None)
    with pytest.raises(InvalidItem) as caught:
        to_mention_in(item)
    assert caught.value.reason == reason


# -- scopes, links, errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        ("https://www.ceneo.pl/142071337", "/142071337"),
        ("https://www.ceneo.pl/142071337#tab=reviews", "/142071337"),
        ("https://www.ceneo.pl/142071337/opinie-3", "/142071337"),
        ("https://www.ceneo.pl/142071337/", "/142071337"),
        ("/sklepy/sklep-testowy.pl-s40321", "/sklepy/sklep-testowy.pl-s40321"),
        (
            "https://www.ceneo.pl/sklepy/sklep-testowy.pl-s40321/opinie-2?x=1",
            "/sklepy/sklep-testowy.pl-s40321",
        ),
    ],
)
def test_scope_is_the_product_or_shop_path(url: str, scope: str) -> None:
    assert scope_path(url) == scope


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://www.ceneo.pl/142071337/opinie-2", True),
        ("https://www.ceneo.pl/1420713370/opinie-2", False),  # another product sharing the prefix
        ("https://www.ceneo.pl/98765/opinie-2", False),
        ("https://evil.example/142071337/opinie-2", False),
        ("javascript:void(0)", False),
    ],
)
def test_paging_stays_on_the_product(link: str, expected: bool) -> None:
    assert same_scope(link, PAGE_URL, SCOPE) is expected


def test_error_pages_are_summarised_by_title_and_heading() -> None:
    summary = error_page_summary((FIXTURES / "error_404.html").read_bytes())
    assert summary == "Nie znaleziono strony - Ceneo.pl – Ups! Nie znaleźliśmy takiej strony"
    assert error_page_summary(b"") == "(empty body)"
    assert error_page_summary(b"upstream timed out") == "upstream timed out"


def test_the_spider_is_polite_to_the_website() -> None:
    custom = CeneoOpinionsSpider.custom_settings
    assert custom["ROBOTSTXT_OBEY"] is True and custom["AUTOTHROTTLE_ENABLED"] is True
    assert custom["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1 and custom["DOWNLOAD_DELAY"] >= 1
