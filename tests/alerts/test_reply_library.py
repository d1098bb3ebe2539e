"""The reply library: stored replies and the most similar past ones (E5 for real, a tiny embedder for edges)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts.reply_library import (
    ITEM_CHARS,
    MAX_COMPARED,
    MAX_REPLY_CHARS,
    record_reply,
    similar_replies,
)
from monitor.core.models import Mention, ReplyRecord
from sentiment.embeddings import E5Embedder, FloatMatrix

_IDS = itertools.count(1)
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "replies" / "library_examples.json"


class TinyEmbedder:
    """Known texts map to fixed unit vectors; anything else embeds to a zero row (like a blank text)."""

    def __init__(self, vectors: dict[str, Sequence[float]]) -> None:
        self.vectors = {
            text: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for text, v in vectors.items()
        }
        self.received: list[str] = []

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        self.received.extend(texts)
        out = np.zeros((len(texts), 3), dtype=np.float32)
        for i, text in enumerate(texts):
            if text in self.vectors:
                out[i] = self.vectors[text]
        return out


TINY = TinyEmbedder(
    {
        "late parcel": [1.0, 0.0, 0.0],
        "parcel still missing": [0.95, 0.3122, 0.0],  # cosine 0.95 with "late parcel"
        "parcel lost?": [0.85, 0.5268, 0.0],  # cosine 0.85
        "too expensive": [0.0, 0.0, 1.0],
        "meh": [0.7, 0.0, 0.7141],  # cosine 0.70
    }
)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


def _mention(session: Session, key: str = "m") -> int:
    mention = Mention(source="google_business", external_id=f"{key}-{next(_IDS)}", text="x")
    session.add(mention)
    session.flush()
    assert mention.id is not None
    return mention.id


def _record(session: Session, item: str, text: str, status: str = "posted", **kw: Any) -> ReplyRecord:
    return record_reply(
        session,
        mention_id=kw.pop("mention_id", None) or _mention(session),
        alert_id=None,
        text=text,
        author="U0AGENT",
        via="slack",
        status=status,
        item_text=item,
        embedder=kw.pop("embedder", TINY),
        **kw,
    )


# --- record_reply ---------------------------------------------------------------------------------------


def test_record_reply_stores_clean_text_and_the_item_embedding(session: Session) -> None:
    mention_id = _mention(session)
    record = record_reply(
        session,
        mention_id=mention_id,
        alert_id=None,
        text="  Dziękujemy\x00 za\x1b[31m opinię!\r\nZespół\u0007 Sklepu  ",
        author="U0AGENT",
        via="slack",
        status="posted",
        lang="pl",
        item_text="late parcel",
        embedder=TINY,
    )
    session.commit()

    stored = session.exec(select(ReplyRecord)).one()
    assert stored.id == record.id
    assert stored.text == "Dziękujemy za[31m opinię!\nZespół Sklepu"
    assert stored.mention_id == mention_id and stored.lang == "pl" and stored.status == "posted"
    assert stored.embedding == pytest.approx([1.0, 0.0, 0.0])


def test_record_reply_caps_text_and_keeps_failures_with_their_error(session: Session) -> None:
    record = _record(
        session, "late parcel", "ż" * (MAX_REPLY_CHARS + 500), status="failed", error="HTTP 401\x00"
    )
    session.commit()
    assert len(record.text) == MAX_REPLY_CHARS
    assert record.error == "HTTP 401"


def test_no_embedder_or_blank_item_stores_no_embedding(session: Session) -> None:
    without = record_reply(
        session,
        mention_id=_mention(session),
        alert_id=None,
        text="Dzięki!",
        author="a",
        via="slack",
        status="recorded",
    )
    blank = _record(session, "   ", "Dzięki!")
    unknown = _record(session, "a text the tiny embedder has no vector for", "Dzięki!")
    assert without.embedding is None and blank.embedding is None and unknown.embedding is None


def test_unknown_status_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="'sent' is not one of"):
        _record(session, "late parcel", "Dzięki!", status="sent")


# --- similar_replies, edge cases ------------------------------------------------------------------------


def test_no_replies_means_no_suggestions(session: Session) -> None:
    assert similar_replies(session, "late parcel", TINY) == []


def test_failed_replies_are_never_suggested(session: Session) -> None:
    _record(session, "late parcel", "We're sorry about the delay.", status="failed", error="HTTP 500")
    session.commit()
    assert similar_replies(session, "late parcel", TINY) == []


def test_threshold_top_k_and_order(session: Session) -> None:
    exact = _record(session, "late parcel", "Reply A")
    _record(session, "parcel still missing", "Reply B", status="recorded")
    _record(session, "parcel lost?", "Reply C")
    _record(session, "meh", "Reply D")
    _record(session, "too expensive", "Reply E")
    session.commit()

    found = similar_replies(session, "late parcel", TINY)
    assert [p.text for p in found] == ["Reply A", "Reply B", "Reply C"]
    assert (found[0].text, found[0].mention_id) == ("Reply A", exact.mention_id)
    assert found[0].similarity == pytest.approx(1.0)
    assert found[1].similarity == pytest.approx(0.95, abs=1e-3)

    assert [p.text for p in similar_replies(session, "late parcel", TINY, min_similarity=0.9)] == [
        "Reply A",
        "Reply B",
    ]
    assert [p.text for p in similar_replies(session, "late parcel", TINY, k=1)] == ["Reply A"]
    assert similar_replies(session, "late parcel", TINY, k=0) == []
    assert [p.text for p in similar_replies(session, "late parcel", TINY, k=10, min_similarity=0.0)] == [
        "Reply A",
        "Reply B",
        "Reply C",
        "Reply D",
        "Reply E",
    ]


def test_one_suggestion_per_distinct_reply_text_newest_first_on_ties(session: Session) -> None:
    _record(session, "late parcel", "Sorry about the delay.")
    _record(session, "late parcel", "  sorry about   the delay. ")  # the same reply, typed again
    newer = _record(session, "late parcel", "We will check with the courier.")
    session.commit()
    found = similar_replies(session, "late parcel", TINY)
    assert [p.text for p in found] == ["We will check with the courier.", "sorry about   the delay."]
    assert found[0].mention_id == newer.mention_id


def test_blank_or_unknown_new_item_finds_nothing(session: Session) -> None:
    _record(session, "late parcel", "Reply A")
    session.commit()
    assert similar_replies(session, "", TINY) == []
    assert similar_replies(session, "something else entirely", TINY) == []


def test_replies_without_a_usable_embedding_are_skipped(session: Session) -> None:
    _record(session, "late parcel", "Reply A")
    broken = _record(session, "late parcel", "Reply B")
    broken.embedding = [1.0, 0.0]  # from another encoder: another dimension
    session.add(broken)
    _record(session, "", "Reply C")
    session.commit()
    assert [p.text for p in similar_replies(session, "late parcel", TINY)] == ["Reply A"]


def test_a_reply_recorded_after_a_lookup_is_found_by_the_next(session: Session) -> None:
    _record(session, "parcel lost?", "Reply C")
    session.commit()
    assert [p.text for p in similar_replies(session, "late parcel", TINY)] == ["Reply C"]
    _record(session, "parcel still missing", "Reply B")
    session.commit()
    assert [p.text for p in similar_replies(session, "late parcel", TINY)] == ["Reply B", "Reply C"]


def test_items_are_embedded_from_their_head() -> None:
    embedder = TinyEmbedder({"late parcel": [1.0, 0.0, 0.0]})
    assert similar_replies_query_text(embedder, "  " + "x" * 5000) == "x" * ITEM_CHARS


def similar_replies_query_text(embedder: TinyEmbedder, item: str) -> str:
    """What the embedder was asked to embed for ``item`` (no database needed: nothing is stored)."""

    class _Empty:
        def exec(self, *_: Any) -> Any:
            raise AssertionError("not reached")

    similar_replies(_Empty(), item, embedder)  # type: ignore[arg-type]
    return embedder.received[-1]


def test_only_the_newest_replies_are_compared(session: Session) -> None:
    mention_id = _mention(session)
    _record(session, "late parcel", "The oldest, best match", mention_id=mention_id)
    for i in range(MAX_COMPARED):
        _record(session, "parcel lost?", f"Newer reply {i}", mention_id=mention_id)
    session.commit()
    found = similar_replies(session, "late parcel", TINY, k=1)
    assert found[0].text == f"Newer reply {MAX_COMPARED - 1}"


# --- the real encoder -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder(threads=1)


def _examples() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLES.read_text(encoding="utf-8"))
    return data


def _library(session: Session, e5: E5Embedder, keys: set[str] | None = None) -> dict[str, str]:
    """Store the fixture's past replies; ``reply text -> key``."""
    by_text: dict[str, str] = {}
    for past in _examples()["past"]:
        if keys is None or past["key"] in keys:
            _record(session, past["item"], past["reply"], lang=past["lang"], embedder=e5)
            by_text[past["reply"]] = past["key"]
    session.commit()
    return by_text


def test_e5_finds_the_reply_to_the_same_topic_first(session: Session, e5: E5Embedder) -> None:
    by_text = _library(session, e5)
    stored = session.exec(select(ReplyRecord)).all()
    assert all(r.embedding is not None and len(r.embedding) == 384 for r in stored)
    for query in _examples()["queries"]:
        found = similar_replies(session, query["item"], e5, k=3)
        assert found, query["item"]
        assert by_text[found[0].text] == query["expect"], (
            query["item"],
            [(p.text, p.similarity) for p in found],
        )


def test_e5_crosses_languages(session: Session, e5: E5Embedder) -> None:
    """An English complaint finds the Polish delivery reply when the library holds only Polish replies."""
    by_text = _library(session, e5, keys={"delivery_pl", "price_pl", "quality_pl"})
    found = similar_replies(session, "Still waiting for my package, the delivery is a week late.", e5)
    assert by_text[found[0].text] == "delivery_pl"
