"""``sentiment.precision`` reaches the scorer: EARSHOT_SENTIMENT__PRECISION=fp32 forces full precision."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from monitor.core.config import load_settings
from monitor.core.settings_base import ConfigError
from monitor.model_cli import load_model
from sentiment.bundle import DEFAULT_CACHE_DIR, build_default_model


def test_precision_defaults_to_auto(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).sentiment.precision == "auto"


def test_unknown_precision_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARSHOT_SENTIMENT__PRECISION", "int4")
    with pytest.raises(ConfigError, match=r"sentiment\.precision.*EARSHOT_SENTIMENT__PRECISION"):
        load_settings()


@pytest.mark.parametrize(("value", "dtype"), [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_the_setting_decides_the_scorers_precision(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, dtype: torch.dtype
) -> None:
    build_default_model(DEFAULT_CACHE_DIR.expanduser())
    monkeypatch.setenv("EARSHOT_SENTIMENT__PRECISION", value)
    monkeypatch.setenv("EARSHOT_SENTIMENT__THREADS", "1")
    scorer = load_model(load_settings(data_dir=tmp_path).sentiment)
    assert scorer.plan.dtype == dtype
    assert scorer.score(["Paczka przyszła uszkodzona, nigdy więcej."])[0].label == "negative"
