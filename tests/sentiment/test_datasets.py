"""Split rules: the shipped weights' training data never contains an evaluation-only row."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentiment.datasets import (
    AMBIGUOUS,
    DatasetsNotFoundError,
    datasets_dir,
    evaluation_sets,
    load_polemo,
    load_wust,
    training_examples,
    tweeteval_split,
)

pytestmark = pytest.mark.shared


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def test_evaluation_sets(shared_datasets: Path) -> None:
    sizes = {s.name: len(s.examples) for s in evaluation_sets(shared_datasets)}
    assert sizes == {
        "polemo_in_binary": 480,
        "polemo_in_3class": 607,
        "sst2_glue_dev_binary": 872,
        "tweeteval_eval_3class": 2000,
        "wust_twitter_pl_3class": 544,
    }


def test_tweeteval_split_is_the_prototypes_seed0_shuffle(shared_datasets: Path) -> None:
    evaluation, rest = tweeteval_split(shared_datasets)
    assert len(evaluation) == 2000 and len(evaluation) + len(rest) == 12284
    assert not {x.text for x in evaluation} & {x.text for x in rest[:4000]} - {""}


def test_training_data_excludes_every_evaluation_only_file(shared_datasets: Path) -> None:
    data = training_examples(shared_datasets, polemo_out=True)
    assert 10_000 <= len(data.examples) <= 10_500
    train = {_fold(x.text) for x in data.examples}
    banned = {_fold(x.text) for s in evaluation_sets(shared_datasets) for x in s.examples}
    banned |= {_fold(x.text) for x in load_polemo(shared_datasets / "polemo2_klej" / "in_dev.tsv")}
    banned |= {_fold(x.text) for x in load_wust(shared_datasets)}
    assert not train & banned
    assert {x.label for x in data.examples} == {0, 1, 2}
    assert all(x.label != AMBIGUOUS for x in data.examples)
    assert data.sources["polemo2_klej/out_dev.tsv (non-ambivalent)"] == 330
    shipped = training_examples(shared_datasets)
    assert "polemo2_klej/out_dev.tsv (non-ambivalent)" not in shipped.sources
    assert len(shipped.examples) == len(data.examples) - 330


def test_datasets_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EARSHOT_DATASETS_DIR", str(tmp_path))
    assert datasets_dir() == tmp_path
    assert datasets_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("EARSHOT_DATASETS_DIR")
    assert datasets_dir().parts[-2:] == ("shared", "datasets")
    with pytest.raises(DatasetsNotFoundError, match="EARSHOT_DATASETS_DIR"):
        evaluation_sets(tmp_path)


def test_long_documents_never_contain_an_evaluation_text(shared_datasets: Path) -> None:
    data = training_examples(shared_datasets, n_sst2=500, n_tweeteval_test=500, n_long_docs=50)
    docs = [x for x in data.examples if len(x.text.split()) > 40]
    assert data.sources["long documents joined from the rows above"] == 50
    banned = [_fold(x.text) for s in evaluation_sets(shared_datasets) for x in s.examples]
    banned = [b for b in banned if len(b) > 30]
    joined = "\n".join(_fold(d.text) for d in docs)
    assert not any(b in joined for b in banned)
