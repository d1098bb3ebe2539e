"""Storage behaviour on SQLite and PostgreSQL: uniqueness, edit history, watermarks."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.core.db import session_scope
from monitor.core.models import Mention, MentionRevision, TargetRow
from monitor.core.store import MentionIn, UpsertOutcome, get_watermark, set_watermark, upsert_mention


def _review(text: str = "Paczka przyszła uszkodzona.", rating: float = 1.0, **kw: object) -> MentionIn:
    base: dict[str, object] = {
        "source": "google_business",
        "external_id": "AIe9_rev1",
        "text": text,
        "rating": rating,
        "target": "Sklep Kowalski",
        "author": "Anna",
        "updated_at": datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        "raw": {"reviewId": "AIe9_rev1"},
    }
    base.update(kw)
    return MentionIn(**base)  # type: ignore[arg-type]


def test_same_review_twice_is_stored_once(engine: Engine) -> None:
    with session_scope(engine) as s:
        _, first = upsert_mention(s, _review())
    with session_scope(engine) as s:
        _, second = upsert_mention(s, _review())
    assert (first, second) == (UpsertOutcome.NEW, UpsertOutcome.UNCHANGED)
    with Session(engine) as s:
        rows = s.exec(select(Mention)).all()
        assert len(rows) == 1
        assert rows[0].version == 1
        assert s.exec(select(TargetRow)).one().name == "Sklep Kowalski"


def test_edited_review_updates_row_and_keeps_history(engine: Engine) -> None:
    with session_scope(engine) as s:
        upsert_mention(s, _review())
    edited = _review(
        "Zwrot w końcu przyszedł, zmieniam ocenę.", 4.0, updated_at=datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    )
    with session_scope(engine) as s:
        _, outcome = upsert_mention(s, edited)
    assert outcome is UpsertOutcome.UPDATED
    with Session(engine) as s:
        mention = s.exec(select(Mention)).one()
        assert (mention.text, mention.rating, mention.version) == (edited.text, 4.0, 2)
        history = s.exec(select(MentionRevision).where(MentionRevision.mention_id == mention.id)).all()
        assert [(h.version, h.text, h.rating) for h in history] == [(1, "Paczka przyszła uszkodzona.", 1.0)]


def test_same_external_id_on_another_source_is_a_different_mention(engine: Engine) -> None:
    with session_scope(engine) as s:
        upsert_mention(s, _review())
        upsert_mention(s, _review(source="trustpilot"))
    with Session(engine) as s:
        assert len(s.exec(select(Mention)).all()) == 2


def test_watermark_only_moves_forward(engine: Engine) -> None:
    scope = "accounts/1/locations/2"
    with session_scope(engine) as s:
        assert get_watermark(s, "google_business", scope) is None
        set_watermark(s, "google_business", scope, datetime(2026, 11, 20, tzinfo=UTC))
        set_watermark(s, "google_business", scope, datetime(2026, 11, 1, tzinfo=UTC))
    with session_scope(engine) as s:
        assert get_watermark(s, "google_business", scope) == datetime(2026, 11, 20, tzinfo=UTC)


def test_unicode_and_large_text_round_trip(engine: Engine) -> None:
    text = "Zażółć gęślą jaźń 😡 " * 5000
    with session_scope(engine) as s:
        upsert_mention(s, _review(text))
    with Session(engine) as s:
        assert s.exec(select(Mention)).one().text == text
