"""Text -> token ids for training and scoring alike: cleaning, head + tail truncation, length-sorted batches.

Training and inference share this module so the model is scored on exactly the input shape it learnt from.

* Lone UTF-16 surrogates (which JSON can carry) are replaced so tokenizers never see unencodable text.
* A review's verdict is often at its end ("...never again"), so long texts keep the first quarter and the
  last three quarters of the token budget (head + tail, after Sun et al. 2019) instead of the head only.
* Texts are clipped by characters before tokenising, so a 1 MB paste costs the same as a long review.
* Batches are formed from length-sorted texts and padded only to their own longest member: on CPU the
  attention cost of padding a tweet to 256 tokens dwarfs the tweet itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch
from tokenizers import Tokenizer

# No XLM-R / BERT piece is longer than this many characters, so this many characters per kept token is
# always enough text to fill the head and the tail.
_CHARS_PER_TOKEN_BOUND: Final = 32
HEAD_FRACTION: Final = 0.25


def clean_text(text: str) -> str:
    """Replace unpaired surrogates with U+FFFD and join valid surrogate pairs into their character."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clip_chars(text: str, max_tokens: int) -> str:
    """Keep only as many leading and trailing characters as ``max_tokens`` tokens could ever need."""
    budget = max_tokens * _CHARS_PER_TOKEN_BOUND
    if len(text) <= 2 * budget:
        return text
    return text[:budget] + " " + text[-budget:]


def head_tail(ids: list[int], budget: int) -> list[int]:
    """The first quarter and last three quarters of ``budget`` tokens of a too-long sequence."""
    if len(ids) <= budget:
        return ids
    head = int(budget * HEAD_FRACTION)
    tail = budget - head
    return ids[:head] + ids[len(ids) - tail :]


@dataclass(frozen=True)
class SpecialLayout:
    """Special tokens a tokenizer puts before and after one sequence (``[CLS] .. [SEP]``, ``<s> .. </s>``)."""

    prefix: list[int]
    suffix: list[int]

    @classmethod
    def of(cls, tokenizer: Any) -> SpecialLayout:
        """Found empirically, which works for any tokenizer without knowing its family."""
        plain = tokenizer("hello", add_special_tokens=False)["input_ids"]
        full = tokenizer("hello", add_special_tokens=True)["input_ids"]
        for start in range(len(full) - len(plain) + 1):
            if full[start : start + len(plain)] == plain:
                return cls(list(full[:start]), list(full[start + len(plain) :]))
        return cls([], [])


class FolderTokenizer:
    """A model folder's ``tokenizer.json`` through the ``tokenizers`` library alone, without transformers.

    Why: ``transformers.AutoTokenizer`` costs seconds of imports at start-up, while everything the scorer
    needs (ids without specials, the special-token layout, the pad id, decoding) is in the Rust tokenizer.
    Offers the slice of transformers' tokenizer interface that Earshot uses (``backend_tokenizer``,
    ``pad_token_id``, ``model_max_length``, ``tokenizer(texts, add_special_tokens=...)``, ``decode``).
    """

    def __init__(self, backend: Tokenizer, pad_token: str | None, model_max_length: int | None) -> None:
        backend.no_truncation()
        backend.no_padding()
        self.backend_tokenizer = backend
        self.pad_token_id: int | None = backend.token_to_id(pad_token) if pad_token else None
        self.model_max_length = model_max_length

    @classmethod
    def from_folder(cls, folder: Path) -> FolderTokenizer | None:
        """The folder's tokenizer, or None when it has no ``tokenizer.json`` (transformers must load it)."""
        path = folder / "tokenizer.json"
        if not path.is_file():
            return None
        try:
            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        pad = config.get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        limit = config.get("model_max_length")
        return cls(
            Tokenizer.from_file(str(path)),
            str(pad) if pad else None,
            int(limit) if isinstance(limit, int | float) and limit < 1e9 else None,
        )

    def __call__(
        self, texts: str | Sequence[str], add_special_tokens: bool = True, truncation: bool = False
    ) -> dict[str, Any]:
        """``{"input_ids": ids}`` for one text, ``{"input_ids": [ids, ...]}`` for a list (never truncated)."""
        if isinstance(texts, str):
            return {
                "input_ids": self.backend_tokenizer.encode(texts, add_special_tokens=add_special_tokens).ids
            }
        encoded = self.backend_tokenizer.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encoded]}

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return str(self.backend_tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))


class TextEncoder:
    """Turns texts into model-ready id lists of at most ``max_length`` tokens, specials included."""

    def __init__(self, tokenizer: Any, max_length: int, text_prefix: str = "") -> None:
        self.tokenizer = tokenizer
        self.layout = SpecialLayout.of(tokenizer)
        self.max_length = max_length
        self.text_prefix = text_prefix
        # E5 models were trained with "query: " before every text; a model fine-tuned with it needs it at
        # inference too, and it must survive truncation, so it is kept apart from the head + tail budget.
        self.prefix_ids: list[int] = self._content_ids([text_prefix])[0] if text_prefix else []
        specials = len(self.layout.prefix) + len(self.layout.suffix) + len(self.prefix_ids)
        self.content_budget = max(1, max_length - specials)
        pad = tokenizer.pad_token_id
        self.pad_id: int = int(pad) if pad is not None else 0

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, head + tail truncated; texts must already be non-empty strings."""
        if not texts:
            return []
        clipped = [clip_chars(clean_text(t), self.content_budget) for t in texts]
        content = self._content_ids(clipped)
        return [
            self.layout.prefix
            + self.prefix_ids
            + head_tail(list(ids), self.content_budget)
            + self.layout.suffix
            for ids in content
        ]

    def _content_ids(self, texts: list[str]) -> list[list[int]]:
        """Ids without specials or truncation; the Rust backend directly when it is a plain fast tokenizer.

        Going through the backend skips transformers' per-call overhead and its "longer than the maximum"
        warning, which does not apply since :func:`head_tail` shortens the ids afterwards.
        """
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None and backend.truncation is None and backend.padding is None:
            return [enc.ids for enc in backend.encode_batch(texts, add_special_tokens=False)]
        return list(self.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"])

    def pad(
        self, batch: Sequence[list[int]], width: int | None = None, rows: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, attention_mask) padded to ``width`` tokens (default: the longest in ``batch``).

        With ``rows`` larger than the batch, the last text is repeated to fill the extra rows (a real
        sequence, so attention never sees an all-masked row); the caller drops their outputs.
        """
        longest = max(len(ids) for ids in batch)
        width = longest if width is None else width
        if width < longest:
            raise ValueError(f"pad width {width} is shorter than the longest sequence ({longest})")
        n = len(batch) if rows is None else max(rows, len(batch))
        input_ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for row in range(n):
            ids = batch[min(row, len(batch) - 1)]
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        return input_ids, mask


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None = None
) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length, each at most ``batch_size`` texts and, if given,
    ``max_tokens`` padded tokens (one text always fits). Stable, so equal inputs batch deterministically.

    The token cap matters on CPU: past a few thousand tokens per batch the activations fall out of cache and
    a batch of 32 long reviews runs ~15% slower than batches of 8, while short texts still batch fully.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batch: list[int] = []
    for i in order:
        too_many = max_tokens is not None and (len(batch) + 1) * lengths[i] > max_tokens
        if batch and (len(batch) == batch_size or too_many):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch
