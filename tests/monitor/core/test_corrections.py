"""Agents' sentiment corrections: stored per mention version, exported as CSV that training reads back."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.cli import main
from monitor.core.corrections import CorrectionError, export_corrections, record_correction
from monitor.core.db import session_scope
from monitor.core.models import SentimentCorrection, SentimentScore
from monitor.core.store import MentionIn, upsert_mention
from sentiment.datasets import load_labelled_csv
from sentiment.labels import NEGATIVE, NEUTRAL


def _mention(engine: Engine, text: str, updated: datetime, external_id: str = "r1") -> int:
    with session_scope(engine) as s:
        row, _ = upsert_mention(
            s,
            MentionIn(
                source="google_business",
                external_id=external_id,
                text=text,
                rating=3.0,
                target="Sklep",
                updated_at=updated,
                raw={},
            ),
        )
        assert row.id is not None
        return row.id


def _score(engine: Engine, mention_id: int, version: int, label: str) -> None:
    with session_scope(engine) as s:
        s.add(
            SentimentScore(
                mention_id=mention_id,
                mention_version=version,
                label=label,
                score=0.9,
                confidence=0.9,
                model_name="earshot-sentiment-v1",
                model_version="1.0.0+abc",
            )
        )


def test_correction_records_previous_label_and_exports_the_corrected_version(
    engine: Engine, tmp_path: Path
) -> None:
    first = "Dostawa szybka, ale produkt nie działa. Świetnie, po prostu świetnie."
    mention_id = _mention(engine, first, datetime(2026, 11, 20, tzinfo=UTC))
    _score(engine, mention_id, 1, "positive")
    with session_scope(engine) as s:
        row = record_correction(s, mention_id, "Negative", corrected_by="U123AGENT", via="slack")
        assert (row.previous_label, row.label, row.model_version) == ("positive", "negative", "1.0.0+abc")
    # The review is edited afterwards: the export must keep the text the agent actually judged.
    _mention(engine, "Wymienili na nowy, teraz OK.", datetime(2026, 11, 22, tzinfo=UTC))
    other = _mention(engine, "Paczka dotarła.", datetime(2026, 11, 21, tzinfo=UTC), external_id="r2")
    with session_scope(engine) as s:
        record_correction(s, other, "positive", corrected_by="U1")
        record_correction(s, other, "neutral", corrected_by="U2")  # a second opinion replaces the first
    out = io.StringIO()
    with Session(engine) as s:
        assert export_corrections(s, out) == 2
    path = tmp_path / "corrections.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    examples = load_labelled_csv(path)
    assert [(x.text, x.label) for x in examples] == [(first, NEGATIVE), ("Paczka dotarła.", NEUTRAL)]


def test_bad_corrections_are_refused_with_the_reason(engine: Engine) -> None:
    mention_id = _mention(engine, "ok", datetime(2026, 11, 20, tzinfo=UTC))
    with session_scope(engine) as s, pytest.raises(CorrectionError, match="label must be one of"):
        record_correction(s, mention_id, "meh", corrected_by="U1")
    with session_scope(engine) as s, pytest.raises(CorrectionError, match="no mention with id 999"):
        record_correction(s, 999, "negative", corrected_by="U1")
    with Session(engine) as s:
        assert s.exec(select(SentimentCorrection)).all() == []


def test_cli_add_and_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    monkeypatch.setenv("EARSHOT_DATABASE_URL", url)
    from monitor.core.db import make_engine

    engine = make_engine(url)
    mention_id = _mention(
        engine, "The courier threw the parcel over the fence.", datetime(2026, 11, 20, tzinfo=UTC)
    )
    engine.dispose()
    assert main(["corrections", "add", str(mention_id), "negative", "--by", "anna"]) == 0
    assert main(["corrections", "add", "12345", "negative"]) == 2
    assert "no mention with id 12345" in capsys.readouterr().err
    out = tmp_path / "c.csv"
    assert main(["corrections", "export", str(out)]) == 0
    assert "1 correction(s) exported" in capsys.readouterr().err
    assert [(x.text, x.label) for x in load_labelled_csv(out)] == [
        ("The courier threw the parcel over the fence.", NEGATIVE)
    ]
