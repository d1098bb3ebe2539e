"""A search page walks the newest mentions in keyset batches, and hands over to the index for rare words.

The batch and the hand-over point are shrunk so a few mentions cross every boundary: ties on the sort
key (several mentions in the same second), a page ending inside a batch, and a word that turns "rare"
midway, with mentions both indexed and still queued. Whatever path a page takes, it must hold exactly the
rows the alert keyword matcher finds, newest first, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from monitor.core.db import write_session
from monitor.core.store import MentionIn, upsert_mentions
from monitor.web import queries
from monitor.web.queries import inbox_page, parse_filters
from sentiment.keywords import compile_keywords
from tests.web.test_inbox_search import QUERIES, START, TEXTS


def _store_with_ties(engine: Engine) -> list[int]:
    """TEXTS twice, three mentions per second: the keyset must split ties by id."""
    texts = list(TEXTS) * 2
    items = [
        MentionIn(
            source="google_business",
            external_id=f"t{i}",
            text=body,
            author=author,
            created_at=START + timedelta(seconds=i // 3),
        )
        for i, (body, author) in enumerate(texts)
    ]
    with write_session(engine) as session:
        ids = [u.mention_id for u in upsert_mentions(session, items)]
    return ids


def _all_pages(engine: Engine, query: str, page_size: int) -> list[int]:
    found: list[int] = []
    page = 1
    while True:
        result = inbox_page(engine, parse_filters({"q": query, "page": str(page)}), page_size, "UTC")
        found.extend(row.id for row in result.rows)
        if not result.has_next:
            return found
        page += 1


@pytest.mark.parametrize(("batch", "rare_share"), [(2, 1_000_000), (2, 0), (3, 3)])
@pytest.mark.parametrize("indexed", [True, False])
def test_every_walk_finds_exactly_what_the_matcher_finds(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, batch: int, rare_share: int, indexed: bool
) -> None:
    monkeypatch.setattr(queries, "_WALK_BATCH", batch)
    monkeypatch.setattr(queries, "_MAX_BATCH", batch * 2)
    monkeypatch.setattr(queries, "_RARE_SHARE", rare_share)
    if not indexed:
        monkeypatch.setattr(queries, "index_pending", lambda *_args, **_kwargs: 0)  # all still queued
    ids = _store_with_ties(engine)
    texts = list(TEXTS) * 2
    for query in QUERIES:
        matcher = compile_keywords([query])
        wanted = sorted(
            (
                i
                for i, (body, author) in zip(ids, texts, strict=True)
                if matcher.find(body) or matcher.find(author or "")
            ),
            reverse=True,
        )
        assert _all_pages(engine, query, 2) == wanted, query
