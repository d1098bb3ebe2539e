"""Which number format the sentiment encoder runs in, and the fixed shapes it runs at.

Why bf16: on a CPU with AMX or AVX-512 BF16 a bf16 matrix multiply runs 2-4x faster than fp32 (measured
1024^3: 79 vs 204 GFLOP/s per core with AVX-512 BF16, ~400 vs ~1,580 GFLOP/s on 2 cores with AMX), and the
encoder is almost all matrix multiplies. Under ``torch.autocast`` only the matrix multiplies and attention
run in bf16; layer norms, softmax of the logits and the residual stream stay fp32, so the labels agree with
fp32 (checked on every evaluation set: ``bench/bench_sentiment.py --eval``).

Why fixed shapes: oneDNN builds (JIT-compiles) a kernel for every new tensor shape, and bf16/AMX kernels cost
more to build than the batch they run; a scorer that pads each batch to its own longest text meets a new
shape on almost every batch and ran bf16 *slower* than fp32 (0.57x). So reduced-precision batches are padded
to a small table of sequence lengths (:data:`LENGTH_BUCKETS`, steps of at most ~25%) and a small table of
batch sizes (powers of two up to the configured batch size), and each shape is built once per process.

``auto`` picks bf16 where the CPU has bf16 instructions (``amx_bf16`` or ``avx512_bf16`` in
``/proc/cpuinfo``, else torch's own CPU probes), fp32 elsewhere, and bf16 (fp16 on GPUs without bf16) on
CUDA; ``fp32`` forces full precision everywhere (e.g. to reproduce an evaluation bit for bit).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Literal, get_args

import torch

log = logging.getLogger(__name__)

Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: Final[tuple[str, ...]] = get_args(Precision)
CPUINFO: Final = Path("/proc/cpuinfo")

LENGTH_BUCKETS: Final = (16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 448, 512)
"""Padded sequence lengths (tokens, specials included); ~10% padding on average, at most 25-50% for tiny texts."""
MAX_ROW_WASTE: Final = 0.25
"""A short batch is padded with copies of a row up to the next batch size only while at most this share of
its rows is padding; otherwise it is split into table sizes (a batch of 1 runs at about half the per-text
speed of a batch of 32, so splitting 17 texts into 16 + 1 beats padding them to 32)."""
REFINE_MARGIN: Final = 0.04
"""bf16 moves a class probability by at most ~0.02 (measured: 0.019 over 1,416 evaluation texts), which flips
near-tied texts (4 of 544 Polish tweets, -0.37 points). A text whose two most likely classes are closer than
twice that is scored again in fp32, so its label is fp32's: 0.4-3.7% of the texts of the evaluation sets,
at fp32 cost. (Negative vs positive under a dominant neutral, which only the binary evaluation sets compare,
is left to bf16: re-checking it would re-score up to 24% of tweets.)"""
MAX_WIDTH_SPREAD: Final = 1.5
"""A batch may take longer texts than its first one only up to this factor of padded width, so the last few
short texts of a run are not padded to a long review's width (they form a smaller batch instead)."""


class PrecisionError(ValueError):
    """An unknown precision setting; the message lists the valid ones."""


@dataclass(frozen=True)
class CpuFeatures:
    """The bf16 instructions this CPU offers."""

    amx_bf16: bool
    avx512_bf16: bool

    @property
    def bf16(self) -> bool:
        return self.amx_bf16 or self.avx512_bf16

    def describe(self) -> str:
        if self.amx_bf16:
            return "AMX bf16"
        return "AVX-512 BF16" if self.avx512_bf16 else "no bf16 instructions"


def parse_cpu_flags(cpuinfo: str) -> set[str]:
    """The ``flags`` of the first processor in a ``/proc/cpuinfo`` text (all cores of a machine agree)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def _torch_probe(name: str) -> bool:
    """torch's private CPU probe ``torch.cpu.<name>()``, False where this torch build lacks it."""
    probe: Callable[[], bool] | None = getattr(torch.cpu, name, None)
    return bool(probe()) if probe is not None else False


@cache
def cpu_features(cpuinfo: Path = CPUINFO) -> CpuFeatures:
    """Detected once per process: the kernel's flags where readable (Linux), else torch's probes."""
    try:
        flags = parse_cpu_flags(cpuinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        flags = set()
    if flags:
        return CpuFeatures(amx_bf16="amx_bf16" in flags, avx512_bf16="avx512_bf16" in flags)
    return CpuFeatures(
        amx_bf16=_torch_probe("_is_amx_tile_supported"), avx512_bf16=_torch_probe("_is_avx512_bf16_supported")
    )


@dataclass(frozen=True)
class PrecisionPlan:
    """The dtype the encoder's matrix multiplies run in on ``device``, and why."""

    dtype: torch.dtype
    device_type: str
    reason: str

    @property
    def reduced(self) -> bool:
        """bf16/fp16: batches go through the shape buckets."""
        return self.dtype != torch.float32

    @property
    def name(self) -> str:
        return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Matrix multiplies in ``dtype``, numerically sensitive ops in fp32; a no-op for fp32."""
        if not self.reduced:
            yield
            return
        with torch.autocast(self.device_type, dtype=self.dtype):
            yield


def choose_precision(
    requested: str, device: torch.device, features: CpuFeatures | None = None
) -> PrecisionPlan:
    """The plan for a ``precision`` setting (auto | fp32 | bf16) on ``device``."""
    if requested not in PRECISIONS:
        raise PrecisionError(
            f"unknown sentiment precision {requested!r}: use one of {', '.join(PRECISIONS)} "
            "(EARSHOT_SENTIMENT__PRECISION)"
        )
    kind = device.type
    if requested == "fp32":
        return PrecisionPlan(torch.float32, kind, "fp32 forced by the precision setting")
    if kind == "cuda":
        if torch.cuda.is_bf16_supported():
            return PrecisionPlan(torch.bfloat16, kind, "CUDA with bf16")
        if requested == "bf16":
            log.warning("this GPU has no bf16; running the sentiment model in fp16 instead")
        return PrecisionPlan(torch.float16, kind, "CUDA without bf16: fp16")
    if kind != "cpu":
        return PrecisionPlan(torch.float32, kind, f"{kind}: fp32")
    cpu = features if features is not None else cpu_features()
    if requested == "bf16":
        if not cpu.bf16:
            log.warning(
                "sentiment precision bf16 was asked for, but this CPU has no bf16 instructions: bf16 is "
                "emulated and slower than fp32 here (set EARSHOT_SENTIMENT__PRECISION=auto)"
            )
        return PrecisionPlan(torch.bfloat16, kind, f"bf16 forced by the precision setting ({cpu.describe()})")
    if cpu.bf16:
        return PrecisionPlan(torch.bfloat16, kind, f"{cpu.describe()} detected")
    return PrecisionPlan(torch.float32, kind, "no bf16 instructions on this CPU: fp32")


# --------------------------------------------------------------------------------------------- shapes


def bucket_length(length: int, max_length: int) -> int:
    """The padded width for a sequence of ``length`` tokens: the next bucket, never above ``max_length``."""
    for width in LENGTH_BUCKETS:
        if width >= length:
            return min(width, max_length)
    return max_length


def batch_sizes(batch_size: int) -> tuple[int, ...]:
    """Powers of two below ``batch_size``, then ``batch_size``: the only row counts a batch ever has."""
    sizes = []
    size = 1
    while size < batch_size:
        sizes.append(size)
        size *= 2
    return (*sizes, batch_size)


@dataclass(frozen=True)
class Batch:
    """Texts (indices into the input) run together as a ``rows`` x ``width`` tensor.

    ``rows`` may exceed ``len(indices)``: the extra rows repeat a real one and their outputs are dropped.
    """

    indices: tuple[int, ...]
    rows: int
    width: int


def _split(count: int, sizes: Sequence[int]) -> list[tuple[int, int]]:
    """``count`` texts as (texts, rows) pieces: padded up to a table size when cheap, else split."""
    pieces = []
    while count > 0:
        up = next(s for s in sizes if s >= count)
        if (up - count) <= MAX_ROW_WASTE * up:
            pieces.append((count, up))
            break
        down = max(s for s in sizes if s <= count)
        pieces.append((down, down))
        count -= down
    return pieces


def plan_batches(lengths: Sequence[int], batch_size: int, max_tokens: int, max_length: int) -> list[Batch]:
    """Length-sorted batches whose shapes all come from the bucket tables.

    A full batch of width ``w`` holds the largest table size that fits ``max_tokens`` padded tokens (at least
    one text), so short texts batch fully while long reviews run in smaller batches that keep the
    activations in cache. Stable: equal inputs always give the same batches (and the same results).
    """
    sizes = batch_sizes(batch_size)

    def capacity(width: int) -> int:
        fit = max(1, min(batch_size, max_tokens // width))
        return max(s for s in sizes if s <= fit)

    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    group: list[int] = []
    for i in order:
        width = bucket_length(lengths[i], max_length)
        first = bucket_length(lengths[group[0]], max_length) if group else width
        if group and (len(group) + 1 > capacity(width) or width > MAX_WIDTH_SPREAD * first):
            groups.append(group)
            group = []
        group.append(i)
    if group:
        groups.append(group)
    out = []
    for group in groups:
        start = 0
        for count, rows in _split(len(group), sizes):
            piece = group[start : start + count]
            start += count
            out.append(Batch(tuple(piece), rows, bucket_length(lengths[piece[-1]], max_length)))
    return out


def shape_table(batch_size: int, max_tokens: int, max_length: int) -> list[tuple[int, int]]:
    """Every (rows, width) shape :func:`plan_batches` can produce, smallest first (what warm-up runs)."""
    widths = sorted({bucket_length(w, max_length) for w in LENGTH_BUCKETS if w <= max_length} | {max_length})
    sizes = batch_sizes(batch_size)
    shapes = []
    for width in widths:
        fit = max(1, min(batch_size, max_tokens // width))
        shapes += [(rows, width) for rows in sizes if rows <= fit]
    return sorted(shapes, key=lambda s: (s[0] * s[1], s[1]))
