"""Text cleaning, head + tail truncation and length-sorted batching."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sentiment.encoding import TextEncoder, clean_text, clip_chars, head_tail, length_sorted_batches
from sentiment.scorer import Scorer


def test_clean_text_replaces_lone_surrogates_and_joins_pairs() -> None:
    assert clean_text("ok") == "ok"
    assert clean_text("a\ud800b") == "a\ufffdb"
    assert clean_text("\ud83d\ude00") == "😀"
    clean_text("x\udfff\ud83d").encode("utf-8")


def test_head_tail_keeps_a_quarter_head_and_the_rest_tail() -> None:
    ids = list(range(100))
    assert head_tail(ids, 200) == ids
    kept = head_tail(ids, 20)
    assert kept == list(range(5)) + list(range(85, 100))


def test_clip_chars_bounds_work_on_huge_text() -> None:
    text = "x" * 1_000_000
    clipped = clip_chars(text, 254)
    assert len(clipped) < 20_000 and clipped.startswith("x") and clipped.endswith("x")
    assert clip_chars("short", 254) == "short"


@given(
    st.lists(st.integers(min_value=1, max_value=600), max_size=80),
    st.integers(min_value=1, max_value=40),
    st.sampled_from([None, 600, 2048]),
)
def test_batches_cover_every_index_once_sorted_by_length(
    lengths: list[int], batch_size: int, max_tokens: int | None
) -> None:
    batches = list(length_sorted_batches(lengths, batch_size, max_tokens))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(0 < len(b) <= batch_size for b in batches)
    assert [lengths[i] for i in flat] == sorted(lengths)
    if max_tokens:
        assert all(len(b) == 1 or len(b) * max(lengths[i] for i in b) <= max_tokens for b in batches)


def test_text_prefix_survives_truncation(bundled_scorer: Scorer) -> None:
    """E5's "query: " prefix stays in front of every text, however long, within max_length."""
    tok = bundled_scorer.tokenizer
    enc = TextEncoder(tok, max_length=32, text_prefix="query: ")
    plain = TextEncoder(tok, max_length=32)
    long_text = "Paczka dotarła szybko. " * 50 + "Ale produkt jest zepsuty."
    ids, ids_plain = enc.encode([long_text])[0], plain.encode([long_text])[0]
    assert len(ids) == len(ids_plain) == 32
    prefix = tok("query: ", add_special_tokens=False)["input_ids"]
    assert ids[1 : 1 + len(prefix)] == prefix  # right after <s>
    assert ids[-8:] == ids_plain[-8:]  # the tail (the verdict) is kept in both
    assert tok.decode(enc.encode(["ok"])[0], skip_special_tokens=True).startswith("query:")
