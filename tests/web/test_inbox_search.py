"""The inbox search has the alert keyword matcher's semantics, and its index keeps up with every write.

Run on SQLite (FTS5) and PostgreSQL (tsvector + GIN) through the ``engine`` fixture; mentions are written
the way crawls write them (:func:`monitor.core.store.upsert_mentions`), so the triggers see real writes.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.core.db import make_engine, open_engine, write_session
from monitor.core.inbox_schema import SEARCH_TABLE, SearchIndexUnavailable, install
from monitor.core.migrations import ensure_schema
from monitor.core.models import Mention
from monitor.core.store import MentionIn, upsert_mentions
from monitor.web import queries
from monitor.web.queries import FilterError, Filters, filtered_rows, inbox_page, parse_filters
from monitor.web.search import index_all, pending_count, prefixes
from sentiment.keywords import compile_keywords
from tests.monitor.core.schema_helpers import build_at
from tests.web.conftest import Site
from tests.web.test_inbox import inbox_ids

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# (text, author): Polish and English, with and without diacritics, inflected, and near misses.
TEXTS: tuple[tuple[str, str | None], ...] = (
    ("Kurier zostawił paczkę pod drzwiami.", "Anna Nowak"),
    ("Rozmawiałam z kurierem dwa razy, bez skutku.", None),
    ("Nie było KURIERA, a status mówi doręczono", "Jan"),
    ("Kurierowi należy się premia!", "Zofia Wójcik"),
    ("Kurierskiego serwisu nie polecam", None),  # kurier + 6 letters: another word for the matcher
    ("Kuriozalna obsługa", None),  # shares the index prefix "kuri", not the word
    ("Czekam na zwrot pieniędzy od tygodnia", None),
    ("Zwrotu pieniedzy nadal brak.", "Piotr Łęcki"),
    ("pieniędzy zwrot? nie", None),  # the words, but not the phrase
    ("Reklamację odrzucono bez powodu", None),
    ("Sklep w Łodzi, przesyłka z Łódź Kaliska", None),
    ("Lodz store was closed", "John Smith"),
    ("Still waiting for my refund.", None),
    ("They refunded me within a day, great deliveries", None),
    ("Refunds take ages", "Kasia"),
    ("odwrotnie niż obiecali", None),  # "zwrot" inside a word: never a match
)
QUERIES = (
    "kurier",
    "kurierem",
    "KURIEROWI",
    "zwrot pieniedzy",
    "zwrot pieniędzy",
    '"zwrotu pieniedzy"',
    "reklamacja",
    "łódź",
    "lodz",
    "refund",
    "delivery",
    "wojcik",
    "łęcki",
    "kuri*",
    "zwrot",
    "sanepid",
)


def _store(engine: Engine, texts: Sequence[tuple[str, str | None]], prefix: str = "m") -> list[int]:
    items = [
        MentionIn(
            source="google_business",
            external_id=f"{prefix}{i}",
            text=body,
            author=author,
            created_at=START + timedelta(hours=i),
        )
        for i, (body, author) in enumerate(texts)
    ]
    with write_session(engine) as session:
        return [u.mention_id for u in upsert_mentions(session, items)]


def _searched(engine: Engine, query: str, page_size: int = 100) -> list[int]:
    """Every id the inbox shows for ``q=query``, page after page."""
    found: list[int] = []
    page = 1
    while True:
        result = inbox_page(engine, parse_filters({"q": query, "page": str(page)}), page_size, "UTC")
        found.extend(row.id for row in result.rows)
        if not result.has_next:
            return found
        page += 1


def _expected(ids: list[int], query: str) -> list[int]:
    """What an alert rule with ``keywords = [query]`` fires on, newest first (the inbox order)."""
    matcher = compile_keywords([query])
    hits = [
        i
        for i, (body, author) in zip(ids, TEXTS, strict=True)
        if matcher.find(body) or matcher.find(author or "")
    ]
    return sorted(hits, reverse=True)  # created an hour apart, in id order


@pytest.mark.parametrize("query", QUERIES)
def test_the_inbox_finds_exactly_what_the_alert_keyword_matcher_finds(engine: Engine, query: str) -> None:
    ids = _store(engine, TEXTS)
    assert _searched(engine, query) == _expected(ids, query)
    assert [row.id for row in filtered_rows(engine, parse_filters({"q": query}), "UTC")] == _expected(
        ids, query
    )


def test_inflected_and_unaccented_polish_and_english_forms_are_found(engine: Engine) -> None:
    ids = _store(engine, TEXTS)

    def texts(query: str) -> set[str]:
        return {TEXTS[ids.index(i)][0] for i in _searched(engine, query)}

    assert texts("kurier") == {
        "Kurier zostawił paczkę pod drzwiami.",
        "Rozmawiałam z kurierem dwa razy, bez skutku.",
        "Nie było KURIERA, a status mówi doręczono",
        "Kurierowi należy się premia!",
    }
    assert texts("zwrot pieniedzy") == {
        "Czekam na zwrot pieniędzy od tygodnia",
        "Zwrotu pieniedzy nadal brak.",
    }
    assert texts("lodz") == {"Sklep w Łodzi, przesyłka z Łódź Kaliska", "Lodz store was closed"}
    assert texts("refund") == {
        "Still waiting for my refund.",
        "They refunded me within a day, great deliveries",
        "Refunds take ages",
    }
    assert texts("wójcika") == {"Kurierowi należy się premia!"}  # the author, in another case


def test_search_pages_hold_confirmed_rows_only_and_follow_on(engine: Engine) -> None:
    """Index candidates the matcher refuses ("Kuriozalna", "Kurierskiego") never fill a page slot."""
    texts = [("Kuriozalna historia", None), ("Kurierskiego nie ma", None), ("Był kurier", None)] * 7
    ids = _store(engine, texts)
    pages = [
        [row.id for row in inbox_page(engine, parse_filters({"q": "kurier", "page": str(n)}), 3, "UTC").rows]
        for n in (1, 2, 3)
    ]
    wanted = sorted(ids[2::3], reverse=True)
    assert pages == [wanted[0:3], wanted[3:6], wanted[6:7]]
    last = inbox_page(engine, parse_filters({"q": "kurier", "page": "3"}), 3, "UTC")
    assert not last.has_next


def test_an_edited_mention_is_found_by_its_new_words_only(engine: Engine) -> None:
    (mention_id,) = _store(engine, [("Kurier się spóźnił", None)])
    assert _searched(engine, "kurier") == [mention_id]
    assert pending_count(engine) == 0  # the search indexed it
    _store(engine, [("Paczkomat był pełny", None)])  # the same review (m0), edited
    assert pending_count(engine) == 1
    assert _searched(engine, "kurier") == []
    assert _searched(engine, "paczkomat") == [mention_id]
    _store(engine, [("Paczkomat był pełny", None)])  # seen again, unchanged: nothing to re-index
    assert pending_count(engine) == 0


def test_a_mention_waiting_for_the_index_is_still_found(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "index_pending", lambda *_args, **_kwargs: 0)  # the indexer never runs
    (mention_id,) = _store(engine, [("Zwrotu pieniędzy brak", None)])
    assert pending_count(engine) == 1
    assert _searched(engine, "zwrot pieniedzy") == [mention_id]
    assert _searched(engine, "kurier") == []


def test_a_deleted_mention_leaves_the_index(engine: Engine) -> None:
    first, second = _store(engine, [("Kurier był miły", None), ("Kurier był niemiły", None)])
    index_all(engine)
    with Session(engine) as session:
        session.delete(session.get(Mention, first))
        session.commit()
    column = "rowid" if engine.dialect.name == "sqlite" else "mention_id"
    with engine.connect() as conn:
        indexed = set(conn.execute(text(f"SELECT {column} FROM {SEARCH_TABLE}")).scalars())
    assert indexed == {second}
    assert _searched(engine, "kurier") == [second]


def test_an_upgraded_database_indexes_the_mentions_it_already_had(db_url: str) -> None:
    build_at(db_url, "0007")
    engine = open_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mentions (id, source, external_id, text, author, first_seen_at, last_seen_at, "
                "version) VALUES (1, 'ceneo', 'c-1', 'Reklamację odrzucono', 'Ewa Żak', "
                "'2026-11-20 10:00:00+00', '2026-11-20 10:00:00+00', 1)"
            )
        )
    assert ensure_schema(engine).applied[0] == "0008"  # then the revisions after it
    assert pending_count(engine) == 1  # queued by the revision: found even before it is indexed
    assert _searched(engine, "reklamacja") == [1]
    assert index_all(engine) == 0  # the search indexed it already
    assert _searched(engine, "zak") == [1]
    engine.dispose()


@pytest.mark.parametrize("query", ["%", "***", " - ", '""'])
def test_a_query_without_a_letter_or_digit_is_a_bad_filter(query: str) -> None:
    with pytest.raises(FilterError, match="letter or a digit"):
        parse_filters({"q": query})


def test_the_index_prefixes_never_exceed_the_matcher_stem() -> None:
    """The index narrows by word starts no longer than the shortest stem the matcher could use."""
    assert prefixes("kurierem") == ("kuri",)  # stem "kuri(er)": at most the longest ending (4) cut
    assert prefixes("Zwrot Pieniędzy") == ("zwro", "pieni")
    assert prefixes("reklamacja") == ("reklam",)
    assert prefixes("a+b kot") == ("a", "b", "kot")
    assert prefixes('"łódź"') == ("lod",)  # the quotes count in the length: a shorter prefix, still safe
    assert Filters(q="").params() == {}


def test_a_sqlite_without_fts5_stops_the_upgrade_with_what_to_do(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.create_function("sqlite_compileoption_used", 1, lambda _name: 0)  # as a build without FTS5 says
        with pytest.raises(SearchIndexUnavailable, match=r"without FTS5.*PostgreSQL"):
            install(conn)
    engine.dispose()


def test_the_exports_use_the_inbox_search(site: Site) -> None:
    client = site.logged_in()
    query = urlencode({"q": "zwrot pieniedzy"})  # "Żądam zwrotu pieniędzy!" of gbp_pl_negative
    wanted = [site.seed.mentions["gbp_pl_negative"]]
    assert inbox_ids(client, q="zwrot pieniedzy") == wanted
    assert [row["id"] for row in json.loads(client.get(f"/export.json?{query}").body)] == wanted
    csv_text = client.get(f"/export.csv?{query}").text.lstrip("\ufeff")
    assert [int(row["id"]) for row in csv.DictReader(io.StringIO(csv_text))] == wanted
    assert client.get("/export.json?q=%25").status == 400  # nothing to search for, as in the inbox
