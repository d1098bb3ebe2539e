"""The shop corpus: its format is enforced, its dev split is whole held-out slices, it covers what we crawl."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sentiment.corpus import (
    ASPECT_KEYS,
    DEV_SLICES,
    KINDS,
    REASON_CODES,
    SOURCES,
    CorpusError,
    check,
    load_corpus,
    load_slice,
    split,
)
from sentiment.datasets import corpus_examples, strip_diacritics

GOOD = {
    "id": "s99-0001",
    "lang": "pl",
    "source": "google",
    "kind": "review",
    "rating": 1,
    "text": "Paczka szła dwa tygodnie.",
    "sentiment": "negative",
    "urgency": "none",
    "reasons": [],
    "aspects": {"delivery": "negative"},
    "style": [],
    "reach": None,
}


@pytest.fixture(scope="module")
def corpus() -> list:
    return load_corpus()


def test_corpus_is_large_mostly_polish_and_covers_every_source_kind_aspect_and_reason(corpus: list) -> None:
    assert len(corpus) >= 8000
    assert sum(x.lang == "pl" for x in corpus) / len(corpus) >= 0.6
    assert {x.source for x in corpus} == set(SOURCES)
    assert {x.kind for x in corpus} == set(KINDS)
    reasons = Counter(r for x in corpus for r in x.reasons)
    assert all(reasons[r] >= 20 for r in REASON_CODES), reasons
    for aspect in ASPECT_KEYS:
        values = Counter(x.aspects[aspect] for x in corpus if aspect in x.aspects)
        assert values["negative"] >= 50 and values["positive"] >= 30, (aspect, values)
    styles = Counter(s for x in corpus for s in x.style)
    for style in ("no_diacritics", "sarcasm", "code_switch", "emoji_only", "pros_cons", "star_mismatch"):
        assert styles[style] >= 30, (style, styles[style])


def test_dev_split_is_whole_slices_written_by_other_writers(corpus: list) -> None:
    train, dev = split(corpus)
    assert {x.slice for x in dev} == set(DEV_SLICES)
    assert not {x.slice for x in train} & set(DEV_SLICES)
    assert len(dev) >= 1000 and len(train) >= 6000
    assert {x.id[:3] for x in dev}.isdisjoint({x.id[:3] for x in train})


def test_training_examples_never_contain_a_dev_text(corpus: list) -> None:
    train, dev = split(corpus)
    examples = corpus_examples(train, repeat=2, plain_share=0.3, seed=0, held_out=dev)
    fold = lambda t: " ".join(strip_diacritics(t).casefold().split())  # noqa: E731
    dev_texts = {fold(x.text) for x in dev}
    # short texts ("Polecam!", "👍") written by a training and a dev writer alike are dropped from training
    assert not [e.text for e in examples if fold(e.text) in dev_texts]
    train_texts = {x.text for x in train}  # once, not once per example (that took ~45 s)
    twins = [e for e in examples if e.text not in train_texts]
    assert twins and all(not any(ch in e.text for ch in "ąćęłńóśźż") for e in twins)


def test_strip_diacritics_types_polish_as_a_phone_without_polish_letters() -> None:
    assert strip_diacritics("Przesyłka źle zapakowana, ŻÓŁĆ") == "Przesylka zle zapakowana, ZOLC"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sentiment": "angry"}, "'sentiment' must be one of"),
        ({"rating": None}, "a review needs 'rating' 1-5"),
        ({"kind": "social", "rating": 4}, "'rating' must be null unless kind is review"),
        ({"aspects": {"shipping": "negative"}}, "unknown aspect 'shipping'"),
        ({"urgency": "elevated"}, "'reasons' must be [] exactly when urgency is none"),
        ({"text": "   "}, "'text' must be non-empty"),
        ({"urgency": "elevated", "reasons": ["legal_threat"]}, "make the urgency 'critical'"),
        ({"urgency": "elevated", "reasons": ["fraud_scam", "high_reach"]}, "make the urgency 'critical'"),
    ],
)
def test_a_bad_line_is_refused_with_file_line_and_field(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "slice-99.jsonl"
    lines = [json.dumps(GOOD), json.dumps({**GOOD, "id": "s99-0002", **change})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"slice-99\.jsonl:2") as err:
        load_slice(path)
    assert message in str(err.value)


def test_check_prints_coverage_and_fails_on_a_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "slice-98.jsonl"
    good.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    assert check([good]) == 0
    assert "| google / review | 1 | 1 | 0 |" in capsys.readouterr().out
    bad = tmp_path / "slice-97.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    assert check([bad]) == 1
    assert "slice-97.jsonl:1: invalid JSON" in capsys.readouterr().err
