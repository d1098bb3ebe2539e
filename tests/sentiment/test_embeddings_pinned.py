"""Pinned texts (the aspect descriptions) are embedded once and read back by later processes, unchanged."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from sentiment.embeddings import E5Embedder

PINNED = ["Kurier dostarczył paczkę z opóźnieniem.", "The refund never came.", "Cena jest za wysoka."]
OTHER = "Strona się zawiesza przy płatności."


def test_pinned_vectors_are_stored_once_and_equal_the_engines(tmp_path: Path) -> None:
    plain = E5Embedder(threads=1).embed([*PINNED, OTHER])
    first = E5Embedder(threads=1, pinned=PINNED, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.embed([OTHER, PINNED[1]]), plain[[3, 1]])
    assert first.pinned_source == "engine"
    assert len(list(tmp_path.glob("e5-pinned-*.npz"))) == 1

    later = E5Embedder(threads=1, pinned=PINNED, cache_dir=tmp_path)
    np.testing.assert_array_equal(later.embed(PINNED), plain[:3])
    assert later.pinned_source == "file"
    assert later._engine is None  # every text was pinned: the 70 MB engine was never loaded


def test_other_texts_get_a_file_of_their_own(tmp_path: Path) -> None:
    E5Embedder(threads=1, pinned=PINNED, cache_dir=tmp_path).embed(PINNED[:1])
    E5Embedder(threads=1, pinned=PINNED[:2], cache_dir=tmp_path).embed(PINNED[:1])
    assert len(list(tmp_path.glob("e5-pinned-*.npz"))) == 2


def test_a_damaged_file_is_recomputed_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    E5Embedder(threads=1, pinned=PINNED, cache_dir=tmp_path).embed(PINNED[:1])
    (path,) = tmp_path.glob("e5-pinned-*.npz")
    path.write_bytes(b"not a numpy file")
    again = E5Embedder(threads=1, pinned=PINNED, cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="sentiment.embeddings"):
        vectors = again.embed(PINNED)
    assert again.pinned_source == "engine" and "unreadable" in caplog.text
    np.testing.assert_array_equal(vectors, E5Embedder(threads=1).embed(PINNED))


def test_an_unwritable_cache_still_embeds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    embedder = E5Embedder(threads=1, pinned=PINNED, cache_dir=blocker / "vectors")
    with caplog.at_level(logging.WARNING, logger="sentiment.embeddings"):
        vectors = embedder.embed(PINNED)
    assert "recomputed per process" in caplog.text
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
