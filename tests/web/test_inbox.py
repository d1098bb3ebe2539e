"""The inbox through HTTP on SQLite and PostgreSQL: every filter, search with Polish letters, paging."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import pytest

from tests.web.conftest import Client, Site
from tests.web.seed import HOSTILE_TEXT

_ROW = re.compile(r'<tr class="mention-row" data-id="(\d+)">')
_NEXT = re.compile(r'<a id="page-next" href="([^"]+)"')


def _page_ids(client: Client, path: str) -> tuple[list[int], str | None]:
    reply = client.get(path)
    assert reply.status == 200, (path, reply.status, reply.text[:300])
    nxt = _NEXT.search(reply.text)
    return [int(x) for x in _ROW.findall(reply.text)], html.unescape(nxt.group(1)) if nxt else None


def inbox_ids(client: Client, **filters: str) -> list[int]:
    """Every row the inbox shows for ``filters``, following the Older → links through all pages."""
    path: str | None = "/inbox" + (f"?{urlencode(filters)}" if filters else "")
    ids: list[int] = []
    pages = 0
    while path is not None:
        page, path = _page_ids(client, path)
        ids.extend(page)
        pages += 1
        assert pages < 20
    return ids


def _keys(site: Site, ids: list[int]) -> set[str]:
    by_id = {v: k for k, v in site.seed.mentions.items()}
    return {by_id[i] for i in ids}


def test_inbox_lists_everything_newest_first_in_pages(site: Site) -> None:
    client = site.logged_in()
    first, nxt = _page_ids(client, "/inbox")
    assert len(first) == 5 and nxt == "/inbox?page=2"  # web.page_size 5
    every = inbox_ids(client)
    assert len(every) == 12 and len(set(every)) == 12
    times = site.seed.times
    by_id = {v: k for k, v in site.seed.mentions.items()}
    assert [times[by_id[i]] for i in every] == sorted(times.values(), reverse=True)
    assert every[0] == site.seed.mentions["gbp_pl_negative"]  # the newest
    last, nxt = _page_ids(client, "/inbox?page=3")
    assert len(last) == 2 and nxt is None
    assert 'id="page-prev" href="/inbox?page=2"' in client.get("/inbox?page=3").text
    assert _page_ids(client, "/inbox?page=4")[0] == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            {"target": "Księgarnia Żuraw"},
            {
                "mastodon_pl_positive",
                "ceneo_pl_negative",
                "ceneo_pl_positive",
                "gbp_pl_critical",
                "tp_en_neutral",
                "mastodon_pl_neutral",
            },
        ),
        ({"source": "ceneo"}, {"ceneo_pl_negative", "ceneo_pl_positive"}),
        (
            {"sentiment": "negative"},
            {
                "gbp_pl_negative",
                "tp_en_negative",
                "mastodon_hostile",
                "gbp_en_negative",
                "ceneo_pl_negative",
                "gbp_pl_critical",
            },
        ),
        ({"sentiment": "neutral"}, {"tp_pl_neutral", "tp_en_neutral", "mastodon_pl_neutral"}),
        ({"urgency": "critical"}, {"gbp_pl_critical"}),
        ({"urgency": "elevated"}, {"gbp_pl_negative"}),
        ({"status": "handled"}, {"tp_en_negative"}),
        (
            {"status": "unhandled"},
            {
                "gbp_pl_negative",
                "mastodon_hostile",
                "gbp_en_negative",
                "ceneo_pl_negative",
                "gbp_pl_critical",
            },
        ),
        ({"assignee": "U0AGENT02"}, {"mastodon_hostile"}),
        ({"date_from": "2026-11-20", "date_to": "2026-11-20"}, {"ceneo_pl_positive", "mastodon_pl_neutral"}),
        ({"date_from": "2026-11-21"}, {"gbp_pl_critical", "gbp_pl_negative"}),
        ({"date_to": "2026-11-16"}, {"gbp_en_positive", "mastodon_pl_positive"}),
        ({"q": "zażółć"}, {"mastodon_pl_positive"}),
        ({"q": "ZAŻÓŁĆ"}, {"mastodon_pl_positive"}),  # case-insensitive for Polish capitals too
        ({"q": "zazolc gesla"}, {"mastodon_pl_positive"}),  # diacritics left out, as alert keywords allow
        ({"q": "żółć"}, set()),  # words are matched from their start: "Zażółć" is not "żółć"
        ({"q": "KURIER"}, {"gbp_pl_negative"}),
        ({"q": "wójcik"}, {"gbp_pl_negative"}),  # the author is searched too
        ({"q": "wojcika"}, {"gbp_pl_negative"}),  # in another case, without diacritics
        ({"q": "ŁĘCKI"}, {"ceneo_pl_negative"}),
        ({"q": "zwrot pieniedzy"}, {"gbp_pl_negative"}),  # "zwrotu pieniędzy": a phrase, inflected
        ({"q": "reklamacje"}, {"ceneo_pl_negative"}),  # "reklamacja"
        ({"q": "answer"}, {"tp_en_negative"}),  # "answers"
        ({"q": "sta"}, set()),  # a word's start alone is not the word ("staff")
        ({"q": "sta*"}, {"gbp_en_positive", "gbp_en_negative"}),  # unless asked with *
        ({"q": "<script>"}, {"mastodon_hostile"}),
        (
            {
                "sentiment": "negative",
                "target": "Sklep Kowalski",
                "status": "unhandled",
                "source": "google_business",
            },
            {"gbp_pl_negative", "gbp_en_negative"},
        ),
    ],
)
def test_each_filter_shows_exactly_its_rows(site: Site, filters: dict[str, str], expected: set[str]) -> None:
    client = site.logged_in()
    assert _keys(site, inbox_ids(client, **filters)) == expected


def test_filters_are_kept_in_the_form_paging_and_export_links(site: Site) -> None:
    client = site.logged_in()
    query = {"urgency": "none", "q": "w*"}
    text = client.get("/inbox?" + urlencode(query)).text
    assert 'id="export-csv" href="/export.csv?urgency=none&amp;q=w%2A"' in text
    assert 'id="export-json" href="/export.json?urgency=none&amp;q=w%2A"' in text
    assert '<option value="none" selected>' in text
    assert 'name="q" value="w*"' in text
    ids = inbox_ids(client, **query)
    assert len(ids) == 8  # ten mentions have a word starting with w, two are urgent; two pages
    assert 'href="/inbox?urgency=none&amp;q=w%2A&amp;page=2"' in text


def test_a_row_shows_what_an_agent_needs(site: Site) -> None:
    client = site.logged_in()
    text = client.get("/inbox?" + urlencode({"target": "Sklep Kowalski", "sentiment": "negative"})).text
    hostile = site.seed.mentions["mastodon_hostile"]
    row = text[text.index(f'data-id="{hostile}"') :]
    row = row[: row.index("</tr>")]
    assert "mastodon" in row and "Sklep Kowalski" in row
    assert 'sentiment-negative">negative' in row
    assert "assigned: U0AGENT02" in row
    assert "Nov 18, 2026, 13:00 CET" in row  # 12:00 UTC shown in Europe/Warsaw, the zone said
    assert html.escape(HOSTILE_TEXT, quote=False)[:40] in row
    assert "<script>alert(1)" not in text
    handled = site.seed.mentions["tp_en_negative"]
    handled_row = text[text.index(f'data-id="{handled}"') :]
    assert "★★☆☆☆" in handled_row[: handled_row.index("</tr>")]
    assert "status-handled" in handled_row[: handled_row.index("</tr>")]


@pytest.mark.parametrize(
    "query",
    [
        "sentiment=angry",
        "urgency=high",
        "status=done",
        "date_from=2026-13-01",
        "date_to=yesterday",
        "page=0",
        "page=x",
        "date_from=2026-11-20&date_to=2026-11-19",
    ],
)
def test_a_bad_filter_is_a_400_with_a_reason(site: Site, query: str) -> None:
    reply = site.logged_in().get(f"/inbox?{query}")
    assert reply.status == 400
    assert 'id="error-message"' in reply.text
