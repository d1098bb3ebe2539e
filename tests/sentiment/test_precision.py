"""bf16 where the CPU has it, fp32 elsewhere or when forced; fixed batch shapes that never change a result."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment import precision
from sentiment import scorer as scorer_module
from sentiment.precision import (
    LENGTH_BUCKETS,
    REFINE_MARGIN,
    CpuFeatures,
    PrecisionError,
    batch_sizes,
    bucket_length,
    choose_precision,
    cpu_features,
    plan_batches,
    shape_table,
)
from sentiment.scorer import Scorer, unsure_rows

CPUINFO = Path(__file__).resolve().parents[1] / "fixtures" / "sentiment" / "cpuinfo"
CPU = torch.device("cpu")
NO_BF16 = CpuFeatures(amx_bf16=False, avx512_bf16=False)
TEXTS = [
    "Paczka przyszła uszkodzona, a obsługa nie odpisuje od tygodnia.",
    "Super obsługa, szybka wysyłka, polecam!",
    "Zwrot pieniędzy trwał ponad miesiąc, nigdy więcej.",
    "The order arrived two weeks late and support ignored me.",
    "Great product, works exactly as described.",
    "Packaging was fine, delivery on time.",
    "ok",
    "Kurier zostawił paczkę pod drzwiami. " * 30 + "Produkt działa, ale instrukcja jest tylko po angielsku.",
    "Customer service solved my problem in five minutes, really impressed. " * 8,
]


@pytest.mark.parametrize(
    ("fixture", "amx", "avx512"),
    [("amx.txt", True, True), ("avx512_bf16.txt", False, True), ("avx2_only.txt", False, False)],
)
def test_cpu_features_come_from_the_kernel_flags(fixture: str, amx: bool, avx512: bool) -> None:
    assert cpu_features(CPUINFO / fixture) == CpuFeatures(amx_bf16=amx, avx512_bf16=avx512)


def test_auto_picks_bf16_only_where_the_cpu_has_bf16_instructions() -> None:
    amx = choose_precision("auto", CPU, cpu_features(CPUINFO / "amx.txt"))
    avx = choose_precision("auto", CPU, cpu_features(CPUINFO / "avx512_bf16.txt"))
    old = choose_precision("auto", CPU, cpu_features(CPUINFO / "avx2_only.txt"))
    assert (amx.dtype, avx.dtype, old.dtype) == (torch.bfloat16, torch.bfloat16, torch.float32)
    assert "AMX" in amx.reason and "AVX-512 BF16" in avx.reason and "no bf16" in old.reason


def test_fp32_setting_wins_over_amx() -> None:
    plan = choose_precision("fp32", CPU, cpu_features(CPUINFO / "amx.txt"))
    assert plan.dtype == torch.float32 and not plan.reduced and "forced" in plan.reason


def test_forced_bf16_on_a_cpu_without_it_runs_but_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sentiment.precision"):
        plan = choose_precision("bf16", CPU, NO_BF16)
    assert plan.dtype == torch.bfloat16
    assert "emulated" in caplog.text and "EARSHOT_SENTIMENT__PRECISION" in caplog.text


def test_unknown_precision_names_the_valid_ones() -> None:
    with pytest.raises(PrecisionError, match="auto, fp32, bf16"):
        choose_precision("int4", CPU, NO_BF16)


def test_bucket_widths_cover_the_length_and_respect_max_length() -> None:
    assert [bucket_length(n, 256) for n in (1, 16, 17, 36, 41, 200, 256)] == [16, 16, 24, 40, 48, 256, 256]
    assert bucket_length(300, 256) == 256 and bucket_length(20, 20) == 20
    assert batch_sizes(32) == (1, 2, 4, 8, 16, 32) and batch_sizes(20) == (1, 2, 4, 8, 16, 20)


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 300), max_size=120),
    batch_size=st.sampled_from([1, 4, 16, 32]),
    max_tokens=st.sampled_from([256, 2048, 8192]),
)
def test_planned_batches_use_only_table_shapes_and_cover_every_text_once(
    lengths: list[int], batch_size: int, max_tokens: int
) -> None:
    max_length = 256
    batches = plan_batches(lengths, batch_size, max_tokens, max_length)
    flat = [i for b in batches for i in b.indices]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)  # length-sorted, stable
    table = set(shape_table(batch_size, max_tokens, max_length))
    for b in batches:
        assert (b.rows, b.width) in table
        assert b.width >= min(max(lengths[i] for i in b.indices), max_length)
        assert len(b.indices) <= b.rows and b.rows - len(b.indices) <= precision.MAX_ROW_WASTE * b.rows
    assert len(table) <= len(LENGTH_BUCKETS) * len(batch_sizes(batch_size))


def test_short_texts_run_in_full_batches_and_long_ones_within_the_token_budget() -> None:
    shapes = [(b.rows, b.width) for b in plan_batches([36] * 64 + [210] * 16, 32, 2048, 256)]
    assert shapes == [(32, 40), (32, 40), (8, 256), (8, 256)]


@pytest.fixture(scope="module")
def fp32_scorer(bundled_scorer: Scorer) -> Scorer:
    return _variant(bundled_scorer, "fp32")


def _variant(scorer: Scorer, precision_name: str, **kwargs: int) -> Scorer:
    return Scorer(
        scorer.model,
        scorer.tokenizer,
        model_name=scorer.model_name,
        model_version=scorer.model_version,
        batch_size=kwargs.get("batch_size", scorer.batch_size),
        max_length=kwargs.get("max_length", scorer.max_length),
        device="cpu",
        precision=precision_name,
    )


def test_bucketed_bf16_agrees_with_fp32(bundled_scorer: Scorer, fp32_scorer: Scorer) -> None:
    bf16 = _variant(bundled_scorer, "bf16")
    texts = TEXTS * 5
    low, full = bf16.probabilities(texts), fp32_scorer.probabilities(texts)
    assert bf16.plan.reduced and not fp32_scorer.plan.reduced
    assert (low.argmax(axis=1) == full.argmax(axis=1)).all()
    np.testing.assert_allclose(low, full, atol=0.05)


def test_texts_of_every_length_meet_few_shapes(bundled_scorer: Scorer) -> None:
    """What keeps oneDNN from building kernels per batch: 24 lengths in steps of one token, 4 shapes."""
    texts = [f"Paczka przyszła {'bardzo ' * k}późno." for k in range(24)]
    bf16 = _variant(bundled_scorer, "bf16", batch_size=4)
    fp32 = _variant(bundled_scorer, "fp32", batch_size=4)
    bf16.probabilities(texts)
    lengths = [len(ids) for ids in fp32.encoder.encode(texts)]
    assert bf16.new_shapes <= 4 < len({(b.rows, b.width) for b in fp32.batches(lengths)})


def test_near_ties_are_found_by_the_gap_between_the_two_best_classes() -> None:
    probs = np.array([[0.41, 0.2, 0.39], [0.1, 0.2, 0.7], [0.05, 0.48, 0.47]], dtype=np.float32)
    assert list(unsure_rows(probs, REFINE_MARGIN)) == [0, 2]


def test_texts_too_close_to_call_are_scored_again_in_fp32(
    bundled_scorer: Scorer, fp32_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every text "too close", bf16 returns exactly fp32's numbers; with none, bf16's own."""
    exact = fp32_scorer.probabilities(TEXTS)
    monkeypatch.setattr(scorer_module, "REFINE_MARGIN", 1.01)
    everything = _variant(bundled_scorer, "bf16")
    np.testing.assert_array_equal(everything.probabilities(TEXTS), exact)
    assert everything.refined == len(TEXTS)
    monkeypatch.setattr(scorer_module, "REFINE_MARGIN", 0.0)
    nothing = _variant(bundled_scorer, "bf16")
    assert not np.array_equal(nothing.probabilities(TEXTS), exact) and nothing.refined == 0


def test_a_text_scores_the_same_alone_or_padded_into_a_bucket(bundled_scorer: Scorer) -> None:
    """Padding columns (masked) and repeated rows (dropped) must not change any text's result."""
    bf16 = _variant(bundled_scorer, "bf16")
    together = bf16.probabilities(TEXTS)
    alone = np.vstack([bf16.probabilities([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=0.02)
    assert (together.argmax(axis=1) == alone.argmax(axis=1)).all()


def test_fp32_fallback_keeps_tight_batches_and_exact_results(
    bundled_scorer: Scorer, fp32_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(precision, "cpu_features", lambda: NO_BF16)
    auto = _variant(bundled_scorer, "auto")
    assert auto.plan.dtype == torch.float32
    lengths = [len(x) for x in auto.encoder.encode(TEXTS)]
    assert all(b.width == max(lengths[i] for i in b.indices) for b in auto.batches(lengths))
    assert all(b.rows == len(b.indices) for b in auto.batches(lengths))
    np.testing.assert_array_equal(auto.probabilities(TEXTS), fp32_scorer.probabilities(TEXTS))


def test_warm_up_builds_every_shape_so_scoring_meets_none_new(bundled_scorer: Scorer) -> None:
    small = _variant(bundled_scorer, "bf16", batch_size=4, max_length=32)
    table = shape_table(4, small.max_batch_tokens, 32)
    assert small.warm_up() == len(table)
    small.probabilities(TEXTS * 3)
    assert small.new_shapes == len(table)
    assert _variant(bundled_scorer, "fp32").warm_up() == 0  # fp32 kernels do not depend on the shape


def test_warm_up_stops_at_its_time_budget(bundled_scorer: Scorer) -> None:
    small = _variant(bundled_scorer, "bf16", batch_size=4, max_length=32)
    assert small.warm_up(budget_s=0.0) <= 1
