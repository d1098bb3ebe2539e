"""Loaders for the shared labelled sentiment data, and the train / evaluation-only split rules.

The data lives outside the repository (``../shared/datasets`` next to the checkout, or
``EARSHOT_DATASETS_DIR``, or ``--datasets-dir``); see its README for sources and licences. Labels are
0 = negative, 1 = neutral, 2 = positive; PolEmo's "ambivalent" reviews get :data:`AMBIGUOUS` so evaluation
can include or exclude them.

The split rules are the whole point of this module: the shipped weights must never see an evaluation-only
row. Evaluation-only: PolEmo-IN dev, ``sst2/test.tsv`` (the GLUE SST-2 dev set), the first 2,000 rows of the
TweetEval test set after the prototype's ``random.Random(0).shuffle`` (so figures stay comparable), and all of
``wust_twitter_pl`` (no licence). Training uses an SST-2 train subset, TweetEval val + the test rows after
the first 2,000, and PolEmo-OUT dev without ambivalent reviews. Training texts that also occur in an
evaluation set (after folding case, diacritics and spacing) are dropped as a further guard against leakage.
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from sentiment.corpus import CorpusItem, load_corpus, split
from sentiment.labels import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    SENTIMENTS,
    UnsupportedLabelsError,
    normalize_label,
)
from sentiment.textfold import fold

DATASETS_ENV: Final = "EARSHOT_DATASETS_DIR"
AMBIGUOUS: Final = -1
TWEETEVAL_EVAL_ROWS: Final = 2000
SPLIT_SEED: Final = 0

_POLEMO_LABELS: Final = {
    "__label__meta_minus_m": NEGATIVE,
    "__label__meta_zero": NEUTRAL,
    "__label__meta_plus_m": POSITIVE,
    "__label__meta_amb": AMBIGUOUS,
}
# WUST tweets carry emotions; these are the prototype's sentiment mapping (others, e.g. surprise, dropped).
_WUST_LABELS: Final = {
    "neutralne": NEUTRAL,
    "radosc": POSITIVE,
    "podziw": POSITIVE,
    "zlosc": NEGATIVE,
    "wstret": NEGATIVE,
    "smutek": NEGATIVE,
    "strach": NEGATIVE,
}


class DatasetsNotFoundError(FileNotFoundError):
    """The shared datasets folder (or one of its files) is absent."""


@dataclass(frozen=True)
class Example:
    """One labelled text; ``label`` is 0/1/2, or AMBIGUOUS for PolEmo's ambivalent reviews."""

    text: str
    label: int


@dataclass(frozen=True)
class EvalSet:
    """An evaluation-only set and how it is scored."""

    name: str
    language: Literal["pl", "en"]
    task: Literal["binary", "3class"]
    examples: list[Example]


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def datasets_dir(explicit: Path | str | None = None) -> Path:
    """The explicit path, else ``$EARSHOT_DATASETS_DIR``, else ``../shared/datasets`` beside the checkout."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(DATASETS_ENV)
    if env:
        return Path(env).expanduser()
    return repo_root().parent / "shared" / "datasets"


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DatasetsNotFoundError(
            f"{path} not found: point --datasets-dir or ${DATASETS_ENV} at the shared datasets folder"
        )
    return path


def _tsv(path: Path) -> Iterable[dict[str, str]]:
    with _require(path).open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)


def load_polemo(path: Path) -> list[Example]:
    """KLEJ PolEmo2.0 ``sentence``/``target`` TSV; ambivalent reviews get AMBIGUOUS."""
    return [Example(row["sentence"], _POLEMO_LABELS[row["target"]]) for row in _tsv(path)]


def load_sst2(path: Path) -> list[Example]:
    """GLUE-style SST-2 TSV (``sentence``, ``label`` 0/1) mapped to negative/positive."""
    return [
        Example(row["sentence"].strip(), POSITIVE if row["label"] == "1" else NEGATIVE) for row in _tsv(path)
    ]


def load_tweeteval(root: Path, split: str) -> list[Example]:
    """TweetEval sentiment ``{split}_text.txt`` + ``{split}_labels.txt`` (already 0/1/2)."""
    folder = root / "tweeteval_sentiment"
    texts = _require(folder / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
    labels = _require(folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    texts = texts[: len(labels)]
    if len(texts) != len(labels):
        raise ValueError(f"tweeteval {split}: {len(texts)} texts but {len(labels)} labels")
    return [Example(t.rstrip("\r"), int(y)) for t, y in zip(texts, labels, strict=True)]


def load_wust(root: Path) -> list[Example]:
    """Polish tweets with emotion majority labels mapped to sentiment (evaluation-only: no licence)."""
    path = _require(root / "wust_twitter_pl" / "wust_2k20_twitter_emotion_annotations.json")
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [
        Example(r["tweet"], _WUST_LABELS[r["most_common_annotation"]])
        for r in rows
        if r["most_common_annotation"] in _WUST_LABELS
    ]


def tweeteval_split(root: Path) -> tuple[list[Example], list[Example]]:
    """(evaluation-only first 2,000, trainable rest) of the test set after the prototype's seed-0 shuffle."""
    test = load_tweeteval(root, "test")
    random.Random(SPLIT_SEED).shuffle(test)
    return test[:TWEETEVAL_EVAL_ROWS], test[TWEETEVAL_EVAL_ROWS:]


def _wust_eval_sample(root: Path) -> list[Example]:
    """The prototype's Polish-tweet evaluation sample (n=544), reproduced for comparable figures.

    It continues the prototype's single seed-0 generator after the TweetEval shuffle: all non-neutral tweets
    plus the first 1,300 neutral ones, shuffled, first 20%.
    """
    rnd = random.Random(SPLIT_SEED)
    rnd.shuffle(load_tweeteval(root, "test"))
    tweets = load_wust(root)
    rnd.shuffle(tweets)
    neutral = [x for x in tweets if x.label == NEUTRAL]
    pool = [x for x in tweets if x.label != NEUTRAL] + neutral[:1300]
    rnd.shuffle(pool)
    return pool[: int(len(pool) * 0.2)]


def evaluation_sets(root: Path | None = None, include_wust: bool = True) -> list[EvalSet]:
    """Every evaluation-only set, with the task each is scored on (PolEmo-IN twice: binary and 3-class)."""
    root = datasets_dir(root)
    polemo_in = load_polemo(root / "polemo2_klej" / "in_dev.tsv")
    sets = [
        EvalSet(
            "polemo_in_binary", "pl", "binary", [x for x in polemo_in if x.label in (NEGATIVE, POSITIVE)]
        ),
        EvalSet("polemo_in_3class", "pl", "3class", [x for x in polemo_in if x.label != AMBIGUOUS]),
        EvalSet("sst2_glue_dev_binary", "en", "binary", load_sst2(root / "sst2" / "test.tsv")),
        EvalSet("tweeteval_eval_3class", "en", "3class", tweeteval_split(root)[0]),
    ]
    if include_wust:
        sets.append(EvalSet("wust_twitter_pl_3class", "pl", "3class", _wust_eval_sample(root)))
    return sets


def _dedup_key(text: str) -> str:
    """What makes two texts "the same text" for the leakage guard: equal after folding and spacing."""
    return " ".join(fold(text).split())


def _evaluation_texts(root: Path) -> set[str]:
    texts = {_dedup_key(x.text) for s in evaluation_sets(root, include_wust=False) for x in s.examples}
    texts |= {_dedup_key(x.text) for x in load_polemo(root / "polemo2_klej" / "in_dev.tsv")}
    texts |= {_dedup_key(x.text) for x in load_wust(root)}
    return texts


@dataclass(frozen=True)
class TrainingData:
    """The training examples and where they came from (recorded in the weights manifest)."""

    examples: list[Example]
    sources: dict[str, int]
    dropped_overlap: int


def load_labelled_csv(path: Path) -> list[Example]:
    """A user's extra training data: CSV with a ``text`` column and a ``label`` column.

    ``label`` may be ``negative``/``neutral``/``positive`` (any scheme :func:`normalize_label` knows, e.g.
    ``NEG``, ``4 stars``) or 0/1/2. Agents' corrections exported by ``earshot model corrections`` use this
    format, so they can be fed back with ``earshot model train --csv corrections.csv``.
    """
    examples: list[Example] = []
    with _require(Path(path)).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"text", "label"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {sorted(missing)}; expected a header with text,label"
            )
        for lineno, row in enumerate(reader, start=2):
            raw = (row.get("label") or "").strip()
            try:
                label = int(raw) if raw in {"0", "1", "2"} else SENTIMENTS.index(normalize_label(raw))
            except UnsupportedLabelsError as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from exc
            examples.append(Example(row.get("text") or "", label))
    return examples


def long_documents(
    pool: list[Example], n: int, seed: int, min_parts: int = 4, max_parts: int = 9
) -> list[Example]:
    """``n`` synthetic multi-sentence documents, each joining same-label training texts.

    Why: SST-2 phrases and tweets are short, so a model trained on them alone learns that every long text
    is opinionated (the v1 model called 11 of 127 neutral PolEmo-IN texts, all long news items, neutral).
    Joining neutral tweets into paragraph-length texts (and positive / negative ones likewise) teaches it
    that length carries no sentiment. Only training rows are used, so no evaluation text leaks in.
    """
    rnd = random.Random(seed)
    by_label: dict[int, list[Example]] = {}
    for x in pool:
        if x.label in (NEGATIVE, NEUTRAL, POSITIVE) and len(x.text.split()) >= 4:
            by_label.setdefault(x.label, []).append(x)
    labels = sorted(by_label)
    docs: list[Example] = []
    for i in range(n if labels else 0):
        label = labels[i % len(labels)]
        parts = rnd.sample(by_label[label], min(len(by_label[label]), rnd.randint(min_parts, max_parts)))
        docs.append(Example(" ".join(p.text.strip() for p in parts), label))
    return docs


_PLAIN: Final = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


def strip_diacritics(text: str) -> str:
    """Polish as typed on a phone without Polish letters ("przesyłka" -> "przesylka")."""
    return text.translate(_PLAIN)


def corpus_examples(
    items: Sequence[CorpusItem],
    repeat: int,
    plain_share: float,
    seed: int,
    held_out: Sequence[CorpusItem] = (),
) -> list[Example]:
    """The corpus's training slices, ``repeat`` times, plus diacritic-free twins of a share of Polish texts.

    Why twins: customers often type Polish without its letters, and the classifier sees "przesyłka" and
    "przesylka" as different tokens; a twin teaches it they mean the same. Twins are made only from training
    slices, so no dev text leaks in; a training text equal to a ``held_out`` one ("Polecam!", "👍", written by
    two writers) is dropped, with or without its diacritics.
    """
    rnd = random.Random(seed)
    banned = {_dedup_key(x.text) for x in held_out}
    items = [x for x in items if _dedup_key(x.text) not in banned]
    base = [Example(x.text, x.label) for x in items]
    twins = [
        Example(strip_diacritics(x.text), x.label)
        for x in items
        if x.lang == "pl" and strip_diacritics(x.text) != x.text and rnd.random() < plain_share
    ]
    return base * max(1, repeat) + twins


def training_examples(
    root: Path | None = None,
    n_sst2: int = 4000,
    n_tweeteval_test: int = 4000,
    seed: int = SPLIT_SEED,
    polemo_out: bool = False,
    n_long_docs: int = 0,
    extra_csv: Sequence[Path] = (),
    corpus_repeat: int = 0,
    corpus_plain_share: float = 0.3,
    n_corpus_long_docs: int = 0,
) -> TrainingData:
    """SST-2 train subset + TweetEval val + trainable TweetEval test rows (+ PolEmo-OUT dev if asked).

    The defaults give the ~10k English examples of the prototype's English-only run (SST-2 shuffled with
    ``seed``; TweetEval test rows 2,000..5,999 of the seed-0 shuffle), which trains in ~10 minutes on 2 cores.
    PolEmo-OUT is off by default: its 330 usable reviews hold 1 neutral, and adding them taught the model
    that a long Polish review is never neutral (PolEmo-IN 3-class 71.7% vs 80.6% without). Never touches an
    evaluation-only row; any training text equal to an evaluation text is dropped.
    """
    root = datasets_dir(root)
    sst2 = load_sst2(root / "sst2" / "train.tsv")
    random.Random(seed).shuffle(sst2)
    parts = {
        "sst2/train.tsv (shuffled subset)": sst2[:n_sst2],
        "tweeteval_sentiment/val": load_tweeteval(root, "val"),
        "tweeteval_sentiment/test rows after the first 2,000 (seed-0 shuffle)": tweeteval_split(root)[1][
            :n_tweeteval_test
        ],
    }
    banned = _evaluation_texts(root)
    if n_long_docs:
        pool = [x for part in parts.values() for x in part if _dedup_key(x.text) not in banned]
        parts["long documents joined from the rows above"] = long_documents(pool, n_long_docs, seed)
    if corpus_repeat:
        train_items, dev_items = split(load_corpus())
        parts[f"sentiment/data/corpus training slices (x{corpus_repeat}, diacritic-free twins)"] = (
            corpus_examples(train_items, corpus_repeat, corpus_plain_share, seed, held_out=dev_items)
        )
        if (
            n_corpus_long_docs
        ):  # Polish reviews run long (PolEmo's are ~700 characters); the corpus's rarely do
            polish_items = [x for x in train_items if x.lang == "pl"]
            polish = corpus_examples(polish_items, 1, 0.0, seed, held_out=dev_items)
            parts["Polish long documents joined from same-label corpus training texts"] = long_documents(
                polish, n_corpus_long_docs, seed, min_parts=3, max_parts=6
            )
    for path in extra_csv:
        parts[f"csv:{Path(path).name}"] = load_labelled_csv(Path(path))
    if polemo_out:
        parts["polemo2_klej/out_dev.tsv (non-ambivalent)"] = [
            x for x in load_polemo(root / "polemo2_klej" / "out_dev.tsv") if x.label != AMBIGUOUS
        ]
    examples: list[Example] = []
    sources: dict[str, int] = {}
    dropped = 0
    for name, part in parts.items():
        kept = [x for x in part if x.text.strip() and _dedup_key(x.text) not in banned]
        dropped += len(part) - len(kept)
        sources[name] = len(kept)
        examples += kept
    return TrainingData(examples, sources, dropped)
