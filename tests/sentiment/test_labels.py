"""Label schemes of arbitrary classifiers fold into negative / neutral / positive."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.labels import UnsupportedLabelsError, label_matrix, normalize_label
from sentiment.scorer import Scorer

from .conftest import TinyModelFactory

SCHEMES = {
    "generic3": ["LABEL_0", "LABEL_1", "LABEL_2"],
    "generic2": ["LABEL_0", "LABEL_1"],
    "named": ["negative", "neutral", "positive"],
    "named_shuffled": ["positive", "negative", "neutral"],
    "short_upper": ["NEG", "NEU", "POS"],
    "two_class": ["NEGATIVE", "POSITIVE"],
    "stars": ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"],
}


@pytest.mark.parametrize(
    ("labels", "expected_columns"),
    [
        (SCHEMES["generic3"], [0, 1, 2]),
        (SCHEMES["generic2"], [0, 2]),
        (SCHEMES["named_shuffled"], [2, 0, 1]),
        (SCHEMES["short_upper"], [0, 1, 2]),
        (SCHEMES["two_class"], [0, 2]),
        (SCHEMES["stars"], [0, 0, 1, 2, 2]),
        (["__label__negative", "__label__neutral", "__label__positive"], [0, 1, 2]),
    ],
)
def test_label_matrix(labels: list[str], expected_columns: list[int]) -> None:
    matrix = label_matrix(dict(enumerate(labels)))
    assert matrix.shape == (len(labels), 3)
    assert matrix.argmax(axis=1).tolist() == expected_columns
    assert (matrix.sum(axis=1) == 1).all()


def test_string_keys_from_json_configs() -> None:
    assert label_matrix({"1": "POS", "0": "NEG"}).argmax(axis=1).tolist() == [0, 2]


@pytest.mark.parametrize(
    "labels", [["joy", "anger", "fear"], ["LABEL_0", "LABEL_1", "LABEL_2", "LABEL_3"], []]
)
def test_unknown_schemes_are_rejected_clearly(labels: list[str]) -> None:
    with pytest.raises(UnsupportedLabelsError):
        label_matrix(dict(enumerate(labels)))


def test_normalize_label() -> None:
    assert normalize_label("NEG") == "negative"
    assert normalize_label(" Positive ") == "positive"
    assert normalize_label("3 stars") == "neutral"
    assert normalize_label("5 stars") == "positive"
    with pytest.raises(UnsupportedLabelsError):
        normalize_label("surprise")


@pytest.mark.parametrize(
    ("scheme", "winner", "expected"),
    [
        ("generic3", 0, "negative"),
        ("generic3", 1, "neutral"),
        ("generic2", 1, "positive"),
        ("named_shuffled", 0, "positive"),
        ("short_upper", 2, "positive"),
        ("two_class", 0, "negative"),
        ("stars", 1, "negative"),
        ("stars", 2, "neutral"),
        ("stars", 4, "positive"),
    ],
)
def test_scorer_normalises_any_model(
    tiny_model: TinyModelFactory, scheme: str, winner: int, expected: str
) -> None:
    path = tiny_model(SCHEMES[scheme], winner)
    scorer = Scorer.load(str(path), batch_size=4, max_length=32, threads=1)
    results = scorer.score(["great order", "bad", "the order 😀 polecam"])
    assert {r.label for r in results} == {expected}
    for r in results:
        assert set(r.probabilities) == {"negative", "neutral", "positive"}
        assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert r.score == pytest.approx(r.probabilities["positive"] - r.probabilities["negative"])
        assert r.model_name == str(path) and r.model_version.startswith("sha256:")
    if len(SCHEMES[scheme]) == 2:
        assert all(r.probabilities["neutral"] == 0.0 for r in results)


def test_star_probabilities_are_summed(tiny_model: TinyModelFactory) -> None:
    scorer = Scorer.load(str(tiny_model(SCHEMES["stars"], 3)), threads=1)
    probs = scorer.probabilities(["great"])[0]
    # bias 6 on "4 stars", 0 elsewhere: p(4 stars) = e^6 / (e^6 + 4), plus p(5 stars) = 1 / (e^6 + 4)
    assert probs[2] == pytest.approx((np.exp(6) + 1) / (np.exp(6) + 4), rel=1e-4)
