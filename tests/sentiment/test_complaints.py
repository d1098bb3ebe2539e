"""Which aspects a text complains about: the corpus-trained model that decides what a reply apologises for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentiment.apology import is_complaint
from sentiment.aspects import ASPECTS, AspectDetector
from sentiment.complaints import COMPLAINTS_FILE, ComplaintFileError, ComplaintModel
from sentiment.embeddings import E5Embedder
from sentiment.vocabulary import ASPECT_KEYS

from .test_aspects import KeywordSentiment


def _only(aspect: str, dims: int = 4, p: float = 0.95) -> ComplaintModel:
    """A model that says every text complains about ``aspect`` and about nothing else."""
    weights = np.zeros((dims + 1, len(ASPECT_KEYS)))
    weights[-1, :] = np.log(0.05 / 0.95)
    weights[-1, ASPECT_KEYS.index(aspect)] = np.log(p / (1 - p))
    return ComplaintModel(weights, np.zeros(dims), np.ones(dims), (0.5,) * len(ASPECT_KEYS))


def test_aspect_lists_are_one_list() -> None:
    assert ASPECTS is ASPECT_KEYS


def test_fit_learns_which_aspect_each_text_complains_about_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    targets = (rng.random((400, len(ASPECT_KEYS))) < 0.3).astype(float)
    vectors = np.hstack([targets * 2.0 - 1.0, rng.normal(size=(400, 3))]) + rng.normal(
        scale=0.3, size=(400, 10)
    )
    model = ComplaintModel.fit(vectors, targets, thresholds=(0.6,) * len(ASPECT_KEYS))
    assert ((model.probabilities(vectors) >= 0.5) == (targets > 0.5)).mean() >= 0.97
    path = tmp_path / "complaints.json"
    model.save(path)
    again = ComplaintModel.load(path)
    assert again is not None and again.threshold("price") == 0.6 and again.fitted_on == 400
    assert np.allclose(again.probabilities(vectors), model.probabilities(vectors), atol=1e-4)


def test_missing_file_means_no_model_and_a_broken_one_is_a_clear_error(tmp_path: Path) -> None:
    assert ComplaintModel.load(tmp_path / "absent.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"weights": [[0.0] * 7], "mean": [0.0, 0.0], "scale": [1.0, 1.0], "thresholds": [0.5] * 7})
    )
    with pytest.raises(ComplaintFileError, match="shape"):
        ComplaintModel.load(bad)
    bad.write_text("[")
    with pytest.raises(ComplaintFileError, match="unreadable"):
        ComplaintModel.load(bad)


def test_shipped_model_loads_with_a_threshold_per_aspect() -> None:
    model = ComplaintModel.load(COMPLAINTS_FILE)
    assert model is not None and model.fitted_on >= 10_000
    assert all(0.5 <= model.threshold(a) < 1 for a in ASPECT_KEYS)


def test_detector_marks_only_the_complained_about_aspect_and_replies_follow_it() -> None:
    negative = KeywordSentiment()
    embedder = E5Embedder(threads=1)
    model = _only("delivery", dims=384)
    detector = AspectDetector(embedder, sentiment_fn=negative, complaints=model)
    [mentions] = detector.detect(["Kurier zgubił paczkę, fatalna obsługa klienta."])
    flags = {m.aspect: m.complaint for m in mentions}
    assert flags == {"delivery": True, "customer_service": False}
    assert all(m.to_dict()["complaint"] is flags[m.aspect] for m in mentions)
    assert is_complaint("negative", -0.9, True) and not is_complaint("negative", -0.9, False)
    assert is_complaint("negative", -0.9, None)  # no model: the detector's reading alone
    assert not is_complaint("positive", 0.9, True) and not is_complaint(None, None, True)
