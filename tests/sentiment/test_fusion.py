"""Star-rating fusion: a rated review's label from text and stars together, text-only label kept beside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentiment.analysis import Analyzer, MentionText, fuse
from sentiment.fusion import FusionFileError, RatingFusion, prior_fusion, star_features
from sentiment.labels import SENTIMENTS
from sentiment.scorer import SentimentResult


def _result(probs: list[float]) -> SentimentResult:
    best = int(np.argmax(probs))
    return SentimentResult(
        label=SENTIMENTS[best],
        score=probs[2] - probs[0],
        confidence=probs[best],
        probabilities=dict(zip(SENTIMENTS, probs, strict=True)),
        lang="pl",
        model_name="m",
        model_version="v",
    )


def test_half_stars_split_between_neighbours_and_out_of_range_is_clipped() -> None:
    rows = star_features([4.5, 1, 5, 0, 7])
    assert rows[0].tolist() == [0, 0, 0, 0.5, 0.5]
    assert rows[1].tolist() == [1, 0, 0, 0, 0]
    assert rows[2].tolist() == [0, 0, 0, 0, 1]
    assert rows[3].tolist() == [1, 0, 0, 0, 0]
    assert rows[4].tolist() == [0, 0, 0, 0, 1]


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, list[float], list[int]]:
    """Reviews whose stars agree with the truth 90% of the time, and an unsure, 65%-right text reading."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 3, n)
    stars = [float({0: rng.choice([1, 2]), 1: 3, 2: rng.choice([4, 5])}[int(g)]) for g in gold]
    for i in rng.choice(n, n // 10, replace=False):  # a text/star mismatch: stars say the opposite
        stars[i] = 5.0 if gold[i] == 0 else 1.0
    probs = np.full((n, 3), 0.2)
    right = rng.random(n) < 0.65
    probs[np.arange(n), np.where(right, gold, (gold + 1) % 3)] = 0.6
    # where stars mismatch the truth, the text is sure of itself (a 5-star "towar uszkodzony")
    for i in range(n):
        star_class = 0 if stars[i] <= 2 else (1 if stars[i] == 3 else 2)
        if star_class != gold[i]:
            probs[i] = 0.02
            probs[i, gold[i]] = 0.96
    return probs / probs.sum(axis=1, keepdims=True), stars, gold.tolist()


def test_fitted_fusion_beats_both_the_text_and_the_stars_on_unseen_reviews() -> None:
    probs, stars, gold = _synthetic(600, seed=1)
    fusion = RatingFusion.fit(probs, stars, gold)
    test_probs, test_stars, test_gold = _synthetic(600, seed=2)
    fused = fusion.probabilities(test_probs, test_stars).argmax(axis=1)
    text_only = test_probs.argmax(axis=1)
    star_only = [0 if s <= 2 else (1 if s == 3 else 2) for s in test_stars]
    acc = lambda pred: float(np.mean(np.asarray(pred) == np.asarray(test_gold)))  # noqa: E731
    assert acc(fused) > acc(star_only) > acc(text_only)
    assert acc(fused) >= 0.97


def test_fusion_round_trips_through_its_file(tmp_path: Path) -> None:
    probs, stars, gold = _synthetic(200, seed=3)
    fusion = RatingFusion.fit(probs, stars, gold, model_version="1.2.3")
    path = tmp_path / "fusion.json"
    fusion.save(path)
    again = RatingFusion.load(path)
    assert again.model_version == "1.2.3" and again.fitted_on == 200
    assert np.allclose(again.probabilities(probs, stars), fusion.probabilities(probs, stars), atol=1e-5)


def test_missing_file_means_the_prior_and_a_broken_one_is_a_clear_error(tmp_path: Path) -> None:
    assert RatingFusion.load(tmp_path / "absent.json").model_version == "prior"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"weights": [[1, 2]]}), encoding="utf-8")
    with pytest.raises(FusionFileError, match="9x3"):
        RatingFusion.load(bad)
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(FusionFileError, match="unreadable"):
        RatingFusion.load(bad)


def test_prior_fusion_lets_a_one_star_outvote_an_unsure_positive_text() -> None:
    unsure_positive = np.array([[0.35, 0.2, 0.45]])
    assert prior_fusion().probabilities(unsure_positive, [1.0]).argmax() == 0
    assert prior_fusion().probabilities(unsure_positive, [5.0]).argmax() == 2


def test_fuse_marks_rated_items_and_keeps_unrated_ones_as_text() -> None:
    results = [_result([0.1, 0.2, 0.7]), _result([0.1, 0.2, 0.7])]
    out = fuse(results, [1.0, None], prior_fusion())
    assert [source for _, source in out] == ["fused", "text"]
    assert out[0][0].label == "negative"
    assert out[1][0] is results[1]


class _FakeScorer:
    model_name = "fake"
    model_version = "0"
    batch_size = 8

    def score(self, texts: list[str]) -> list[SentimentResult]:
        return [_result([0.3, 0.25, 0.45]) for _ in texts]


def test_analyzer_gives_the_fused_label_and_keeps_the_text_reading_beside_it() -> None:
    analyzer = Analyzer(_FakeScorer(), None, fusion=prior_fusion())  # type: ignore[arg-type]
    rated, unrated, blank = analyzer.analyze(
        [
            MentionText("Termin dostawy to fikcja.", rating=1),
            MentionText("Termin dostawy to fikcja."),
            MentionText("", rating=5),
        ]
    )
    assert (rated.sentiment.label, rated.label_source, rated.text_only.label) == (
        "negative",
        "fused",
        "positive",
    )
    out = rated.to_dict()
    assert out["label"] == "negative" and out["text_label"] == "positive" and out["label_source"] == "fused"
    assert (unrated.label_source, unrated.sentiment.label, unrated.to_dict()["text_label"]) == (
        "text",
        "positive",
        "positive",
    )
    assert (blank.label_source, blank.sentiment.label) == ("rating", "positive")
