"""Accuracy and macro-F1 of a sentiment model on the evaluation-only sets, per data set and per language.

Scoring goes through :class:`sentiment.scorer.Scorer`, i.e. the exact production path (head + tail
truncation, label folding), so the figures describe what Earshot users get. Binary sets (PolEmo-IN
positive/negative, SST-2) compare p(negative) with p(positive), as the prototype did; 3-class sets take the
arg-max. The language summary averages the macro-F1 of that language's sets; ``lang_ok`` is the share of texts
the language detector assigns to the set's language.

``earshot model eval [--model NAME_OR_PATH] [--datasets-dir DIR] [--limit N] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sentiment.corpus import load_corpus, split
from sentiment.corpus_eval import CorpusReport, evaluate_corpus
from sentiment.datasets import DatasetsNotFoundError, EvalSet, evaluation_sets
from sentiment.fusion import RatingFusion
from sentiment.labels import NEGATIVE, POSITIVE
from sentiment.language import detect_language
from sentiment.metrics import macro_f1
from sentiment.scorer import Scorer


@dataclass(frozen=True)
class SetMetrics:
    """Scores of one model on one evaluation set."""

    name: str
    language: str
    task: str
    n: int
    accuracy: float
    macro_f1: float
    lang_ok: float


def predictions(probs: npt.NDArray[np.float32], task: str) -> list[int]:
    """Class per row: arg-max for 3-class sets, negative-vs-positive for binary ones."""
    if task == "binary":
        return [NEGATIVE if row[NEGATIVE] > row[POSITIVE] else POSITIVE for row in probs]
    return [int(i) for i in probs.argmax(axis=1)]


def evaluate_set(scorer: Scorer, eval_set: EvalSet) -> SetMetrics:
    texts = [x.text for x in eval_set.examples]
    gold = [x.label for x in eval_set.examples]
    pred = predictions(scorer.probabilities(texts), eval_set.task)
    classes = [NEGATIVE, POSITIVE] if eval_set.task == "binary" else [0, 1, 2]
    return SetMetrics(
        name=eval_set.name,
        language=eval_set.language,
        task=eval_set.task,
        n=len(texts),
        accuracy=float(np.mean(np.asarray(pred) == np.asarray(gold))) if texts else 0.0,
        macro_f1=macro_f1(pred, gold, classes),
        lang_ok=float(np.mean([detect_language(t) == eval_set.language for t in texts])) if texts else 0.0,
    )


def evaluate(scorer: Scorer, sets: Sequence[EvalSet]) -> list[SetMetrics]:
    return [evaluate_set(scorer, s) for s in sets]


def by_language(metrics: Sequence[SetMetrics]) -> dict[str, float]:
    """Mean macro-F1 of each language's sets."""
    langs = sorted({m.language for m in metrics})
    return {lang: float(np.mean([m.macro_f1 for m in metrics if m.language == lang])) for lang in langs}


def summary(metrics: Sequence[SetMetrics]) -> dict[str, object]:
    """JSON-ready results (as recorded in the weights manifest)."""
    return {
        "sets": {m.name: {k: v for k, v in asdict(m).items() if k != "name"} for m in metrics},
        "macro_f1_by_language": by_language(metrics),
    }


def format_table(metrics: Sequence[SetMetrics]) -> str:
    lines = [f"{'set':<26} {'lang':<4} {'task':<6} {'n':>5} {'acc':>7} {'macroF1':>8} {'lang_ok':>8}"]
    for m in metrics:
        lines.append(
            f"{m.name:<26} {m.language:<4} {m.task:<6} {m.n:>5} {100 * m.accuracy:>7.2f} "
            f"{100 * m.macro_f1:>8.2f} {100 * m.lang_ok:>8.1f}"
        )
    for lang, f1 in by_language(metrics).items():
        lines.append(f"{'mean macro-F1 (' + lang + ')':<26} {'':<4} {'':<6} {'':>5} {'':>7} {100 * f1:>8.2f}")
    return "\n".join(lines)


def _limited(sets: Sequence[EvalSet], limit: int | None) -> list[EvalSet]:
    if not limit:
        return list(sets)
    return [EvalSet(s.name, s.language, s.task, s.examples[:limit]) for s in sets]


def run(scorer: Scorer, datasets_dir: Path | None, limit: int | None = None) -> list[SetMetrics]:
    """Evaluate on every evaluation-only set (the first ``limit`` examples of each, if given)."""
    return evaluate(scorer, _limited(evaluation_sets(datasets_dir), limit))


def corpus_report(scorer: Scorer, limit: int | None = None) -> CorpusReport:
    """The shop corpus's held-out dev slices, read by ``scorer`` with the shipped rating fusion."""
    _train, dev = split(load_corpus())
    return evaluate_corpus(dev[:limit] if limit else dev, scorer.probabilities, RatingFusion.load())


def report(scorer: Scorer, args: argparse.Namespace) -> int:
    """Evaluate, print the tables (and write JSON if asked); shared by this module's CLI and `earshot`.

    The corpus's dev split needs nothing outside the repository, so it is always reported; the public sets
    are reported when ``../shared/datasets`` (or ``--datasets-dir``) is there.
    """
    start = time.perf_counter()
    print(f"model {scorer.model_name} ({scorer.model_version}), max_length {scorer.max_length}")
    corpus = corpus_report(scorer, args.limit)
    print(corpus.format_table())
    payload: dict[str, object] = {"corpus_dev": corpus.to_dict()}
    n = sum(g.n for g in corpus.groups[:1])
    try:
        metrics = run(scorer, args.datasets_dir, args.limit)
    except DatasetsNotFoundError as exc:
        print(f"public evaluation sets skipped: {exc}")
    else:
        print()
        print(format_table(metrics))
        payload.update(summary(metrics))
        n += sum(m.n for m in metrics)
    seconds = time.perf_counter() - start
    print(f"{n} texts scored in {seconds:.1f} s ({n / seconds:.1f} texts/s)")
    if args.json_out:
        args.json_out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0
