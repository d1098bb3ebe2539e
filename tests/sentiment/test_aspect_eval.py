"""Aspect evaluation: scores on a hand-computed set, and the labelled JSONL format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sentiment.aspect_eval import LabelledAspects, LabelledDataError, evaluate_aspects, load_labelled
from sentiment.aspects import AspectDetector
from sentiment.embeddings import E5Embedder

from .test_aspects import KeywordSentiment


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    return E5Embedder(threads=1)


def _tiny_gold() -> list[LabelledAspects]:
    return [
        LabelledAspects("a", "pl", "Kurier się spóźnił.", {"delivery": "negative"}),
        LabelledAspects(
            "b", "pl", "Zwrot pieniędzy bez problemu.", {"returns": "positive", "price": "negative"}
        ),
        LabelledAspects("c", "en", "Paid by PayPal.", {}),
        LabelledAspects("d", "en", "Thanks!", {"website": None}),
    ]


def test_evaluate_aspects_on_a_hand_computed_set(embedder: E5Embedder) -> None:
    # predicted: a -> delivery (TP, sentiment right), b -> returns (TP, sentiment wrong: neutral),
    # c -> payment (FP), d -> nothing (FN website); price in b is an FN.
    detector = AspectDetector(embedder, sentiment_fn=KeywordSentiment())
    report = evaluate_aspects(detector, _tiny_gold())
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (2, 1, 2)
    assert report.micro.precision == pytest.approx(2 / 3)
    assert report.micro.recall == pytest.approx(1 / 2)
    assert report.micro.f1 == pytest.approx(4 / 7)
    assert report.per_aspect["delivery"].precision == 1.0 and report.per_aspect["delivery"].recall == 1.0
    assert report.per_aspect["price"].precision is None and report.per_aspect["price"].recall == 0.0
    assert report.per_aspect["payment"].precision == 0.0 and report.per_aspect["payment"].recall is None
    # macro over the aspects in the gold labels: delivery, returns, price, website
    assert report.macro_precision == pytest.approx(0.5)
    assert report.macro_recall == pytest.approx(0.5)
    assert report.macro_f1 == pytest.approx(0.5)
    assert (report.micro.sentiment_correct, report.micro.sentiment_total) == (1, 2)
    assert report.micro.sentiment_accuracy == pytest.approx(0.5)
    assert (report.by_lang["en"].tp, report.by_lang["en"].fp, report.by_lang["en"].fn) == (0, 1, 1)
    assert (
        sum(tp for tp, _ in report.by_via.values()) == 2 and sum(fp for _, fp in report.by_via.values()) == 1
    )

    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["micro"]["precision"] == pytest.approx(2 / 3) and as_dict["n_texts"] == 4
    table = report.format_table()
    assert re.search(r"^micro\s+4\s+3\s+0\.667\s+0\.500\s+0\.571\s+0\.500\s+2$", table, re.MULTILINE), table
    assert re.search(r"^price\s+1\s+0\s+-\s+0\.000", table, re.MULTILINE), table


def test_load_labelled_reads_the_jsonl_format(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    rows = [
        {"id": "1", "lang": "pl", "text": "Kurier się spóźnił", "aspects": {"delivery": "negative"}},
        {"id": "2", "lang": "en", "text": "Where is my parcel?", "aspects": {"delivery": None}},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    items = load_labelled(path)
    assert items == [
        LabelledAspects("1", "pl", "Kurier się spóźnił", {"delivery": "negative"}),
        LabelledAspects("2", "en", "Where is my parcel?", {"delivery": None}),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ('["a list"]', "JSON object"),
        ('{"id": "x", "lang": "de", "text": "t", "aspects": {}}', "'lang'"),
        ('{"id": "x", "lang": "pl", "text": "t", "aspects": {"shipping": "negative"}}', "unknown aspect"),
        ('{"id": "x", "lang": "pl", "text": "t", "aspects": {"price": "bad"}}', "sentiment of 'price'"),
    ],
)
def test_load_labelled_rejects_malformed_lines_with_their_line_number(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"id": "ok", "lang": "pl", "text": "t", "aspects": {}}\n' + line + "\n", encoding="utf-8"
    )
    with pytest.raises(LabelledDataError, match=message) as info:
        load_labelled(path)
    assert ":2:" in str(info.value)
