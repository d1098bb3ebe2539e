"""The inbox search: the alert keyword matcher's semantics, narrowed by an index over folded words.

What a search finds is exactly what an alert rule with ``keywords = [q]`` would fire on
(:mod:`sentiment.keywords`): Polish and English inflected forms ("kurier" finds "kurierem", "Kurierowi"),
any case, with or without diacritics ("zwrot pieniedzy" finds "Zwrotu pieniędzy"), ``word*`` for any
ending and ``"..."`` for the forms written; a phrase's words stand next to each other. The text and the
author of a mention are searched.

How it stays fast at a million mentions without a second definition of a "match":

1. The database narrows: each word of the query must start a word of the mention's folded text or author
   (:func:`prefixes`: a prefix no longer than the matcher's shortest possible stem, so the index never
   drops a mention the matcher would keep). The index is the one :mod:`monitor.core.inbox_schema`
   creates; this module writes its words (:func:`index_pending`), since folding is the sentiment layer's.
2. Python decides: :meth:`Search.matches` runs the matcher on each candidate, in inbox order, until the
   page is full (:func:`monitor.web.queries._searched_ids` walks in keyset batches, so a page reads about
   a page of rows). Mentions still queued for indexing are candidates too, so a search is right even while
   the index catches up.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, TextClause, bindparam, literal_column, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col

from monitor.core.inbox_schema import QUEUE_TABLE, SEARCH_TABLE
from monitor.core.models import Mention
from sentiment.keywords import ENDINGS, MIN_STEM, KeywordMatcher, compile_keywords
from sentiment.textfold import fold

__all__ = [
    "CATCH_UP_ROWS",
    "Search",
    "SearchError",
    "index_all",
    "index_pending",
    "index_words",
    "parse_search",
    "pending_count",
    "prefixes",
]

CATCH_UP_ROWS: Final = 2_000
"""Queued mentions a search indexes before it runs (about 50 ms); the rest stay candidates meanwhile."""
_WORD: Final = re.compile(r"[^\W_]+")
"""A word of the index: a run of letters and digits (what ``\\w`` is, without the underscore)."""
_LONGEST_ENDING: Final = max(len(ending) for ending in ENDINGS)
_MAX_WORD: Final = 500
"""Longer words are cut: a prefix query is at most a query long (200 characters), and PostgreSQL refuses
a lexeme over 2 KB."""
_LOCK_WAIT_MS: Final = 100
_BATCH: Final = 500


class SearchError(ValueError):
    """A query that cannot be searched for; the message says what to type instead."""


def prefixes(query: str) -> tuple[str, ...]:
    """The folded word starts every mention the matcher finds for ``query`` must contain.

    Per word of the query: its first ``max(MIN_STEM, len - longest ending)`` characters, which the
    matcher's stem always includes (a stem loses at most the longest ending and keeps ``MIN_STEM``); for
    ``word*`` and ``"..."`` that is a prefix of the literal written, so the rule holds for them too. Only
    runs of letters and digits count: they start a word of the text wherever the matcher can match.
    """
    found: list[str] = []
    for word in fold(query).split():
        literal = word[: max(MIN_STEM, len(word) - _LONGEST_ENDING)]
        found.extend(run for run in _WORD.findall(literal) if run not in found)
    return tuple(found)


def index_words(text: str, author: str | None) -> list[str]:
    """The index's words for a mention: every distinct word of its folded text and author."""
    words = dict.fromkeys(w[:_MAX_WORD] for w in _WORD.findall(fold(text or "") + " " + fold(author or "")))
    return list(words)


@dataclass(frozen=True)
class Search:
    """A parsed query: the matcher that decides and the word starts the index narrows by."""

    query: str
    matcher: KeywordMatcher
    starts: tuple[str, ...]

    def matches(self, text: str | None, author: str | None) -> bool:
        """The alert matcher's answer for this mention's text or author."""
        return bool(self.matcher.find(text or "") or self.matcher.find(author or ""))

    def condition(self, dialect: str) -> ColumnElement[bool]:
        """``mentions.id`` among the candidates: index matches plus every mention queued for indexing."""
        if dialect == "sqlite":
            expression = " AND ".join(f'"{start}"*' for start in self.starts)
            found = f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :search_terms"
        else:
            expression = " & ".join(f"'{start}':*" for start in self.starts)
            found = f"SELECT mention_id FROM {SEARCH_TABLE} WHERE words @@ CAST(:search_terms AS tsquery)"
        candidates = text(f"{found} UNION ALL SELECT mention_id FROM {QUEUE_TABLE}").bindparams(
            bindparam("search_terms", expression)
        )
        return col(Mention.id).in_(candidates.columns(literal_column("id")))

    def row_condition(self) -> TextClause:
        """PostgreSQL: this mention is a candidate, asked per row (``EXISTS`` on the index's key).

        Unlike :meth:`condition` it does not make the planner gather every hit first: under
        ``ORDER BY ... LIMIT`` it walks the sort index and probes ``mention_search``'s primary key for a
        common word, and starts from the GIN index for a rare one, as its statistics say.
        """
        expression = " & ".join(f"'{start}':*" for start in self.starts)
        return text(
            f"(EXISTS (SELECT 1 FROM {SEARCH_TABLE} s WHERE s.mention_id = mentions.id "
            "AND s.words @@ CAST(:search_terms AS tsquery)) "
            f"OR mentions.id IN (SELECT mention_id FROM {QUEUE_TABLE}))"
        ).bindparams(bindparam("search_terms", expression))


@functools.lru_cache(maxsize=256)
def parse_search(query: str) -> Search:
    """The search for ``query``; :class:`SearchError` when it has no letter or digit to look for."""
    starts = prefixes(query)
    matcher = compile_keywords([query])
    if not starts or not matcher:
        raise SearchError(
            "q must contain a letter or a digit (a word to find; punctuation alone is not searched)"
        )
    return Search(query, matcher, starts)


def pending_count(engine: Engine) -> int:
    """Mentions waiting to be indexed (each is a candidate of every search until then)."""
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {QUEUE_TABLE}")).scalar() or 0)


def _chunks(values: list[Any], size: int = _BATCH) -> Iterable[list[Any]]:
    return (values[i : i + size] for i in range(0, len(values), size))


def _write_words(conn: Connection, words: dict[int, list[str]]) -> None:
    if conn.dialect.name == "sqlite":
        for chunk in _chunks(list(words)):
            conn.execute(text(f"DELETE FROM {SEARCH_TABLE} WHERE rowid IN ({', '.join(map(str, chunk))})"))
        conn.execute(
            text(f"INSERT INTO {SEARCH_TABLE} (rowid, words) VALUES (:id, :words)"),
            [{"id": mention_id, "words": " ".join(w)} for mention_id, w in words.items()],
        )
        return
    for chunk in _chunks(list(words)):
        conn.execute(
            text(
                f"INSERT INTO {SEARCH_TABLE} (mention_id, words) "
                "SELECT id, array_to_tsvector(string_to_array(w, ' ')) "
                "FROM unnest(CAST(:ids AS int[]), CAST(:words AS text[])) AS n(id, w) "
                "ON CONFLICT (mention_id) DO UPDATE SET words = EXCLUDED.words"
            ),
            {"ids": chunk, "words": [" ".join(words[i]) for i in chunk]},
        )


def _begin(conn: Connection, wait: bool) -> bool:
    """Open the indexing transaction; False when SQLite's write lock is busy and ``wait`` is off."""
    if conn.dialect.name != "sqlite":
        return True
    raw = conn.connection.driver_connection
    if not wait and isinstance(raw, sqlite3.Connection):
        raw.execute(f"PRAGMA busy_timeout={_LOCK_WAIT_MS}")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as exc:  # "database is locked": a crawl is writing; the queue waits
        if "locked" not in str(exc.orig):
            raise
        conn.rollback()
        return False
    finally:
        if not wait and isinstance(raw, sqlite3.Connection):
            raw.execute("PRAGMA busy_timeout=30000")
    return True


def index_pending(engine: Engine, limit: int = CATCH_UP_ROWS, *, wait: bool = False) -> int:
    """Index up to ``limit`` queued mentions in one transaction; returns how many queue entries it took.

    Each queued mention's current text and author are folded into words and replace its index entry; a
    mention deleted meanwhile just leaves the queue (its entry went with it). ``wait=False`` (a web
    request) gives up at once when SQLite's write lock is taken, and PostgreSQL skips entries another
    indexer holds; both leave them queued, which a search still counts as candidates.
    """
    dialect = engine.dialect.name
    with engine.connect() as conn:
        if not _begin(conn, wait):
            return 0
        lock = " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
        queued = conn.execute(
            text(f"SELECT seq, mention_id FROM {QUEUE_TABLE} ORDER BY seq LIMIT :n{lock}"), {"n": limit}
        ).all()
        if not queued:
            conn.rollback()
            return 0
        ids = list(dict.fromkeys(mention_id for _seq, mention_id in queued))
        words: dict[int, list[str]] = {}
        for chunk in _chunks(ids):
            found = conn.execute(
                text(f"SELECT id, text, author FROM mentions WHERE id IN ({', '.join(map(str, chunk))})")
            )
            for mention_id, body, author in found:
                words[mention_id] = index_words(body, author)
        if words:
            _write_words(conn, words)
        for chunk in _chunks([seq for seq, _mention_id in queued]):
            conn.execute(text(f"DELETE FROM {QUEUE_TABLE} WHERE seq IN ({', '.join(map(str, chunk))})"))
        conn.commit()
        return len(queued)


def index_all(engine: Engine, batch: int = 5_000) -> int:
    """Index every queued mention (``earshot db upgrade`` after revision 0008); returns how many."""
    total = 0
    while done := index_pending(engine, batch, wait=True):
        total += done
    return total
