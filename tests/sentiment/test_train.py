"""The fine-tuning recipe keeps the word embeddings frozen, which is what lets the delta omit them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from sentiment.bundle import EMBEDDING_ROWS_KEY, EMBEDDING_VALUES_KEY, WORD_EMBEDDINGS_KEY, pack_delta
from sentiment.datasets import Example
from sentiment.encoding import TextEncoder
from sentiment.scorer import Scorer
from sentiment.train import TrainOptions, fine_tune, train

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


@pytest.mark.slow
@pytest.mark.shared
def test_resume_on_corrections_exports_a_loadable_model(shared_datasets: Path, tmp_path: Path) -> None:
    """The agents' feedback loop: corrections CSV -> `model train --resume --csv` -> a model folder to run."""
    corrections = tmp_path / "corrections.csv"
    corrections.write_text(
        'text,label\nDostawa w terminie.,neutral\n"Nigdy więcej, oszuści!",negative\n', encoding="utf-8"
    )
    opts = TrainOptions(
        datasets_dir=shared_datasets,
        out_dir=tmp_path / "delta",
        n_sst2=8,
        n_tweeteval_test=0,
        n_long_docs=0,
        corpus_repeat=0,  # what is tested is the corrections' path to a model, not the corpus's
        n_corpus_long_docs=0,
        batch_size=4,  # two steps of 4 short texts: what resuming and exporting do is the same
        max_length=64,
        extra_csv=(corrections,),
        resume=True,
        export_model=tmp_path / "model",
        max_steps=2,
        evaluate=False,
    )
    manifest = train(opts)
    assert manifest["training_data"]["sources"]["csv:corrections.csv"] == 2
    assert manifest["training"]["options"]["resume"] is True
    scorer = Scorer.load(str(tmp_path / "model"), tmp_path / "cache", threads=1)
    assert scorer.model_version == manifest["version"]
    # Two steps from the shipped weights keep what they know; a fresh head would be a coin toss.
    texts = ["Nigdy więcej nie zamówię, towar zepsuty, obsługa bezczelna.", "Wszystko super, polecam!"]
    assert [r.label for r in scorer.score(texts)] == ["negative", "positive"]


def test_tuning_embeddings_changes_only_the_rows_of_tokens_seen_and_ships_just_those(
    tiny_model: TinyModelFactory,
) -> None:
    path = tiny_model(["negative", "neutral", "positive"], winner=1)
    model = AutoModelForSequenceClassification.from_pretrained(str(path))
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    encoder = TextEncoder(tokenizer, max_length=16)
    base = model.state_dict()[WORD_EMBEDDINGS_KEY].clone()
    examples = [Example("great order", 2), Example("bad", 0)] * 4
    opts = TrainOptions(batch_size=4, lr=1e-2, max_steps=3, tune_embeddings=True)
    fine_tune(model, encoder, examples, opts, log_every=1)
    seen = {t for x in encoder.encode([e.text for e in examples]) for t in x}
    delta = pack_delta(model, base)
    rows = set(delta[EMBEDDING_ROWS_KEY].tolist())
    assert rows and rows <= seen  # "ok", "super", "żenada"... never moved
    tuned = model.state_dict()[WORD_EMBEDDINGS_KEY]
    assert torch.equal(
        tuned[sorted(set(range(base.shape[0])) - rows)], base[sorted(set(range(base.shape[0])) - rows)]
    )
    assert delta[EMBEDDING_VALUES_KEY].shape == (len(rows), base.shape[1])
    assert delta[EMBEDDING_VALUES_KEY].dtype == torch.float16 and WORD_EMBEDDINGS_KEY not in delta
