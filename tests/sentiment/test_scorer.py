"""The bundled model through the production Scorer: clear cases, input order, and hostile input."""

from __future__ import annotations

import json

import pytest

from sentiment.bundle import load_manifest
from sentiment.scorer import Scorer, SentimentResult

pytestmark = pytest.mark.model

CLEAR = [
    ("Paczka przyszła uszkodzona, nikt nie odpisuje. Żenada.", "negative", "pl"),
    ("Super obsługa, szybka wysyłka, polecam!", "positive", "pl"),
    (
        "Nigdy więcej nie zamówię w tym sklepie, towar zepsuty, a zwrot pieniędzy trwa miesiąc.",
        "negative",
        "pl",
    ),
    ("Wszystko zgodnie z opisem, bardzo dobry kontakt ze sprzedawcą. Dziękuję!", "positive", "pl"),
    ("The order arrived two weeks late and support ignored all my emails. Terrible.", "negative", "en"),
    ("Great product, works exactly as described, fast delivery. Highly recommend!", "positive", "en"),
]


def test_clear_polish_and_english_examples(bundled_scorer: Scorer) -> None:
    results = bundled_scorer.score([text for text, _, _ in CLEAR])
    for (text, label, lang), result in zip(CLEAR, results, strict=True):
        assert result.label == label, (text, result)
        assert result.lang == lang
        assert (result.score < -0.5) if label == "negative" else (result.score > 0.5), result
        assert result.confidence == max(result.probabilities.values())


def test_results_follow_input_order_whatever_the_batching(bundled_scorer: Scorer) -> None:
    texts = [text for text, _, _ in CLEAR] * 3 + ["", "ok"]
    together = bundled_scorer.probabilities(texts)
    alone = [bundled_scorer.probabilities([t])[0] for t in texts[: len(CLEAR)]]
    for row, single in zip(together, alone, strict=False):
        assert row == pytest.approx(single, abs=1e-4)
    assert [r.label for r in bundled_scorer.score(texts)][: len(CLEAR)] == [label for _, label, _ in CLEAR]


def test_result_metadata(bundled_scorer: Scorer) -> None:
    (result,) = bundled_scorer.score(["Dobra cena."])
    assert isinstance(result, SentimentResult)
    assert result.model_name == "earshot-sentiment-v1"
    assert result.model_version == load_manifest()["version"]
    assert -1.0 <= result.score <= 1.0
    json.dumps(result.probabilities)
    with pytest.raises(AttributeError):
        result.label = "positive"  # type: ignore[misc]


def test_hostile_input_never_crashes(bundled_scorer: Scorer) -> None:
    huge = ("Bardzo słaba obsługa klienta, nie polecam. " * 25_000)[:1_000_000]
    texts = [
        "",
        "   \n\t",
        "😡😡😡",
        "👍",
        huge,
        "Zła \ud800 jakość \udfff produktu",
        "\ud83d\ude00 świetnie",
        "Kurier super, but the product broke after one day. Nie polecam.",
        "\x00\x01\x07 control chars \u200b\ufeff",
        "a" * 50_000,
    ]
    results = bundled_scorer.score(texts)
    assert len(results) == len(texts)
    assert results[0].label == results[1].label == "neutral" and results[0].confidence == 1.0
    assert results[4].label == "negative" and results[4].lang == "pl"
    assert all(-1 <= r.score <= 1 and r.label in {"negative", "neutral", "positive"} for r in results)


def test_empty_batch(bundled_scorer: Scorer) -> None:
    assert bundled_scorer.score([]) == []


def test_max_length_respected_by_the_encoder(bundled_scorer: Scorer) -> None:
    ids = bundled_scorer.encoder.encode(["słowo " * 5000])[0]
    assert len(ids) == bundled_scorer.max_length == 256
    assert ids[0] == 0 and ids[-1] == 2
