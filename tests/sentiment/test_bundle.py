"""Building the bundled model: hash checks, clear errors, idempotence, name resolution."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sentiment import bundle
from sentiment.bundle import (
    MANIFEST_FILE,
    MARKER_FILE,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    WeightsHashMismatchError,
    WeightsMissingError,
    build_default_model,
    resolve_model,
    verify_weights,
)


def _weights_copy(tmp_path: Path, payload: bytes | None = None) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(WEIGHTS_DIR / MANIFEST_FILE, folder / MANIFEST_FILE)
    if payload is not None:
        (folder / WEIGHTS_FILE).write_bytes(payload)
    return folder


def test_shipped_weights_match_manifest() -> None:
    manifest = verify_weights()
    assert manifest["name"] == "earshot-sentiment-v1"
    assert manifest["labels"] == ["negative", "neutral", "positive"]
    assert 30e6 < (WEIGHTS_DIR / WEIGHTS_FILE).stat().st_size < 60e6


def test_hash_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    folder = _weights_copy(tmp_path, b"version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(WeightsHashMismatchError, match="earshot model train") as err:
        build_default_model(tmp_path / "cache", weights_dir=folder)
    assert "Re-clone" in str(err.value) and "sha256" in str(err.value)
    assert not (tmp_path / "cache" / "earshot-sentiment-v1").exists()


def test_missing_weights_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsMissingError, match="earshot model train"):
        build_default_model(tmp_path / "cache", weights_dir=_weights_copy(tmp_path))
    with pytest.raises(WeightsMissingError, match="manifest"):
        build_default_model(tmp_path / "cache", weights_dir=tmp_path / "nowhere")


def test_second_build_is_a_no_op(bundled_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object, **__: object) -> None:
        raise AssertionError("build_default_model converted the base again")

    monkeypatch.setattr(bundle, "read_image", fail)
    monkeypatch.setattr(bundle, "verify_weights", fail)
    assert build_default_model(bundled_model_dir.parent) == bundled_model_dir
    assert resolve_model("earshot-sentiment-v1", bundled_model_dir.parent) == bundled_model_dir


def test_built_folder_is_a_plain_transformers_classifier(bundled_model_dir: Path) -> None:
    config = json.loads((bundled_model_dir / "config.json").read_text(encoding="utf-8"))
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    marker = json.loads((bundled_model_dir / MARKER_FILE).read_text(encoding="utf-8"))
    assert marker["sha256"] == json.loads((WEIGHTS_DIR / MANIFEST_FILE).read_text(encoding="utf-8"))["sha256"]


def test_other_names_pass_through(tmp_path: Path) -> None:
    assert resolve_model("cardiffnlp/twitter-xlm-roberta-base-sentiment", tmp_path) == (
        "cardiffnlp/twitter-xlm-roberta-base-sentiment"
    )
    assert resolve_model(tmp_path / "my-model", tmp_path) == tmp_path / "my-model"
    assert not any(tmp_path.iterdir())
