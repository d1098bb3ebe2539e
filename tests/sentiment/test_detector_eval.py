"""`earshot model eval-detectors --corpus-sample N`: a quicker look that still covers every dev slice."""

from __future__ import annotations

from collections import Counter

import pytest

from sentiment.corpus import load_corpus, split
from sentiment.detector_eval import spread_sample


def test_a_sample_of_the_dev_slices_keeps_each_slice_and_language_in_proportion() -> None:
    _train, dev = split(load_corpus())
    sample = spread_sample(dev, 600)
    assert len(sample) == 600 and len({item.id for item in sample}) == 600
    for field in ("slice", "lang", "urgency"):
        whole = Counter(getattr(item, field) for item in dev)
        part = Counter(getattr(item, field) for item in sample)
        assert part.keys() == whole.keys(), field
        for key, count in whole.items():  # the first 600 would be one slice's writers only
            assert abs(part[key] / 600 - count / len(dev)) < 0.02, (field, key)
    assert spread_sample(dev, 600) == sample  # the same texts every run: figures can be compared
    assert spread_sample(dev, None) == dev and spread_sample(dev, 10_000) == dev


def test_an_empty_sample_is_refused_with_a_message() -> None:
    _train, dev = split(load_corpus())
    with pytest.raises(ValueError, match="at least 1 text"):
        spread_sample(dev, 0)
