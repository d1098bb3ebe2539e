"""Batch sentiment scoring of review and social-media texts with any transformers classifier.

``Scorer.load()`` gives the bundled ``earshot-sentiment-v1`` (built on first use, offline); any other local
text-classification model folder (or one already in the Hugging Face cache) works too, its labels folded
into negative / neutral / positive by :mod:`sentiment.labels`. Nothing is ever downloaded.

Throughput on CPU comes from scoring texts in length-sorted batches under ``torch.inference_mode()``, in bf16
where the CPU has bf16 instructions (AMX or AVX-512 BF16; fp32 elsewhere or when the ``precision`` setting
says so, see :mod:`sentiment.precision`). fp32 batches are padded only to their own longest member; bf16
batches to a small table of fixed shapes, because oneDNN builds a kernel per new shape. Results are
returned in input order. BERT classifiers with a ``tokenizer.json`` (the bundled one included) load without
importing transformers (:mod:`sentiment.bert`), which keeps ``earshot model predict``'s start-up short.

Inputs never crash the scorer: empty or whitespace-only texts are neutral without running the model, lone
surrogates are replaced, very long texts keep their head and tail (see :mod:`sentiment.encoding`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from sentiment.bert import LeanLoadError, lean_config, load_lean
from sentiment.bundle import DEFAULT_CACHE_DIR, MODEL_NAME, read_marker, resolve_model
from sentiment.encoding import FolderTokenizer, TextEncoder, length_sorted_batches
from sentiment.hub import force_offline, quiet_transformers
from sentiment.labels import NEGATIVE, NEUTRAL, POSITIVE, SENTIMENTS, Sentiment, label_matrix
from sentiment.language import Language, detect_language
from sentiment.precision import (
    REFINE_MARGIN,
    Batch,
    PrecisionPlan,
    choose_precision,
    plan_batches,
    shape_table,
)

log = logging.getLogger(__name__)
# RoBERTa-style models reserve two position ids (padding offset), so 514 positions hold 512 tokens.
_OFFSET_POSITION_MODELS = frozenset({"roberta", "xlm-roberta", "camembert", "bertweet", "xlm-roberta-xl"})


@dataclass(frozen=True)
class SentimentResult:
    """One text's sentiment.

    ``score`` is ``p(positive) - p(negative)`` in [-1, 1] (alert thresholds compare against it);
    ``confidence`` is the probability of ``label``.
    """

    label: Sentiment
    score: float
    confidence: float
    probabilities: dict[str, float] = field(hash=False)
    lang: Language
    model_name: str
    model_version: str


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def set_threads(threads: int) -> int:
    """Set torch's intra-op threads (0 = all usable cores); returns the number set."""
    n = threads if threads > 0 else _cpu_count()
    torch.set_num_threads(n)
    return n


def _folder_hash(path: Path) -> str:
    """Short content hash of a model folder's config and weights, as its version when it has no other."""
    digest = hashlib.sha256()
    files = [p for p in sorted(path.iterdir()) if p.suffix in {".json", ".safetensors", ".bin"}]
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()[:12]


def model_version(resolved: str | Path, config: Any) -> str:
    """Manifest version for the bundled model, else the hub commit, else a hash of the local folder."""
    path = Path(resolved)
    marker = read_marker(path) if path.is_dir() else None
    if marker is not None:
        return str(marker["version"])
    commit = getattr(config, "_commit_hash", None)
    if commit:
        return f"{config.name_or_path or resolved}@{str(commit)[:12]}"
    if path.is_dir():
        return _folder_hash(path)
    return str(config.name_or_path or resolved)


def unsure_rows(probs: npt.NDArray[np.float32], margin: float) -> npt.NDArray[np.intp]:
    """Rows whose two most likely classes are closer than ``margin``: a probability error below
    ``margin / 2`` could change their label."""
    ranked = np.sort(probs, axis=1)
    return np.flatnonzero(ranked[:, -1] - ranked[:, -2] < margin)


def _load_transformers(resolved: Path | str, model: str) -> tuple[Any, Any]:
    """(model, tokenizer) through transformers: any architecture, local folder or Hugging Face cache."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    force_offline()
    with quiet_transformers():
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(resolved), local_files_only=True)
            clf = AutoModelForSequenceClassification.from_pretrained(str(resolved), local_files_only=True)
        except OSError as exc:
            raise OSError(
                f"sentiment model {model!r} is neither a local folder nor in the Hugging Face cache, "
                f"and Earshot does not download models ({exc})"
            ) from exc
    return clf, tokenizer


def _load_lean(folder: Path) -> tuple[Any, Any] | None:
    """(model, tokenizer) without transformers when the folder is a plain BERT classifier, else None."""
    spec = lean_config(folder)
    if spec is None:
        return None
    tokenizer = FolderTokenizer.from_folder(folder)
    if tokenizer is None:
        return None
    try:
        return load_lean(folder, spec), tokenizer
    except LeanLoadError as exc:
        log.warning("loading %s through transformers instead: %s", folder, exc)
        return None


class Scorer:
    """Scores texts with a sequence-classification model; build it with :meth:`load`.

    ``precision`` is ``auto`` (bf16 where the CPU or GPU has it, else fp32), ``fp32`` or ``bf16``.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_name: str,
        model_version: str,
        batch_size: int = 32,
        max_length: int = 256,
        device: str | torch.device | None = None,
        max_batch_tokens: int = 2048,
        text_prefix: str = "",
        precision: str = "auto",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.model_version = model_version
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.max_length = self._fit_max_length(max_length)
        self.encoder = TextEncoder(tokenizer, self.max_length, text_prefix)
        self._matrix = torch.from_numpy(label_matrix(model.config.id2label)).to(self.device)
        self.plan: PrecisionPlan = choose_precision(precision, self.device)
        self._shapes: set[tuple[int, int]] = set()
        self.new_shapes = 0
        """Batch shapes met for the first time (each builds kernels once in reduced precision)."""
        self.refined = 0
        """Texts scored again in fp32 because bf16 left their label too close to call."""
        self._fp32 = PrecisionPlan(torch.float32, self.device.type, "fp32 re-scoring of near ties")

    def _fit_max_length(self, requested: int) -> int:
        """Never ask for more positions than the model has (XLM-R models have 2 reserved positions)."""
        limits = [requested]
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if positions:
            reserved = 2 if getattr(self.model.config, "model_type", "") in _OFFSET_POSITION_MODELS else 0
            limits.append(int(positions) - reserved)
        tok_limit = getattr(self.tokenizer, "model_max_length", None)
        if tok_limit and tok_limit < 100_000:
            limits.append(int(tok_limit))
        return max(8, min(limits))

    @classmethod
    def load(
        cls,
        model: str = MODEL_NAME,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        batch_size: int = 32,
        max_length: int = 256,
        threads: int = 0,
        precision: str = "auto",
    ) -> Scorer:
        """Load the bundled model (building it under ``cache_dir`` if needed) or any local/cached model."""
        n_threads = set_threads(threads)
        resolved = resolve_model(model, Path(cache_dir).expanduser())
        folder = Path(resolved)
        lean = _load_lean(folder) if folder.is_dir() else None
        clf, tokenizer = lean if lean is not None else _load_transformers(resolved, model)
        version = model_version(resolved, clf.config)
        marker = read_marker(folder) if folder.is_dir() else None
        text_prefix = str(marker.get("text_prefix", "")) if marker else ""
        scorer = cls(
            clf,
            tokenizer,
            model_name=str(model),
            model_version=version,
            batch_size=batch_size,
            max_length=max_length,
            text_prefix=text_prefix,
            precision=precision,
        )
        log.info(
            "sentiment model %s (%s) loaded from %s%s, %d torch threads, %s (%s)",
            model,
            version,
            resolved,
            "" if lean is not None else " through transformers",
            n_threads,
            scorer.plan.name,
            scorer.plan.reason,
        )
        return scorer

    def batches(self, lengths: Sequence[int], plan: PrecisionPlan | None = None) -> list[Batch]:
        """How texts of these token lengths are batched: fixed shapes in reduced precision, else tight."""
        if (plan or self.plan).reduced:
            return plan_batches(lengths, self.batch_size, self.max_batch_tokens, self.max_length)
        return [
            Batch(tuple(b), len(b), max(lengths[i] for i in b))
            for b in length_sorted_batches(lengths, self.batch_size, self.max_batch_tokens)
        ]

    def _logits(self, input_ids: torch.Tensor, mask: torch.Tensor, plan: PrecisionPlan) -> torch.Tensor:
        shape = (int(input_ids.shape[0]), int(input_ids.shape[1]))
        if plan.reduced and shape not in self._shapes:
            self._shapes.add(shape)
            self.new_shapes += 1
        with plan.autocast():
            out = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device))
        logits = out if isinstance(out, torch.Tensor) else out.logits
        return logits.float()

    def _probabilities(self, ids: list[list[int]], plan: PrecisionPlan) -> npt.NDArray[np.float32]:
        out = np.empty((len(ids), 3), dtype=np.float32)
        with torch.inference_mode():
            for batch in self.batches([len(x) for x in ids], plan):
                input_ids, mask = self.encoder.pad([ids[i] for i in batch.indices], batch.width, batch.rows)
                logits = self._logits(input_ids, mask, plan)[: len(batch.indices)]
                probs = torch.softmax(logits, dim=-1) @ self._matrix
                out[list(batch.indices)] = probs.cpu().numpy()
        return out

    def probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(n x 3) negative/neutral/positive probabilities in input order; blank texts are neutral.

        In reduced precision, texts left too close to call (:data:`~sentiment.precision.REFINE_MARGIN`)
        are scored again in fp32, so every label is the one fp32 gives.
        """
        out = np.zeros((len(texts), 3), dtype=np.float32)
        out[:, NEUTRAL] = 1.0
        live = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        if not live:
            return out
        ids = self.encoder.encode([texts[i] for i in live])
        probs = self._probabilities(ids, self.plan)
        if self.plan.reduced:
            unsure = unsure_rows(probs, REFINE_MARGIN)
            if len(unsure):
                probs[unsure] = self._probabilities([ids[i] for i in unsure], self._fp32)
                self.refined += len(unsure)
        out[live] = probs
        return out

    def warm_up(self, budget_s: float | None = None) -> int:
        """Run every batch shape once (smallest first) so no later batch pays for building kernels.

        Only reduced precision needs it (fp32 kernels do not depend on the shape). Stops once ``budget_s``
        seconds are spent; returns the number of shapes warmed. Shapes left cold are built on first use.
        """
        if not self.plan.reduced:
            return 0
        start = time.perf_counter()
        sample = self.encoder.encode(["warm-up"])[0]
        warmed = 0
        with torch.inference_mode():
            for rows, width in shape_table(self.batch_size, self.max_batch_tokens, self.max_length):
                if budget_s is not None and time.perf_counter() - start > budget_s:
                    break
                if (rows, width) in self._shapes:
                    continue
                self._logits(*self.encoder.pad([sample], width, rows), self.plan)
                warmed += 1
        log.info("warmed %d batch shapes in %.1f s", warmed, time.perf_counter() - start)
        return warmed

    def score(self, texts: Sequence[str]) -> list[SentimentResult]:
        """One result per text, in input order."""
        probs = self.probabilities(texts)
        return [self._result(text, row) for text, row in zip(texts, probs, strict=True)]

    def _result(self, text: str, row: npt.NDArray[np.float32]) -> SentimentResult:
        best = int(np.argmax(row))
        return SentimentResult(
            label=SENTIMENTS[best],
            score=float(np.clip(row[POSITIVE] - row[NEGATIVE], -1.0, 1.0)),
            confidence=float(row[best]),
            probabilities={name: float(row[i]) for i, name in enumerate(SENTIMENTS)},
            lang=detect_language(text) if isinstance(text, str) else "other",
            model_name=self.model_name,
            model_version=self.model_version,
        )
