"""``earshot model ...`` subcommands: registration and JSONL prediction with per-line errors."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sentiment.cli import register

from .conftest import FIXTURES, TinyModelFactory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="earshot")
    register(parser.add_subparsers(dest="command"))
    return parser


def _settings(model: str, cache: Path) -> Any:
    sentiment = SimpleNamespace(model=model, model_cache_dir=cache, batch_size=4, max_length=64, threads=1)
    return SimpleNamespace(sentiment=sentiment)


@pytest.mark.parametrize("sub", ["build", "train", "eval", "predict"])
def test_subcommands_registered_with_handlers(sub: str) -> None:
    argv = ["model", sub] + (["-"] if sub == "predict" else [])
    args = _parser().parse_args(argv)
    assert callable(args.func)


def test_train_defaults_are_the_shipped_recipe() -> None:
    args = _parser().parse_args(["model", "train"])
    assert (args.seed, args.threads, args.batch_size, args.lr, args.max_length, args.epochs) == (
        0,
        2,
        16,
        6e-5,
        256,
        1.0,
    )


def test_predict_writes_one_line_per_input_line(
    tiny_model: TinyModelFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tiny_model(["NEG", "NEU", "POS"], winner=2)
    out = tmp_path / "out.jsonl"
    args = _parser().parse_args(["model", "predict", str(FIXTURES / "predict_input.jsonl"), "-o", str(out)])
    assert args.func(args, _settings(str(model), tmp_path)) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in rows] == [1, "a-2", None, 3, 4, None, 5, 6, None]
    errors = {i for i, r in enumerate(rows) if "error" in r}
    assert errors == {2, 3, 4, 5}
    assert "invalid JSON" in rows[2]["error"] and "'text' must be a string" in rows[3]["error"]
    ok = [r for i, r in enumerate(rows) if i not in errors]
    assert all(set(r) == {"id", "label", "score", "probabilities", "language"} for r in ok)
    assert [r["label"] for r in ok] == ["positive", "positive", "neutral", "positive", "positive"]
    assert "4 input line(s)" in capsys.readouterr().err


def test_predict_reads_stdin(
    tiny_model: TinyModelFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = tiny_model(["negative", "positive"], winner=0)
    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": "x", "text": "bad order"}\n'))
    args = _parser().parse_args(["model", "predict", "-", "--batch-size", "2"])
    assert args.func(args, _settings(str(model), tmp_path)) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["id"] == "x" and row["label"] == "negative" and row["language"] == "en"


def test_registering_the_cli_does_not_import_torch() -> None:
    """Every `earshot` command imports this module; torch would add seconds to each of them."""
    code = "import sys, argparse, sentiment.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_input_or_model_is_a_one_line_error(
    tiny_model: TinyModelFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tiny_model(["NEG", "NEU", "POS"], winner=1)
    args = _parser().parse_args(["model", "predict", str(tmp_path / "missing.jsonl")])
    assert args.func(args, _settings(str(model), tmp_path)) == 1
    assert "missing.jsonl" in capsys.readouterr().err
    args = _parser().parse_args(["model", "predict", "-", "--model", str(tmp_path / "no-such-model")])
    assert args.func(args, _settings(str(model), tmp_path)) == 1
    assert "does not download models" in capsys.readouterr().err
