"""Throughput of the sentiment Scorer against a naive one-text-at-a-time transformers ``pipeline()``.

Both run in the same process on the same model and threads, on synthetic Polish/English review texts of
about 30 tokens ("short", tweets and one-line reviews) and about 200 tokens ("long", full reviews), so the
ratio is meaningful even where absolute numbers depend on the machine. Needs no shared data.

    .venv/bin/python bench/bench_sentiment.py [--model earshot-sentiment-v1] [--threads 0]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

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
    args = parser.parse_args(argv)

    from transformers import pipeline

    scorer = Scorer.load(args.model, args.cache_dir, args.batch_size, args.max_length, args.threads)
    clf = pipeline(
        "text-classification", model=scorer.model, tokenizer=scorer.tokenizer, device=scorer.device
    )

    def naive(texts: list[str]) -> object:
        return [clf(t, truncation=True, max_length=args.max_length) for t in texts]

    threads = args.threads or "all"
    print(f"model {scorer.model_name} ({scorer.model_version}) on {scorer.device}, {threads} threads")
    print(f"{'texts':<7} {'tokens':>7} {'Scorer texts/s':>15} {'pipeline() texts/s':>19} {'speed-up':>9}")
    for name, sentences in (("short", 2), ("long", 12)):
        texts = make_texts(args.n, sentences, seed=len(name))
        tokens = sum(len(ids) for ids in scorer.encoder.encode(texts)) / len(texts)
        ours = rate(scorer.score, texts)
        base = rate(naive, texts[: args.n_baseline])
        print(f"{name:<7} {tokens:>7.0f} {ours:>15.1f} {base:>19.1f} {ours / base:>8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
