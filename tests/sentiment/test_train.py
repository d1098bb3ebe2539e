"""The fine-tuning recipe keeps the word embeddings frozen, which is what lets the delta omit them."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from sentiment.bundle import WORD_EMBEDDINGS_KEY, pack_delta
from sentiment.datasets import Example
from sentiment.encoding import TextEncoder
from sentiment.train import TrainOptions, fine_tune

from .conftest import TinyModelFactory


def test_fine_tune_trains_everything_but_word_embeddings(
    tiny_model: TinyModelFactory, tmp_path: Path
) -> None:
    path = tiny_model(["negative", "neutral", "positive"], winner=1)
    model = AutoModelForSequenceClassification.from_pretrained(str(path))
    encoder = TextEncoder(AutoTokenizer.from_pretrained(str(path)), max_length=16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    examples = [
        Example("great order", 2),
        Example("bad", 0),
        Example("ok", 1),
        Example("super polecam", 2),
    ] * 3
    stats = fine_tune(model, encoder, examples, TrainOptions(batch_size=4, lr=1e-2, max_steps=3), log_every=1)
    assert stats["steps"] == 3
    after = model.state_dict()
    assert torch.equal(after[WORD_EMBEDDINGS_KEY], before[WORD_EMBEDDINGS_KEY])
    assert not torch.equal(after["classifier.weight"], before["classifier.weight"])
    delta = pack_delta(model)
    assert WORD_EMBEDDINGS_KEY not in delta and set(delta) == set(after) - {WORD_EMBEDDINGS_KEY}
    assert all(t.dtype == torch.float16 for t in delta.values())
