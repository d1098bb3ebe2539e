"""A BERT sequence classifier in plain torch, loaded straight from a model folder's ``model.safetensors``.

Why not transformers: importing ``transformers``' BERT pulls in torch.distributed, dynamo and sympy, about
2.6 s of CPU before a single weight is read, which alone broke the 3-second budget of ``earshot model
predict``. The bundled model (and any folder ``transformers`` saved from ``BertForSequenceClassification``
with the standard options) is a dozen matrix multiplies per layer, so Earshot runs it itself: the same
weights, the same arithmetic (checked against transformers in ``tests/sentiment/test_bert.py``), loaded by
memory-mapping the safetensors file. Anything else (other architectures, unusual options) still loads
through transformers; :func:`lean_config` says which.

The query/key/value projections are fused into one matrix multiply per layer (one larger GEMM instead of
three small ones), and attention is ``scaled_dot_product_attention`` with the padding mask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

WEIGHTS: Final = "model.safetensors"
_PREFIX: Final = "bert."


@dataclass(frozen=True)
class BertSpec:
    """The parts of ``config.json`` the lean classifier (and the Scorer) reads."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    id2label: dict[int, str]
    name_or_path: str = ""
    model_type: str = "bert"
    pad_token_id: int = 0
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


def lean_config(folder: Path) -> BertSpec | None:
    """The folder's config when the lean classifier can run it exactly, else None (use transformers)."""
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    supported = (
        isinstance(raw, dict)
        and raw.get("model_type") == "bert"
        and raw.get("architectures") == ["BertForSequenceClassification"]
        and raw.get("hidden_act", "gelu") == "gelu"
        and raw.get("position_embedding_type", "absolute") == "absolute"
        and not raw.get("is_decoder", False)
        and not raw.get("add_cross_attention", False)
        and raw.get("problem_type") in (None, "single_label_classification")
        and (folder / WEIGHTS).is_file()
    )
    if not supported:
        return None
    try:
        return BertSpec(
            vocab_size=int(raw["vocab_size"]),
            hidden_size=int(raw["hidden_size"]),
            num_hidden_layers=int(raw["num_hidden_layers"]),
            num_attention_heads=int(raw["num_attention_heads"]),
            intermediate_size=int(raw["intermediate_size"]),
            max_position_embeddings=int(raw["max_position_embeddings"]),
            type_vocab_size=int(raw.get("type_vocab_size", 2)),
            layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
            id2label={int(k): str(v) for k, v in raw["id2label"].items()},
            name_or_path=str(raw.get("_name_or_path") or raw.get("name_or_path") or folder),
            pad_token_id=int(raw.get("pad_token_id") or 0),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _embedding(rows: int, dim: int, device: torch.device | None) -> nn.Embedding:
    """An embedding table; on the meta device without the random init (which would import torch._dynamo)."""
    if device is not None and device.type == "meta":
        return nn.Embedding(rows, dim, _weight=torch.empty(rows, dim, device=device))
    return nn.Embedding(rows, dim, device=device)


class _Layer(nn.Module):
    def __init__(self, spec: BertSpec, device: torch.device | None = None) -> None:
        super().__init__()
        h = spec.hidden_size
        eps = spec.layer_norm_eps
        self.heads = spec.num_attention_heads
        self.qkv = nn.Linear(h, 3 * h, device=device)
        self.attn_out = nn.Linear(h, h, device=device)
        self.attn_norm = nn.LayerNorm(h, eps=eps, device=device)
        self.up = nn.Linear(h, spec.intermediate_size, device=device)
        self.down = nn.Linear(spec.intermediate_size, h, device=device)
        self.out_norm = nn.LayerNorm(h, eps=eps, device=device)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        ctx = ctx.transpose(1, 2).reshape(b, n, h)
        x = self.attn_norm(self.attn_out(ctx) + x)
        return self.out_norm(self.down(F.gelu(self.up(x))) + x)


class LeanBertClassifier(nn.Module):
    """``BertForSequenceClassification`` at inference: ``model(input_ids, attention_mask)`` -> logits.

    ``device="meta"`` builds it without allocating or initialising weights (:func:`load_lean` then assigns
    the file's tensors).
    """

    def __init__(self, spec: BertSpec, device: torch.device | str | None = None) -> None:
        super().__init__()
        dev = torch.device(device) if device is not None else None
        self.config = spec
        h = spec.hidden_size
        self.word = _embedding(spec.vocab_size, h, dev)
        self.position = _embedding(spec.max_position_embeddings, h, dev)
        self.token_type = _embedding(spec.type_vocab_size, h, dev)
        self.embed_norm = nn.LayerNorm(h, eps=spec.layer_norm_eps, device=dev)
        self.layers = nn.ModuleList(_Layer(spec, dev) for _ in range(spec.num_hidden_layers))
        self.pooler = nn.Linear(h, h, device=dev)
        self.classifier = nn.Linear(h, len(spec.id2label), device=dev)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        n = input_ids.shape[1]
        x = self.word(input_ids) + self.position.weight[:n] + self.token_type.weight[0]
        x = self.embed_norm(x)
        # (batch, 1, 1, n) boolean: every query attends to the real tokens of its own text only
        mask = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, mask)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.classifier(pooled)


def _state_dict(hf: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    """transformers' parameter names mapped onto :class:`LeanBertClassifier`'s, q/k/v concatenated.

    Consumes ``hf``: what is left afterwards is a parameter the lean classifier does not have.
    """
    emb = f"{_PREFIX}embeddings."
    out = {
        "word.weight": hf.pop(emb + "word_embeddings.weight"),
        "position.weight": hf.pop(emb + "position_embeddings.weight"),
        "token_type.weight": hf.pop(emb + "token_type_embeddings.weight"),
        "embed_norm.weight": hf.pop(emb + "LayerNorm.weight"),
        "embed_norm.bias": hf.pop(emb + "LayerNorm.bias"),
        "pooler.weight": hf.pop(f"{_PREFIX}pooler.dense.weight"),
        "pooler.bias": hf.pop(f"{_PREFIX}pooler.dense.bias"),
        "classifier.weight": hf.pop("classifier.weight"),
        "classifier.bias": hf.pop("classifier.bias"),
    }
    for i in range(layers):
        src = f"{_PREFIX}encoder.layer.{i}."
        att = src + "attention."
        for part in ("weight", "bias"):
            qkv = [hf.pop(f"{att}self.{name}.{part}") for name in ("query", "key", "value")]
            out[f"layers.{i}.qkv.{part}"] = torch.cat(qkv)
            out[f"layers.{i}.attn_out.{part}"] = hf.pop(f"{att}output.dense.{part}")
            out[f"layers.{i}.attn_norm.{part}"] = hf.pop(f"{att}output.LayerNorm.{part}")
            out[f"layers.{i}.up.{part}"] = hf.pop(f"{src}intermediate.dense.{part}")
            out[f"layers.{i}.down.{part}"] = hf.pop(f"{src}output.dense.{part}")
            out[f"layers.{i}.out_norm.{part}"] = hf.pop(f"{src}output.LayerNorm.{part}")
    return out


class LeanLoadError(ValueError):
    """The weights file does not hold the parameters ``config.json`` describes."""


def load_lean(folder: Path, spec: BertSpec) -> LeanBertClassifier:
    """The classifier with the folder's weights (fp32, memory-mapped), in eval mode.

    Raises LeanLoadError when the file lacks a parameter, holds one a BERT classifier does not have, or
    a shape differs from ``config.json``.
    """
    hf = {k: v.float() for k, v in load_file(str(folder / WEIGHTS)).items()}
    try:
        state = _state_dict(hf, spec.num_hidden_layers)
    except KeyError as exc:
        raise LeanLoadError(f"{folder / WEIGHTS} lacks the BERT parameter {exc}") from None
    extra = sorted(k for k in hf if not k.endswith(("position_ids", "token_type_ids")))
    if extra:
        raise LeanLoadError(f"{folder / WEIGHTS} holds parameters a BERT classifier lacks: {extra}")
    model = LeanBertClassifier(spec, device="meta")
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise LeanLoadError(f"{folder / WEIGHTS} does not fit its config.json: {exc}") from None
    return model.eval()
