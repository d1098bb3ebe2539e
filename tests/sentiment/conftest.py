"""Fixtures for the sentiment tests: the bundled scorer (loaded once), tiny random models, shared data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

from sentiment.bundle import DEFAULT_CACHE_DIR, build_default_model
from sentiment.convert import save_tokenizer
from sentiment.datasets import datasets_dir
from sentiment.scorer import Scorer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sentiment"
TINY_WORDS = ["great", "bad", "ok", "super", "żenada", "polecam", "the", "order", "😀"]


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The shared datasets folder; tests needing it skip (with the reason) on a fresh clone without it."""
    root = datasets_dir()
    if not (root / "polemo2_klej").is_dir():
        pytest.skip(f"shared datasets not found at {root} (set EARSHOT_DATASETS_DIR to run these tests)")
    return root


@pytest.fixture(scope="session")
def bundled_model_dir() -> Path:
    """The bundled model built under the user cache (a no-op after the first build)."""
    return build_default_model(DEFAULT_CACHE_DIR.expanduser())


@pytest.fixture(scope="session")
def bundled_scorer(bundled_model_dir: Path) -> Scorer:
    return Scorer.load("earshot-sentiment-v1", DEFAULT_CACHE_DIR, batch_size=16, max_length=256, threads=0)


def _tiny_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *TINY_WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )


TinyModelFactory = Callable[..., Path]


@pytest.fixture
def tiny_model(tmp_path: Path) -> TinyModelFactory:
    """Build a tiny random BERT classifier folder with ``labels`` whose output always favours ``winner``."""

    def make(labels: list[str], winner: int, name: str = "tiny") -> Path:
        torch.manual_seed(0)
        config = BertConfig(
            vocab_size=4 + len(TINY_WORDS),
            hidden_size=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            max_position_embeddings=64,
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )
        model = BertForSequenceClassification(config)
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.zero_()
            model.classifier.bias[winner] = 6.0
        out = tmp_path / name
        model.save_pretrained(str(out))
        save_tokenizer(_tiny_tokenizer(), out)
        return out

    return make


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
