"""Replies agents sent, and the most similar past ones for a new item.

Every reply an agent sends (or records, where the source has no reply API) is kept with the embedding of the
*item* it answered. For a new item, the items that read most alike (cosine similarity of E5 vectors) point to
replies that worked before: "we answered a late-delivery complaint like this last week". Failed replies are
never suggested. Only the newest 2,000 replies are compared, which keeps the library relevant to today's
wording and policies and a lookup fast: parsing 2,000 JSON vectors costs ~0.3 s, so parsed vectors are kept in
a small in-process cache keyed by database, reply id and time (stored replies never change), and only replies
new since the last lookup are read. Items are embedded from their first 600 characters: E5's cost grows
quickly with length (~30 ms for a short review, ~1 s for 2,000 characters) and a complaint's head says what
it is about.
"""

from __future__ import annotations

import json
import math
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
from sqlalchemy import Text, cast
from sqlmodel import Session, col, select

from monitor.core.models import ReplyRecord
from sentiment.embeddings import Embedder

__all__ = ["ITEM_CHARS", "MAX_COMPARED", "MAX_REPLY_CHARS", "PastReply", "record_reply", "similar_replies"]

MAX_REPLY_CHARS: Final = 10_000
MAX_COMPARED: Final = 2_000
REPLY_STATUSES: Final = frozenset({"posted", "recorded", "failed"})
_SUGGESTABLE: Final = ("posted", "recorded")
_MAX_ERROR_CHARS: Final = 2_000
ITEM_CHARS: Final = 600
_DIGITS: Final = 6  # float32 carries ~7 significant digits; 6 decimals change a cosine by < 1e-5
_CACHE_SIZE: Final = 4 * MAX_COMPARED
_CHUNK: Final = 500

_CacheKey = tuple[str, int, datetime]
_cache: OrderedDict[_CacheKey, np.ndarray | None] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class PastReply:
    text: str
    similarity: float
    mention_id: int


def _clean(text: str, limit: int) -> str:
    """Text without control characters (newlines and tabs kept), capped at ``limit`` characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cs"})
    return kept.strip()[:limit]


def _item_vector(embedder: Embedder, item_text: str) -> np.ndarray | None:
    """The item's L2-normalised embedding, or None for a blank text (the embedder gives a zero row)."""
    item_text = item_text.strip()[:ITEM_CHARS]
    if not item_text:
        return None
    vector = np.asarray(embedder.embed([item_text]), dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return vector / norm


def record_reply(
    session: Session,
    *,
    mention_id: int,
    alert_id: int | None,
    text: str,
    author: str,
    via: str,
    status: str,
    error: str | None = None,
    lang: str | None = None,
    item_text: str | None = None,
    embedder: Embedder | None = None,
) -> ReplyRecord:
    """Store a reply an agent sent (and the item's embedding, when an embedder is given).

    The row is added and flushed (it has its id); committing is the caller's, so the reply and whatever
    else the caller changes (the alert's state) land together.
    """
    if status not in REPLY_STATUSES:
        raise ValueError(f"reply status {status!r} is not one of {sorted(REPLY_STATUSES)}")
    embedding: list[float] | None = None
    if embedder is not None and item_text:
        vector = _item_vector(embedder, item_text)
        embedding = [round(float(x), _DIGITS) for x in vector] if vector is not None else None
    record = ReplyRecord(
        mention_id=mention_id,
        alert_id=alert_id,
        text=_clean(text, MAX_REPLY_CHARS),
        lang=(_clean(lang, 16) or None) if lang else None,
        author=_clean(author, 200) or "unknown",
        via=_clean(via, 32) or "slack",
        status=status,
        error=(_clean(error, _MAX_ERROR_CHARS) or None) if error else None,
        embedding=embedding,
    )
    session.add(record)
    session.flush()
    return record


def _parse_vector(raw: str | None) -> np.ndarray | None:
    """A stored embedding (JSON text) as a unit float32 vector; None when absent or unusable."""
    if raw is None:
        return None
    try:
        values = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(values, list) or not values:
        return None
    try:
        vector = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    norm = float(np.linalg.norm(vector)) if vector.ndim == 1 else 0.0
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return vector / norm


def _vectors(session: Session, keys: Sequence[_CacheKey]) -> list[np.ndarray | None]:
    """The stored vectors of these replies, parsing only those not cached yet (stored replies never change).

    One lookup at a time holds the cache: lookups follow a person's click, so they are rare, and this keeps
    a concurrent lookup from evicting what another is reading.
    """
    with _cache_lock:
        missing = [key for key in keys if key not in _cache]
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            ids = [key[1] for key in chunk]
            statement = select(ReplyRecord.id, cast(ReplyRecord.embedding, Text)).where(
                col(ReplyRecord.id).in_(ids)
            )
            raw = dict(session.exec(statement).all())
            for key in chunk:
                _cache[key] = _parse_vector(raw.get(key[1]))
        out = []
        for key in keys:
            _cache.move_to_end(key)
            out.append(_cache[key])
        while len(_cache) > max(_CACHE_SIZE, len(keys)):
            _cache.popitem(last=False)
        return out


def similar_replies(
    session: Session, item_text: str, embedder: Embedder, *, k: int = 3, min_similarity: float = 0.8
) -> list[PastReply]:
    """Up to ``k`` past replies whose items read most like ``item_text``, most similar first.

    Compares with the newest :data:`MAX_COMPARED` posted or recorded replies (never failed ones); one
    suggestion per distinct reply text; equally similar replies come newest first.
    """
    if k <= 0:
        return []
    query = _item_vector(embedder, item_text)
    if query is None:
        return []
    statement = (
        select(ReplyRecord.id, ReplyRecord.created_at, ReplyRecord.text, ReplyRecord.mention_id)
        .where(col(ReplyRecord.status).in_(_SUGGESTABLE))
        .order_by(col(ReplyRecord.created_at).desc(), col(ReplyRecord.id).desc())
        .limit(MAX_COMPARED)
    )
    rows = [
        (rid, created, text, mention_id) for rid, created, text, mention_id in session.exec(statement).all()
    ]
    if not rows:
        return []
    bind = session.get_bind()
    database = str(bind.engine.url)
    vectors = _vectors(session, [(database, int(rid or 0), created) for rid, created, _, _ in rows])
    usable = [
        (row, v) for row, v in zip(rows, vectors, strict=True) if v is not None and v.shape == query.shape
    ]
    if not usable:
        return []
    matrix = np.stack([v for _, v in usable])
    similarities = matrix @ query
    order = np.argsort(-similarities, kind="stable")  # stable: ties keep newest-first
    found: list[PastReply] = []
    seen: set[str] = set()
    for position in order:
        similarity = float(similarities[position])
        if similarity < min_similarity:
            break
        _, _, text, mention_id = usable[position][0]
        key = " ".join(text.split()).casefold()
        if not key or key in seen:
            continue
        seen.add(key)
        found.append(PastReply(text=text, similarity=min(similarity, 1.0), mention_id=mention_id))
        if len(found) >= k:
            break
    return found
