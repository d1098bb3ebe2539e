"""The urgency evaluation: exact counting on a tiny set, and a floor on the held-out sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentiment.urgency_eval import PRF, LabelledUrgency, evaluate_urgency, load_urgency_labelled


def _item(text: str, level: str, *reasons: str, reach: int | None = None) -> LabelledUrgency:
    return LabelledUrgency("x", "pl", text, reach, 0, level, reasons)


def test_counts_on_a_hand_checked_set() -> None:
    items = [
        _item("Złożę pozew do sądu, mój prawnik już pisze pismo.", "critical", "legal_threat"),
        _item("Paczka się spóźniła dwa dni.", "none"),
        _item("Great shop!", "elevated", "high_reach", reach=50_000),
        _item("Zgłaszam to do UOKiK.", "none"),  # deliberately mislabelled: one false positive
    ]
    report = evaluate_urgency(items)
    assert report.n == 4
    assert report.confusion["critical"]["critical"] == 1
    assert report.confusion["none"]["none"] == 1
    assert report.confusion["elevated"]["elevated"] == 1
    assert report.confusion["none"]["elevated"] == 1
    assert report.level_accuracy == pytest.approx(0.75)
    assert report.flagged == PRF.of(2, 1, 0)
    assert (report.flagged.precision, report.flagged.recall) == (pytest.approx(2 / 3), 1.0)
    assert report.reasons["legal_threat"] == PRF(1.0, 1.0, 1.0, 1)
    assert "level accuracy 75.0%" in report.format_table()


def test_held_out_sample_floor() -> None:
    """Regression guard on the independent sample: these were 86.5 / 81.9 when first measured."""
    items = load_urgency_labelled()
    assert len(items) >= 150 and {i.lang for i in items} == {"pl", "en"}
    report = evaluate_urgency(items)
    assert report.flagged.precision >= 0.8
    assert report.flagged.recall >= 0.75


def test_bad_sample_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_text(
        '{"id": "a", "lang": "pl", "text": "x", "level": "none"}\n{"id": "b"}\n', encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"u.jsonl:2"):
        load_urgency_labelled(path)
