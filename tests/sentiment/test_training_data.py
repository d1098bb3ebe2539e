"""Extra training data from CSV (agents' corrections, a shop's own labels) and synthetic long documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentiment.datasets import Example, load_labelled_csv, long_documents
from sentiment.labels import NEGATIVE, NEUTRAL, POSITIVE


def test_csv_accepts_several_label_schemes(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    path.write_text(
        "text,label,comment\n"
        '"Zwrot pieniędzy po 2 miesiącach, dramat",negative,x\n'
        "Paczka dotarła,neutral,\n"
        '"Super, polecam!",POS,\n'
        "meh,2 stars,\n"
        "ok,1,\n"
        "great,5 stars,\n",
        encoding="utf-8",
    )
    assert [x.label for x in load_labelled_csv(path)] == [
        NEGATIVE,
        NEUTRAL,
        POSITIVE,
        NEGATIVE,
        NEUTRAL,
        POSITIVE,
    ]
    assert load_labelled_csv(path)[0].text == "Zwrot pieniędzy po 2 miesiącach, dramat"


def test_csv_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,positive\nhmm,sarcastic\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.csv:3: .*sarcastic"):
        load_labelled_csv(bad)
    headerless = tmp_path / "nohead.csv"
    headerless.write_text("fine,positive\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        load_labelled_csv(headerless)


def test_long_documents_join_same_label_rows_only() -> None:
    pool = [Example(f"neutral news item number {i} today", NEUTRAL) for i in range(20)]
    pool += [Example(f"awful terrible order number {i} here", NEGATIVE) for i in range(20)]
    pool += [Example("tiny", POSITIVE)]  # too short to be a sentence of a document
    docs = long_documents(pool, 10, seed=1)
    assert len(docs) == 10
    assert {d.label for d in docs} == {NEGATIVE, NEUTRAL}
    for d in docs:
        words = "neutral news" if d.label == NEUTRAL else "awful terrible"
        assert d.text.count(words) >= 4
        assert ("awful" in d.text) == (d.label == NEGATIVE)
    assert long_documents(pool, 10, seed=1) == docs  # reproducible for a fixed seed
