"""The transformers-free BERT classifier and tokenizer compute exactly what transformers computes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from sentiment.bert import LeanBertClassifier, LeanLoadError, lean_config, load_lean
from sentiment.encoding import FolderTokenizer, TextEncoder
from sentiment.scorer import Scorer

from .conftest import TinyModelFactory

TEXTS = ["Paczka przyszła uszkodzona 😀", "Great product, polecam!", "ok", "żenada " * 40]


def _logits(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask)
    return out if isinstance(out, torch.Tensor) else out.logits


def test_bundled_model_gives_transformers_logits_exactly(bundled_model_dir: Path) -> None:
    spec = lean_config(bundled_model_dir)
    assert spec is not None
    lean = load_lean(bundled_model_dir, spec)
    reference = AutoModelForSequenceClassification.from_pretrained(str(bundled_model_dir)).eval()
    encoder = TextEncoder(FolderTokenizer.from_folder(bundled_model_dir), max_length=64)
    ids, mask = encoder.pad(encoder.encode(TEXTS))
    assert int(mask.sum()) < mask.numel()  # padded rows are part of the check
    torch.testing.assert_close(_logits(lean, ids, mask), _logits(reference, ids, mask), rtol=0, atol=1e-5)


def test_folder_tokenizer_matches_transformers(bundled_model_dir: Path) -> None:
    ours = FolderTokenizer.from_folder(bundled_model_dir)
    theirs = AutoTokenizer.from_pretrained(str(bundled_model_dir))
    assert ours is not None
    for special in (True, False):
        assert ours(TEXTS, add_special_tokens=special)["input_ids"] == [
            list(x) for x in theirs(TEXTS, add_special_tokens=special)["input_ids"]
        ]
    assert ours.pad_token_id == theirs.pad_token_id and ours.model_max_length == theirs.model_max_length
    ids = ours(TEXTS[0])["input_ids"]
    assert ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)


def test_scorer_loads_plain_bert_folders_without_transformers(tiny_model: TinyModelFactory) -> None:
    path = tiny_model(["negative", "neutral", "positive"], 2)
    scorer = Scorer.load(str(path), threads=1, precision="fp32")
    assert isinstance(scorer.model, LeanBertClassifier)
    reference = AutoModelForSequenceClassification.from_pretrained(str(path)).eval()
    ids, mask = scorer.encoder.pad(scorer.encoder.encode(["great order", "bad"]))
    torch.testing.assert_close(_logits(scorer.model, ids, mask), _logits(reference, ids, mask))


@pytest.mark.parametrize(
    "change",
    [{"hidden_act": "relu"}, {"position_embedding_type": "relative_key"}, {"model_type": "roberta"}],
)
def test_other_options_load_through_transformers(
    tiny_model: TinyModelFactory, change: dict[str, str]
) -> None:
    path = tiny_model(["negative", "neutral", "positive"], 0)
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    (path / "config.json").write_text(json.dumps({**config, **change}), encoding="utf-8")
    assert lean_config(path) is None
    if change.get("model_type") == "roberta":
        return  # a BERT checkpoint relabelled roberta would not load in transformers either
    scorer = Scorer.load(str(path), threads=1, precision="fp32")
    assert not isinstance(scorer.model, LeanBertClassifier)
    assert scorer.score(["bad"])[0].label == "negative"


def test_weights_that_do_not_fit_the_config_are_refused(tiny_model: TinyModelFactory) -> None:
    path = tiny_model(["negative", "positive"], 1)
    spec = lean_config(path)
    assert spec is not None
    with pytest.raises(LeanLoadError, match="lacks the BERT parameter"):
        load_lean(path, replace(spec, num_hidden_layers=spec.num_hidden_layers + 1))
    with pytest.raises(LeanLoadError, match=r"does not fit its config\.json"):
        load_lean(path, replace(spec, intermediate_size=spec.intermediate_size * 2))
